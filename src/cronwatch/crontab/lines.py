"""The lines of a crontab: comments, environment assignments and schedule lines, and the
blank-separated fields of a line, split the way cron splits them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

# cron's load_env(): a name (bare, or quoted to allow blanks), optional blanks, "=", the value.
# A schedule line never matches: its first field is followed by a blank and another field.
_ASSIGNMENT_LINE = re.compile(r"""\s*("[^"]*"|'[^']*'|[^\s=]+)\s*=\s*(.*)""")
_FIELD = re.compile(r"[ \t]*(\S+)")


@dataclass(frozen=True)
class Line:
    """One line of a crontab, without its line ending; ``number`` counts from 1."""

    number: int
    text: str
    kind: Literal["entry", "assignment", "comment"]  # comment: comments and blank lines


def classify(text: str) -> list[Line]:
    """Every line of ``text``, classified."""
    lines: list[Line] = []
    # cron splits on "\n" only: str.splitlines() would also split on \f, \x1c, U+2028...
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.removesuffix("\r")
        stripped = line.strip()
        kind: Literal["entry", "assignment", "comment"]
        if not stripped or stripped.startswith("#"):
            kind = "comment"
        elif _ASSIGNMENT_LINE.fullmatch(line):
            kind = "assignment"
        else:
            kind = "entry"
        lines.append(Line(number, line, kind))
    return lines


def assignment(line: Line) -> tuple[str, str]:
    """The name and the value of an assignment line, quotes removed."""
    match = _ASSIGNMENT_LINE.fullmatch(line.text)
    assert match is not None  # classified as an assignment by this very regex
    return _unquote(match.group(1)), _unquote(match.group(2))


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def split_fields(line: str, count: int) -> tuple[list[str], str] | None:
    """The first ``count`` blank-separated fields and the rest as written (leading blanks
    removed), or ``None`` when the line has fewer fields."""
    fields: list[str] = []
    position = 0
    for _ in range(count):
        match = _FIELD.match(line, position)
        if match is None:
            return None
        fields.append(match.group(1))
        position = match.end()
    return fields, line[position:].lstrip(" \t")


def schedule_width(line: str) -> int:
    """How many fields the schedule takes: 1 for an ``@alias``, else 5."""
    return 1 if line.lstrip().startswith("@") else 5
