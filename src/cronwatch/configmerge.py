"""Imported jobs written as TOML, and merged into a config file: what every importer shares.

``import-crontab``, ``import-systemd`` and ``import-kubernetes`` each read their source their
own way and end the same way: ``[jobs.NAME]`` tables printed for review, or, with ``--write``,
appended to the config file (:func:`merge_jobs`). An importer either renders its own tables
(the crontab importer) or describes each job as an :class:`ImportedJob` (its fields and the
comments above its table) and lets :func:`jobs_to_toml` render them.
"""

from __future__ import annotations

import os
import tomllib
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from cronwatch import tomlwriter
from cronwatch.errors import ConfigError

T = TypeVar("T")

#: A comment line longer than this is shortened (a command, a path).
MAX_COMMENT = 160


@dataclass(frozen=True)
class ImportedJob:
    """One job an importer found: ``fields`` in the order they are written (values that
    :func:`cronwatch.tomlwriter.value` writes: strings, booleans, integers, lists of strings),
    ``comments`` the lines above its table (where it came from, what was not carried over)."""

    name: str
    fields: tuple[tuple[str, tomlwriter.Value], ...]
    comments: tuple[str, ...] = ()


def jobs_to_toml(jobs: Iterable[ImportedJob], *, header: Sequence[str] = ()) -> str:
    """The jobs as ``[jobs.NAME]`` tables, each after its comments, below the ``header``
    comment lines; ``""`` when there are no jobs."""
    jobs = list(jobs)
    if not jobs:
        return ""
    out = [f"# {tomlwriter.comment(line, max_chars=MAX_COMMENT)}" for line in header]
    for job in jobs:
        if out:
            out.append("")
        out.extend(f"# {tomlwriter.comment(line, max_chars=MAX_COMMENT)}" for line in job.comments)
        out.append(f"[jobs.{tomlwriter.key(job.name)}]")
        out.extend(f"{key} = {tomlwriter.value(value)}" for key, value in job.fields)
    return "\n".join(out) + "\n"


def merge_jobs(
    path: str | os.PathLike[str],
    items: Iterable[T],
    *,
    name_of: Callable[[T], str],
    render: Callable[[list[T]], str],
) -> tuple[list[T], list[T]]:
    """Append to the config file at ``path`` the jobs it does not define yet.

    ``name_of(item)`` is an item's job name; ``render(added)`` the TOML of the items added.
    Returns ``(added, skipped)``: ``skipped`` are the items whose job name the file already
    has (the existing job is never changed), or that repeat a name earlier in ``items``.

    The file's existing bytes are kept exactly; the new tables are appended after them. A
    missing file is created. The result is checked with :func:`cronwatch.config.load_config`
    before it replaces the file, through a temporary file in the same directory and an atomic
    rename, so a reader sees the old file or the complete new one, never a part or an invalid
    config. When nothing is added the file is not rewritten at all. Raises ``ConfigError``
    (and changes nothing) when the existing file is not valid TOML, the result would not load,
    the file changed while being merged, or it cannot be written.
    """
    target = Path(path)
    if target.is_symlink():
        # Replacing the link itself would turn it into a plain file; write where it points.
        target = target.resolve()
    original = _read(target, path)
    existing = _job_names(original, path)
    added: list[T] = []
    skipped: list[T] = []
    for item in items:
        name = unicodedata.normalize("NFC", name_of(item))
        if name in existing:
            skipped.append(item)
        else:
            existing.add(name)
            added.append(item)
    if added:
        _replace_atomically(target, original, _appended(original or b"", render(added)))
    return added, skipped


def _read(target: Path, path: str | os.PathLike[str]) -> bytes | None:
    """The file's bytes, or ``None`` when it does not exist."""
    try:
        return target.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror or exc}") from None


def _job_names(original: bytes | None, path: str | os.PathLike[str]) -> set[str]:
    """The names of the jobs a config file's text defines, as the loader names them (NFC)."""
    if original is None:
        return set()
    try:
        data = tomllib.loads(original.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    jobs = data.get("jobs", {})
    return (
        {unicodedata.normalize("NFC", name) for name in jobs} if isinstance(jobs, dict) else set()
    )


def _appended(old: bytes, addition: str) -> bytes:
    """``old`` with ``addition`` after it, in the file's own line endings."""
    newline = b"\r\n" if b"\r\n" in old else b"\n"
    added = addition.encode("utf-8")
    if newline != b"\n":
        added = added.replace(b"\n", newline)
    separator = b""
    if old:
        # Finish the last line, then one blank line between the old text and the new tables.
        separator = (b"" if old.endswith(b"\n") else newline) + newline
    return old + separator + added


def _replace_atomically(target: Path, original: bytes | None, content: bytes) -> None:
    """Put ``content`` at ``target`` if it loads as a config and ``target`` still holds
    ``original`` (``None``: absent); otherwise raise ``ConfigError`` and leave it alone."""
    from cronwatch.config import load_config  # only the --write path needs the loader

    directory = target.parent
    temp = directory / f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    try:
        # 0o666 through the umask, like any new file; an existing file's mode is copied below.
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise ConfigError(
            f"{target}: cannot write the config file: {exc.strerror or exc}"
        ) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        if original is not None:
            os.chmod(temp, target.stat().st_mode & 0o7777)
        try:
            load_config(temp)
        except ConfigError as exc:
            message = str(exc).replace(str(temp), str(target))
            raise ConfigError(
                f"the merged config would not load, nothing written: {message}"
            ) from None
        # Someone else may have edited the file meanwhile; their change must not be lost.
        try:
            now: bytes | None = target.read_bytes()
        except FileNotFoundError:
            now = None
        if now != original:
            raise ConfigError(f"{target}: changed while merging; nothing written, run it again")
        os.replace(temp, target)
    except OSError as exc:
        raise ConfigError(
            f"{target}: cannot write the config file: {exc.strerror or exc}"
        ) from None
    finally:
        if temp.exists():
            temp.unlink()
    _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    # The rename is durable only once the directory entry is on disk.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
