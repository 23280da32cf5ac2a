"""What the alert loop looks at: every job's status together with the facts it came from.

The same steps as :func:`cronwatch.health.service.job_statuses` (declared jobs get their
rows, stale baselines are relearned, facts read in a fixed number of queries), keeping the
facts: the failure streak and the end of a hold are computed from them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cronwatch.health.evaluate import evaluate, schedule_in_force
from cronwatch.health.model import JobFacts, JobStatus
from cronwatch.schedule import IntervalSchedule, Schedule
from cronwatch.specs import Config, JobSpec
from cronwatch.storage.connection import Database
from cronwatch.storage.jobs import JobStore


@dataclass(frozen=True, slots=True)
class Observation:
    """One job's facts and its status at the cycle's ``now``."""

    facts: JobFacts
    status: JobStatus

    @property
    def spec(self) -> JobSpec:
        return self.facts.spec


def observe(
    db: Database, config: Config | None, now: datetime, *, names: Sequence[str] | None = None
) -> list[Observation]:
    """Every known job's facts and status at ``now``, or only those of ``names``. Stale
    baselines are relearned first (among ``names``: the runs that make a baseline stale make
    its job due). Declared jobs are synced by the caller (:func:`sync_declared`)."""
    store = JobStore(db)
    declared = dict(config.jobs) if config is not None else {}
    stale = store.stale_baselines(names)
    if stale:
        store.refresh_baselines(now, names=stale)
    facts = store.facts(declared, names=names, now=now)
    return [Observation(f, evaluate(f, now)) for f in facts]


def sync_declared(db: Database, config: Config | None, now: datetime) -> None:
    """Give every job declared in ``config`` its row, so that one that never runs turns
    missing."""
    if config is not None and config.jobs:
        JobStore(db).sync_declared(config.jobs.values(), now)


def _phased(schedule: Schedule, anchor: datetime) -> Schedule:
    # Interval slots follow the job's last start; cron slots are absolute.
    return schedule.anchored(anchor) if isinstance(schedule, IntervalSchedule) else schedule


def resume_deadline(obs: Observation, resumed: datetime) -> datetime:
    """When a job that could not be watched until ``resumed`` has had its chance to report:
    its first slot after ``resumed`` plus its grace (``resumed`` + grace without a schedule).
    """
    schedule, grace = schedule_in_force(obs.facts)
    if schedule is None:
        return resumed + grace
    anchor = obs.status.last_started or obs.facts.created
    return _phased(schedule, anchor).next_after(resumed) + grace


def failure_streak(obs: Observation, now: datetime, cap: int) -> int:
    """How many failures in a row the job's current problem stands for, at most ``cap``: the
    failed runs in a row of its last finished run (the worst declared host's), plus the slots
    missed since its last start (the missing host that started longest ago), plus one for a
    hung run. At least 1: a problem is one failure even where none of these counts it.
    """
    facts, status = obs.facts, obs.status
    declared = set(facts.spec.hosts)
    rows = [row for row in facts.hosts if not declared or row.hostname in declared]
    failures = 0
    if declared:
        failures = max(
            (r.consecutive_failures for r in rows if r.last_outcome == "failure"), default=0
        )
    else:
        finished = [r for r in rows if r.last_completed is not None]
        if finished:
            latest = max(finished, key=lambda r: r.last_completed or facts.created)
            if latest.last_outcome == "failure":
                failures = latest.consecutive_failures
    statuses = {status.status, *(host.status for host in status.hosts)}
    hung = 1 if "hung" in statuses else 0
    missed = 0
    if "missing" in statuses and failures + hung < cap:
        missed = _missed_slots(obs, now, cap - failures - hung)
    return max(1, min(cap, failures + hung + missed))


def _missed_slots(obs: Observation, now: datetime, cap: int) -> int:
    schedule, grace = schedule_in_force(obs.facts)
    if schedule is None:
        return 1
    status = obs.status
    missing_starts = [host.last_started for host in status.hosts if host.status == "missing"]
    if missing_starts and None in missing_starts:
        last = None
    elif missing_starts:
        last = min(start for start in missing_starts if start is not None)
    else:
        last = status.last_started
    # Never ran: the slots owed since cronwatch knew of it. Else a start a little early
    # covers its slot (as in the evaluation).
    since = obs.facts.created if last is None else last + schedule.early_tolerance()
    phased = _phased(schedule, last or obs.facts.created)
    return len(phased.slots_between(since, now - grace, limit=cap))
