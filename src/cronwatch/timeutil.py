"""Time conversions shared by every module.

cronwatch stores instants as integer microseconds since the Unix epoch, in UTC: exact, sortable,
and the same on SQLite and PostgreSQL. Everything that leaves the library is a timezone-aware
``datetime`` in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cronwatch.errors import InvalidInput

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
#: Instants given as text (the REST API) must lie in [EARLIEST, LATEST): a run of a scheduled
#: job before the Unix epoch or a thousand years ahead is a mistake, and so far from now that
#: schedule arithmetic on it would overflow ``datetime``.
EARLIEST = EPOCH
LATEST = datetime(3000, 1, 1, tzinfo=UTC)


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


def to_us(value: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (exact, no float rounding)."""
    return (value - EPOCH) // _ONE_US


def from_us(value: int) -> datetime:
    """The aware UTC datetime for microseconds since the epoch."""
    return EPOCH + timedelta(microseconds=value)


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def parse_instant(text: str, field: str) -> datetime:
    """The aware UTC datetime of ISO 8601 ``text`` with a UTC offset (``2026-11-28T03:00:00Z``,
    ``...+01:00``), between :data:`EARLIEST` and :data:`LATEST`; :class:`InvalidInput` naming
    ``field`` otherwise (also for dates whose offset takes them out of what ``datetime``
    holds, such as ``0001-01-01T00:00:00+14:00``)."""
    shown = repr(text[:40])
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{field}: {shown} is not an ISO 8601 date-time") from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{field}: {shown} has no UTC offset (add Z or +00:00)")
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        value = EARLIEST - _ONE_US if value.year < 2000 else LATEST
    if not EARLIEST <= value < LATEST:
        raise InvalidInput(
            f"{field}: {shown} is out of range; give an instant from 1970-01-01 to 2999-12-31 UTC"
        )
    return value
