"""Wall-clock times of a timezone as plain integers, for the calendar walks.

An instant is an integer of microseconds since the Unix epoch (UTC). A wall-clock time is a
tuple ``(year, month, day, hour, minute, microsecond_of_minute)``; fields may run past their
end (minute 60, day 32) until :func:`carry` brings them back, as ``mktime`` does.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from cronwatch.systemd_time.calendar import USEC
from cronwatch.timeutil import from_us

Wall = tuple[int, int, int, int, int, int]
MINUTE, HOUR, DAY = 60 * USEC, 3600 * USEC, 86_400 * USEC
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def carry(y: int, mo: int, d: int, h: int, mi: int, us: int) -> Wall:
    """Fields past their end carried into the next unit (month 13, day 32, minute 60 ...)."""
    y, mo = y + (mo - 1) // 12, (mo - 1) % 12 + 1
    extra, rest = divmod(h * HOUR + mi * MINUTE + us, DAY)
    if 1 <= d <= 28 and extra == 0:
        day = date(y, mo, d)
    else:
        day = date.fromordinal(date(y, mo, 1).toordinal() + d - 1 + extra)
    h, rest = divmod(rest, HOUR)
    mi, us = divmod(rest, MINUTE)
    return (day.year, day.month, day.day, h, mi, us)


def naive(wall: Wall) -> datetime:
    y, mo, d, h, mi, us = wall
    second, micro = divmod(us, USEC)
    return datetime(y, mo, d, h, mi, second, micro)


def wall_of(naive: datetime) -> Wall:
    us = naive.second * USEC + naive.microsecond
    return (naive.year, naive.month, naive.day, naive.hour, naive.minute, us)


def offset_us(delta: timedelta | None) -> int:
    assert delta is not None
    return delta // timedelta(microseconds=1)


def as_wall(fields: tuple[int, ...]) -> Wall:
    y, mo, d, h, mi, us = fields
    return (y, mo, d, h, mi, us)


def to_instant(wall: Wall, offset: int) -> int:
    """The instant of ``wall`` read with the UTC ``offset`` (microseconds)."""
    y, mo, d, h, mi, us = wall
    days = date(y, mo, d).toordinal() - _EPOCH_ORDINAL
    return days * DAY + h * HOUR + mi * MINUTE + us - offset


def local_wall(t: int, zone: tzinfo) -> Wall:
    """The wall-clock time of instant ``t`` in ``zone``."""
    return wall_of(from_us(t).astimezone(zone).replace(tzinfo=None))


def ymd(ordinal: int) -> tuple[int, int, int]:
    day = date.fromordinal(ordinal)
    return day.year, day.month, day.day


def naive_utc(us: int) -> datetime:
    return datetime(1970, 1, 1) + timedelta(microseconds=us)


def carry_back(wall: Wall) -> Wall:
    """One microsecond before ``wall``."""
    return wall_of(naive(wall) - timedelta(microseconds=1))


@functools.lru_cache(maxsize=65536)
def regular_offset(zone: tzinfo, ordinal: int) -> int | None:
    day = date.fromordinal(ordinal)
    start = datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC)
    first = start.astimezone(zone).utcoffset()
    last = (end - timedelta(microseconds=1)).astimezone(zone).utcoffset()
    # Equal offsets at both ends of a 24-hour span: no change inside (tzdata never has two
    # changes in one day), so wall-clock times map one-to-one to instants.
    if end - start != timedelta(days=1) or first != last:
        return None
    return offset_us(first)
