"""Schema migrations with Alembic, run once however many processes start at the same moment.

Heavy imports (SQLAlchemy, Alembic) live here and are loaded only when a database is behind the
current revision: on first use and after an upgrade of cronwatch.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from cronwatch.storage.url import DatabaseURL

#: Arbitrary but fixed key for PostgreSQL's advisory lock that serialises migrations.
_PG_MIGRATION_LOCK = 0x63726F6E  # "cron"


def upgrade_schema(url: DatabaseURL, revision: str = "head") -> None:
    """Apply every pending migration to the database at ``url``."""
    _migrate(url, "upgrade", revision)


def downgrade_schema(url: DatabaseURL, revision: str) -> None:
    """Take the database at ``url`` back to ``revision`` (for tests and emergencies: data in
    tables that a later revision added is lost)."""
    _migrate(url, "downgrade", revision)


def _migrate(url: DatabaseURL, direction: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(url.sqlalchemy_url(), poolclass=NullPool)
    try:
        with _sqlite_file_lock(url), engine.begin() as conn:
            if url.dialect == "postgresql":
                # Held until this transaction ends; a second process waits, then finds
                # the schema already current and Alembic does nothing.
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            config = Config()
            config.set_main_option("script_location", "cronwatch.storage:migrations")
            config.attributes["connection"] = conn
            getattr(command, direction)(config, revision)
    finally:
        engine.dispose()


@contextmanager
def _sqlite_file_lock(url: DatabaseURL) -> Iterator[None]:
    """Serialise migrations of one SQLite file between processes (a sidecar lock file, because
    SQLite's own locks are not held across Alembic's separate DDL statements)."""
    if url.dialect != "sqlite" or url.sqlite_path is None:
        yield
        return
    lock_path = f"{url.sqlite_path}.migrate-lock"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
