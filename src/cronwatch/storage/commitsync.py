"""When the server's group-committed writes are on disk, so that they may be acknowledged.

The server answers a write only once it would survive a power cut or an OS crash. How the
writer gets there is the database's:

- :class:`AtCommit`: a commit that returned is durable (PostgreSQL with its default
  ``synchronous_commit = on``; SQLite at ``synchronous=FULL``). The requests are answered
  as soon as COMMIT returns.
- :class:`AfterCommit` (SQLite's server writer): SQLite at ``synchronous=FULL`` fdatasyncs the
  WAL inside COMMIT, while it holds the database's one write lock, so the writer cannot write
  the next batch until the disk has answered (``bench/bench_durable.py``: 0.80 of the pings/s
  of ``NORMAL`` at 64 connections). Here the writer's connection commits at
  ``synchronous=NORMAL`` (the batch's frames are appended to the WAL, which SQLite does not
  sync) and a thread then fdatasyncs the WAL file, the very sync FULL would have made, before
  the batch's requests are answered. Meanwhile the writer writes the next batch, and one sync
  covers every batch committed before it began.

Why a sync of our own descriptor is the same as SQLite's: fdatasync flushes a file's dirty
pages whichever descriptor wrote them. Frames that a checkpoint copies into the database file
are synced by SQLite itself at ``NORMAL`` (the WAL before the copy, the database after it), so
a WAL restarted from its beginning never holds the only copy of an acknowledged commit. Should
the WAL file be replaced (its path names another inode) the new one is opened, and its
directory synced once; should it be gone (checkpointed and removed) the database file is
synced instead. Readers on other connections may see a batch a moment before it is durable;
only its acknowledgement waits.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cronwatch.storage.connection import Database

log = logging.getLogger("cronwatch.storage.commitsync")

#: Called once a committed batch is durable (``None``) or could not be made so (the error).
Settle = Callable[[Exception | None], None]


class CommitSync(ABC):
    """How one server's writer makes its commits durable before it answers for them."""

    def prepare(self, db: Database) -> None:  # noqa: B027 (most need nothing)
        """Set up a writer connection just opened (before its first write)."""

    @abstractmethod
    def after_commit(self, settle: Settle) -> None:
        """``settle`` is called, once, when what the caller has committed so far is durable
        (with ``None``) or cannot be made so (with the error): in this thread or another."""

    def close(self) -> None:  # noqa: B027 (most hold nothing)
        """Settle everything still waiting, then stop. Called after the last commit."""


class AtCommit(CommitSync):
    """Commits are durable when they return: settled at once, in the committing thread."""

    def after_commit(self, settle: Settle) -> None:
        settle(None)


class AfterCommit(CommitSync):
    """The writer commits at ``synchronous=NORMAL``; a thread fdatasyncs the SQLite WAL of
    ``database`` (``<database>-wal``) and then settles every commit made before the sync
    began, in the order they were made."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self.wal = Path(f"{database}-wal")
        #: Syncs made (fewer than commits settled under load: one covers several batches).
        self.syncs = 0
        #: ``(st_dev, st_ino)`` of the file the last sync flushed (for tests).
        self.last_synced: tuple[int, int] | None = None
        self._fd: int | None = None
        self._identity: tuple[int, int] | None = None  # of the file ``_fd`` is open on
        self._waiting: list[Settle] = []
        self._closing = False
        self._changed = threading.Condition()
        self._syncing = threading.Lock()  # one sync at a time (the thread's last, a late one)
        self._thread: threading.Thread | None = None

    def prepare(self, db: Database) -> None:
        db.autocommit(lambda cur: cur.execute("PRAGMA synchronous=NORMAL"))

    def after_commit(self, settle: Settle) -> None:
        with self._changed:
            if self._closing:  # nothing syncs for us any more: do it here
                error = self._sync()
                self._forget()
                self._settle([settle], error)
                return
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="cronwatch-wal-sync", daemon=True
                )
                self._thread.start()
            self._waiting.append(settle)
            self._changed.notify()

    def close(self) -> None:
        with self._changed:
            self._closing = True
            self._changed.notify()
            thread = self._thread
        if thread is not None:
            thread.join()
        with self._syncing:
            self._forget()

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._waiting and not self._closing:
                    self._changed.wait()
                if not self._waiting:
                    return  # closing, and everything settled
                waiting, self._waiting = self._waiting, []
            # Every commit in ``waiting`` returned before this sync starts: it covers them.
            self._settle(waiting, self._sync())

    @staticmethod
    def _settle(waiting: list[Settle], error: Exception | None) -> None:
        for settle in waiting:
            try:
                settle(error)
            except Exception:  # one answer's failure must not leave the others unanswered
                log.exception("answering a synced batch failed")

    def _sync(self) -> Exception | None:
        with self._syncing:
            try:
                os.fdatasync(self._descriptor())
            except Exception as exc:  # an I/O error, or a bug: the batch is not known durable
                self._forget()
                return exc
            self.syncs += 1
            self.last_synced = self._identity
            return None

    def _descriptor(self) -> int:
        """An open descriptor of the WAL file its path names now, or of the database file when
        there is no WAL (its frames were checkpointed into the database and it was removed)."""
        for path in (self.wal, self.database):
            try:
                named = os.stat(path)
            except FileNotFoundError:
                continue
            if self._fd is not None and self._identity == (named.st_dev, named.st_ino):
                return self._fd
            # New to us (first sync, SQLite made a new WAL after every connection closed, or
            # the WAL went): possibly new on disk too, so its directory entry is synced once.
            self._forget()
            self._fd = self._open(path)
            return self._fd
        raise FileNotFoundError(f"neither {self.wal} nor {self.database} exists")

    def _open(self, path: Path) -> int:
        # O_NONBLOCK: should the path be anything but a file, the sync fails, not the open.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            held = os.fstat(fd)
            dirfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                os.fsync(dirfd)
            finally:
                os.close(dirfd)
        except BaseException:
            os.close(fd)
            raise
        self._identity = (held.st_dev, held.st_ino)
        return fd

    def _forget(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = self._identity = None
