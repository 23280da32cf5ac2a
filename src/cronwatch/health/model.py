"""The facts a health evaluation reads, and the statuses it produces.

Facts come from the database in a fixed number of queries whatever the number of jobs
(``cronwatch.storage.jobs``): the job's spec, a summary row per host maintained on every write,
the runs still going, and the baseline learned from history. The evaluation itself
(:mod:`cronwatch.health.evaluate`) is a pure function of those facts and the current time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, NamedTuple

from cronwatch.baseline import RuntimeBaseline
from cronwatch.model import Outcome
from cronwatch.specs import JobSpec

Status = Literal[
    "ok",
    "late",
    "missing",
    "failing",
    "running",
    "hung",
    "slow",
    "fast",
    "too_often",
    "paused",
    "new",
]

#: Nagios plugin states: 0 OK, 1 WARNING, 2 CRITICAL.
SEVERITY: dict[Status, int] = {
    "missing": 2,
    "failing": 2,
    "hung": 2,
    "late": 1,
    "too_often": 1,
    "slow": 1,
    "fast": 1,
    "running": 0,
    "ok": 0,
    "paused": 0,
    "new": 0,
}

#: Worst first: the order problems are listed in, and how a job's hosts combine.
PRIORITY: tuple[Status, ...] = (
    "missing",
    "hung",
    "failing",
    "late",
    "too_often",
    "slow",
    "fast",
    "running",
    "ok",
    "new",
    "paused",
)


#: The convention of every view: a run's time ("last run", "ran ... ago") is when it started.
RUN_TIME = "started"


@dataclass(frozen=True, slots=True)
class HostSummary:
    """What is known of a job on one host, kept up to date on every write (table
    ``job_hosts``). "Last finished" means the run that completed last."""

    hostname: str
    first_seen: datetime
    last_started: datetime | None = None
    prev_started: datetime | None = None  # the start before last_started (too_often)
    last_completed: datetime | None = None
    last_outcome: Outcome | None = None  # of the last finished run
    last_exit_code: int | None = None
    last_duration: timedelta | None = None
    last_success_started: datetime | None = None
    last_success_completed: datetime | None = None
    consecutive_failures: int = 0
    runs_total: int = 0  # finished runs
    failures_total: int = 0


@dataclass(frozen=True, slots=True)
class RunningRun:
    """A run that has started and not finished (yet)."""

    hostname: str
    run_id: str
    started: datetime


@dataclass(frozen=True, slots=True)
class Baseline:
    """What was learned from a job's recent history (table ``job_baselines``).

    ``runtime`` is ``None`` until there are enough successful runs; ``interval`` is the learned
    gap between runs, ``None`` when the runs show no regular interval.
    """

    samples: int
    runtime: RuntimeBaseline | None
    interval: timedelta | None


@dataclass(frozen=True, slots=True)
class JobFacts:
    """Everything the evaluation of one job reads.

    ``created`` is when cronwatch first knew of the job (declared or first run): a declared
    job that never ran is missing once its first slot after ``created`` is past its grace.
    """

    spec: JobSpec
    created: datetime
    hosts: tuple[HostSummary, ...] = ()
    running: tuple[RunningRun, ...] = ()
    baseline: Baseline | None = None
    uuid: str | None = None  # the job's ping UUID (None: declared, not stored yet)


@dataclass(frozen=True, slots=True)
class HostStatus:
    """The status of a job on one host."""

    hostname: str
    status: Status
    reason: str
    last_started: datetime | None = None
    last_completed: datetime | None = None
    last_outcome: Outcome | None = None
    last_duration: timedelta | None = None
    next_due: datetime | None = None
    overdue_since: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "hostname": self.hostname,
            "status": self.status,
            "reason": self.reason,
            "last_started": _iso(self.last_started),
            "last_completed": _iso(self.last_completed),
            "last_outcome": self.last_outcome,
            "last_duration_seconds": _seconds(self.last_duration),
            "next_due": _iso(self.next_due),
            "overdue_since": _iso(self.overdue_since),
        }


@dataclass(frozen=True, slots=True)
class JobStatus:
    """The status of a job, with the reason in words a person can act on, e.g.
    ``backup didn't run on db2 since 03:00 UTC``.

    Times, the same in every view (``cronwatch status``, the API, the dashboard, ``/metrics``,
    alert messages), all computed here and never by a view:

    - a run's time is its **start** (:data:`RUN_TIME`): ``last_started``, "last run", "ran 2h
      ago" and the slots a run covers all count from when it started; a ping without a start
      has its arrival as its start;
    - ``next_due`` is the next slot still to come, never in the past;
    - ``overdue_since`` is set when the job is missing or late: the first slot its last run
      did not cover ("missed since"), which stays put until a run comes (the reason's "didn't
      run since" and "due since" are this slot).

    ``schedule`` describes the schedule in force ("every 15 minutes", "at 03:00 every day
    (Europe/London)", "learned: about every 1h", or "none"); ``learned`` says whether the
    schedule or the runtime band came from the job's own history rather than its spec.
    """

    name: str
    status: Status
    reason: str
    hosts: tuple[HostStatus, ...] = ()
    schedule: str = "none"
    learned: bool = False
    next_due: datetime | None = None
    overdue_since: datetime | None = None
    last_started: datetime | None = None
    last_success: datetime | None = None  # completion of the last successful run
    last_duration: timedelta | None = None
    runtime_band: tuple[timedelta, timedelta] | None = None  # learned normal (low, high)
    tags: tuple[str, ...] = ()
    problems: tuple[str, ...] = field(default=())  # every problem found, worst first
    uuid: str | None = None  # the job's ping UUID

    @property
    def severity(self) -> int:
        """0 OK, 1 WARNING, 2 CRITICAL (the Nagios plugin states)."""
        return SEVERITY[self.status]

    @property
    def next_expected(self) -> datetime | None:
        """When the job's next run is expected (``/metrics``' next expected run): for a job
        that is missing or late, the instant it became due (``overdue_since``, which stays
        put), else its next due run. ``None`` without a schedule."""
        return self.overdue_since if self.overdue_since is not None else self.next_due

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "uuid": self.uuid,
            "status": self.status,
            "severity": self.severity,
            "reason": self.reason,
            "problems": list(self.problems),
            "schedule": self.schedule,
            "learned": self.learned,
            "next_due": _iso(self.next_due),
            "overdue_since": _iso(self.overdue_since),
            "last_started": _iso(self.last_started),
            "last_success": _iso(self.last_success),
            "last_duration_seconds": _seconds(self.last_duration),
            "runtime_band_seconds": (
                [_seconds(self.runtime_band[0]), _seconds(self.runtime_band[1])]
                if self.runtime_band
                else None
            ),
            "tags": list(self.tags),
            "hosts": [host.to_json() for host in self.hosts],
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _seconds(value: timedelta | None) -> float | None:
    return value.total_seconds() if value is not None else None


class SettledStatus(NamedTuple):
    """A job's status as the alert loop stored it, for a job that cannot have changed since
    (:func:`cronwatch.health.service.settled_statuses`): its name, status and reason, cheap
    to hold by the 100,000. Read in full with :func:`~cronwatch.health.service.job_statuses`
    when more is needed."""

    name: str
    status: Status
    reason: str

    @property
    def severity(self) -> int:
        return SEVERITY[self.status]

    @property
    def tags(self) -> tuple[str, ...]:
        return ()

    @property
    def hosts(self) -> tuple[HostStatus, ...]:
        return ()

    @property
    def last_success(self) -> datetime | None:
        return None

    @property
    def last_duration(self) -> timedelta | None:
        return None
