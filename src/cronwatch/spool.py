"""The local spool: runs that could not be stored wait here, one file each, until a later
``cronwatch run`` (or ``cronwatch spool flush``) delivers them.

Nothing acknowledged is lost and nothing is stored twice:

* a record is written to a temporary file, fsynced, renamed into place, and the directory is
  fsynced, all before :meth:`Spool.put` returns: a crash or a power cut leaves either the whole
  record or none, and once ``cronwatch run`` says a run is kept, it is;
* a temporary file left by a crash is removed later, once it is stale (older than a minute and
  not locked by a writer still at work);
* delivery is an idempotent upsert keyed by the run id, and a file is deleted only after the
  database confirmed the record, so a crash between the two means one harmless re-send;
* two processes flushing at once each take a file's lock first and skip files locked by the other.

The spool trusts nothing it finds: a record is validated like any other input
(:func:`cronwatch.monitor.make_run`) before it is delivered, and set aside as ``*.bad`` when it
is not a valid run; anything that is not a regular file (a directory, a FIFO, a symlink named
``x.json``) is skipped with a warning and never opened in a way that could block.

The spool is kept per target (database URL or server URL: a directory named after a hash of
it, with the target, password hidden, in its ``target`` file), so records are never delivered
to a target they were not meant for.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import logging
import os
import stat
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from cronwatch.errors import InvalidInput, StorageUnavailable
from cronwatch.model import OUTCOMES, Run

log = logging.getLogger("cronwatch.spool")

#: A temporary file older than this (seconds) and not locked is a crashed writer's leftover.
STALE_TEMPORARY_AGE = 60.0
#: Records are small (the output tail is 10,000 characters); anything far bigger is not one.
MAX_RECORD_BYTES = 1 << 20
LABEL_FILE = "target"

#: The fields of a record (:meth:`Run.to_json`); ``duration_seconds`` is derived, so ignored.
_RECORD_FIELDS = frozenset(field.name for field in dataclasses.fields(Run)) | {"duration_seconds"}


@dataclasses.dataclass(frozen=True)
class SpoolSummary:
    """One target's spool, for ``cronwatch spool list --all``."""

    directory: Path
    target: str | None  # None: written by a cronwatch that did not label its spools
    pending: list[Path]


