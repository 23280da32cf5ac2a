"""Health rules: every status from synthetic facts, hosts, learning, tolerance, DST, properties.

The rules are those of ``cronwatch.health.evaluate``'s module docstring. Unless a test says
otherwise the job is ``backup``, daily at 03:00 UTC with 30 minutes of grace, and "now" is
2026-11-28 in UTC.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cronwatch.errors import InvalidInput
from cronwatch.health.evaluate import evaluate
from cronwatch.health.model import (
    PRIORITY,
    SEVERITY,
    Baseline,
    JobFacts,
    RunningRun,
    Status,
)
from cronwatch.model import Outcome
from cronwatch.schedule import CronSchedule, IntervalSchedule, Schedule, parse_schedule
from cronwatch.specs import JobSpec
from tests.support.health import (
    AT_3,
    TODAY,
    D,
    H,
    M,
    assert_healthy,
    band,
    check,
    ran,
    spec,
    utc,
)

PROBLEMS: frozenset[Status] = frozenset(s for s in PRIORITY if SEVERITY[s] > 0)


# --- every status ----------------------------------------------------------------------------


def test_ok_reports_the_last_run_and_the_next_slot() -> None:
    result = check(spec(), TODAY + 12 * H, ran(AT_3, took=62 * timedelta(seconds=1)))
    assert result.status == "ok"
    assert result.reason == "ran 9h ago on db1, took 1m 2s; next due 2026-11-29 03:00 UTC"
    assert_healthy(result)
    assert result.next_due == AT_3 + D
    assert result.last_started == AT_3
    assert result.last_success == AT_3 + 62 * timedelta(seconds=1)
    assert result.last_duration == timedelta(seconds=62)
    assert result.schedule == "at 03:00 every day (UTC)"
    assert result.learned is False
    assert result.tags == ("db",)
    assert [(h.hostname, h.status) for h in result.hosts] == [("db1", "ok")]
    assert result.to_json()["status"] == "ok"


def test_late_inside_grace_then_missing_after_it() -> None:
    yesterday = ran(AT_3 - D)
    late = check(spec(), AT_3 + 10 * M, yesterday)
    assert late.status == "late"
    assert late.reason == "backup is due since 03:00 UTC (grace until 03:30 UTC)"
    assert late.problems == (late.reason,)
    assert late.severity == 1
    assert check(spec(), AT_3 + 30 * M - timedelta(seconds=1), yesterday).status == "late"

    missing = check(spec(), AT_3 + 30 * M, yesterday)
    assert missing.status == "missing"
    assert missing.reason == (
        "backup didn't run since 03:00 UTC (last run 2026-11-27 03:00 UTC on db1)"
    )
    assert missing.problems == (missing.reason,)  # missing subsumes late: no second problem
    assert missing.severity == 2
    # Before today's slot yesterday's run covers everything.
    assert_healthy(check(spec(), AT_3 - M, yesterday))


def test_failing_names_host_time_exit_code_and_streak() -> None:
    failed = ran(AT_3, took=14 * M, outcome="failure", exit_code=2, failures=3)
    result = check(spec(), AT_3 + H, failed)
    assert result.status == "failing"
    assert result.reason == "backup failed on db1 at 03:14 UTC (exit 2), 3 times in a row"
    assert result.last_success is None
    once = check(spec(), AT_3 + H, ran(AT_3, outcome="failure", exit_code=1, failures=1))
    assert once.reason == "backup failed on db1 at 03:01 UTC (exit 1)"
    # A failure is not also judged for its runtime: a crash 2s in is not "fast".
    quick = ran(AT_3, took=2 * timedelta(seconds=1), outcome="failure", failures=1)
    assert check(spec(min_runtime=M), AT_3 + H, quick).problems == (
        "backup failed on db1 at 03:00 UTC (exit 1)",
    )


def test_running_and_hung_against_max_runtime() -> None:
    row = ran(AT_3 - D)
    run = RunningRun("db1", "r1", AT_3)
    job = spec(max_runtime=2 * H)
    going = check(job, AT_3 + 5 * M, row, running=(run,))
    assert going.status == "running"
    assert going.reason == "running on db1 for 5m"
    assert going.problems == ()
    assert going.last_started == AT_3  # the live run covers today's slot

    hung = check(job, AT_3 + 2 * H + 2 * M, row, running=(run,))
    assert hung.status == "hung"
    assert hung.reason == "backup has been running on db1 for 2h 2m (max_runtime 2h)"
    assert check(job, AT_3 + 2 * H, row, running=(run,)).status == "running"  # not past it


def test_hung_against_the_learned_limit() -> None:
    # band high 14m: limit max(3 x 14m, 14m + 5m) = 42m.
    learned = Baseline(samples=40, runtime=band(), interval=None)
    row, run = ran(AT_3 - D, took=12 * M), RunningRun("db1", "r1", AT_3)
    hung = check(spec(), AT_3 + 43 * M, row, running=(run,), baseline=learned)
    assert hung.status == "hung"
    assert hung.reason == (
        "backup has been running on db1 for 43m (usually 10m–14m, limit 42m learned from 40 runs)"
    )
    assert hung.learned is True
    assert check(spec(), AT_3 + 41 * M, row, running=(run,), baseline=learned).status == "running"
    # Without max_runtime nor a baseline nothing is ever hung.
    assert check(spec(), AT_3 + 20 * H, row, running=(run,)).status == "running"


def test_a_running_run_superseded_by_a_later_completed_run_is_ignored() -> None:
    dead = RunningRun("db1", "r0", AT_3 - D)  # its host finished a later run since
    result = check(spec(max_runtime=H), AT_3 + H, ran(AT_3), running=(dead,))
    assert result.status == "ok"
    assert "running" not in result.reason
    # On another host it is not superseded: that host's run is still going.
    other = RunningRun("db2", "r0", AT_3 - D)
    assert check(spec(max_runtime=H), AT_3 + H, ran(AT_3), running=(other,)).status == "hung"


def test_slow_and_fast_against_declared_bounds() -> None:
    slow = check(spec(max_runtime=2 * H), AT_3 + 4 * H, ran(AT_3, took=3 * H + 2 * M))
    assert slow.status == "slow"
    assert slow.reason == "backup took 3h 2m on db1 (max_runtime 2h)"
    fast = check(spec(min_runtime=M), AT_3 + H, ran(AT_3, took=12 * timedelta(seconds=1)))
    assert fast.status == "fast"
    assert fast.reason == "backup took 12s on db1 (min_runtime 1m)"
    inside = check(spec(max_runtime=2 * H, min_runtime=M), AT_3 + 3 * H, ran(AT_3, took=H))
    assert_healthy(inside)


def test_slow_and_fast_against_the_learned_band() -> None:
    learned = Baseline(samples=40, runtime=band(), interval=None)
    fast = check(spec(), AT_3 + H, ran(AT_3, took=timedelta(seconds=12)), baseline=learned)
    assert fast.status == "fast"
    assert fast.reason == "backup took 12s on db1, usually 10m–14m (learned from 40 runs)"
    assert fast.learned is True
    assert fast.runtime_band == (10 * M, 14 * M)
    slow = check(spec(), AT_3 + H, ran(AT_3, took=20 * M), baseline=learned)
    assert slow.status == "slow"
    normal = check(spec(), AT_3 + H, ran(AT_3, took=12 * M), baseline=learned)
    assert_healthy(normal)
    # A declared bound wins over the band on its side; the band still judges the other side.
    bounded = spec(max_runtime=H)
    assert_healthy(check(bounded, AT_3 + 2 * H, ran(AT_3, took=20 * M), baseline=learned))
    assert check(bounded, AT_3 + H, ran(AT_3, took=M), baseline=learned).status == "fast"
    both = spec(max_runtime=H, min_runtime=timedelta(seconds=1))
    declared = check(both, AT_3 + H, ran(AT_3, took=M), baseline=learned)
    assert_healthy(declared)
    assert declared.learned is False  # the band judged nothing
    assert declared.runtime_band == (10 * M, 14 * M)  # but is still reported


def test_too_often_when_two_starts_share_a_slot() -> None:
    twice = check(spec(), AT_3 + H, ran(AT_3 + 4 * M, prev=AT_3))
    assert twice.status == "too_often"
    assert twice.reason == "backup ran twice for one slot: 03:00 and 03:04 UTC on db1"
    assert twice.severity == 1
    assert_healthy(check(spec(), AT_3 + H, ran(AT_3, prev=AT_3 - D)))


def test_too_often_for_intervals_is_a_gap_under_half_a_period() -> None:
    now = AT_3 + 30 * M
    twice = check(spec("every 1h"), now, ran(AT_3 + 20 * M, prev=AT_3))
    assert twice.status == "too_often"
    assert twice.reason == (
        "backup ran twice in 20m, expected every 1h: 03:00 and 03:20 UTC on db1"
    )
    assert_healthy(check(spec("every 1h"), now, ran(AT_3 + 20 * M, prev=AT_3 - 30 * M)))


def test_paused_overrides_every_problem() -> None:
    job = spec(paused=True, hosts=("db1", "db2"))
    result = check(job, AT_3 + 5 * H, ran(AT_3 - 5 * D, outcome="failure", failures=9))
    assert result.status == "paused"
    assert result.reason == "paused"
    assert result.problems == ()
    assert result.severity == 0
    assert {h.status for h in result.hosts} == {"paused"}
    assert result.last_started == AT_3 - 5 * D  # the facts are still reported


def test_new_without_schedule_and_without_runs() -> None:
    result = check(spec(None), AT_3)
    assert result.status == "new"
    assert result.reason == "no runs recorded yet"
    assert result.schedule == "none"
    assert result.next_due is None
    assert result.hosts == ()


def test_new_with_a_schedule_until_the_first_slot_is_past_grace() -> None:
    created = AT_3 - H
    before = check(spec(), AT_3 - 30 * M, created=created)
    assert before.status == "new"
    assert before.reason == "waiting for the first run, due 03:00 UTC"
    assert check(spec(), AT_3 + 29 * M, created=created).status == "new"
    missing = check(spec(), AT_3 + 30 * M, created=created)
    assert missing.status == "missing"
    assert missing.reason == "backup didn't run since 03:00 UTC (never ran)"
    # A slot before the job existed is not owed.
    late_created = AT_3 + 10 * M
    assert check(spec(), AT_3 + 5 * H, created=late_created).status == "new"
    assert check(spec(), AT_3 + D + 30 * M, created=late_created).status == "missing"


def test_a_job_with_runs_but_no_schedule_still_gets_runtime_and_failure_checks() -> None:
    result = check(spec(None), AT_3 + 5 * D, ran(AT_3))
    assert result.status == "ok"
    assert result.reason == "ran 5d ago on db1, took 1m"  # no "next due": no schedule
    failed = check(spec(None), AT_3 + H, ran(AT_3, outcome="failure", failures=1))
    assert failed.status == "failing"


# --- one story: missed since, next due, host rows, the run's time (issue 12) ------------------


@pytest.mark.parametrize("schedule", ["every 1m", "* * * * *"])
def test_missed_since_is_the_first_slot_after_the_last_run_and_stays_put(schedule: str) -> None:
    # Issue 12: `status` showed NEXT DUE 20:34 beside "didn't run since 20:35", and the "since"
    # moved forward every minute.
    job = spec(schedule, grace=M)
    last = ran(TODAY + 20 * H + 33 * M)  # 20:33, one minute's run
    first_missed = TODAY + 20 * H + 34 * M
    for minutes in (36, 40, 45, 90):
        now = TODAY + 20 * H + minutes * M + timedelta(seconds=30)
        result = check(job, now, last)
        assert result.status == "missing"
        assert result.reason.startswith("backup didn't run since 20:34 UTC (last run 20:33 UTC")
        assert result.overdue_since == first_missed  # never moves forward with the clock
        assert result.next_due is not None and result.next_due > now  # never in the past
        assert result.next_due - now <= M
        assert [h.overdue_since for h in result.hosts] == [first_missed]
        assert result.to_json()["overdue_since"] == first_missed.isoformat()


def test_late_says_since_when_and_next_due_stays_ahead() -> None:
    job = spec("every 15m", grace=5 * M)
    last = ran(AT_3)
    late = check(job, AT_3 + 17 * M, last)
    assert late.status == "late"
    assert late.overdue_since == AT_3 + 15 * M
    assert late.reason == "backup is due since 03:15 UTC (grace until 03:20 UTC)"
    assert late.next_due == AT_3 + 30 * M  # the next slot to come, not the overdue one
    fine = check(job, AT_3 + 10 * M, last)
    assert fine.overdue_since is None and fine.next_due == AT_3 + 15 * M


def test_a_host_row_never_looks_better_or_other_than_its_missing_job() -> None:
    # Issue 12: the overview showed a "vm FAILING" chip on a MISSING job.
    failed = ran(AT_3 - D, host="vm", outcome="failure", failures=1)
    one = check(spec(), AT_3 + H, failed)
    assert one.status == "missing"
    assert [(h.hostname, h.status, h.reason) for h in one.hosts] == [("vm", "missing", one.reason)]
    assert one.problems[1].startswith("backup failed on vm")  # the failure is still told
    two = check(spec(), AT_3 + H, failed, ran(AT_3 - 2 * D, host="web"))
    assert two.status == "missing"
    assert [(h.hostname, h.status) for h in two.hosts] == [("vm", "missing"), ("web", "missing")]
    # Once the job ran, each host's row is its own again: vm's failure, web's success.
    today = check(spec(), AT_3 + H, failed, ran(AT_3, host="web"))
    assert [(h.hostname, h.status) for h in today.hosts] == [("vm", "failing"), ("web", "ok")]
    assert today.overdue_since is None


def test_a_run_is_dated_by_its_start_in_every_field_and_reason() -> None:
    # Issue 12: `record --started <3 days ago> --completed now` had LAST RUN counted from the
    # start and the reason from the end. A run's time is its start, everywhere.
    job = spec(None)
    now = AT_3 + 3 * D
    result = check(job, now, ran(AT_3, took=3 * D))
    assert result.last_started == AT_3
    assert result.reason == "ran 3d ago on db1, took 3d"  # not "ran 0s ago"
    assert result.hosts[0].last_started == AT_3


# --- hosts -----------------------------------------------------------------------------------


def test_each_declared_host_must_run() -> None:
    job = spec(hosts=("db1", "db2", "db3"))
    rows = (ran(AT_3, host="db1"), ran(AT_3 - D, host="db2"), ran(AT_3, host="db9"))
    result = check(job, AT_3 + H, *rows)
    assert result.status == "missing"
    # The reason is the host overdue the longest, the slot NEXT DUE's "overdue since" shows,
    # not the first declared host that is missing (db2, overdue since only today 03:00).
    assert result.reason == "backup didn't run on db3 since 2026-01-01 03:00 UTC (never ran)"
    assert result.overdue_since == utc(2026, 1, 1, 3)
    assert result.problems == (
        result.reason,
        "backup didn't run on db2 since 03:00 UTC (last run 2026-11-27 03:00 UTC)",
    )
    statuses = {h.hostname: h.status for h in result.hosts}
    assert statuses == {"db1": "ok", "db2": "missing", "db3": "missing"}  # db9 not declared
    assert check(job, AT_3 + H, *(ran(AT_3, host=h) for h in job.hosts)).status == "ok"


def test_declared_hosts_job_is_the_worst_of_its_hosts() -> None:
    job = spec(hosts=("db1", "db2"), max_runtime=H)
    rows = (ran(AT_3, host="db1", took=2 * H), ran(AT_3, host="db2", outcome="failure"))
    result = check(job, AT_3 + 3 * H, *rows)
    assert result.status == "failing"
    assert result.problems == (
        "backup failed on db2 at 03:01 UTC (exit 1)",
        "backup took 2h on db1 (max_runtime 1h)",
    )
    assert [h.status for h in result.hosts] == ["slow", "failing"]


def test_any_host_is_judged_as_a_whole_with_a_row_per_host() -> None:
    rows = (ran(AT_3 - D, host="db1"), ran(AT_3, host="db2"))
    result = check(spec(), AT_3 + H, *rows)
    assert result.status == "ok"
    assert result.last_started == AT_3
    # db1 did not run today, but no single host owes a run: its row is not missing.
    assert [(h.hostname, h.status) for h in result.hosts] == [("db1", "ok"), ("db2", "ok")]
    assert all(h.next_due == AT_3 + D for h in result.hosts)

    stale = check(spec(), AT_3 + H, ran(AT_3 - D, host="db1"), ran(AT_3 - 2 * D, host="db2"))
    assert stale.status == "missing"
    assert "on db1" in stale.reason and "didn't run since 03:00 UTC" in stale.reason
    # No host ran today's slot: no host row looks better than the job.
    assert {h.status for h in stale.hosts} == {"missing"}
    assert all(h.overdue_since == stale.overdue_since == AT_3 for h in stale.hosts)


def test_any_host_two_hosts_running_one_slot_is_too_often() -> None:
    result = check(spec(), AT_3 + H, ran(AT_3, host="db1"), ran(AT_3, host="db2"))
    assert result.status == "too_often"
    assert result.reason == ("backup ran twice for one slot: 03:00 UTC on db1 and 03:00 UTC on db2")
    assert {h.status for h in result.hosts} == {"ok"}  # each host ran once


def test_min_hosts_is_missing_only_below_k() -> None:
    job = spec(hosts=("db1", "db2", "db3"), min_hosts=2)
    one = check(job, AT_3 + H, ran(AT_3, host="db1"), ran(AT_3 - D, host="db2"))
    assert one.status == "missing"
    assert one.reason == "only 1 of 3 hosts ran backup since 03:00 UTC (need 2): db1"
    assert one.problems == (one.reason,)  # host rows keep theirs; the job has one
    assert [h.status for h in one.hosts] == ["ok", "missing", "missing"]

    two = check(job, AT_3 + H, ran(AT_3, host="db1"), ran(AT_3, host="db2"))
    assert two.status == "ok"
    assert two.problems == ()
    assert [h.status for h in two.hosts] == ["ok", "ok", "missing"]

    none = check(job, AT_3 + H)
    # None ever ran: the set has been missing since the job's first slot.
    assert none.reason == "none of 3 hosts ran backup since 2026-01-01 03:00 UTC (need 2)"


def test_min_hosts_late_and_other_problems_still_count() -> None:
    job = spec(hosts=("db1", "db2", "db3"), min_hosts=2)
    late = check(job, AT_3 + 10 * M, ran(AT_3, host="db1"), ran(AT_3 - D, host="db2"))
    assert late.status == "late"
    assert late.reason == (
        "backup is due since 03:00 UTC (grace until 03:30 UTC); 1 of 3 hosts ran it so far (need 2)"
    )
    failed = ran(AT_3, host="db2", outcome="failure", failures=1)
    result = check(job, AT_3 + H, ran(AT_3, host="db1"), failed)
    assert result.status == "failing"  # two hosts ran, but one of them failed
    assert not any("only" in problem for problem in result.problems)


def test_min_hosts_with_an_interval_schedule() -> None:
    job = spec("every 1h", hosts=("db1", "db2"), min_hosts=2, grace=6 * M)
    result = check(job, AT_3 + H, ran(AT_3 + 30 * M, host="db1"), ran(AT_3 - 2 * H, host="db2"))
    assert result.status == "missing"
    assert result.reason == "only 1 of 2 hosts ran backup in the last 1h 6m (need 2): db1"


# --- learned schedule ------------------------------------------------------------------------


def test_learned_interval_schedule_with_its_default_grace() -> None:
    learned = Baseline(samples=30, runtime=None, interval=H)
    # No declared grace: 10% of the learned hour, 6 minutes, not the 1h unscheduled default.
    job = spec(None, grace=H, grace_explicit=False)
    last = ran(AT_3 + 7 * H)  # 10:00
    ok = check(job, AT_3 + 7 * H + 30 * M, last, baseline=learned)
    assert ok.status == "ok"
    assert ok.schedule == "learned: about every 1h"
    assert ok.learned is True
    assert ok.next_due == AT_3 + 8 * H
    late = check(job, AT_3 + 8 * H + 5 * M, last, baseline=learned)
    assert late.status == "late"
    assert late.reason == "backup is due since 11:00 UTC (grace until 11:06 UTC)"
    missing = check(job, AT_3 + 8 * H + 6 * M, last, baseline=learned)
    assert missing.status == "missing"
    # An explicit grace is kept as it is.
    explicit = spec(None, grace=30 * M, grace_explicit=True)
    assert check(explicit, AT_3 + 8 * H + 6 * M, last, baseline=learned).status == "late"
    # A declared schedule is never replaced by a learned one.
    declared = check(spec(), AT_3 + 8 * H + 6 * M, last, baseline=learned)
    assert declared.status == "ok"
    assert declared.learned is False


def test_interval_schedules_are_anchored_on_the_last_start() -> None:
    job = spec("every 15m", grace=2 * M)
    last = ran(AT_3 + 7 * M)  # off the :00/:15 grid
    assert check(job, AT_3 + 21 * M, last).status == "ok"
    assert check(job, AT_3 + 21 * M, last).next_due == AT_3 + 22 * M
    assert check(job, AT_3 + 23 * M, last).status == "late"
    assert check(job, AT_3 + 24 * M, last).status == "missing"
    # Never ran: anchored on creation.
    assert check(job, AT_3 + 16 * M, created=AT_3).status == "new"
    assert check(job, AT_3 + 17 * M, created=AT_3).status == "missing"


# --- early runs ------------------------------------------------------------------------------


def test_an_early_run_inside_the_tolerance_counts_for_its_slot() -> None:
    # Daily: tolerance min(10% of a day, 5 minutes) = 5 minutes.
    early = ran(AT_3 - 3 * M, prev=AT_3 - D)
    for now in (AT_3 + 10 * M, AT_3 + 31 * M, AT_3 + 20 * H):
        result = check(spec(), now, early)
        assert_healthy(result)
    too_early = ran(AT_3 - 6 * M, prev=AT_3 - D)
    assert check(spec(), AT_3 + 10 * M, too_early).status == "late"
    assert check(spec(), AT_3 + 31 * M, too_early).status == "missing"


def test_tolerance_is_a_tenth_of_a_short_period() -> None:
    job = spec("*/15 * * * *", grace=M)  # tolerance 90 seconds
    inside = ran(AT_3 - 80 * timedelta(seconds=1))
    outside = ran(AT_3 - 100 * timedelta(seconds=1))
    assert check(job, AT_3 + 2 * M, inside).status == "ok"
    assert check(job, AT_3 + 2 * M, outside).status == "missing"


def test_an_early_run_and_the_slot_run_are_too_often() -> None:
    result = check(spec(), AT_3 + H, ran(AT_3, prev=AT_3 - 2 * M))
    assert result.status == "too_often"
    assert result.reason == "backup ran twice for one slot: 02:58 and 03:00 UTC on db1"


# --- DST -------------------------------------------------------------------------------------


def _sweep(start: datetime, end: datetime, step: timedelta = 10 * M) -> list[datetime]:
    times = []
    while start < end:
        times.append(start)
        start += step
    return times


# London falls back at 02:00 BST: 02:30 GMT happens once, at 02:30 UTC. New York repeats
# 01:00-02:00 instead: 02:30 EST happens once, at 07:30 UTC.
_LONDON_FALL_BACK = (utc(2026, 10, 24, 1, 30), utc(2026, 10, 25, 2, 30), utc(2026, 10, 26, 2, 30))
_NEW_YORK_FALL_BACK = (utc(2026, 10, 31, 6, 30), utc(2026, 11, 1, 7, 30), utc(2026, 11, 2, 7, 30))


@pytest.mark.parametrize(
    ("zone", "day_before", "fall_back_slot", "next_slot"),
    [("Europe/London", *_LONDON_FALL_BACK), ("America/New_York", *_NEW_YORK_FALL_BACK)],
)
def test_fall_back_day_single_run_is_ok_and_never_too_often(
    zone: str, day_before: datetime, fall_back_slot: datetime, next_slot: datetime
) -> None:
    job = spec("30 2 * * *", timezone=zone)
    row = ran(fall_back_slot, prev=day_before)
    for now in _sweep(fall_back_slot + 2 * M, next_slot):
        result = check(job, now, row)
        assert result.status == "ok", (now, result.reason)
    assert check(job, fall_back_slot + 2 * M, row).next_due == next_slot
    # Before the fall-back day's run arrives, its slot is where the schedule says.
    before = ran(day_before, prev=day_before - D)
    assert check(job, fall_back_slot + 10 * M, before).status == "late"
    assert check(job, fall_back_slot - 10 * M, before).status == "ok"


def test_new_york_1_30_job_is_not_late_at_the_repeated_1_30() -> None:
    # 01:30 EDT (05:30 UTC) ran; 01:30 EST (06:30 UTC) an hour later is not another slot.
    job = spec("30 1 * * *", timezone="America/New_York")
    row = ran(utc(2026, 11, 1, 5, 30), prev=utc(2026, 10, 31, 5, 30))
    for now in _sweep(utc(2026, 11, 1, 5, 32), utc(2026, 11, 2, 6, 30)):
        assert check(job, now, row).status == "ok", now


def test_spring_forward_new_york_run_at_3_00_local_is_not_missing() -> None:
    # 02:30 does not exist on 2026-03-08 in New York: cron runs the job at 03:00 EDT.
    job = spec("30 2 * * *", timezone="America/New_York")
    slot, day_before, next_slot = utc(2026, 3, 8, 7), utc(2026, 3, 7, 7, 30), utc(2026, 3, 9, 6, 30)
    row = ran(slot, prev=day_before)
    for now in _sweep(slot + 2 * M, next_slot):
        result = check(job, now, row)
        assert result.status == "ok", (now, result.reason)
    # The slot is 03:00 EDT: without a run it is late from then, missing 30 minutes later.
    before = ran(day_before, prev=day_before - D)
    assert check(job, slot - M, before).status == "ok"
    assert check(job, slot + 10 * M, before).status == "late"
    assert check(job, slot + 31 * M, before).status == "missing"


def test_spring_forward_london_2_30_exists_and_is_covered() -> None:
    job = spec("30 2 * * *", timezone="Europe/London")
    slot, day_before = utc(2026, 3, 29, 1, 30), utc(2026, 3, 28, 2, 30)  # 02:30 BST, 02:30 GMT
    row = ran(slot, prev=day_before)
    for now in _sweep(slot + 2 * M, utc(2026, 3, 30, 1, 30)):
        assert check(job, now, row).status == "ok", now
    assert check(job, slot + 31 * M, ran(day_before)).status == "missing"


# --- properties ------------------------------------------------------------------------------

_ZONES = ["UTC", "Europe/London", "America/New_York"]
_CRONS = ["*/15 * * * *", "0 * * * *", "30 2 * * *", "30 1 * * *", "0 3 * * 1", "5 4 * * 1-5"]
_INTERVALS = ["every 5m", "every 1h", "every 1d"]

schedules = st.one_of(
    st.builds(CronSchedule, st.sampled_from(_CRONS), st.sampled_from(_ZONES)),
    st.sampled_from(_INTERVALS).map(parse_schedule),
)
instants = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
graces = st.sampled_from([timedelta(0), M, 30 * M, H])


def _job(schedule: Schedule | None, grace: timedelta, **kwargs: Any) -> JobSpec:
    return dataclasses.replace(spec(None, grace=grace, **kwargs), schedule=schedule)


@settings(max_examples=300)
@given(schedules, instants, st.floats(0, 1, exclude_max=True), graces)
def test_a_run_on_schedule_is_never_late_or_missing_until_the_next_slot(
    schedule: Schedule, t: datetime, fraction: float, grace: timedelta
) -> None:
    slot = schedule.previous_at_or_before(t)
    if isinstance(schedule, IntervalSchedule):
        slot, following, before = t, t + schedule.period, t - schedule.period
    else:
        following = schedule.next_after(slot)
        before = schedule.previous_at_or_before(slot - timedelta(microseconds=1))
    now = slot + (following - slot) * fraction
    assume(slot <= now < following)
    result = check(_job(schedule, grace), now, ran(slot, took=timedelta(0), prev=before))
    assert result.status not in {"late", "missing"}, result.reason
    assert result.status == "ok", result.reason  # and nothing else is wrong either
    assert result.next_due == following


_RECENCY_RANK = {"missing": 2, "late": 1}


@settings(max_examples=300)  # the windows that matter are narrow: look harder
@given(
    schedules,
    instants,
    st.lists(st.floats(0, 3), min_size=2, max_size=2),
    st.floats(0, 1.5),
    st.booleans(),
)
def test_a_later_start_never_makes_a_job_more_missing(
    schedule: Schedule, now: datetime, ages: list[float], grace: float, declared: bool
) -> None:
    """Moving the last start later never turns ok into late/missing, nor late into missing."""
    # Ages and grace in periods of the schedule, so that the late and missing windows, and the
    # tolerance just before a slot, are all hit often.
    period = schedule.period_hint()
    later, earlier = (now - period * age for age in sorted(ages))
    job = _job(schedule, period * grace, hosts=("db1",) if declared else ())
    created = now - 4 * period
    status_earlier = check(job, now, ran(earlier), created=created).status
    status_later = check(job, now, ran(later), created=created).status
    assert _RECENCY_RANK.get(status_later, 0) <= _RECENCY_RANK.get(status_earlier, 0)


_names = st.from_regex(r"[a-z][a-z0-9_-]{0,15}", fullmatch=True)
_hosts = st.sampled_from(["db1", "db2", "db3"])
_ages = st.timedeltas(timedelta(0), timedelta(days=3))


@st.composite
def random_facts(draw: st.DrawFn) -> tuple[JobFacts, datetime]:
    now = draw(instants)
    schedule = draw(st.none() | schedules)
    declared = draw(st.lists(_hosts, unique=True, max_size=3))
    job = _job(
        schedule,
        draw(graces),
        name=draw(_names),
        hosts=tuple(declared),
        min_hosts=draw(st.none() | st.integers(1, len(declared))) if declared else None,
        max_runtime=draw(st.none() | st.sampled_from([M, H])),
        min_runtime=draw(st.none() | st.sampled_from([timedelta(seconds=1), M])),
        paused=draw(st.booleans()),
    )
    rows = []
    for host in draw(st.lists(_hosts, unique=True, max_size=3)):
        last = now - draw(_ages)
        prev = draw(st.none() | st.just(last - draw(_ages)))
        outcome: Outcome = draw(st.sampled_from(["success", "failure"]))
        took = draw(st.timedeltas(timedelta(0), 3 * H))
        rows.append(ran(last, host=host, prev=prev, outcome=outcome, took=took, failures=2))
    running = tuple(
        RunningRun(draw(_hosts), f"r{i}", now - draw(_ages)) for i in range(draw(st.integers(0, 2)))
    )
    baseline = draw(
        st.none()
        | st.builds(
            Baseline,
            samples=st.just(20),
            runtime=st.none() | st.just(band()),
            interval=st.none() | st.sampled_from([15 * M, H]),
        )
    )
    created = now - draw(_ages) - draw(_ages)
    return JobFacts(job, created, tuple(rows), running, baseline), now


@given(random_facts())
def test_reasons_are_never_empty_and_problems_name_the_job(case: tuple[JobFacts, datetime]) -> None:
    facts, now = case
    result = evaluate(facts, now)
    assert result.reason
    assert result.status in PRIORITY
    if result.status in PROBLEMS:
        assert facts.spec.name in result.reason
        assert result.problems[0] == result.reason
    else:
        assert result.problems == ()
    assert all(facts.spec.name in problem for problem in result.problems)
    if facts.spec.paused:
        assert result.status == "paused"
    for host in result.hosts:
        assert host.reason
        if host.status in PROBLEMS:
            assert facts.spec.name in host.reason
    if facts.spec.hosts:
        assert [h.hostname for h in result.hosts] == list(facts.spec.hosts)


@given(random_facts())
def test_without_words_only_the_quiet_reasons_are_left_out(
    case: tuple[JobFacts, datetime],
) -> None:
    facts, now = case
    full, lean = evaluate(facts, now), evaluate(facts, now, words=False)

    def quiet(status: Status, reason: str) -> str:
        # Only the words of "ok" and "new" go; a problem's, "running"'s, "paused" stay.
        return "" if status in ("ok", "new") else reason

    # Every field but the reasons is the same: statuses, times, problems, hosts.
    assert lean == dataclasses.replace(
        full,
        reason=quiet(full.status, full.reason),
        hosts=tuple(
            dataclasses.replace(host, reason=quiet(host.status, host.reason)) for host in full.hosts
        ),
    )
    assert lean.problems == full.problems
    if full.status not in ("ok", "new"):
        assert lean.reason == full.reason  # never empty where there is something to say


def test_naive_now_is_refused() -> None:
    with pytest.raises(InvalidInput):
        check(spec(), datetime(2026, 11, 28, 12))
