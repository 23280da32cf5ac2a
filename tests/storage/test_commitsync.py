"""AfterCommit: a committed batch is settled only after a sync of the WAL that began after its
commit, once, in order; the file synced follows the WAL SQLite uses now; a failed sync is
reported to the batches it was to cover and to no others."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from cronwatch.storage import open_database
from cronwatch.storage.commitsync import AfterCommit, AtCommit, Settle
from cronwatch.storage.connection import Database


def _identity(path: Path | str) -> tuple[int, int]:
    st = os.stat(path)
    return (st.st_dev, st.st_ino)


def _commit(db: Database, n: int) -> None:
    with db.transaction() as cur:
        cur.execute("UPDATE alembic_version SET version_num = version_num")
    db.autocommit(lambda cur: cur.execute(f"PRAGMA user_version = {n}"))


def test_at_commit_settles_at_once_in_the_committing_thread() -> None:
    seen: list[tuple[Exception | None, str]] = []
    AtCommit().after_commit(lambda error: seen.append((error, threading.current_thread().name)))
    assert seen == [(None, threading.current_thread().name)]


def test_after_commit_syncs_the_wal_then_settles_every_commit_once_in_order(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.db"
    sync = AfterCommit(path)
    settled: list[int] = []
    errors: list[Exception | None] = []
    with open_database(f"sqlite:///{path}") as db:
        sync.prepare(db)
        assert db.query("PRAGMA synchronous") == [(1,)], "the writer commits at NORMAL"
        done = threading.Event()
        for n in range(200):
            _commit(db, n)

            def settle(error: Exception | None, n: int = n) -> None:
                errors.append(error)
                settled.append(n)
                if n == 199:
                    done.set()

            sync.after_commit(settle)
        assert done.wait(30), "not every commit was settled"
        sync.close()
        assert os.path.exists(f"{path}-wal")
        wal = _identity(f"{path}-wal")
    assert settled == list(range(200)), "each settled once, in the order committed"
    assert errors == [None] * 200
    assert 1 <= sync.syncs <= 200
    assert sync.last_synced == wal, "the file synced is the WAL SQLite wrote"


def test_after_commit_follows_a_new_wal_and_falls_back_to_the_database_file(
    tmp_path: Path,
) -> None:
    """SQLite removes the WAL when its last connection closes and makes a new one (another
    inode) on the next write: the sync follows it. With no WAL at all (checkpointed and
    removed) the database file is what holds the commits, and is synced instead."""
    path = tmp_path / "c.db"
    url = f"sqlite:///{path}"
    sync = AfterCommit(path)
    results: list[Exception | None] = []

    def settled(error: Exception | None) -> None:
        results.append(error)
        done.release()

    done = threading.Semaphore(0)
    with open_database(url) as db:
        _commit(db, 1)
        sync.after_commit(settled)
        assert done.acquire(timeout=30)
        first = sync.last_synced
        assert first == _identity(f"{path}-wal")
    assert not os.path.exists(f"{path}-wal"), "the last connection removed the WAL"
    with open_database(url) as db:  # (the syncer still holds the old one: a new inode)
        _commit(db, 2)
        sync.after_commit(settled)
        assert done.acquire(timeout=30)
        assert sync.last_synced == _identity(f"{path}-wal") != first, "the new WAL synced"
    sync.after_commit(settled)
    assert done.acquire(timeout=30)
    assert sync.last_synced == _identity(path), "no WAL: the database file was synced"
    sync.close()
    assert results == [None, None, None]


def test_a_failed_sync_is_reported_to_the_commits_it_was_to_cover_only(tmp_path: Path) -> None:
    """A WAL path that is not a file (here a FIFO: fdatasync says EINVAL) fails the sync:
    the commit waiting for it gets the error, not a success; once the path is a file again
    the next commit is synced and settled without one."""
    path = tmp_path / "c.db"
    sync = AfterCommit(path)
    os.mkfifo(f"{path}-wal")
    first: list[Exception | None] = []
    sync.after_commit(first.append)
    sync.close()
    assert len(first) == 1 and isinstance(first[0], OSError), first
    assert sync.syncs == 0
    os.unlink(f"{path}-wal")
    with open_database(f"sqlite:///{path}") as db:
        _commit(db, 1)
        second: list[Exception | None] = []
        sync.after_commit(second.append)
        assert second == [None]
        assert sync.syncs == 1 and sync.last_synced == _identity(f"{path}-wal")


def test_close_settles_what_is_waiting_and_an_exception_in_one_answer_spares_the_rest(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.db"
    sync = AfterCommit(path)
    settled: list[int] = []
    with open_database(f"sqlite:///{path}") as db:
        _commit(db, 1)

        def answer(n: int) -> Settle:
            def settle(error: Exception | None) -> None:
                if n == 10:
                    raise RuntimeError("an answer that fails")
                settled.append(n)

            return settle

        for n in range(50):
            sync.after_commit(answer(n))
        sync.close()  # returns once everything waiting was settled
    assert settled == [n for n in range(50) if n != 10]
