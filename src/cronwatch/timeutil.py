"""Time conversions shared by every module.

cronwatch stores instants as integer microseconds since the Unix epoch, in UTC: exact, sortable,
and the same on SQLite and PostgreSQL. Everything that leaves the library is a timezone-aware
``datetime`` in UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from cronwatch.durations import format_duration
from cronwatch.errors import InvalidInput, type_name

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
#: Instants given as text or by a config file must lie in [EARLIEST, LATEST): a run of a
#: scheduled job before the Unix epoch or a thousand years ahead is a mistake, and so far from
#: now that schedule arithmetic on it would overflow ``datetime``.
EARLIEST = EPOCH
LATEST = datetime(3000, 1, 1, tzinfo=UTC)
#: How far ahead of the clock of the machine that checks it a run may start or finish: a host
#: whose clock runs a little fast is fine; a run dated hours (or years) ahead would stay the
#: job's "latest" and hide every real outcome after it, so it is refused.
FUTURE_TOLERANCE = timedelta(minutes=5)


def require_aware(value: datetime, field: str) -> datetime:
    """Return ``value`` converted to UTC; refuse naive datetimes and non-datetimes.

    Works for any tzinfo implementation (``datetime.timezone``, ``zoneinfo``, pytz), because it
    relies only on ``utcoffset()``.
    """
    if not isinstance(value, datetime):
        raise InvalidInput(f"{field} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(
            f"{field} is a naive datetime ({value.isoformat()}); give it a timezone, "
            "e.g. datetime.now(timezone.utc)"
        )
    return value.astimezone(UTC)


def refuse_future(
    value: datetime,
    field: str,
    *,
    now: datetime | None = None,
    tolerance: timedelta = FUTURE_TOLERANCE,
    clock: str = "this machine's",
) -> None:
    """Raise :class:`InvalidInput` naming ``field`` and the current time when the aware
    ``value`` lies more than ``tolerance`` after ``now`` (default: the clock's current time).
    ``clock`` says whose clock that is in the message ("the server's")."""
    current = utcnow() if now is None else now
    if value - current > tolerance:
        raise InvalidInput(
            f"{field}: {value.isoformat()} is in the future: {clock} time is "
            f"{current.isoformat(timespec='seconds')}, and a run may be dated at most "
            f"{format_duration(tolerance)} ahead of it (is a clock wrong?)"
        )


def to_us(value: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (exact, no float rounding)."""
    return (value - EPOCH) // _ONE_US


def from_us(value: int) -> datetime:
    """The aware UTC datetime for microseconds since the epoch."""
    # Positional (days, seconds, microseconds): the keyword form costs several times more, and
    # a scrape of a large fleet converts hundreds of thousands of instants.
    return EPOCH + timedelta(0, 0, value)


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


_EXAMPLE = "2026-11-28T03:00:00Z"
# At most 11 digits: the instant stays inside datetime's range (year 5138 at most).
_UNIX = re.compile(r"@\d{1,11}(\.\d{1,6})?")


def parse_instant(value: object, field: str, *, typed: bool = False) -> datetime:
    """The one instant parser: an aware UTC datetime from ISO 8601 text with a UTC offset
    (``2026-11-28T03:00:00Z``, ``...+01:00``) or from an aware ``datetime`` (a TOML offset
    date-time).

    ``typed`` (a time typed on the command line) also takes ``now`` and ``@<unix seconds>``,
    and ignores surrounding blanks. Naive times are refused everywhere: a local time is too
    easy to confuse with UTC. So are instants outside [:data:`EARLIEST`, :data:`LATEST`), and
    those whose offset takes them out of what ``datetime`` holds
    (``0001-01-01T00:00:00+14:00``). Every refusal is an :class:`InvalidInput` whose message
    starts with ``field``.
    """
    if isinstance(value, str):
        value = _from_text(value, field, typed=typed)
    if not isinstance(value, datetime):
        kind = "a date" if isinstance(value, date) else type_name(value)
        raise InvalidInput(f"{field}: expected a date-time such as {_EXAMPLE}, not {kind}")
    if value.tzinfo is None or value.utcoffset() is None:
        shown = value.isoformat()
        raise InvalidInput(
            f"{field}: {shown} has no UTC offset; add one, e.g. {shown}Z or {shown}+01:00 "
            "(a time that has no timezone is too easy to confuse with UTC)"
        )
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = EARLIEST - _ONE_US if value.year < 2000 else LATEST
    if not EARLIEST <= utc < LATEST:
        raise InvalidInput(
            f"{field}: {value.isoformat()} is out of range; give an instant from 1970-01-01 to "
            "2999-12-31 UTC"
        )
    return utc


def _from_text(text: str, field: str, *, typed: bool) -> datetime:
    stripped = text.strip() if typed else text
    if typed and stripped == "now":
        return utcnow()
    if typed and _UNIX.fullmatch(stripped):
        return datetime.fromtimestamp(float(stripped[1:]), UTC)
    try:
        return datetime.fromisoformat(stripped)
    except ValueError:
        shorthands = ", @<unix seconds> or 'now'" if typed else ""
        raise InvalidInput(
            f"{field}: not a date-time: {text[:60]!r} is not a time in ISO 8601 with a UTC "
            f"offset such as {_EXAMPLE}{shorthands}"
        ) from None
