"""The TOML that ``import-crontab`` prints or adds to a config file."""

from __future__ import annotations

import os
import tomllib
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from cronwatch import tomlwriter
from cronwatch.crontab.entries import CrontabEntry
from cronwatch.errors import ConfigError

#: Commands longer than this are shortened in the TOML comment that shows them.
MAX_COMMENT_COMMAND = 160


def entries_to_toml(entries: Iterable[CrontabEntry], *, source: str | None = None) -> str:
    """The entries as ``[jobs.NAME]`` tables, in order; ``""`` when there are none.

    Each table has ``schedule``, ``timezone`` when it is not UTC (UTC is the config default), and
    a comment above it naming the source line, the user (system crontabs) and the command. The
    text is valid for :func:`cronwatch.config.load_config` provided the names are unique, as
    :func:`~cronwatch.crontab.parse_crontab` makes them. ``source`` (a file name) goes into
    a header comment.
    """
    entries = list(entries)
    if not entries:
        return ""
    where = f" from {_comment(source)}" if source else ""
    out = [f"# Jobs imported{where} by cronwatch import-crontab."]
    if any(not entry.wrapped for entry in entries):
        # A derived name is only a proposal until runs are recorded under it.
        out.append("# A job gets its runs recorded once its crontab line runs the command as")
        out.append("#     cronwatch run NAME -- COMMAND")
        out.append("# with NAME as below; lines that do so already kept their name.")
    for entry in entries:
        user = f" (user {_comment(entry.user)})" if entry.user is not None else ""
        out.append("")
        out.append(f"# line {entry.line_no}{user}: {_comment(entry.command)}")
        out.append(f"[jobs.{tomlwriter.key(entry.job_name)}]")
        out.append(f"schedule = {tomlwriter.string(entry.schedule_expr)}")
        if entry.timezone != "UTC":
            out.append(f"timezone = {tomlwriter.string(entry.timezone)}")
    return "\n".join(out) + "\n"


def merge_into_config(
    path: str | os.PathLike[str],
    entries: Iterable[CrontabEntry],
    *,
    source: str | None = None,
) -> tuple[list[CrontabEntry], list[CrontabEntry]]:
    """Append to the config file at ``path`` the jobs it does not define yet.

    Returns ``(added, skipped)``: ``skipped`` are the entries whose job name the file already
    has (the existing job is never changed), or that repeat a name earlier in ``entries``.

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
    added: list[CrontabEntry] = []
    skipped: list[CrontabEntry] = []
    for entry in entries:
        if entry.job_name in existing:
            skipped.append(entry)
        else:
            existing.add(entry.job_name)
            added.append(entry)
    if added:
        addition = entries_to_toml(added, source=source)
        _replace_atomically(target, original, _appended(original or b"", addition))
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


def _comment(text: str) -> str:
    return tomlwriter.comment(text, max_chars=MAX_COMMENT_COMMAND)


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
