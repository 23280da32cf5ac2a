"""Telling whether a server is using a SQLite database, so that a restore never swaps the data
from under one.

Every process that writes to a database for a long time (``cronwatch serve``, ``cronwatch
alerts``) holds a *shared* ``flock`` on a file next to it (``<database>.server-lock``) while it
runs; ``cronwatch restore`` takes the same lock *exclusively*, without waiting, and refuses when
it cannot. Why a lock rather than the alert loops' heartbeats alone: the kernel releases a lock
the moment its process ends, however it ends, so a killed server never blocks a restore and a
running one is always seen, from its first request on, whether or not it runs an alert loop; a
heartbeat is only as fresh as the last cycle and outlives a crash. The heartbeats remain a
second check (:func:`live_alert_loops`): they catch a server of an older cronwatch, which holds
no lock. A server that starts while a restore holds the lock waits for it to end.

PostgreSQL needs none of this: cronwatch does not restore it (``pg_restore`` does), and the
dialect has no lock file.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from cronwatch.errors import CronwatchError
from cronwatch.storage.dialect import Dialect, dialect_for
from cronwatch.storage.url import parse_database_url

log = logging.getLogger("cronwatch.storage")

#: An alert loop whose heartbeat is younger than this may still be running.
RECENT_BEAT = timedelta(minutes=2)


class DatabaseInUse(CronwatchError):
    """A server or alert loop is using the database: it cannot be restored now."""


@contextmanager
def holding_server_lock(database: Dialect | str) -> Iterator[None]:
    """Hold the shared lock of a server using ``database`` (a URL, or its dialect) for the
    block (nothing where the dialect has no lock file). Waits, saying so once, while a restore
    holds it."""
    dialect = dialect_for(parse_database_url(database)) if isinstance(database, str) else database
    path = dialect.server_lock_path()
    if path is None or not path.parent.is_dir():
        yield
        return
    with _lock_file(path) as fd:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("%s is being restored; waiting for the restore to finish", path.parent)
            fcntl.flock(fd, fcntl.LOCK_SH)
        yield


@contextmanager
def exclusive_server_lock(dialect: Dialect) -> Iterator[None]:
    """Hold the lock exclusively for the block: no server or alert loop of this cronwatch is
    using the database, and none starts until the block ends. :class:`DatabaseInUse` at once
    when one is running."""
    path = dialect.server_lock_path()
    if path is None:
        yield
        return
    with _lock_file(path) as fd:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DatabaseInUse(
                f"a cronwatch server or alert loop is using {dialect.url.redacted()} (it holds "
                f"{path}); stop it (e.g. systemctl stop cronwatch), then run this again"
            ) from None
        yield


@contextmanager
def _lock_file(path: Path) -> Iterator[int]:
    """The lock file open for the block (closing it releases any lock taken on it)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        yield fd
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)


def live_alert_loops(beats: list[tuple[str, str, int, datetime]], now: datetime) -> list[str]:
    """Of the alert loops' latest heartbeats ``(name, hostname, pid, last_beat)``, the names of
    those that may still be running: beaten within :data:`RECENT_BEAT`, and not a process of
    this host that has ended (a killed server's beat says nothing)."""
    here = socket.gethostname()
    alive = []
    for name, hostname, pid, beat in beats:
        if now - beat > RECENT_BEAT:
            continue
        if hostname == here and not _process_exists(pid):
            continue
        alive.append(f"{name} (last beat {max(0, int((now - beat).total_seconds()))}s ago)")
    return alive


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
