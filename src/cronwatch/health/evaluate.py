"""The health rules: one job's status from its facts and the current time.

:func:`evaluate` is a pure function of a :class:`~cronwatch.health.model.JobFacts` and ``now``:
no database, no clock, no I/O. Reasons name the job and the host and give times in UTC,
"03:00 UTC" for today's date (in UTC, relative to ``now``) and "2026-11-27 03:00 UTC" otherwise.

Schedule and grace
    The schedule in force is the spec's; else, when the baseline learned an interval, an
    ``IntervalSchedule`` of it (``learned=True``, described "learned: about every 1h"); else
    none. Grace is ``spec.grace``, except that a default (not explicit) grace is recomputed
    with ``default_grace`` for a learned schedule. Interval slots are anchored on the last
    start (due = last start + period), or on ``created`` before any run. Cron slots are
    absolute and computed once per job, shared by its hosts.
Early tolerance
    :meth:`Schedule.early_tolerance <cronwatch.schedule.Schedule.early_tolerance>`
    (``min(period_hint / 10, 5 minutes)``): a start at most that long before a slot covers it.
Hosts
    With ``spec.hosts``, exactly those hosts are judged (undeclared hosts are ignored; a
    declared host without a summary never ran). Otherwise the job is judged once over all
    hosts combined ("any host": latest start, second-latest start, last finished run of the
    latest-completing host), and each seen host gets a display row that is never late or
    missing, since no single host owes a run.
Checks, per host (the combined view for "any host"); every problem found is kept
    - ``paused`` (spec.paused) overrides everything: reason "paused", no problems.
    - ``missing``: the latest slot past grace, ``previous_at_or_before(now - grace)``, is not
      covered (``last_started < slot - tolerance``). Never ran: missing once a slot after
      ``created`` is past grace, else ``new`` ("waiting for the first run, due ..."), even
      inside the grace of the first slot (so a first run that misses the first slot turns
      ``new`` into ``late``). Without any schedule and runs: ``new``.
    - ``hung``: the oldest live run (a run is dead once its host completed a later-started
      run) runs longer than ``max_runtime``, else than the learned limit
      ``max(3 * band.high, band.high + 5 minutes)``; without either nothing is ever hung.
    - ``failing``: the last finished run failed.
    - ``late``: not missing, and the current slot, ``previous_at_or_before(now)``, is not
      covered; its grace is then necessarily still running.
    - ``too_often``: the last two starts belong to one slot. Cron: the same
      ``previous_at_or_before(t + tolerance)``; interval: less than half a period apart. In
      "any host" mode two hosts starting for one slot count too: that is the job installed
      twice. It lasts until the next start.
    - ``slow`` / ``fast``: the duration of the last finished run, if it succeeded (a failure
      is reported as failing, not as fast), against ``max_runtime`` / ``min_runtime``, and for
      a side without a declared bound, against the learned band ``baseline.runtime``.
    - Otherwise ``running`` (a live, non-hung run), ``ok``, or ``new`` (never ran).
Job status
    The worst problem by ``PRIORITY`` over its hosts, else the quietest-worst of running/ok/
    new. With ``min_hosts=k`` host rows keep their own late/missing status, but the job is
    missing only if fewer than k declared hosts are not missing, and late only if fewer than
    k are neither missing nor late. ``problems`` holds every problem's reason, worst first.
    ``learned`` is true when the schedule is learned or the learned band stands in for a
    missing ``max_runtime`` or ``min_runtime``.

One concept, hence its length (about 600 lines, a tenth of them this statement of the rules):
the health rules are one decision, read together. The checks depend on each other (late only
when not missing, fast never for a failure, ``min_hosts`` judging again the rows of each host,
"any host" judging a combined view), so they sit side by side with the one entry point,
:func:`evaluate`; the facts and the statuses they produce are :mod:`cronwatch.health.model`'s.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from cronwatch.durations import format_duration as _fd
from cronwatch.health.model import (
    PRIORITY,
    HostStatus,
    HostSummary,
    JobFacts,
    JobStatus,
    RunningRun,
    Status,
)
from cronwatch.schedule import IntervalSchedule, Schedule
from cronwatch.specs import default_grace
from cronwatch.timeutil import require_aware

#: Without max_runtime a run is hung after max(HUNG_FACTOR * band.high, band.high + HUNG_MARGIN).
HUNG_FACTOR = 3
HUNG_MARGIN = timedelta(minutes=5)

_RANK: dict[Status, int] = {status: index for index, status in enumerate(PRIORITY)}
_RECENCY: frozenset[Status] = frozenset({"missing", "late"})
_Problem = tuple[Status, str]


# A check evaluates thousands of jobs at one `now`, and most share a handful of schedules:
# memoising the cron walks (tens of microseconds each) makes repeats free. Pure functions of
# hashable, immutable arguments, so the caches cannot change an answer.
@functools.lru_cache(maxsize=16384)
def _previous(schedule: Schedule, t: datetime) -> datetime:
    return schedule.previous_at_or_before(t)


@functools.lru_cache(maxsize=16384)
def _next(schedule: Schedule, t: datetime) -> datetime:
    return schedule.next_after(t)


def next_slot(schedule: Schedule, t: datetime) -> datetime:
    """``schedule.next_after(t)``, memoised (a cycle asks it of thousands of jobs at one
    ``now``)."""
    return _next(schedule, t)


@functools.lru_cache(maxsize=1024)
def _tolerance(schedule: Schedule) -> timedelta:
    return schedule.early_tolerance()  # a cron period hint walks slots too


@functools.lru_cache(maxsize=1024)
def _describe(schedule: Schedule) -> str:
    return schedule.describe()  # cron explanations cost as much as a slot walk


def _at(t: datetime, now: datetime) -> str:
    return _clock(t, now) + " UTC"


def _clock(t: datetime, now: datetime) -> str:
    t = t.astimezone(UTC)
    # Plain field formatting: strftime costs several times more, and reasons are hot.
    clock = f"{t.hour:02d}:{t.minute:02d}"
    if t.year == now.year and t.month == now.month and t.day == now.day:
        return clock
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d} {clock}"


def _on(host: str | None) -> str:
    return f" on {host}" if host is not None else ""


def schedule_in_force(facts: JobFacts) -> tuple[Schedule | None, timedelta]:
    """The schedule and grace a job is judged by: its spec's; else the interval learned from
    its history (with a default grace recomputed for it unless the grace was set); else none.
    The alert loop and the dashboard use this too, so that all three agree."""
    spec, baseline = facts.spec, facts.baseline
    if spec.schedule is not None:
        return spec.schedule, spec.grace
    if baseline is not None and baseline.interval:
        learned = IntervalSchedule(baseline.interval)
        return learned, spec.grace if spec.grace_explicit else default_grace(learned)
    return None, spec.grace


class _Job:
    """Per-job constants, and the cron slot values, each computed at most once."""

    __slots__ = (
        "_current",
        "_following",
        "_missing",
        "band",
        "created",
        "grace",
        "hung_limit",
        "learned_schedule",
        "name",
        "now",
        "period",
        "schedule",
        "spec",
        "tolerance",
        "words",
    )

    def __init__(self, facts: JobFacts, now: datetime, words: bool = True) -> None:
        self.words = words
        spec = self.spec = facts.spec
        self.name, self.now, self.created = spec.name, now, facts.created
        baseline = facts.baseline
        schedule, grace = schedule_in_force(facts)
        self.schedule, self.grace = schedule, grace
        self.learned_schedule = spec.schedule is None and schedule is not None
        self.period = schedule.period if isinstance(schedule, IntervalSchedule) else None
        self.tolerance = _tolerance(schedule) if schedule else timedelta(0)
        band = self.band = baseline.runtime if baseline is not None else None
        self.hung_limit: timedelta | None = spec.max_runtime
        if spec.max_runtime is None and band is not None:
            high = timedelta(seconds=band.high)
            self.hung_limit = max(high * HUNG_FACTOR, high + HUNG_MARGIN)
        self._current: datetime | None = None
        self._following: datetime | None = None
        self._missing: datetime | None = None

    def hung_note(self) -> str:
        assert self.hung_limit is not None
        if self.spec.max_runtime is not None:
            return f"max_runtime {_fd(self.spec.max_runtime)}"
        return self.usual(limit=self.hung_limit)

    def usual(self, limit: timedelta | None = None) -> str:
        """The learned band in words, with the learned hung ``limit`` when given."""
        assert self.band is not None
        low, high = (_fd(timedelta(seconds=x)) for x in (self.band.low, self.band.high))
        learned = f"learned from {self.band.samples} runs"
        if limit is not None:
            return f"usually {low}–{high}, limit {_fd(limit)} {learned}"
        return f"usually {low}–{high} ({learned})"

    # Cron-like (absolute) schedules only; interval slots are arithmetic on their anchor.
    def current(self) -> datetime:
        if self._current is None:
            assert self.schedule is not None
            self._current = _previous(self.schedule, self.now)
        return self._current

    def following(self) -> datetime:
        if self._following is None:
            assert self.schedule is not None
            self._following = _next(self.schedule, self.now)
        return self._following

    def missing_slot(self) -> datetime:
        """The latest slot whose grace is over."""
        if self._missing is None:
            assert self.schedule is not None
            current, cutoff = self.current(), self.now - self.grace
            self._missing = current if current <= cutoff else _previous(self.schedule, cutoff)
        return self._missing

    def slot_of(self, t: datetime) -> datetime:
        """``previous_at_or_before(t)``, free when ``t`` lies in the current slot."""
        assert self.schedule is not None
        if self.current() <= t < self.following():
            return self.current()
        return _previous(self.schedule, t)


class _View:
    """The facts one judgement reads: one host's, or all hosts combined (``host`` None)."""

    __slots__ = ("finished", "host", "last", "last_on", "prev", "prev_on", "row", "running")

    def __init__(
        self, host: str | None, row: HostSummary | None, running: list[RunningRun]
    ) -> None:
        self.host, self.row, self.running = host, row, running
        self.last = row.last_started if row is not None else None
        self.prev = row.prev_started if row is not None else None
        self.last_on = self.prev_on = host or ""
        # The row of the last finished run: carries outcome, duration, exit code.
        self.finished = row if row is not None and row.last_completed is not None else None
        if running:
            newest = max(run.started for run in running)
            # Normally the summary already holds the start of a live run; if not, count it.
            if self.last is None or newest > self.last:
                self.prev, self.last = self.last, newest


