"""Reading unit files as systemd does (systemd.syntax(7)), drop-ins included.

A unit file is sections (``[Timer]``) of ``Key=Value`` lines. Blank lines and lines starting
with ``#`` or ``;`` are comments; whitespace around the line and around the first ``=`` is
ignored; a line ending in a backslash continues on the next one (the backslash becomes a
space, comment lines inside are skipped). Keys are case-sensitive, as systemd has them.

A unit's settings are its file's lines followed by those of its drop-ins (``NAME.timer.d/
*.conf``), in the order :mod:`cronwatch.systemd_units.discover` finds them; what a later line
means (it adds to a list, replaces a value, or an empty value resets a list) is the reader's
to decide: :mod:`cronwatch.systemd_units.timers`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cronwatch.errors import InvalidInput

#: A unit file larger than this is no unit file (systemd's own limit is 4 MiB per line).
MAX_UNIT_BYTES = 1 << 20


@dataclass(frozen=True)
class Setting:
    """One ``Key=Value`` line: where it is (file and line number), its section, key and value."""

    path: str
    line: int
    section: str
    key: str
    value: str


def parse_unit_text(text: str, path: str, warnings: list[str]) -> Iterator[Setting]:
    """The settings of one unit file's (or drop-in's) text, in order. A line that is neither a
    section header nor an assignment is skipped, as systemd skips it, with a warning naming the
    file and line appended to ``warnings``."""
    section = ""
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if pending:
            if line.startswith(("#", ";")):
                continue
        elif not line or line.startswith(("#", ";")):
            continue
        if line.endswith("\\"):
            if not pending:
                start = number
            pending.append(line[:-1])
            continue
        if pending:
            line = " ".join([*pending, line])
            pending = []
        else:
            start = number
        if line.startswith("["):
            if not line.endswith("]") or len(line) < 3:
                warnings.append(f"{path}, line {start}: bad section header {line[:60]!r} skipped")
                section = ""  # systemd ignores what follows a bad header, up to the next one
            else:
                section = line[1:-1]
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            warnings.append(f"{path}, line {start}: not Key=Value, skipped: {line[:60]!r}")
            continue
        yield Setting(path, start, section, key.strip(), value.strip())
    if pending:  # a continuation at the end of the file: systemd takes what it has
        line = " ".join(pending)
        key, sep, value = line.partition("=")
        if sep and key.strip():
            yield Setting(path, start, section, key.strip(), value.strip())


def read_unit(files: Iterable[Path], warnings: list[str]) -> list[Setting]:
    """The settings of a unit file followed by its drop-ins (``files``, in the order they
    apply); lines skipped are said in ``warnings``. :class:`InvalidInput` when a file cannot
    be read or is not a text file."""
    settings: list[Setting] = []
    for path in files:
        try:
            with open(path, "rb") as handle:
                data = handle.read(MAX_UNIT_BYTES + 1)
        except OSError as exc:
            raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from None
        if len(data) > MAX_UNIT_BYTES:
            raise InvalidInput(f"{path}: larger than {MAX_UNIT_BYTES} bytes; not a unit file")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(f"{path}: not UTF-8 text; not a unit file") from None
        settings.extend(parse_unit_text(text, str(path), warnings))
    return settings
