"""Missed slots: the schedule's slots in a chart's range that no run covers.

A pure function of the schedule, the runs' start times and the range, bounded whatever the
range: at most :data:`MAX_MISSED` slots are returned (the latest ones), so a dead every-second
job does not produce millions of markers.

The rules follow the health checks (:mod:`cronwatch.health.evaluate`):

- A cron schedule's slots are absolute. A slot is covered when some run started in
  ``[slot - tolerance, next slot - tolerance)``, the tolerance being the schedule's
  :meth:`~cronwatch.schedule.Schedule.early_tolerance`, as in the health checks. Slots whose
  grace is not over yet (after ``cutoff``) are never missed.
- An interval schedule ("every 1h", or an interval learned from history) is anchored on each
  run: after a start ``a`` the next run is due at ``a + period``. The slots ``a + k * period``
  whose grace ended before the next start (or before now, for the last start) are missed.

A slot counts as covered by a run on any host: the per-host view is the hosts table.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cronwatch.errors import InvalidInput
from cronwatch.schedule import IntervalSchedule, Schedule

#: Markers drawn at most; beyond, the latest are kept and ``truncated`` says so.
MAX_MISSED = 500
_ONE_US = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Missed:
    """The missed slots in a range, oldest first, and whether older ones were left out."""

    slots: tuple[datetime, ...] = ()
    truncated: bool = False
    #: The host that missed each slot (parallel to ``slots``); ``None``: the job as a whole
    #: (any host may run it).
    hosts: tuple[str | None, ...] = ()

    def on(self) -> tuple[str | None, ...]:
        """The host of each slot (``None`` throughout for a job any host may run)."""
        return self.hosts or (None,) * len(self.slots)


def per_host(found: dict[str, Missed]) -> Missed:
    """The missed slots of each declared host in one list, oldest first, each with its host;
    at most :data:`MAX_MISSED` (the latest)."""
    pairs = sorted((t, host) for host, missed in found.items() for t in missed.slots)
    truncated = any(m.truncated for m in found.values()) or len(pairs) > MAX_MISSED
    pairs = pairs[-MAX_MISSED:]
    return Missed(tuple(t for t, _ in pairs), truncated, tuple(h for _, h in pairs))


def missed_slots(
    schedule: Schedule | None,
    starts: Sequence[datetime],
    *,
    since: datetime,
    now: datetime,
    grace: timedelta,
    limit: int = MAX_MISSED,
) -> Missed:
    """The slots after ``since`` whose grace ended before ``now`` and that none of
    ``starts`` (any order) covers; at most ``limit``, the latest.

    A job that never ran (no ``starts``) is anchored on ``since``, when it became known.
    """
    if schedule is None or limit <= 0 or now - grace <= since:
        return Missed()
    ordered = sorted(starts)
    if isinstance(schedule, IntervalSchedule):
        return _interval(schedule.period, ordered or [since], since, now, grace, limit)
    return _absolute(schedule, ordered, since, now - grace, limit)


def _interval(
    period: timedelta,
    starts: list[datetime],
    since: datetime,
    now: datetime,
    grace: timedelta,
    limit: int,
) -> Missed:
    found: list[datetime] = []
    truncated = False
    # The gaps latest first, so that the limit keeps the latest misses.
    for index in range(len(starts) - 1, -1, -1):
        anchor = starts[index]
        if index + 1 < len(starts):
            # Slot s is missed when the next start came after its grace: s + grace < next.
            count = _ceil_div(starts[index + 1] - grace - anchor, period) - 1
        else:
            # The last start: missed once now - grace has reached it (the health rule).
            count = (now - grace - anchor) // period
        if count <= 0:
            continue
        take = min(count, limit - len(found))
        if take < count:
            truncated = True
        found.extend(anchor + k * period for k in range(count, count - take, -1))
        if truncated:
            break
    return Missed(tuple(s for s in reversed(found) if s > since), truncated)


def _ceil_div(a: timedelta, b: timedelta) -> int:
    return -((-a) // b)


def _absolute(
    schedule: Schedule, starts: list[datetime], since: datetime, cutoff: datetime, limit: int
) -> Missed:
    tol = schedule.early_tolerance()
    # Walk back from the cutoff: the latest slots first, `limit` steps at most.
    slots: list[datetime] = []
    truncated = False
    t = cutoff
    while True:
        try:
            slot = schedule.previous_at_or_before(t)
        except InvalidInput:  # no slot that early in the supported date range
            break
        if slot <= since:
            break
        if len(slots) == limit:
            truncated = True
            break
        slots.append(slot)
        t = slot - _ONE_US
    if not slots:
        return Missed()
    slots.reverse()
    following = [*slots[1:], schedule.next_after(slots[-1])]
    found = []
    for slot, after in zip(slots, following, strict=True):
        index = bisect.bisect_left(starts, slot - tol)
        if index == len(starts) or starts[index] >= after - tol:
            found.append(slot)
    return Missed(tuple(found), truncated)
