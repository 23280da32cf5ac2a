"""Noise control: from a job's last alerting state and what the loop sees now, the next state
and the event to record, if any. A pure function of its inputs (the few facts that need the
database or a schedule walk come through :class:`JobContext`, asked only when needed).

The rules, for a job whose status is *bad* when it is in the job's ``alert_on`` (by default
missing, failing, hung) and *good* otherwise:

Problem
    A bad job that has not been announced is announced (event ``problem``) unless

    - it is *silent*: paused, inside a maintenance window, or snoozed;
    - it is *held*: within one schedule slot after cronwatch itself was down, after a
      maintenance window ended, or after the job was resumed from a pause (see
      :meth:`JobContext.hold`: runs missed while nobody could watch are not evidence);
    - its failure streak (failed runs and missed slots in a row) is below ``alert_after``.

    In each case the status change is still recorded (``change``) with a note saying why
    nobody was told; the problem is announced at the first cycle where none applies.
Incident
    Each problem announced opens an incident (:func:`~cronwatch.alerts.model.incident_id`)
    that its reminders, escalation and recovery carry; the recovery closes it.
Reminder
    An announced job that is still bad is announced again (``reminder``) every ``repeat``,
    unless silent or acknowledged (``cronwatch alerts ack``). A change from one problem to
    another (missing -> failing) is recorded but not announced: it is the same incident, and
    the reminder tells the current status.
Escalation
    An announced job still bad ``escalate_after`` its announcement, and not acknowledged, is
    announced once more (``escalation``) to its ``escalate_to`` channels, which then also get
    its reminders and its recovery.
Recovery
    An announced job that is good again is announced as recovered (``recovery``) once its
    last ``recover_after`` finished runs, completed since it turned good, all succeeded
    (immediately with ``recover_after = 1``), unless silent: a recovery during a silence is
    sent when the silence ends, so that people's picture converges with at most one message.
No channel
    A notification with no channel to go to (no ``[channels]`` in the config, or a job whose
    ``alerts`` name none) is recorded with the note "not sent: no channel". An announced
    job still bad whose incident a channel of it never heard of (a channel added since) is
    announced on that channel once (:func:`announce_to_new_channels`).
Host rows
    A host's status changes are recorded (``change``) for the history and never announced:
    the job's own status already combines its hosts.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Protocol

from cronwatch.alerts import messages
from cronwatch.alerts.model import (
    JOB_ROW,
    NOTIFYING,
    Decision,
    Details,
    Event,
    EventKind,
    JobState,
    incident_id,
)
from cronwatch.specs import JobAlerting

#: The note of a notification that had no channel to go to.
NO_CHANNEL = "not sent: no channel"

#: Statuses that need no attention: a first sight of one is stored without an event.
QUIET: frozenset[str] = frozenset({"ok", "new", "running", "paused"})


class JobContext(Protocol):
    """What a decision may need beyond the state and the status; computed lazily."""

    @property
    def silence(self) -> str | None:
        """Why the job must be silent now ("paused", "in maintenance until ..."), or None."""

    def hold(self) -> tuple[datetime, str] | None:
        """(until, why) when a problem must not be announced before ``until``, else None."""

    def resume_hold(self) -> datetime:
        """The end of the hold that starts now (the job resumes from a pause)."""

    def streak(self) -> int:
        """Consecutive failures (failed runs, missed slots) the current problem stands for."""

    def good_runs(self, since: datetime, wanted: int) -> int:
        """How many of the last ``wanted`` finished runs completed after ``since`` succeeded in
        a row (from the latest back)."""

    def details(self) -> Details:
        """The facts a message about the job gives (hosts concerned, last run, output)."""


def first_state(name: str, hostname: str, status: str, reason: str, now: datetime) -> JobState:
    """The row of a job (or host) seen for the first time.

    A quiet status is stored as it is, without an event: starting the alert loop on an
    existing database must not write an event per job. Anything else is stored as ``new``,
    so that the decision that follows records (and, for a job, announces) the problem.
    """
    return JobState(
        name, hostname, status if status in QUIET else "new", reason if status in QUIET else "", now
    )


def decide_host(prev: JobState, status: str, reason: str, now: datetime) -> Decision | None:
    """A host row: record a change of status, never announce it."""
    if status == prev.status:
        return None
    state = replace(prev, status=status, reason=reason, since=now)
    text = messages.change_text(prev.name, prev.hostname, prev.status, status, reason)
    return Decision(state, _event(prev, "change", status, reason, text, now))


#: What one branch of :func:`decide` leads to: the next state, the event's kind (``None``: a
#: plain ``change``) and the note saying why nobody was told; ``None``: nothing to write.
_Step = tuple[JobState, EventKind | None, str | None] | None


def decide(
    prev: JobState,
    status: str,
    reason: str,
    policy: JobAlerting,
    ctx: JobContext,
    now: datetime,
) -> Decision | None:
    """The job row's next state and event, following the module docstring; ``None`` when
    nothing is to be written."""
    state = _moved(prev, status, reason, policy, ctx, now)
    if not prev.alerting:
        step = _not_announced(prev, state, policy, ctx, now)
    elif status in policy.alert_on:
        step = _announced_still_bad(prev, state, policy, ctx, now)
    else:
        step = _announced_now_good(prev, state, policy, ctx, now)
    if step is None:
        return None
    return _recorded(prev, *step, status, reason, policy, ctx, now)


def _moved(
    prev: JobState, status: str, reason: str, policy: JobAlerting, ctx: JobContext, now: datetime
) -> JobState:
    """``prev`` with the status seen now: a new status starts now, a new problem starts an
    incident (an announced incident keeps its start), a job resumed from a pause is held."""
    changed = status != prev.status
    state = replace(prev, status=status, reason=reason, since=now) if changed else prev
    bad = status in policy.alert_on
    was_bad = prev.status in policy.alert_on
    if bad and not was_bad and not (prev.alerting and prev.problem_since is not None):
        state = replace(state, problem_since=now)
    if changed and prev.status == "paused":
        state = replace(state, hold_until=ctx.resume_hold())
    return state


def _not_announced(
    prev: JobState, state: JobState, policy: JobAlerting, ctx: JobContext, now: datetime
) -> _Step:
    """Nothing announced yet: announce a problem unless silent, held or below its streak."""
    changed = state.status != prev.status
    if state.status not in policy.alert_on:
        return (state, None, None) if changed else None
    silence = ctx.silence
    hold = None if silence else _hold(ctx, state, now)
    # Every problem is at least one failure: the streak is only counted when it matters.
    checked = not silence and hold is None and policy.alert_after > 1
    streak = ctx.streak() if checked else policy.alert_after
    if silence:
        note = f"not notified: {silence}"
    elif hold is not None:
        note = f"not notified before {messages.at(hold[0])}: {hold[1]}"
    elif streak < policy.alert_after:
        note = f"failure {streak} of {policy.alert_after} before alerting"
    else:
        return _opened(state, now), "problem", None
    return (state, None, note) if changed else None  # a problem still waiting: nothing new


def _opened(state: JobState, now: datetime) -> JobState:
    """``state`` with its problem announced now: a new incident, not acknowledged."""
    return replace(
        state,
        alerting=True,
        alert_status=state.status,
        notified=now,
        announced=now,
        recovering_since=None,
        incident=incident_id(state.name, now),
        acked=None,
        acked_by=None,
        ack_note=None,
        escalated=None,
    )


def _announced_still_bad(
    prev: JobState, state: JobState, policy: JobAlerting, ctx: JobContext, now: datetime
) -> _Step:
    """Announced and bad: escalate when it is due and nobody acknowledged, else remind every
    ``repeat`` unless acknowledged; nothing while silent."""
    changed = state.status != prev.status
    if prev.status not in policy.alert_on:
        state = replace(state, recovering_since=None)  # turned bad again while recovering
    silence = ctx.silence
    note = None
    if silence:
        note = f"not notified: {silence}"
    elif prev.acked is not None:
        note = f"acknowledged by {prev.acked_by or 'someone'}: no reminder"
    elif _escalation_due(prev, policy, now):
        return replace(state, escalated=now, notified=now), "escalation", None
    elif (
        policy.repeat is not None
        and prev.notified is not None
        and now - prev.notified >= policy.repeat
    ):
        return replace(state, notified=now), "reminder", None
    return (state, None, note) if changed else None


def _escalation_due(prev: JobState, policy: JobAlerting, now: datetime) -> bool:
    """Whether the announced incident of ``prev`` is to be escalated now (not yet escalated,
    ``escalate_after`` its announcement; acknowledgement and silence are checked before)."""
    announced = prev.announced or prev.problem_since
    return (
        policy.escalates
        and policy.escalate_after is not None
        and prev.escalated is None
        and announced is not None
        and now - announced >= policy.escalate_after
    )


def _announced_now_good(
    prev: JobState, state: JobState, policy: JobAlerting, ctx: JobContext, now: datetime
) -> _Step:
    """Announced and good again: announce the recovery after ``recover_after`` good runs,
    unless silent."""
    changed = state.status != prev.status
    was_bad = prev.status in policy.alert_on
    if was_bad or state.recovering_since is None:
        state = replace(state, recovering_since=prev.since if was_bad else now)
    assert state.recovering_since is not None
    silence = ctx.silence
    good = (
        policy.recover_after
        if policy.recover_after <= 1 or silence
        else ctx.good_runs(state.recovering_since, policy.recover_after)
    )
    if silence:
        note = f"recovery not notified: {silence}"
    elif good >= policy.recover_after:
        return state, "recovery", None
    else:
        note = f"good run {good} of {policy.recover_after} before recovery"
    if not changed and state == prev:
        return None
    return state, None, note


def _recorded(
    prev: JobState,
    state: JobState,
    kind: EventKind | None,
    note: str | None,
    status: str,
    reason: str,
    policy: JobAlerting,
    ctx: JobContext,
    now: datetime,
) -> Decision:
    """The decision: the event's words, its incident and facts, the channels it goes to, and
    a recovery closing the incident."""
    since = state.problem_since if state.alerting else None
    if kind == "problem":
        text = messages.problem_text(prev.name, status, reason)
    elif kind == "reminder":
        text = messages.reminder_text(prev.name, status, reason, since, now)
    elif kind == "escalation":
        text = messages.escalation_text(prev.name, status, reason, since, now)
    elif kind == "recovery":
        text = messages.recovery_text(prev.name, prev.alert_status, reason, since, now, status)
    else:
        kind = "change"
        text = messages.change_text(prev.name, JOB_ROW, prev.status, status, reason)
    event = _event(prev, kind, status, reason, text, now, note)
    if state.alerting:
        event = replace(event, incident=state.incident, since=since)
    if kind in NOTIFYING:
        event = replace(event, details=ctx.details())
    channels = _channels(kind, state, policy)
    if kind in NOTIFYING and not channels:
        # Recorded as if sent would be a lie: say that nobody was told, and why.
        event = replace(event, note=NO_CHANNEL)
    if kind == "recovery":
        state = _closed(state, now)
    return Decision(state, event, channels)


def announce_to_new_channels(
    prev: JobState,
    status: str,
    reason: str,
    policy: JobAlerting,
    ctx: JobContext,
    heard: frozenset[str],
    now: datetime,
) -> Decision | None:
    """An announced, still-bad job whose incident some of its channels never heard of (a
    channel added to the config since, or none at the time): announce it on those channels
    only, once, as a reminder ("still MISSING (for 2h)"). ``heard``: the channels that got
    a delivery of the incident. Nothing while silent or acknowledged, nor once the job is
    good (its recovery will tell)."""
    if not prev.alerting or status not in policy.alert_on or prev.acked is not None:
        return None
    missing = tuple(c for c in _channels("reminder", prev, policy) if c not in heard)
    if not missing or ctx.silence:
        return None
    since = prev.problem_since
    text = messages.reminder_text(prev.name, status, reason, since, now)
    note = "announced on channel(s) added since: " + ", ".join(missing)
    event = _event(prev, "reminder", status, reason, text, now, note)
    event = replace(event, incident=prev.incident, since=since, details=ctx.details())
    return Decision(prev, event, missing)


def _channels(kind: EventKind, state: JobState, policy: JobAlerting) -> tuple[str, ...]:
    """Where an event of ``kind`` goes: a problem to the job's channels, an escalation to the
    ``escalate_to`` channels not among them; once escalated, reminders and the recovery to
    both."""
    escalated = policy.escalate_to if state.escalated is not None else ()
    if kind == "problem":
        return policy.channels
    if kind == "escalation":
        return tuple(c for c in policy.escalate_to if c not in policy.channels)
    if kind in ("reminder", "recovery"):
        return policy.channels + tuple(c for c in escalated if c not in policy.channels)
    return ()


def _closed(state: JobState, now: datetime) -> JobState:
    """``state`` once its incident recovered: nothing of the incident is kept."""
    return replace(
        state,
        alerting=False,
        alert_status=None,
        problem_since=None,
        recovering_since=None,
        notified=now,
        incident=None,
        acked=None,
        acked_by=None,
        ack_note=None,
        escalated=None,
        announced=None,
    )


def _hold(ctx: JobContext, state: JobState, now: datetime) -> tuple[datetime, str] | None:
    """The latest hold in force: the context's (outage, maintenance) or the job's own."""
    held = ctx.hold()
    own = state.hold_until
    if own is not None and now < own and (held is None or own > held[0]):
        return own, "the job was resumed from a pause; runs missed while paused do not count"
    return held


def _event(
    prev: JobState,
    kind: EventKind,
    status: str,
    reason: str,
    text: str,
    now: datetime,
    note: str | None = None,
) -> Event:
    return Event(
        name=prev.name,
        hostname=prev.hostname,
        kind=kind,
        old_status=prev.status,
        new_status=status,
        reason=reason,
        text=text,
        at=now,
        note=note,
    )
