"""Schema migrations with Alembic, run once however many processes start at the same moment.

Heavy imports (SQLAlchemy, Alembic) live here and are loaded only when a database is behind the
current revision: on first use and after an upgrade of cronwatch.
"""

from __future__ import annotations

from cronwatch.storage.dialect import dialect_for
from cronwatch.storage.url import DatabaseURL


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
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    engine = create_engine(url.sqlalchemy_url(), poolclass=NullPool)
    try:
        # Migrations run under a lock of the dialect's: a second process waits, then finds
        # the schema already current and Alembic does nothing.
        with dialect_for(url).migrating(engine) as conn:
            config = Config()
            config.set_main_option("script_location", "cronwatch.storage:migrations")
            config.attributes["connection"] = conn
            getattr(command, direction)(config, revision)
    finally:
        engine.dispose()