def _combine(views: list[_View], now: datetime) -> _View:
    """All hosts as one: the latest two distinct starts, the latest-completing host's run."""
    if len(views) == 1:  # the common case; the same facts, told without "on host"
        one = views[0]
        whole = _View(None, one.row, one.running)
        whole.last, whole.last_on = one.last, one.last_on
        whole.prev, whole.prev_on = one.prev, one.prev_on
        return whole
    whole = _View(None, None, [run for view in views for run in view.running])
    starts = sorted(
        {(t, view.host or "") for view in views for t in (view.last, view.prev) if t is not None},
        reverse=True,
    )
    if starts:
        whole.last, whole.last_on = starts[0]
    if len(starts) > 1:
        whole.prev, whole.prev_on = starts[1]
    finished = [view.finished for view in views if view.finished is not None]
    whole.finished = max(finished, key=lambda row: row.last_completed or now, default=None)
    return whole


class _Verdict:
    __slots__ = ("due", "late", "missing", "next_due", "problems", "quiet", "quiet_reason")

    def __init__(self) -> None:
        self.problems: list[_Problem] = []
        self.quiet: Status = "ok"
        self.quiet_reason = ""
        self.missing = self.late = False
        self.due: datetime | None = None  # the uncovered slot, when missing or late
        self.next_due: datetime | None = None

    @property
    def status(self) -> _Problem:
        return self.problems[0] if self.problems else (self.quiet, self.quiet_reason)


