"""Fixtures used by tests in more than one folder: databases (every storage test runs on
SQLite and on PostgreSQL), a monitor and a database on them, a live server and its clients,
and the receivers of what cronwatch sends. Helpers that are not fixtures are in
:mod:`tests.support`.

PostgreSQL is the real server at ``$CRONWATCH_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``); see :mod:`tests.support.databases`. When it
cannot be reached, PostgreSQL tests are skipped locally and fail under ``CI=true``: a green CI
must mean both databases were tested.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.databases import (
    ADMIN_URL,
    DIALECTS,
    IN_CI,
    PostgresServer,
    admin_connect,
    empty_tables,
)
from tests.support.proxy import TcpProxy
from tests.support.receivers import HttpReceiver, SmtpReceiver, StatsdReceiver

if TYPE_CHECKING:
    import httpx

    from cronwatch.monitor import Monitor
    from cronwatch.storage.connection import Database
    from tests.support.hcpeer import Peer
    from tests.support.server import LiveServer


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """The PostgreSQL server, or a skip (a failure under CI=true) when it is away."""
    try:
        admin_connect().close()
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


@pytest.fixture(params=DIALECTS)
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def proxied(postgres: PostgresServer) -> Iterator[tuple[str, TcpProxy]]:
    """A migrated PostgreSQL database's URL through a TCP proxy, and the proxy (which the
    test pauses: a database gone silent)."""
    from urllib.parse import urlsplit

    from cronwatch.storage import open_database

    real = postgres.create_database()
    open_database(real).close()
    parts = urlsplit(real)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    proxy.start()
    try:
        yield real.replace(parts.netloc, f"{parts.username}@127.0.0.1:{proxy.port}"), proxy
    finally:
        proxy.resume()
        proxy.stop()


@pytest.fixture
def database_url(dialect: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database of each kind."""
    if dialect == "sqlite":
        return f"sqlite:///{tmp_path / 'cronwatch.db'}"
    url = str(request.getfixturevalue("_postgres_shared_url"))
    empty_tables(url)
    return url


@pytest.fixture
def fresh_database_url(dialect: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A brand-new database of each kind with no schema at all (for migration tests)."""
    if dialect == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database()


@pytest.fixture
def monitor(database_url: str) -> Iterator[Monitor]:
    """A monitor on :func:`database_url` (statsd off)."""
    import cronwatch

    with cronwatch.connect(database_url, statsd=False) as mon:
        yield mon


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """A :class:`~cronwatch.storage.connection.Database` on :func:`database_url`."""
    from cronwatch.storage import open_database

    with open_database(database_url) as database:
        yield database


@pytest.fixture
def server(database_url: str) -> Iterator[LiveServer]:
    """A live server (``cronwatch serve``'s app on a loopback port) on each kind of database."""
    from tests.support.server import LiveServer

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

    from tests.support.server import create_key

    key = create_key(server.database_url, "write")
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=server.url, timeout=30, headers=headers) as http:
        yield http


@pytest.fixture(scope="session")
def hc_peer() -> Iterator[Peer]:
    """The real Healthchecks (:mod:`tests.support.hcpeer`), started once for the session from
    a clean database: skipped when it cannot start, a failure under CI=true."""
    from tests.support.hcpeer import start_peer

    try:
        started = start_peer()
    except Exception as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the Healthchecks peer is required under CI=true: {exc}")
        pytest.skip(f"the Healthchecks peer did not start: {exc}")
    try:
        yield started
    finally:
        started.stop()


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


@pytest.fixture
def statsd_receiver() -> Iterator[StatsdReceiver]:
    receiver = StatsdReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def http_receiver() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture
def smtp_receiver() -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver()
    receiver.start()
    yield receiver
    receiver.stop()
