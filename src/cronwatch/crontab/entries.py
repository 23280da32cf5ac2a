"""What reading a crontab gives: entries, warnings, and the parse as a whole."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CrontabEntry:
    """One scheduled line of a crontab.

    ``schedule_expr`` is the normalised cron expression (single spaces, aliases lower-case) and
    is valid in ``timezone`` (an IANA name). ``command`` is the text after the time fields (and
    after the user field of a system crontab) exactly as written, ``%`` included, without the
    line ending. ``job_name`` is unique within the parse and passes ``validate_name``. ``user``
    is the user field of a system crontab, ``None`` for a user crontab. ``wrapped`` says that
    the name came from ``cronwatch run NAME`` in the command, so runs are already recorded
    under it.
    """

    line_no: int
    schedule_expr: str
    timezone: str
    command: str
    job_name: str
    user: str | None = None
    wrapped: bool = False


@dataclass(frozen=True)
class CrontabWarning:
    """A line that was not imported (or imported with a caveat), and why."""

    line_no: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line_no}: {self.message}"


@dataclass(frozen=True)
class ParsedCrontab:
    """The result of :func:`parse_crontab`.

    ``system`` tells which format was read; ``system_guessed`` is true when that was inferred
    from the content (not given, not implied by the path), so a caller can say so.
    """

    entries: list[CrontabEntry]
    warnings: list[CrontabWarning]
    system: bool
    system_guessed: bool = False


@dataclass
class Candidate:
    """A scheduled line read, before its job name is chosen (:mod:`.naming` chooses):
    ``explicit`` is the name of ``cronwatch run NAME`` in its command, ``derived`` the name
    made from the command otherwise."""

    line_no: int
    schedule_expr: str
    timezone: str
    command: str
    user: str | None
    explicit: str | None
    derived: str
