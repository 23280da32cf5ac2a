"""Shared fixtures: every storage test runs on SQLite and on PostgreSQL.

PostgreSQL is the real server at ``$CRONWATCH_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``). The tests create their own databases next to
it and drop them afterwards. When it cannot be reached, PostgreSQL tests are skipped locally and
fail under ``CI=true``: a green CI must mean both databases were tested.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import httpx

    from tests.test_server_support import LiveServer

ADMIN_URL = os.environ.get(
    "CRONWATCH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() == "true"
DIALECTS = ["sqlite", "postgresql"]


def _admin_connect():  # type: ignore[no-untyped-def]
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
        with _admin_connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return _url_for(name)

    def drop_all(self) -> None:
        with _admin_connect() as conn:
            for name in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """The PostgreSQL server, or a skip (a failure under CI=true) when it is away."""
    try:
        _admin_connect().close()
    except Exception as exc:
        message = f"PostgreSQL not reachable at {ADMIN_URL}: {exc}"
        if IN_CI:
            pytest.fail(message + " (required under CI=true)")
        pytest.skip(message)
    server = PostgresServer()
    yield server
    server.drop_all()


@pytest.fixture(scope="session")
def _postgres_shared_url(postgres: PostgresServer) -> str:
    """One migrated database for the session; tests empty it before they start."""
    from cronwatch.storage import open_database

    url = postgres.create_database()
    open_database(url).close()
    return url


def _empty_tables(url: str) -> None:
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


@pytest.fixture(params=DIALECTS)
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(dialect: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database of each kind."""
    if dialect == "sqlite":
        return f"sqlite:///{tmp_path / 'cronwatch.db'}"
    url = str(request.getfixturevalue("_postgres_shared_url"))
    _empty_tables(url)
    return url


@pytest.fixture
def fresh_database_url(dialect: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A brand-new database of each kind with no schema at all (for migration tests)."""
    if dialect == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database()


@pytest.fixture
def server(database_url: str) -> Iterator[LiveServer]:
    """A live server (``cronwatch serve``'s app on a loopback port) on each kind of database."""
    from tests.test_server_support import LiveServer

    with LiveServer(database_url) as live:
        yield live


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    """An HTTP client of :func:`server`, without a key."""
    import httpx

    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield http


@pytest.fixture
def api(server: LiveServer) -> Iterator[httpx.Client]:
    """An HTTP client of :func:`server` with a write key."""
    import httpx

    from tests.test_server_support import create_key

    key = create_key(server.database_url, "write")
    with httpx.Client(base_url=server.url, timeout=30,
                      headers={"Authorization": f"Bearer {key}"}) as http:  # fmt: skip
        yield http


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's real data directory, config or statsd settings."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("CRONWATCH_SPOOL_DIR", str(tmp_path / "spool"))
    # statsd hosts that failed are skipped for a while by this process: not across tests.
    monkeypatch.setattr("cronwatch.statsd._DOWN", {})
    for name in list(os.environ):
        if name.startswith("CRONWATCH_") and name not in (
            "CRONWATCH_SPOOL_DIR",
            "CRONWATCH_TEST_POSTGRES_URL",
        ):
            monkeypatch.delenv(name)


class StatsdReceiver:
    """A real UDP socket on loopback that collects statsd datagrams."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]

    def receive(self, timeout: float = 2.0) -> list[str]:
        """Every datagram that arrives within ``timeout`` of the last one."""
        self.sock.settimeout(timeout)
        lines: list[str] = []
        try:
            while True:
                data = self.sock.recv(65535)
                lines.extend(data.decode().splitlines())
                self.sock.settimeout(0.2)
        except TimeoutError:
            pass
        return lines

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def statsd_receiver() -> Iterator[StatsdReceiver]:
    receiver = StatsdReceiver()
    yield receiver
    receiver.close()