class Spool:
    """A directory of runs waiting for one target (a database or a cronwatch server)."""

    def __init__(self, directory: Path, target: str | None = None) -> None:
        self.directory = directory
        self.target = target

    @classmethod
    def for_target(cls, target: str, root: Path | None = None) -> Spool:
        """The spool of the database (or server) at ``target``."""
        from cronwatch.paths import spool_root

        digest = hashlib.sha256(target.encode()).hexdigest()[:16]
        return cls((root or spool_root()) / digest, target)

    @classmethod
    def every(cls, root: Path | None = None) -> list[SpoolSummary]:
        """Every target's spool under ``root`` (default: the spool root), with what waits."""
        from cronwatch.paths import spool_root

        base = root or spool_root()
        try:
            entries = sorted(os.scandir(base), key=lambda entry: entry.name)
        except OSError:
            return []
        summaries = []
        for entry in entries:
            if not entry.is_dir(follow_symlinks=False):
                continue
            directory = Path(entry.path)
            label = _read_label(directory / LABEL_FILE)
            summaries.append(SpoolSummary(directory, label, cls(directory).pending()))
        return summaries

    # -- keeping a run ------------------------------------------------------------------------

    def put(self, run: Run) -> Path:
        """Keep ``run`` until it can be delivered; the file it is in, durable when this
        returns. Raises :class:`OSError` when it cannot be kept (disk full, no permission),
        leaving no partial file behind."""
        self._make_directory()
        # Ordered by when the run started, then unique: replay preserves the runs' order.
        stem = f"{run.date_started.strftime('%Y%m%dT%H%M%S%f')}-{run.run_id}"
        final = self.directory / f"{stem}.json"
        temporary = self.directory / f".{stem}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(temporary, flags, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # "a writer is at work": not stale, whatever its age
            _write_all(fd, json.dumps(run.to_json()).encode())
            os.fsync(fd)
            os.replace(temporary, final)
        except BaseException:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise
        finally:
            os.close(fd)
        _fsync_directory(self.directory)  # the rename itself must survive a power cut
        return final

    def _make_directory(self) -> None:
        """Create the directory (durably: its parents are fsynced) and its label."""
        created = []
        missing = self.directory
        while not missing.is_dir() and missing != missing.parent:
            created.append(missing)
            missing = missing.parent
        if created:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            for directory in reversed(created):
                _fsync_directory(directory.parent)
        label = self.directory / LABEL_FILE
        if self.target is not None and not label.exists():
            try:
                label.write_text(displayed_target(self.target) + "\n")
            except OSError:  # only a label (disk full?): the records matter, not it
                with contextlib.suppress(OSError):
                    label.unlink()

    # -- what waits -----------------------------------------------------------------------------

    def pending(self) -> list[Path]:
        """The waiting records, oldest first: regular files named ``*.json``. Anything else of
        that name (a directory, a FIFO, a symlink) is skipped with a warning."""
        paths = []
        for entry in self._entries():
            if entry.name.startswith(".") or not entry.name.endswith(".json"):
                continue
            if entry.is_file(follow_symlinks=False):
                paths.append(Path(entry.path))
            else:
                log.warning("spool entry %s skipped: not a regular file", entry.path)
        return sorted(paths)

    def waiting(self, run_id: str) -> Run | None:
        """The record waiting with run id ``run_id`` (e.g. a start kept while the target was
        away), or ``None``; a record that is not a valid run counts as none."""
        for path in self.pending():
            if path.name.endswith(f"-{run_id}.json"):
                with _locked(path) as locked:
                    if locked is None:
                        continue
                    try:
                        run = run_from_record(json.loads(_read_record(locked)))
                    except ValueError:
                        continue
                if run.run_id == run_id:  # "x-abc" ends in "-abc" too
                    return run
        return None

    def _entries(self) -> Iterator[os.DirEntry[str]]:
        try:
            with os.scandir(self.directory) as entries:
                yield from entries
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning("spool %s cannot be read: %s", self.directory, exc)

    def remove_stale_temporaries(self, max_age: float = STALE_TEMPORARY_AGE) -> int:
        """Remove the temporary files crashed writers left (older than ``max_age`` seconds
        and not locked by a writer); how many."""
        removed = 0
        now = time.time()
        for entry in self._entries():
            if not (entry.name.startswith(".") and entry.name.endswith(".tmp")):
                continue
            with contextlib.suppress(OSError):
                if not entry.is_file(follow_symlinks=False):
                    continue
                if now - entry.stat(follow_symlinks=False).st_mtime < max_age:
                    continue
                with _locked(Path(entry.path)) as locked:
                    if locked is not None:
                        os.unlink(entry.path)
                        removed += 1
        return removed

    # -- delivering -------------------------------------------------------------------------

    def flush(self, deliver: Callable[[Run], object], *, time_budget: float = 10.0) -> int:
        """Deliver waiting records with ``deliver`` (which raises if it cannot) and delete each
        one delivered; the number delivered. Stops when ``time_budget`` seconds are spent.

        A file that is not a valid run, or that the target refuses as invalid
        (:class:`ValueError`, e.g. :class:`InvalidInput`), is moved aside as ``*.bad`` rather
        than retried forever. Any other error (:class:`StorageUnavailable`: the target is away;
        or e.g. its disk is full) stops the flush and is raised: the record and the rest wait
        for the next flush.
        """
        self.remove_stale_temporaries()
        delivered = 0
        deadline = time.monotonic() + time_budget
        for path in self.pending():
            if time.monotonic() > deadline:
                break
            delivered += self._deliver_one(path, deliver)
        return delivered

    def _deliver_one(self, path: Path, deliver: Callable[[Run], object]) -> int:
        with _locked(path) as locked:
            if locked is None:
                return 0  # gone, another process is delivering it, or not a regular file
            try:
                run = run_from_record(json.loads(_read_record(locked)))
            except ValueError as exc:
                _set_aside(path, f"not a valid run: {exc}")
                return 0
            try:
                deliver(run)
            except StorageUnavailable:
                raise  # still away: keep this and the rest for the next flush
            except ValueError as exc:
                # The target refused this record itself: retrying cannot help, and it must
                # not hold back the records queued behind it.
                _set_aside(path, f"refused: {exc}")
                return 0
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return 1


