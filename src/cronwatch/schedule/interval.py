"""Interval schedules: "every 15m", the slots ``anchor + k * period``."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from cronwatch.durations import format_duration
from cronwatch.errors import InvalidInput
from cronwatch.schedule.base import (
    DEFAULT_SLOT_LIMIT,
    Schedule,
    check_limit,
)
from cronwatch.timeutil import EPOCH, require_aware

_ONE_US = timedelta(microseconds=1)


@dataclass(frozen=True)
class IntervalSchedule(Schedule):
    """Slots every ``period``, in phase with ``anchor``: ``anchor + k * period``."""

    period: timedelta
    anchor: datetime = EPOCH
    expression: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.period, timedelta) or self.period <= timedelta(0):
            raise InvalidInput(
                f"interval must be a positive duration, not {format_duration(self.period)}"
                if isinstance(self.period, timedelta)
                else f"interval must be a timedelta, not {type(self.period).__name__}"
            )
        # Normalise to UTC so that equal schedules compare and hash equal.
        object.__setattr__(self, "anchor", require_aware(self.anchor, "anchor"))
        object.__setattr__(self, "expression", "every " + _exact_duration(self.period))

    def _index_at_or_before(self, t: datetime) -> int:
        # timedelta // timedelta floors, in exact integer microseconds.
        return (require_aware(t, "t") - self.anchor) // self.period

    def _slot(self, index: int) -> datetime:
        try:
            return self.anchor + index * self.period
        except OverflowError:
            raise InvalidInput("schedule slot is outside the supported date range") from None

    def next_after(self, t: datetime) -> datetime:
        return self._slot(self._index_at_or_before(t) + 1)

    def previous_at_or_before(self, t: datetime) -> datetime:
        return self._slot(self._index_at_or_before(t))

    def slots_between(
        self, a: datetime, b: datetime, *, limit: int | None = DEFAULT_SLOT_LIMIT
    ) -> list[datetime]:
        check_limit(limit)
        first = self._index_at_or_before(a) + 1
        last = self._index_at_or_before(b)
        if limit is not None:
            last = min(last, first + limit - 1)
        return [self._slot(i) for i in range(first, last + 1)]

    def count_slots_between(self, a: datetime, b: datetime) -> int:
        return max(0, self._index_at_or_before(b) - self._index_at_or_before(a))

    def period_hint(self) -> timedelta:
        return self.period

    def describe(self) -> str:
        return "every " + _words(self.period)

    def anchored(self, at: datetime) -> IntervalSchedule:
        return replace(self, anchor=at)


_WORD_UNITS = (
    ("week", timedelta(weeks=1)),
    ("day", timedelta(days=1)),
    ("hour", timedelta(hours=1)),
    ("minute", timedelta(minutes=1)),
    ("second", timedelta(seconds=1)),
)
_EXACT_UNITS = (
    ("d", 86_400_000_000),
    ("h", 3_600_000_000),
    ("m", 60_000_000),
    ("s", 1_000_000),
    ("ms", 1_000),
    ("us", 1),
)


def _words(period: timedelta) -> str:
    """ "15 minutes", "hour", "2 days"; a period that is not a whole unit: "1h 30m"."""
    for word, unit in _WORD_UNITS:
        count, rest = divmod(period, unit)
        if count and not rest:
            return word if count == 1 else f"{count} {word}s"
    return format_duration(period)


def _exact_duration(period: timedelta) -> str:
    """Lossless compact form that parse_duration reads back: "1d", "1h30m", "1s500ms"."""
    us = period // _ONE_US
    parts = []
    for unit, size in _EXACT_UNITS:
        amount, us = divmod(us, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)
