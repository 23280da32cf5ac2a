"""Alembic environment: runs migrations on the connection cronwatch hands over."""

from __future__ import annotations

from alembic import context

from cronwatch.storage.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only via cronwatch.storage.migrate
    raise RuntimeError("run migrations through cronwatch.storage.migrate.upgrade_schema()")

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things; batch mode rebuilds tables instead.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
