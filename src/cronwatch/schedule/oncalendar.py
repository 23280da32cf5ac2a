"""systemd calendar schedules: the union of one or more ``OnCalendar=`` expressions, at the
instants systemd computes for them (the walk itself is :mod:`cronwatch.systemd_time.walk`)."""

from __future__ import annotations

import functools
import heapq
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from cronwatch.errors import InvalidInput
from cronwatch.schedule.base import (
    DEFAULT_SLOT_LIMIT,
    Schedule,
    check_limit,
    load_zone,
)
from cronwatch.systemd_time.calendar import parse_calendar
from cronwatch.systemd_time.walk import CalendarWalk
from cronwatch.timeutil import from_us, require_aware, to_us

_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class OnCalendarSchedule(Schedule):
    """systemd calendar expressions, the slots of any of them, in the IANA ``timezone``.

    ``expressions`` holds one expression per ``OnCalendar=`` line of a timer (a string is one
    expression); an expression's own trailing zone (``... Europe/Berlin``, ``... UTC``) wins
    over ``timezone``. Construction validates them; errors are ``InvalidInput`` naming the
    expression and what is wrong with it.
    """

    expressions: tuple[str, ...]
    timezone: str = "UTC"
    expression: str = field(init=False, repr=False, compare=False)
    _walks: tuple[CalendarWalk, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        zone = load_zone(self.timezone)
        given: object = self.expressions
        if isinstance(given, str):
            given = (given,)
        if not isinstance(given, Sequence) or not given:
            raise InvalidInput("OnCalendar: expected one or more calendar expressions")
        texts = tuple(
            " ".join(str(text).split()) if isinstance(text, str) else text for text in given
        )
        object.__setattr__(self, "expressions", texts)
        specs = [parse_calendar(text) for text in texts]
        object.__setattr__(self, "_walks", tuple(CalendarWalk(spec, zone) for spec in specs))
        object.__setattr__(self, "expression", "\n".join("OnCalendar=" + t for t in texts))

    def _next_us(self, t: int) -> int | None:
        found = [s for w in self._walks if (s := w.next_after(t)) is not None]
        return min(found) if found else None

    def next_after(self, t: datetime) -> datetime:
        t = require_aware(t, "t")
        found = self._next_us(to_us(t))
        if found is None:
            raise InvalidInput(
                f"OnCalendar {self._shown()} has no slot after {t} (systemd computes up to 2199)"
            )
        return from_us(found)

    def previous_at_or_before(self, t: datetime) -> datetime:
        t = require_aware(t, "t")
        us = to_us(t)
        found = [s for w in self._walks if (s := w.previous_at_or_before(us)) is not None]
        if not found:
            raise InvalidInput(f"OnCalendar {self._shown()} has no slot at or before {t}")
        return from_us(max(found))

    def _iter(self, a: int, b: int) -> Iterator[int]:
        """The slots in ``(a, b]``, in order, each once (expressions may share slots)."""
        heap = [(s, i) for i, w in enumerate(self._walks) if (s := w.next_after(a)) is not None]
        heapq.heapify(heap)
        last = a
        while heap and heap[0][0] <= b:
            slot, i = heap[0]
            following = self._walks[i].next_after(slot)
            if following is None:
                heapq.heappop(heap)
            else:
                heapq.heapreplace(heap, (following, i))
            if slot > last:
                yield slot
                last = slot

    def slots_between(
        self, a: datetime, b: datetime, *, limit: int | None = DEFAULT_SLOT_LIMIT
    ) -> list[datetime]:
        check_limit(limit)
        a, b = require_aware(a, "a"), require_aware(b, "b")
        if b <= a:
            return []
        return [from_us(s) for s in itertools.islice(self._iter(to_us(a), to_us(b)), limit)]

    def count_slots_between(self, a: datetime, b: datetime) -> int:
        a, b = require_aware(a, "a"), require_aware(b, "b")
        start, end = to_us(a), to_us(b)
        zones = {w.zone for w in self._walks}
        if (
            len(zones) > 1
            or len(self._walks) > _MAX_COUNTED_UNION
            or any(w.exact_walk_only for w in self._walks)
        ):
            return sum(1 for _ in self._iter(start, end))
        # As for cron: whole days without a DST change are counted from the fields alone;
        # only the days at the ends and the days with a change are walked.
        count, cursor, walk = 0, start, self._walks[0]
        while cursor < end:
            first = self._next_us(cursor)
            if first is None or first > end:
                break
            day = from_us(first).astimezone(walk.zone).date()
            day_start = to_us(datetime.combine(day, time(), tzinfo=walk.zone))
            day_end = to_us(datetime.combine(day + _ONE_DAY, time(), tzinfo=walk.zone))
            if cursor < day_start and day_end <= end and walk.regular_offset(day) is not None:
                # Every expression that matches the day has all its times of day on it.
                count += _union_per_day(self._walks, day)
                cursor = day_end - 1
            else:
                stop = min(end, day_end - 1)
                count += sum(1 for _ in self._iter(cursor, stop))
                cursor = stop
        return count

    def period_hint(self) -> timedelta:
        return _on_calendar_period_hint(self)

    def describe(self) -> str:
        forms = " or ".join(f'"{w.spec.normalized()}"' for w in self._walks)
        local = any(not w.spec.utc and w.spec.timezone is None for w in self._walks)
        return f"on calendar {forms}" + (f" ({self.timezone})" if local else "")

    def anchored(self, at: datetime) -> OnCalendarSchedule:
        # Calendar slots are absolute; the last run does not move them.
        return self

    def _shown(self) -> str:
        text = " | ".join(self.expressions)
        return repr(text if len(text) <= 60 else text[:57] + "...")


def _union_per_day(walks: tuple[CalendarWalk, ...], day: date) -> int:
    """How many slots a day without a DST change has."""
    return _union_size(tuple(w for w in walks if w.matches_date(day)))


@functools.lru_cache(maxsize=1024)
def _union_size(matching: tuple[CalendarWalk, ...]) -> int:
    """The size of the union of the walks' times of day (hours x minutes x seconds each), by
    inclusion-exclusion: the intersection of such products is the product of intersections."""
    total = 0
    for size in range(1, len(matching) + 1):
        for group in itertools.combinations(matching, size):
            common = 1
            for values in zip(*((w.hours, w.minutes, w.usecs) for w in group), strict=True):
                common *= len(set.intersection(*(set(v) for v in values)))
            total += common if size % 2 else -common
    return total


#: Up to this many expressions, whole days are counted by inclusion-exclusion (2^n terms).
_MAX_COUNTED_UNION = 8


@functools.lru_cache(maxsize=1024)
def _on_calendar_period_hint(schedule: OnCalendarSchedule) -> timedelta:
    """The median gap of the first slots from a fixed date (deterministic), as for cron."""
    start = datetime(2001, 1, 1, tzinfo=UTC)
    slots = list(itertools.islice(schedule._iter(to_us(start), to_us(_FAR_FUTURE)), 25))
    gaps = sorted(timedelta(microseconds=b - a) for a, b in itertools.pairwise(slots))
    return gaps[len(gaps) // 2] if gaps else timedelta(days=365)


_FAR_FUTURE = datetime(2200, 1, 1, tzinfo=UTC)