def run_from_record(data: Any) -> Run:
    """The run a spool record (:meth:`Run.to_json`) describes, validated like any other input
    (:func:`cronwatch.monitor.make_run`); raises :class:`InvalidInput` naming the problem."""
    from cronwatch.monitor import make_run

    if not isinstance(data, dict):
        raise InvalidInput(f"a record is a JSON object, not {type(data).__name__}")
    unknown = sorted(set(data) - _RECORD_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0][:60]!r}")
    for field in ("name", "hostname", "run_id", "outcome", "date_started"):
        if not isinstance(data.get(field), str):
            raise InvalidInput(f"{field}: required, a string")
    for field in ("date_completed", "output"):
        if data.get(field) is not None and not isinstance(data[field], str):
            raise InvalidInput(f"{field}: a string or null")
    if data["outcome"] not in OUTCOMES:
        raise InvalidInput(f"outcome {data['outcome'][:20]!r} is not one of {OUTCOMES}")
    completed = data.get("date_completed")
    return make_run(
        data["name"],
        _instant(data["date_started"], "date_started"),
        None if completed is None else _instant(completed, "date_completed"),
        outcome=data["outcome"],
        exit_code=data.get("exit_code"),
        hostname=data["hostname"],
        run_id=data["run_id"],
        output=data.get("output"),
    )


def _instant(text: str, field: str) -> datetime:
    try:
        return datetime.fromisoformat(text)  # make_run refuses one without an offset
    except ValueError:
        raise InvalidInput(f"{field}: {text[:40]!r} is not an ISO 8601 date-time") from None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[int | None]:
    """``path`` opened and exclusively locked (the fd), or ``None`` when it is gone, locked
    by another process, or not a regular file. Never blocks: O_NONBLOCK (a FIFO would
    otherwise wait for a writer), O_NOFOLLOW, and a non-blocking lock."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        yield None  # another process delivered it
        return
    except OSError as exc:  # ELOOP: a symlink; EACCES; ...
        log.warning("spool entry %s skipped: %s", path, exc)
        yield None
        return
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            log.warning("spool entry %s skipped: not a regular file", path)
            yield None
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None  # another process is at it
            return
        try:
            now = os.stat(path, follow_symlinks=False)
        except FileNotFoundError:
            yield None  # delivered and deleted while we took the lock
            return
        # Replaced by another file meanwhile: that one is not what we locked.
        yield fd if (now.st_dev, now.st_ino) == (opened.st_dev, opened.st_ino) else None
    finally:
        os.close(fd)


def _read_record(fd: int) -> bytes:
    chunks = []
    size = 0
    while chunk := os.read(fd, 65536):
        size += len(chunk)
        if size > MAX_RECORD_BYTES:
            raise InvalidInput(f"larger than {MAX_RECORD_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _set_aside(path: Path, reason: str) -> None:
    log.warning("spooled run %s set aside as %s: %s", path.name, path.with_suffix(".bad"), reason)
    with contextlib.suppress(FileNotFoundError):
        os.replace(path, path.with_suffix(".bad"))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def displayed_target(target: str) -> str:
    """``target`` fit to be shown and stored: a database URL's password hidden, a server URL
    without credentials."""
    if target.startswith(("http://", "https://")):
        from urllib.parse import urlsplit

        parts = urlsplit(target)
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        netloc = f"{host}:{parts.port}" if parts.port else host
        return parts._replace(netloc=netloc).geturl()
    from cronwatch.storage.url import parse_database_url

    try:
        return parse_database_url(target).redacted()
    except InvalidInput:
        return "(an invalid database URL)"


def _read_label(path: Path) -> str | None:
    with contextlib.suppress(OSError, UnicodeDecodeError):
        return path.read_text().strip() or None
    return None
