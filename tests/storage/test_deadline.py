"""Statement deadlines (:mod:`cronwatch.storage.deadline`), connect deadlines and keepalives:
a database gone silent (packets dropped, nothing reset: a TCP proxy that stops forwarding and
keeps its connections) is an outage within the deadline, not a hang; it works again, with no
new ``Database``, when the database answers. SQLite's equivalent is its busy timeout."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from cronwatch.errors import StorageUnavailable
from cronwatch.storage.connection import open_database
from cronwatch.storage.deadline import WATCHDOG
from tests.support.proxy import TcpProxy


def test_a_statement_to_a_silent_postgresql_is_cut_at_its_deadline(
    proxied: tuple[str, TcpProxy],
) -> None:
    url, proxy = proxied
    result: list[object] = []
    with open_database(url, connect_timeout=1, statement_timeout=1) as db:
        assert db.query("SELECT 1") == [(1,)]
        cut = WATCHDOG.cut
        proxy.pause()

        def read() -> None:
            try:
                result.append(db.query("SELECT 2"))
            except Exception as exc:  # the outcome under test
                result.append(exc)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(30)  # without a deadline it would wait for ever
        assert not reader.is_alive(), "the statement hung"
        [outcome] = result
        assert isinstance(outcome, StorageUnavailable), outcome
        assert WATCHDOG.cut > cut, "the watchdog cut the socket"
        with pytest.raises(StorageUnavailable):
            db.query("SELECT 3")  # the reconnect meets the connect deadline
        proxy.resume()
        assert db.query("SELECT 4") == [(4,)], "the same Database works again"
        with db.transaction() as cur:  # and a transaction, under its deadline, commits
            cur.execute("SELECT 5")
            assert cur.fetchone()[0] == 5


def test_connecting_to_a_silent_postgresql_fails_at_the_connect_deadline(
    proxied: tuple[str, TcpProxy],
) -> None:
    url, proxy = proxied
    proxy.pause()
    with pytest.raises(StorageUnavailable, match="cannot connect"):
        open_database(url, connect_timeout=1, statement_timeout=1)


def test_postgresql_connections_send_keepalives_unless_the_url_says_otherwise(
    proxied: tuple[str, TcpProxy],
) -> None:
    url, _ = proxied
    with open_database(url) as db:
        params = db._conn.info.get_parameters()
        assert (params["keepalives"], params["keepalives_idle"]) == ("1", "30")
    with open_database(f"{url}?keepalives_idle=7") as db:
        assert db._conn.info.get_parameters()["keepalives_idle"] == "7"


def test_a_sqlite_write_waits_for_the_lock_only_as_long_as_its_deadline(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    with open_database(url) as holder, open_database(url, statement_timeout=0.5) as waiter:
        with holder.transaction() as cur:  # holds SQLite's write lock
            cur.execute("UPDATE alembic_version SET version_num = version_num")
            with pytest.raises(StorageUnavailable, match=r"locked after 0.5s"):
                waiter.probe_write()
        waiter.probe_write()  # the lock released: it writes