def _judge(
    job: _Job, view: _View, recency: bool = True, next_due: datetime | None = None
) -> _Verdict:
    """Every check of the module docstring on one view.

    ``recency`` False (an "any host" display row): no late/missing, ``next_due`` is the job's.
    """
    verdict = _Verdict()
    first_due = _when_due(job, view, verdict, recency, next_due)
    problems = verdict.problems
    problems.extend(_overdue(job, view, verdict))
    _running(job, view, verdict)
    problems.extend(_failing(job, view))
    problems.extend(_too_often(job, view))
    finished = view.finished
    duration = finished.last_duration if finished is not None else None
    if finished is not None and finished.last_outcome == "success" and duration is not None:
        problems.extend(_runtime(job, finished.hostname, duration))
    if verdict.quiet != "running":
        verdict.quiet, verdict.quiet_reason = _quiet(job, view, verdict, first_due)
    if len(problems) > 1:
        problems.sort(key=lambda problem: _RANK[problem[0]])
    return verdict


def _when_due(
    job: _Job, view: _View, verdict: _Verdict, recency: bool, next_due: datetime | None
) -> datetime | None:
    """Sets the verdict's next due run and whether a slot is missing or late (and which);
    returns when the first run is due, for a job that never ran."""
    now, last, tol = job.now, view.last, job.tolerance
    schedule, period = job.schedule, job.period
    first_due: datetime | None = None
    if not recency:
        verdict.next_due = next_due  # "any host" display rows: no single host owes a run
    elif schedule is not None and period is not None:
        anchor = last if last is not None else job.created
        first_due = anchor + period
        # Never in the past: an overdue job's next slot is the first one still to come.
        verdict.next_due = (
            first_due if first_due > now else anchor + ((now - anchor) // period + 1) * period
        )
        if now - job.grace >= first_due:
            verdict.missing, verdict.due = True, first_due
        elif last is not None and now >= first_due:
            verdict.late, verdict.due = True, first_due
    elif schedule is not None:
        verdict.next_due = job.following()
        if last is None or last < job.current() - tol:
            slot = job.missing_slot()
            # Never ran: owed only the slots after the job was created.
            if slot > job.created if last is None else last < slot - tol:
                verdict.missing = True
            elif last is not None:
                verdict.late = True
            if verdict.missing or verdict.late:
                # The first slot the last start did not cover: fixed until the next run.
                verdict.due = _next(schedule, job.created if last is None else last + tol)
        if last is None:
            first_due = _next(schedule, job.created)
    return first_due


def _overdue(job: _Job, view: _View, verdict: _Verdict) -> list[_Problem]:
    """Missing or late, in words, as :func:`_when_due` found it."""
    now, name, last, host = job.now, job.name, view.last, view.host
    if verdict.missing:
        assert verdict.due is not None
        seen = f"last run {_at(last, now)}" if last is not None else "never ran"
        where = f" on {view.last_on}" if host is None and last is not None else ""
        text = f"{name} didn't run{_on(host)} since {_at(verdict.due, now)} ({seen}{where})"
        return [("missing", text)]
    if verdict.late:
        assert verdict.due is not None
        until = _at(verdict.due + job.grace, now)
        text = f"{name} is due{_on(host)} since {_at(verdict.due, now)} (grace until {until})"
        return [("late", text)]
    return []


def _running(job: _Job, view: _View, verdict: _Verdict) -> None:
    """A run in progress: the verdict's quiet status, and hung past the job's limit."""
    if not view.running:
        return
    oldest = min(view.running, key=lambda run: run.started)
    age = job.now - oldest.started
    running = f"running on {oldest.hostname} for {_fd(age)}"
    if job.hung_limit is not None and age > job.hung_limit:
        verdict.problems.append(("hung", f"{job.name} has been {running} ({job.hung_note()})"))
    many = f" ({len(view.running)} runs)" if len(view.running) > 1 else ""
    verdict.quiet, verdict.quiet_reason = "running", running + many


def _failing(job: _Job, view: _View) -> list[_Problem]:
    """The last finished run failed."""
    finished = view.finished
    if finished is None or finished.last_outcome != "failure":
        return []
    assert finished.last_completed is not None
    text = f"{job.name} failed on {finished.hostname} at {_at(finished.last_completed, job.now)}"
    if finished.last_exit_code is not None:
        text += f" (exit {finished.last_exit_code})"
    if finished.consecutive_failures > 1:
        text += f", {finished.consecutive_failures} times in a row"
    return [("failing", text)]


def _too_often(job: _Job, view: _View) -> list[_Problem]:
    """The two latest starts are closer than the schedule allows."""
    last, prev, period, name = view.last, view.prev, job.period, job.name
    if job.schedule is None or last is None or prev is None:
        return []
    if period is not None:
        if last - prev < period / 2:
            gap, every = _fd(last - prev), _fd(period)
            text = f"{name} ran twice in {gap}, expected every {every}: {_pair(view, job.now)}"
            return [("too_often", text)]
    # prev <= last, so prev's slot is last's exactly when prev + tol reaches last's slot.
    elif prev + job.tolerance >= job.slot_of(last + job.tolerance):
        return [("too_often", f"{name} ran twice for one slot: {_pair(view, job.now)}")]
    return []


def _with_recency(row: _Verdict, whole: _Verdict) -> _Verdict:
    """A host's row when any host may run the job: its own problems, and the job's lateness.

    No single host owes a run, but when the job as a whole is missing or late no host ran the
    slot, so each host's row says so too: a host row never looks better than the job it
    belongs to (no "db1 FAILING" chip on a MISSING job that shows the older failure)."""
    if whole.missing or whole.late:
        row.problems = [p for p in whole.problems if p[0] in _RECENCY] + row.problems
        row.problems.sort(key=lambda problem: _RANK[problem[0]])
        row.missing, row.late, row.due = whole.missing, whole.late, whole.due
    return row


def _pair(view: _View, now: datetime) -> str:
    assert view.last is not None and view.prev is not None
    if view.last_on == view.prev_on:
        return f"{_clock(view.prev, now)} and {_at(view.last, now)} on {view.last_on}"
    return f"{_at(view.prev, now)} on {view.prev_on} and {_at(view.last, now)} on {view.last_on}"


def _runtime(job: _Job, host: str, duration: timedelta) -> list[_Problem]:
    """Slow or fast: against the job's ``max_runtime`` / ``min_runtime`` where it sets them,
    else against its learned band (:meth:`~cronwatch.baseline.RuntimeBaseline.classify`)."""
    spec, band = job.spec, job.band
    learned = band.classify(duration.total_seconds()) if band is not None else "normal"
    slow = duration > spec.max_runtime if spec.max_runtime is not None else learned == "slow"
    fast = duration < spec.min_runtime if spec.min_runtime is not None else learned == "fast"
    if not slow and not fast:
        return []  # the common case: no words to write
    took = f"{job.name} took {_fd(duration)} on {host}"
    found: list[_Problem] = []
    if slow:
        bound = spec.max_runtime
        note = f" (max_runtime {_fd(bound)})" if bound is not None else f", {job.usual()}"
        found.append(("slow", took + note))
    if fast:
        bound = spec.min_runtime
        note = f" (min_runtime {_fd(bound)})" if bound is not None else f", {job.usual()}"
        found.append(("fast", took + note))
    return found


def _quiet(job: _Job, view: _View, verdict: _Verdict, first_due: datetime | None) -> _Problem:
    """What a job without problems is doing: ok (with its last run), or new."""
    if not job.words:
        return ("new" if view.last is None else "ok"), ""
    now, finished = job.now, view.finished
    if view.last is None:
        if first_due is None:
            return "new", f"no runs recorded{_on(view.host)} yet"
        return "new", f"waiting for the first run{_on(view.host)}, due {_at(first_due, now)}"
    if finished is not None and finished.last_completed is not None:
        # A run's time is its start (RUN_TIME), here as in "last run" everywhere.
        took = finished.last_duration
        started = finished.last_completed - took if took is not None else view.last
        text = f"ran {_fd(max(now - started, timedelta(0)))} ago on {finished.hostname}"
        if took is not None:
            text += f", took {_fd(took)}"
    else:
        text = f"started {_fd(now - view.last)} ago on {view.last_on}"
    if verdict.next_due is not None:
        text += f"; next due {_at(verdict.next_due, now)}"
    return "ok", text


def _min_hosts(
    job: _Job, views: list[_View], verdicts: list[_Verdict]
) -> tuple[list[_Problem], datetime | None]:
    """Recency of a "k of N hosts" job: judged over the set, not per host; with the slot the
    set is overdue since, if it is."""
    k, n, now, name = job.spec.min_hosts or 0, len(views), job.now, job.name
    fine = [
        view.host or ""
        for view, verdict in zip(views, verdicts, strict=True)
        if not verdict.missing
    ]
    if len(fine) < k:
        # The set went missing when its (n-k+1)th host did: that host's first missed slot.
        dues = sorted(v.due for v in verdicts if v.missing and v.due is not None)
        overdue = dues[n - k]  # fewer than k fine: more than n - k missing, each with a due
        since = (
            f"in the last {_fd(job.period + job.grace)}"
            if job.period is not None
            else f"since {_at(overdue, now)}"
        )
        count = f"only {len(fine)} of {n} hosts" if fine else f"none of {n} hosts"
        listed = f": {', '.join(fine)}" if fine else ""
        return [("missing", f"{count} ran {name} {since} (need {k}){listed}")], overdue
    done = [v for v in verdicts if not v.missing and not v.late]
    if len(done) < k:
        due = min(v.due for v in verdicts if v.late and v.due is not None)
        until = _at(due + job.grace, now)
        ran = f"{len(done)} of {n} hosts ran it so far (need {k})"
        return [("late", f"{name} is due since {_at(due, now)} (grace until {until}); {ran}")], due
    return [], None


def evaluate(facts: JobFacts, now: datetime, *, words: bool = True) -> JobStatus:
    """The status of one job at ``now``, following the rules of the module docstring.

    Pure: reads only ``facts`` and ``now`` (aware; a naive ``now`` raises ``InvalidInput``).
    ``words=False`` leaves out the words of a job without problems (its ``reason`` and its
    hosts' are "" when ok or new; problems keep theirs), for a caller that reads only
    statuses and times (``/metrics``); every other field is the same as with ``True``.
    """
    if type(now) is not datetime or now.tzinfo is not UTC:  # else aware, in UTC: as it is
        now = require_aware(now, "now")
    job, spec = _Job(facts, now, words), facts.spec
    views = _host_views(facts)
    whole = _combine(views, now) if views else _View(None, None, [])
    judged = _each_host(job, views) if spec.hosts else _any_host(job, views, whole)
    problems, (status, reason), next_due, overdue, verdicts = judged
    hosts = tuple(map(_host_status, views, verdicts))
    if spec.paused:
        status, reason, problems = "paused", "paused", []
        hosts = tuple(replace(host, status="paused", reason="paused") for host in hosts)
    band = job.band
    learned_band = band is not None and (spec.max_runtime is None or spec.min_runtime is None)
    successes = [
        v.row.last_success_completed for v in views if v.row and v.row.last_success_completed
    ]
    return JobStatus(
        name=spec.name,
        status=status,
        reason=reason,
        hosts=hosts,
        schedule=_schedule_words(job),
        learned=job.learned_schedule or learned_band,
        next_due=next_due,
        overdue_since=overdue,
        last_started=whole.last,
        last_success=max(successes, default=None),
        last_duration=whole.finished.last_duration if whole.finished is not None else None,
        runtime_band=(timedelta(seconds=band.low), timedelta(seconds=band.high)) if band else None,
        tags=spec.tags,
        problems=tuple(text for _, text in problems),
        uuid=facts.uuid,
    )


def when_due(facts: JobFacts, now: datetime) -> tuple[datetime | None, datetime | None] | None:
    """``(next_due, overdue_since)`` of :func:`evaluate`'s answer for the same ``facts`` and
    ``now``, found by the same code without judging anything else (for ``/metrics``, whose
    statuses may come from the alert loop). ``None`` for a job with ``min_hosts`` (its overdue
    slot depends on the judgement of every host): evaluate it."""
    if type(now) is not datetime or now.tzinfo is not UTC:
        now = require_aware(now, "now")
    spec = facts.spec
    if spec.hosts and spec.min_hosts is not None:
        return None
    baseline = facts.baseline
    if spec.schedule is None and (baseline is None or not baseline.interval):
        return None, None  # no schedule in force (schedule_in_force): nothing is ever due
    job, views = _Job(facts, now, False), _host_views(facts)
    if not spec.hosts:
        whole = _combine(views, now) if views else _View(None, None, [])
        verdict = _Verdict()
        _when_due(job, whole, verdict, True, None)
        return verdict.next_due, verdict.due
    verdicts = []
    for view in views:
        verdicts.append(verdict := _Verdict())
        _when_due(job, view, verdict, True, None)
    return (
        min((v.next_due for v in verdicts if v.next_due is not None), default=None),
        min((v.due for v in verdicts if v.due is not None), default=None),
    )


#: What judging a job's hosts gives: its problems, its status and reason, its next due run,
#: the slot it is overdue since (if it is), and a verdict per host view.
_Judged = tuple[list[_Problem], _Problem, datetime | None, datetime | None, list[_Verdict]]


def listed_hosts(facts: JobFacts) -> list[str]:
    """The names of the hosts :func:`evaluate` lists for the job of ``facts`` (its status's
    ``hosts``, in order), without evaluating it: the declared hosts, else every host seen."""
    return [view.host for view in _host_views(facts) if view.host is not None]


def _host_views(facts: JobFacts) -> list[_View]:
    """One view per host: the declared hosts, else every host seen (with its live runs)."""
    if len(facts.hosts) == 1 and not facts.running and not facts.spec.hosts:
        only = facts.hosts[0]  # the common case, by far: one host seen, nothing running
        return [_View(only.hostname, only, [])]
    rows = {row.hostname: row for row in facts.hosts}
    live: dict[str, list[RunningRun]] = {}
    for run in facts.running:
        row = rows.get(run.hostname)
        # A later-started run of the same host has completed: this one most likely died.
        if row is None or row.last_completed is None or row.last_completed <= run.started:
            live.setdefault(run.hostname, []).append(run)
    names = facts.spec.hosts if facts.spec.hosts else sorted(rows.keys() | live.keys())
    return [_View(host, rows.get(host), live.get(host, [])) for host in names]


def _each_host(job: _Job, views: list[_View]) -> _Judged:
    """Declared hosts: each owes its runs (or, with ``min_hosts``, k of them do)."""
    verdicts = [_judge(job, view) for view in views]
    # Within a status the host overdue the longest comes first, so that the job's reason
    # names the slot of its overdue_since (NEXT DUE says "overdue since" that same slot).
    never = datetime.max.replace(tzinfo=UTC)
    dated = [(p, v.due or never) for v in verdicts for p in v.problems]
    overdue = min((v.due for v in verdicts if v.due is not None), default=None)
    if job.spec.min_hosts is not None:
        dated = [(p, due) for p, due in dated if p[0] not in _RECENCY]
        found, overdue = _min_hosts(job, views, verdicts)
        dated += [(p, never) for p in found]
    dated.sort(key=lambda item: (_RANK[item[0][0]], item[1]))
    problems = [p for p, _ in dated]
    quiet = min(verdicts, key=lambda v: _RANK[v.quiet])
    status = problems[0] if problems else (quiet.quiet, quiet.quiet_reason)
    next_due = min((v.next_due for v in verdicts if v.next_due is not None), default=None)
    return problems, status, next_due, overdue, verdicts


def _any_host(job: _Job, views: list[_View], whole: _View) -> _Judged:
    """No declared hosts: the job is judged as one; each host's row shows all but recency."""
    verdict = _judge(job, whole)
    if len(views) == 1:  # the same facts as the whole: the host row is the job's verdict
        verdicts = [verdict]
    else:
        verdicts = [
            _with_recency(_judge(job, view, recency=False, next_due=verdict.next_due), verdict)
            for view in views
        ]
    return verdict.problems, verdict.status, verdict.next_due, verdict.due, verdicts


def _schedule_words(job: _Job) -> str:
    schedule = job.schedule
    if schedule is None:
        return "none"
    if job.learned_schedule:
        return f"learned: about every {_fd(schedule.period_hint())}"
    return _describe(schedule)


def _host_status(view: _View, verdict: _Verdict) -> HostStatus:
    status, reason = verdict.status
    row = view.row
    return HostStatus(
        hostname=view.host or "",
        status=status,
        reason=reason,
        last_started=view.last,
        last_completed=row.last_completed if row is not None else None,
        last_outcome=row.last_outcome if row is not None else None,
        last_duration=row.last_duration if row is not None else None,
        next_due=verdict.next_due,
        overdue_since=verdict.due,
    )
