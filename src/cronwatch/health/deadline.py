"""When a job's status can next change by itself: the instant after which
:func:`~cronwatch.health.evaluate.evaluate` may answer differently for the same facts.

The evaluation reads the clock in few places, and each is a comparison of ``now`` with an
instant fixed by the facts; the deadline is the earliest of those instants still ahead:

- a schedule slot (the current slot moves: ``ok`` turns ``late``) and a slot plus the grace
  (the latest slot past grace moves: ``late`` or ``new`` turns ``missing``, and a missing job
  misses one more slot). Cron and calendar slots are absolute; interval slots are counted from
  an anchor: each judged view's last start (a running run's counts), or the job's creation
  for a view that never started;
- the start of each running run plus its hung limit (``running`` turns ``hung``).

Everything else (failing, too_often, slow, fast, a learned baseline, a spec) changes only with
a recorded run or a new spec, which make the job due by themselves (see
:mod:`cronwatch.storage.alerts.deadlines`). A paused job never changes by itself. The answer
may be early (the status is then found unchanged), never late: that is what the alert loop's
incremental cycles rely on. ``tests/alerts/test_incremental.py`` checks it on random histories.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from cronwatch.errors import InvalidInput
from cronwatch.health.evaluate import HUNG_FACTOR, HUNG_MARGIN, next_slot, schedule_in_force
from cronwatch.health.model import JobFacts
from cronwatch.schedule import IntervalSchedule, Schedule


def status_deadline(facts: JobFacts, now: datetime) -> datetime | None:
    """The earliest instant after ``now`` at which the status of the job (or of one of its
    hosts) may change without a new run; ``None``: never."""
    if facts.spec.paused:
        return None
    found: list[datetime] = []
    schedule, grace = schedule_in_force(facts)
    if isinstance(schedule, IntervalSchedule):
        for anchor in _anchors(facts):
            found.append(_next_on_grid(anchor, schedule.period, timedelta(0), now))
            found.append(_next_on_grid(anchor, schedule.period, grace, now))
    elif schedule is not None:
        found += _next_slots(schedule, grace, now)
    limit = hung_limit(facts)
    if limit is not None:
        found += [run.started + limit for run in facts.running if run.started + limit > now]
    return min(found, default=None)


def _anchors(facts: JobFacts) -> set[datetime]:
    """The instants interval slots can be counted from: each judged view's last start (a
    running run's counts), or the job's creation for a view that never started. Declared
    hosts are judged one by one; otherwise the job is judged as one (its latest start)."""
    starts: dict[str, datetime] = {}
    for host in facts.hosts:
        if host.last_started is not None:
            starts[host.hostname] = host.last_started
    for run in facts.running:
        if run.hostname not in starts or run.started > starts[run.hostname]:
            starts[run.hostname] = run.started
    if facts.spec.hosts:
        return {starts.get(host, facts.created) for host in facts.spec.hosts}
    return {max(starts.values())} if starts else {facts.created}


def hung_limit(facts: JobFacts) -> timedelta | None:
    """How long a run of the job may go before it is hung (the evaluation's rule)."""
    if facts.spec.max_runtime is not None:
        return facts.spec.max_runtime
    band = facts.baseline.runtime if facts.baseline is not None else None
    if band is None:
        return None
    high = timedelta(seconds=band.high)
    return max(high * HUNG_FACTOR, high + HUNG_MARGIN)


def _next_on_grid(
    anchor: datetime, period: timedelta, offset: timedelta, now: datetime
) -> datetime:
    """The first ``anchor + offset + k * period`` (k >= 1) after ``now``."""
    first = anchor + offset + period
    if first > now:
        return first
    return first + ((now - first) // period + 1) * period


def _next_slots(schedule: Schedule, grace: timedelta, now: datetime) -> list[datetime]:
    found = []
    for t, offset in ((now, timedelta(0)), (now - grace, grace)):
        with contextlib.suppress(InvalidInput):  # a calendar with no slot left
            found.append(next_slot(schedule, t) + offset)
    return found
