"""The local spool: runs that could not be stored wait here, one file each, until a later
``cronwatch run`` (or ``cronwatch spool flush``) delivers them.

Nothing acknowledged is lost and nothing is stored twice:

* a record is written to a temporary file and renamed into place, so a crash leaves either the
  whole record or none;
* delivery is an idempotent upsert keyed by the run id, and a file is deleted only after the
  database confirmed the record, so a crash between the two means one harmless re-send;
* two processes flushing at once each take a file's lock first and skip files locked by the other.

The spool is kept per database (a directory named after a hash of its URL), so records are
never delivered to a database they were not meant for.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from cronwatch.errors import StorageUnavailable
from cronwatch.model import Run

log = logging.getLogger("cronwatch.spool")


class Spool:
    """A directory of runs waiting for one database."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @classmethod
    def for_target(cls, target: str, root: Path | None = None) -> Spool:
        """The spool of the database (or server) at ``target``."""
        from cronwatch.paths import spool_root

        digest = hashlib.sha256(target.encode()).hexdigest()[:16]
        return cls((root or spool_root()) / digest)

    def put(self, run: Run) -> Path:
        """Keep ``run`` until it can be delivered; the file it is in."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Ordered by when the run started, then unique: replay preserves the runs' order.
        stem = f"{run.date_started.strftime('%Y%m%dT%H%M%S%f')}-{run.run_id}"
        final = self.directory / f"{stem}.json"
        temporary = self.directory / f".{stem}.tmp"
        data = json.dumps(run.to_json()).encode()
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, final)
        return final

    def pending(self) -> list[Path]:
        """The waiting records, oldest first."""
        try:
            return sorted(self.directory.glob("*.json"))
        except OSError:
            return []

    def flush(self, deliver: Callable[[Run], object], *, time_budget: float = 10.0) -> int:
        """Deliver waiting records with ``deliver`` (which raises if it cannot) and delete each
        one delivered; the number delivered. Raises :class:`StorageUnavailable` at the first
        outage (the rest waits for the next flush) and stops when ``time_budget`` seconds are
        spent. A file that is not a readable record, or that the database refuses, is moved
        aside as ``*.bad`` rather than retried forever.
        """
        delivered = 0
        deadline = time.monotonic() + time_budget
        for path in self.pending():
            if time.monotonic() > deadline:
                break
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue  # another process delivered it
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # another process is delivering it
                if not os.path.exists(path):
                    continue  # delivered and deleted while we waited for the lock
                try:
                    with os.fdopen(os.dup(fd), "rb") as handle:
                        run = Run.from_json(json.loads(handle.read()))
                except (ValueError, KeyError, TypeError):
                    os.replace(path, path.with_suffix(".bad"))
                    continue
                try:
                    deliver(run)
                except StorageUnavailable:
                    raise  # still away: keep this and the rest for the next flush
                except Exception as exc:
                    # The database refused this record itself: retrying cannot help, and it
                    # must not hold back the records queued behind it.
                    log.warning(
                        "spooled run %s refused by the database, set aside: %s", path.name, exc
                    )
                    os.replace(path, path.with_suffix(".bad"))
                    continue
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                delivered += 1
            finally:
                os.close(fd)
        return delivered
