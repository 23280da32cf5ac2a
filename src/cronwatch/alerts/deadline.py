"""When the alert loop must next look at a job: its *next deadline*.

A decision of :func:`cronwatch.alerts.rules.decide` changes only when the job's status or host
statuses change, when a run is recorded, or when one of the instants below passes. The
deadline is the earliest of them after ``now``:

- :func:`cronwatch.health.deadline.status_deadline` (a slot, a slot plus grace, a hung limit);
- for a job that is bad or whose problem was announced (for any other job the rules only look
  at the status): its next reminder (``notified + repeat``) and escalation (``announced +
  escalate_after``), the end of its hold (a pause's, an outage's, a maintenance window's),
  of its snooze and of the maintenance window it is in.

Recorded runs, a snooze and a spec changed through the API make the job due by themselves
(:mod:`cronwatch.storage.alerts.deadlines`); a new config restarts the loop, whose first cycle
evaluates every job. An early deadline costs one evaluation that finds nothing to do; a late
one would delay a decision, which the incremental cycles must never do.
"""

from __future__ import annotations

from datetime import datetime

from cronwatch.alerts.model import JobState
from cronwatch.health.deadline import status_deadline
from cronwatch.health.model import JobFacts
from cronwatch.specs import JobAlerting, MaintenanceWindow


def next_deadline(
    facts: JobFacts,
    status: str,
    state: JobState | None,
    policy: JobAlerting,
    windows: list[MaintenanceWindow],
    hold: datetime | None,
    now: datetime,
) -> datetime | None:
    """The job's next deadline after ``now`` (``None``: only a run or a change of spec can
    change anything). ``state`` is the job row as the cycle left it, ``windows`` the
    maintenance windows covering the job, ``hold`` the end of the hold the cycle found for it
    (an outage's or a maintenance window's)."""
    found = [status_deadline(facts, now)]
    if state is not None and (state.alerting or status in policy.alert_on):
        found += [state.hold_until, state.snooze_until, policy.snooze_until, hold]
        if state.alerting and policy.repeat is not None and state.notified is not None:
            found.append(state.notified + policy.repeat)
        announced = state.announced or state.problem_since
        if (
            state.alerting
            and policy.escalates
            and policy.escalate_after is not None
            and state.escalated is None
            and announced is not None
        ):
            found.append(announced + policy.escalate_after)
        found += [window.active_until(now) for window in windows]
    return min((t for t in found if t is not None and t > now), default=None)
