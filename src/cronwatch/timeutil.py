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
