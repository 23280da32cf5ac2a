"""One alert cycle: heartbeat, evaluation, flips, deliveries.

:func:`run_alert_cycle` is the whole of what an alert loop does each ``interval``; it is safe
to run from any number of processes on one database at once (see
:mod:`cronwatch.storage.alerts.states` and :mod:`cronwatch.alerts.deliver`), and it takes
``now`` so that tests drive time.

Guarding itself: every cycle writes its loop's heartbeat. When no loop had beaten for longer
than ``[alerts] outage_after``, the gap is recorded as an outage of cronwatch: runs reported
during it may have been lost or be waiting in spools. Problems of a job are then *held* until
the job has had one slot after the outage to report (its first slot after the outage plus its
grace); a problem still there then is announced, one that went away never is. The same hold
follows the end of a maintenance window and a job's resumption from a pause. The first cycle
ever (no heartbeat at all) is not an outage: the statuses it finds are announced.

One module, over the usual size, because it is one cycle: its named steps (beat, evaluate
the due jobs, flips, deadlines, deliver) only make sense in this order, and each is short.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from cronwatch.alerts import messages
from cronwatch.alerts.channels import Channel, build_channel
from cronwatch.alerts.deadline import next_deadline
from cronwatch.alerts.deliver import DeliveryReport, RetryPolicy, deliver_due
from cronwatch.alerts.details import event_details
from cronwatch.alerts.fingerprint import ConfigFingerprint, config_fingerprint
from cronwatch.alerts.model import JOB_ROW, Details, Event, JobState
from cronwatch.alerts.observe import (
    Observation,
    failure_streak,
    observe,
    resume_deadline,
    sync_declared,
)
from cronwatch.alerts.rules import announce_to_new_channels, decide, decide_host, first_state
from cronwatch.specs import AlertSettings, Config, JobAlerting, MaintenanceWindow
from cronwatch.specs.retention import DEFAULT_KEEP_EVENTS
from cronwatch.storage.alerts import AlertStore
from cronwatch.storage.alerts.deadlines import Due
from cronwatch.storage.alerts.states import ALERTING, STATUS, Flip, state_from_row
from cronwatch.storage.alerts.workers import Outage, process_worker_name
from cronwatch.storage.connection import Database
from cronwatch.storage.runs import RunStore
from cronwatch.timeutil import require_aware, to_us, utcnow

#: A cycle at least this long beats again at its end.
LONG_CYCLE = timedelta(seconds=1)
#: Due jobs an incremental cycle claims at a time: small enough that loops cycling in step
#: share a cycle's due jobs, large enough that the facts are read by key in one query each
#: (a chunk of names, :data:`~cronwatch.storage.alerts.deadlines.CHUNK`).
CLAIM_BATCH = 500
#: A claim lasts this many ``[alerts] interval``: longer than a cycle (which claims no more
#: batches after one interval), short enough that a dead claimer's jobs are soon due again.
LEASE_INTERVALS = 3


@dataclass
class CycleSummary:
    """What one cycle did."""

    at: datetime
    jobs: int
    events: list[Event] = field(default_factory=list)
    delivery: DeliveryReport = field(default_factory=DeliveryReport)
    outage: Outage | None = None
    seconds: float = 0.0
    full: bool = True  # every job evaluated (else only those due)
    # Other loops that beat within outage_after with another config: the kinds of settings
    # that differ (cronwatch.alerts.fingerprint.KINDS), by loop name.
    differing: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def notifications(self) -> list[Event]:
        return [event for event in self.events if event.notifies]

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "jobs": self.jobs,
            "events": len(self.events),
            "notifications": [event.text for event in self.notifications],
            "sent": self.delivery.sent,
            "failed": self.delivery.failed,
            "gave_up": self.delivery.gave_up,
            "outage": None
            if self.outage is None
            else {
                "started": self.outage.started.isoformat(),
                "ended": self.outage.ended.isoformat(),
            },
            "seconds": round(self.seconds, 3),
            "full": self.full,
            "config_differs": {name: list(kinds) for name, kinds in self.differing.items()},
        }


def build_channels(config: Config | None) -> dict[str, Channel]:
    """Every channel of ``config``, by name."""
    if config is None:
        return {}
    return {name: build_channel(spec, config.server) for name, spec in config.channels.items()}


def run_alert_cycle(
    db: Database,
    config: Config | None,
    now: datetime | None = None,
    *,
    worker: str | None = None,
    channels: Mapping[str, Channel] | None = None,
    retry: RetryPolicy | None = None,
    full: bool = True,
    fingerprint: ConfigFingerprint | None = None,
    batch: int = CLAIM_BATCH,
) -> CycleSummary:
    """Run one cycle at ``now`` (default: the current time): beat, evaluate the jobs, record
    and announce what changed (following :mod:`cronwatch.alerts.rules`), send what is due.

    ``full`` evaluates every job; otherwise (an *incremental* cycle) only the jobs whose next
    deadline has passed or that were changed since they were last evaluated
    (:mod:`cronwatch.alerts.deadline`), which decides exactly what a full cycle decides at a
    cost that follows what changed, not the number of jobs. A cycle that finds an outage of
    cronwatch is full; only full cycles sync the jobs declared in ``config``. Every cycle
    stores the next deadline of each job it evaluated.

    A cycle is full, too, while another loop that beat within ``[alerts] outage_after`` beat
    with another config (``summary.differing``): the deadlines that loop writes follow its
    config, not this one's, and an incremental cycle trusting them could decide late.

    An incremental cycle shares the due jobs with the other loops on the database: it claims
    them ``batch`` at a time (:meth:`~cronwatch.storage.alerts.deadlines.DeadlineStore.claim_due`,
    for a lease of :data:`LEASE_INTERVALS` intervals), evaluates and settles each batch, and
    claims the next until the jobs due at ``now`` run out or the cycle has taken an
    ``interval`` (the next cycle goes on). Two loops then evaluate about the due jobs once in
    all, not once each; a loop that dies holding a claim leaves its jobs to the others when
    the lease ends. A full cycle claims nothing: it reads every job.

    ``worker`` names the heartbeat row (default: one per process); ``channels`` defaults to
    those of ``config``; ``fingerprint`` is ``config``'s (computed when not given: a loop
    computes it once).
    """
    started = time.perf_counter()
    now = require_aware(now, "now") if now is not None else utcnow()
    settings = config.alerts if config is not None else AlertSettings()
    windows = config.maintenance if config is not None else ()
    store = AlertStore(db)
    summary = CycleSummary(at=now, jobs=0)
    worker = worker or process_worker_name()
    fingerprint = fingerprint or config_fingerprint(config)
    outage = _beat(store, summary, worker, fingerprint, settings, full, now)
    claimed, written = not summary.full, 0
    for due in _batches(db, store, config, summary, settings, batch, started, now):
        written += len(due) if claimed else 0  # a claim writes each job's deadline
        plan = _evaluate_due(db, store, config, summary, settings, windows, outage, due, now)
        store.insert_states(plan.firsts, now)
        events = store.apply(plan.flips, now)
        summary.events += events
        written += _store_deadlines(store, plan.looked, plan.flips, events, due, claimed, now)
    store.reclaim_deadlines(written)
    # The deltas this cycle's flips (and anything else since) added to the kept counts.
    store.compact()
    if channels is None:
        channels = build_channels(config)
    summary.delivery = deliver_due(db, channels, now, retry=retry)
    _finish(store, config, worker, summary, started, now)
    return summary


#: What a cycle looked at for one job: its observation, its state after this cycle's decision
#: (``None`` when the quiet path skipped deciding), the context it was decided in and its policy.
_Looked = tuple[Observation, "JobState | None", "_Context | None", JobAlerting]


@dataclass
class _Plan:
    """What the evaluation of one cycle decided, before anything of it is written."""

    due: dict[str, Due]  # counters, stored deadline and expected run by job (store.due_jobs)
    firsts: list[JobState] = field(default_factory=list)  # rows to create (first seen)
    flips: list[Flip] = field(default_factory=list)  # conditional updates to apply, in order
    looked: list[_Looked] = field(default_factory=list)  # every job evaluated, in order


def _beat(
    store: AlertStore,
    summary: CycleSummary,
    worker: str,
    fingerprint: ConfigFingerprint,
    settings: AlertSettings,
    full: bool,
    now: datetime,
) -> Outage | None:
    """Write ``worker``'s heartbeat at ``now`` with its config's ``fingerprint``; set
    ``summary.outage`` to the outage of cronwatch this beat ended (if any), ``summary.differing``
    to the other loops that beat within ``outage_after`` with another config, and
    ``summary.full`` to whether this cycle is full (asked for, or forced by that outage or by
    those loops). Return the latest outage recorded, which holds problems."""
    summary.outage = store.beat(worker, now, settings.outage_after, fingerprint.text())
    outage = store.latest_outage()
    for name, text in store.configs(now - settings.outage_after).items():
        theirs = ConfigFingerprint.parse(text)
        if name != worker and theirs is not None and (kinds := fingerprint.differences(theirs)):
            summary.differing[name] = kinds
    summary.full = full or summary.outage is not None or bool(summary.differing)
    return outage


def _batches(
    db: Database,
    store: AlertStore,
    config: Config | None,
    summary: CycleSummary,
    settings: AlertSettings,
    batch: int,
    started: float,
    now: datetime,
) -> Iterator[dict[str, Due]]:
    """The jobs this cycle evaluates with their counters, read before their facts (a run
    recorded from then on leaves its job due): every job at once when ``summary.full``
    (after syncing the declared ones); else batches of ``batch`` due jobs claimed from the
    other loops, until none is left or the cycle has taken an ``interval`` (the jobs left
    are the next cycle's)."""
    if summary.full:
        sync_declared(db, config, now)
        yield store.due_jobs(None)
        return
    lease_until = now + LEASE_INTERVALS * settings.interval
    while True:
        due = store.claim_due(now, lease_until, batch)
        if due:
            yield due
        if len(due) < batch or time.perf_counter() - started >= settings.interval.total_seconds():
            return


def _evaluate_due(
    db: Database,
    store: AlertStore,
    config: Config | None,
    summary: CycleSummary,
    settings: AlertSettings,
    windows: tuple[MaintenanceWindow, ...],
    outage: Outage | None,
    due: dict[str, Due],
    now: datetime,
) -> _Plan:
    """Observe the jobs ``due`` (every job when ``summary.full``, ``due`` then being every
    job's counter), add them to ``summary.jobs``, and decide each one's flips (job row, then
    host rows) and the reminders to new channels. Writes nothing."""
    full = summary.full
    plan = _Plan(due=due)
    names = None if full else sorted(due)
    observations = observe(db, config, now, names=names) if full or names else []
    summary.jobs += len(observations)
    rows = store.state_rows(names)
    for obs in observations:
        policy = settings.for_job(obs.spec)
        row = rows.get((obs.status.name, JOB_ROW))
        plan.looked.append(_evaluate_job(db, obs, row, policy, windows, outage, plan, now))
        _evaluate_hosts(obs, rows, plan, now)
    plan.flips += _new_channels(
        store, db, observations, rows, plan.flips, settings, windows, outage, now
    )
    return plan


def _evaluate_job(
    db: Database,
    obs: Observation,
    row: Any,
    policy: JobAlerting,
    windows: tuple[MaintenanceWindow, ...],
    outage: Outage | None,
    plan: _Plan,
    now: datetime,
) -> _Looked:
    """Decide the job row of ``obs`` against its stored ``row`` (``None``: never seen, so a
    first state is added to ``plan.firsts``); a decision is appended to ``plan.flips``. Return
    what was looked at; the state and context are ``None`` on the quiet path (same status,
    nothing announced, no problem), which is decided on the raw row without building either."""
    status = obs.status
    # The common case, decided on the raw row: same status, nothing announced, no problem.
    quiet = (
        row is not None
        and row[STATUS] == status.status
        and not row[ALERTING]
        and status.status not in policy.alert_on
    )
    if quiet:
        return (obs, None, None, policy)
    if row is None:
        prev = first_state(status.name, JOB_ROW, status.status, status.reason, now)
        plan.firsts.append(prev)
    else:
        prev = state_from_row(row)
    context = _Context(db, obs, prev, policy, windows, outage, now)
    decision = decide(prev, status.status, status.reason, policy, context, now)
    state = prev
    if decision is not None:
        plan.flips.append(Flip(prev.version, decision.state, decision.event, decision.channels))
        state = decision.state
    return (obs, state, context, policy)


def _evaluate_hosts(
    obs: Observation, rows: Mapping[tuple[str, str], Any], plan: _Plan, now: datetime
) -> None:
    """Decide each named host of ``obs`` whose status differs from its stored row (or that has
    none: a first state goes to ``plan.firsts``); changes are appended to ``plan.flips``."""
    status = obs.status
    for host in status.hosts:
        if not host.hostname:
            continue
        row = rows.get((status.name, host.hostname))
        if row is not None and row[STATUS] == host.status:
            continue
        if row is None:
            prev = first_state(status.name, host.hostname, host.status, host.reason, now)
            plan.firsts.append(prev)
        else:
            prev = state_from_row(row)
        change = decide_host(prev, host.status, host.reason, now)
        if change is not None:
            plan.flips.append(Flip(prev.version, change.state, change.event))


def _finish(
    store: AlertStore,
    config: Config | None,
    worker: str,
    summary: CycleSummary,
    started: float,
    now: datetime,
) -> None:
    """Prune events older than the retention, set ``summary.seconds`` (since ``started``, a
    :func:`time.perf_counter` reading) and, after a long cycle, beat ``worker`` again."""
    # Events older than the retention go (their deliveries with them, once settled).
    store.prune_events(now - (config.retention.events if config else DEFAULT_KEEP_EVENTS))
    summary.seconds = time.perf_counter() - started
    if summary.seconds >= LONG_CYCLE.total_seconds():
        # A cycle that sent a lot can take minutes: beat again at its end, so that the next
        # cycle does not take the time spent here for an outage of cronwatch.
        store.touch(worker, now + timedelta(seconds=summary.seconds))


def _new_channels(
    store: AlertStore,
    db: Database,
    observations: list[Observation],
    rows: Mapping[tuple[str, str], Any],
    flips: list[Flip],
    settings: AlertSettings,
    windows: tuple[MaintenanceWindow, ...],
    outage: Outage | None,
    now: datetime,
) -> list[Flip]:
    """Open incidents announced to fewer channels than their job has now (a channel added
    to the config since, or none at the time): one reminder each, to those channels only
    (:func:`~cronwatch.alerts.rules.announce_to_new_channels`). Jobs already flipped in this
    cycle are left to it; one query for every open incident."""
    flipped = {flip.state.name for flip in flips if not flip.state.hostname}
    open_jobs = [
        (obs, rows[(obs.status.name, JOB_ROW)])
        for obs in observations
        if obs.status.name not in flipped
        and (row := rows.get((obs.status.name, JOB_ROW))) is not None
        and row[ALERTING]
    ]
    open_jobs = [(obs, row) for obs, row in open_jobs if settings.for_job(obs.spec).channels]
    if not open_jobs:
        return []
    heard = store.incident_channels([obs.status.name for obs, _ in open_jobs])
    found: list[Flip] = []
    for obs, row in open_jobs:
        prev, policy = state_from_row(row), settings.for_job(obs.spec)
        context = _Context(db, obs, prev, policy, windows, outage, now)
        decision = announce_to_new_channels(
            prev,
            obs.status.status,
            obs.status.reason,
            policy,
            context,
            heard.get(prev.incident or "", frozenset()),
            now,
        )
        if decision is not None:
            found.append(Flip(prev.version, decision.state, decision.event, decision.channels))
    return found


def _store_deadlines(
    store: AlertStore,
    looked: list[_Looked],
    flips: list[Flip],
    written: list[Event],
    due: dict[str, Due],
    claimed: bool,
    now: datetime,
) -> int:
    """Store the next deadline of each job evaluated (where its counter is still the one in
    ``due``); the number of writes. A job one of whose flips was not written (another loop
    changed its row first) stays due: it is looked at again next cycle, from the row as the
    other loop left it (a ``claimed`` job's lease is undone for that: its deadline is now). A
    job deleted since it was evaluated got no first state, so its flips were not written
    either; its deadline, conditional on its row in ``jobs``, is then written nowhere."""
    done = {(event.name, event.hostname) for event in written}
    lost = {f.state.name for f in flips if (f.state.name, f.state.hostname) not in done}
    deadlines: list[tuple[str, int, int | None, int | None]] = []
    for obs, state, context, policy in looked:
        name = obs.spec.name
        if name not in due:
            continue
        if name in lost:
            if claimed:
                deadlines.append((name, due[name].changes, 0, due[name].expected))
            continue
        hold = context.hold() if context is not None else None
        deadline = next_deadline(
            obs.facts,
            obs.status.status,
            state,
            policy,
            context.windows if context is not None else [],
            hold[0] if hold is not None else None,
            now,
        )
        stored = due[name]
        us = None if deadline is None else to_us(deadline)
        # Stored with the deadline for /metrics: it cannot change before the deadline.
        expected = obs.status.next_expected
        expected_us = None if expected is None else to_us(expected)
        if us != stored.deadline or expected_us != stored.expected:
            deadlines.append((name, stored.changes, us, expected_us))
    return store.set_deadlines(deadlines, reclaim=False)


class _Context:
    """The lazily computed facts :func:`cronwatch.alerts.rules.decide` may ask about a job."""

    def __init__(
        self,
        db: Database,
        obs: Observation,
        state: JobState,
        policy: JobAlerting,
        windows: tuple[MaintenanceWindow, ...],
        outage: Outage | None,
        now: datetime,
    ) -> None:
        self.db, self.obs, self.state, self.policy = db, obs, state, policy
        self.windows = [w for w in windows if w.applies_to(obs.spec)] if windows else []
        self.outage, self.now = outage, now

    @cached_property
    def silence(self) -> str | None:
        if self.obs.status.status == "paused":
            return "paused"
        for window in self.windows:
            until = window.active_until(self.now)
            if until is not None:
                return f"in maintenance until {messages.at(until)} ({window.where})"
        snoozes = [t for t in (self.policy.snooze_until, self.state.snooze_until) if t]
        if snoozes and self.now < max(snoozes):
            return f"snoozed until {messages.at(max(snoozes))}"
        return None

    def hold(self) -> tuple[datetime, str] | None:
        holds: list[tuple[datetime, str]] = []
        if self.outage is not None:
            deadline = resume_deadline(self.obs, self.outage.ended)
            if deadline > self.now:
                holds.append(
                    (
                        deadline,
                        "cronwatch itself was not watching from "
                        f"{messages.at(self.outage.started)} to "
                        f"{messages.at(self.outage.ended)}",
                    )
                )
        for window in self.windows:
            ended = window.last_end(self.now)
            if ended is not None:
                deadline = resume_deadline(self.obs, ended)
                if deadline > self.now:
                    holds.append(
                        (deadline, f"maintenance ({window.where}) ended {messages.at(ended)}")
                    )
        return max(holds) if holds else None

    def resume_hold(self) -> datetime:
        return resume_deadline(self.obs, self.now)

    def streak(self) -> int:
        return failure_streak(self.obs, self.now, self.policy.alert_after)

    def details(self) -> Details:
        return event_details(self.db, self.obs)

    def good_runs(self, since: datetime, wanted: int) -> int:
        good = 0
        for outcome in RunStore(self.db).outcomes_since(self.obs.spec.name, since, wanted):
            if outcome != "success":
                break
            good += 1
        return good
