"""The PostgreSQL server the tests use, and scratch databases on it.

PostgreSQL is the real server at ``$CRONWATCH_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``). The tests create their own databases next to
it and drop them afterwards. When it cannot be reached, PostgreSQL tests are skipped locally and
fail under ``CI=true``: a green CI must mean both databases were tested.
"""

from __future__ import annotations

import os
import uuid
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg

ADMIN_URL = os.environ.get(
    "CRONWATCH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() == "true"
DIALECTS = ["sqlite", "postgresql"]


def admin_connect() -> psycopg.Connection[tuple[object, ...]]:
    import psycopg

    return psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3)


def _url_for(dbname: str) -> str:
    base, _, _ = ADMIN_URL.rpartition("/")
    return f"{base}/{dbname}"


class PostgresServer:
    """Creates and drops scratch databases on the test server."""

    def __init__(self) -> None:
        self.created: list[str] = []

    def create_database(self) -> str:
        name = f"cronwatch_test_{uuid.uuid4().hex[:12]}"
        with admin_connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return _url_for(name)

    def drop_all(self) -> None:
        with admin_connect() as conn:
            for name in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def empty_tables(url: str) -> None:
    """Every table of the migrated database at ``url`` emptied (the revision kept)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'"
            )
        ]
        if tables:
            conn.execute(
                "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
            )
