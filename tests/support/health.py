"""Synthetic facts for the health rules' tests (no test here): a job spec, a host's summary
of its last run, a learned band, and :func:`check`, the evaluation of them at an instant.

Unless told otherwise the job is ``backup``, daily at 03:00 UTC with 30 minutes of grace,
created on 2026-01-01; ``TODAY`` is 2026-11-28 in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import ModuleType

import pytest

from cronwatch.baseline import RuntimeBaseline
from cronwatch.health.evaluate import evaluate
from cronwatch.health.model import (
    Baseline,
    HostSummary,
    JobFacts,
    JobStatus,
    RunningRun,
)
from cronwatch.model import Outcome
from cronwatch.schedule import parse_schedule
from cronwatch.specs import JobSpec

M = timedelta(minutes=1)
H = timedelta(hours=1)
D = timedelta(days=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[arg-type, misc]


TODAY = utc(2026, 11, 28)
AT_3 = TODAY + 3 * H  # today's slot
CREATED = utc(2026, 1, 1)


def spec(
    schedule: str | None = "0 3 * * *",
    *,
    timezone: str = "UTC",
    grace: timedelta = 30 * M,
    grace_explicit: bool = True,
    hosts: tuple[str, ...] = (),
    min_hosts: int | None = None,
    max_runtime: timedelta | None = None,
    min_runtime: timedelta | None = None,
    paused: bool = False,
    name: str = "backup",
) -> JobSpec:
    return JobSpec(
        name=name,
        schedule=parse_schedule(schedule, timezone) if schedule else None,
        timezone=timezone,
        grace=grace,
        hosts=hosts,
        min_hosts=min_hosts,
        max_runtime=max_runtime,
        min_runtime=min_runtime,
        tags=("db",),
        paused=paused,
        alerts=(),
        grace_explicit=grace_explicit,
    )


def ran(
    started: datetime,
    *,
    host: str = "db1",
    took: timedelta = M,
    prev: datetime | None = None,
    outcome: Outcome = "success",
    exit_code: int | None = None,
    failures: int = 0,
) -> HostSummary:
    """The summary of a host whose last run started at ``started`` and took ``took``."""
    completed = started + took
    ok = outcome == "success"
    return HostSummary(
        hostname=host,
        first_seen=CREATED,
        last_started=started,
        prev_started=prev,
        last_completed=completed,
        last_outcome=outcome,
        last_exit_code=exit_code if exit_code is not None else (0 if ok else 1),
        last_duration=took,
        last_success_started=started if ok else None,
        last_success_completed=completed if ok else None,
        consecutive_failures=failures,
        runs_total=10,
    )


def band(low: float = 600, high: float = 840, samples: int = 40) -> RuntimeBaseline:
    return RuntimeBaseline(median=(low + high) / 2, mad=30, low=low, high=high, samples=samples)


def check(
    job: JobSpec,
    now: datetime,
    *hosts: HostSummary,
    running: tuple[RunningRun, ...] = (),
    baseline: Baseline | None = None,
    created: datetime = CREATED,
) -> JobStatus:
    facts = JobFacts(job, created=created, hosts=hosts, running=running, baseline=baseline)
    return evaluate(facts, now)


def assert_healthy(result: JobStatus) -> None:
    assert result.status in {"ok", "running", "new", "paused"}, result.reason
    assert result.problems == ()


def record_evaluations(monkeypatch: pytest.MonkeyPatch, module: ModuleType) -> list[str]:
    """The names of the jobs ``module``'s ``evaluate`` is called on from now on (the test's
    monkeypatch undoes it): what a reader that should use stored statuses evaluated."""
    evaluated: list[str] = []
    real = module.evaluate

    def recording(facts: JobFacts, now: datetime) -> JobStatus:
        evaluated.append(facts.spec.name)
        return real(facts, now)  # type: ignore[no-any-return]

    monkeypatch.setattr(module, "evaluate", recording)
    return evaluated
