"""Migration 0004 creates exactly the alerting tables declared in cronwatch.storage.schema, and
goes back down cleanly. On SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from cronwatch.storage import open_database
from cronwatch.storage.url import parse_database_url


def _engine(url: str) -> Any:
    from sqlalchemy import create_engine

    return create_engine(parse_database_url(url).sqlalchemy_url())


def test_migrated_alert_tables_match_their_declaration(fresh_database_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from cronwatch.storage.schema import metadata

    open_database(fresh_database_url).close()
    engine = _engine(fresh_database_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        engine.dispose()
    assert diff == []
    assert {"job_states", "events", "deliveries", "alert_outages", "workers"} <= set(
        metadata.tables
    )


def test_downgrade_to_0003_drops_only_the_alert_tables(fresh_database_url: str) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect

    open_database(fresh_database_url).close()
    engine = _engine(fresh_database_url)
    try:
        with engine.begin() as conn:
            config = Config()
            config.set_main_option("script_location", "cronwatch.storage:migrations")
            config.attributes["connection"] = conn
            command.downgrade(config, "0003")
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert not tables & {"job_states", "events", "deliveries", "alert_outages", "workers"}
    assert {"runs", "jobs", "api_keys"} <= tables
    with open_database(fresh_database_url) as db:  # and up again on connect
        assert db.query("SELECT COUNT(*) FROM events") == [(0,)]
