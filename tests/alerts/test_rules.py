"""The noise-control decisions as a pure function: every branch, and what must not happen."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from cronwatch.alerts.model import Details, JobState, incident_id
from cronwatch.alerts.rules import decide, decide_host, first_state
from cronwatch.specs.alerting import DEFAULT_ALERT_ON, JobAlerting

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def policy(**changes: object) -> JobAlerting:
    values: dict[str, object] = {
        "channels": ("ops",),
        "alert_on": frozenset(DEFAULT_ALERT_ON),
        "alert_after": 1,
        "recover_after": 1,
        "repeat": None,
        "snooze_until": None,
    }
    values.update(changes)
    return JobAlerting(**values)  # type: ignore[arg-type]


@dataclass
class Context:
    """A JobContext with fixed answers, recording what was asked."""

    silence: str | None = None
    held: tuple[datetime, str] | None = None
    failures: int = 1
    good: int = 0
    asked: list[str] = field(default_factory=list)

    def hold(self) -> tuple[datetime, str] | None:
        self.asked.append("hold")
        return self.held

    def resume_hold(self) -> datetime:
        return NOW + HOUR

    def streak(self) -> int:
        self.asked.append("streak")
        return self.failures

    def good_runs(self, since: datetime, wanted: int) -> int:
        self.asked.append(f"good_runs since {since:%H:%M}")
        return self.good

    def details(self) -> Details:
        self.asked.append("details")
        return Details(hosts=(("db1", "failing"),), last_host="db1", exit_code=1)


def state(status: str = "ok", **changes: object) -> JobState:
    base = JobState(
        name="backup", hostname="", status=status, reason="r", since=NOW - HOUR, version=3
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_nothing_to_write_when_nothing_changed() -> None:
    assert decide(state("ok"), "ok", "fine", policy(), Context(), NOW) is None
    assert decide(state("running"), "running", "running", policy(), Context(), NOW) is None


def test_a_problem_is_announced_and_the_state_remembers_it() -> None:
    decision = decide(state("ok"), "missing", "didn't run", policy(), Context(), NOW)
    assert decision is not None
    assert (decision.event.kind, decision.event.old_status, decision.event.text) == (
        "problem",
        "ok",
        "backup is MISSING: didn't run",
    )
    new = decision.state
    assert (new.alerting, new.alert_status, new.notified, new.problem_since) == (
        True,
        "missing",
        NOW,
        NOW,
    )


def test_a_warning_is_recorded_not_announced_unless_listed() -> None:
    decision = decide(state("ok"), "late", "due", policy(), Context(), NOW)
    assert decision is not None and decision.event.kind == "change"
    assert not decision.state.alerting
    listed = decide(
        state("ok"), "late", "due", policy(alert_on=frozenset({"late"})), Context(), NOW
    )
    assert listed is not None and listed.event.kind == "problem"


def test_below_alert_after_a_change_is_noted_and_an_unchanged_status_writes_nothing() -> None:
    ctx = Context(failures=2)
    decision = decide(state("ok"), "failing", "failed", policy(alert_after=3), ctx, NOW)
    assert decision is not None and decision.event.kind == "change"
    assert decision.event.note == "failure 2 of 3 before alerting"
    waiting = state("failing", problem_since=NOW - HOUR)
    assert decide(waiting, "failing", "failed", policy(alert_after=3), ctx, NOW) is None
    ctx.failures = 3
    reached = decide(waiting, "failing", "failed", policy(alert_after=3), ctx, NOW)
    assert reached is not None and reached.event.kind == "problem"
    assert reached.event.old_status == reached.event.new_status == "failing"


def test_silence_and_hold_are_asked_before_the_streak() -> None:
    silent = Context(silence="paused")
    decision = decide(state("ok"), "missing", "x", policy(), silent, NOW)
    assert decision is not None and decision.event.note == "not notified: paused"
    assert silent.asked == []  # neither hold nor streak computed for a silent job
    held = Context(held=(NOW + HOUR, "cronwatch itself was not watching"))
    decision = decide(state("ok"), "missing", "x", policy(), held, NOW)
    assert decision is not None and decision.event.kind == "change"
    assert decision.event.note == (
        "not notified before 2026-11-28 13:00 UTC: cronwatch itself was not watching"
    )
    assert held.asked == ["hold"]


def test_reminders_only_at_the_repeat_interval() -> None:
    down = state(
        "missing",
        alerting=True,
        alert_status="missing",
        notified=NOW - HOUR,
        problem_since=NOW - 2 * HOUR,
    )
    assert decide(down, "missing", "x", policy(repeat=2 * HOUR), Context(), NOW) is None
    reminder = decide(down, "missing", "x", policy(repeat=HOUR), Context(), NOW)
    assert reminder is not None and reminder.event.kind == "reminder"
    assert reminder.event.text == "backup is still MISSING (for 2h): x"
    assert reminder.state.notified == NOW
    assert decide(down, "missing", "x", policy(repeat=None), Context(), NOW + 100 * HOUR) is None
    silent = decide(down, "missing", "x", policy(repeat=HOUR), Context(silence="snoozed"), NOW)
    assert silent is None  # no change, and no reminder while snoozed


def test_another_problem_of_an_announced_job_is_a_change() -> None:
    down = state("missing", alerting=True, alert_status="missing", notified=NOW)
    decision = decide(down, "failing", "failed", policy(), Context(), NOW)
    assert decision is not None and decision.event.kind == "change"
    assert decision.state.alerting and decision.state.alert_status == "missing"


def test_recovery_waits_for_good_runs_and_counts_them_from_the_last_bad_status() -> None:
    down = state(
        "failing",
        alerting=True,
        alert_status="failing",
        notified=NOW - HOUR,
        problem_since=NOW - 2 * HOUR,
        since=NOW - HOUR,
    )
    ctx = Context(good=1)
    first = decide(down, "ok", "ran", policy(recover_after=2), ctx, NOW)
    assert first is not None and first.event.kind == "change"
    assert first.event.note == "good run 1 of 2 before recovery"
    assert first.state.recovering_since == NOW - HOUR  # since the failing status began
    assert ctx.asked == ["good_runs since 11:00"]
    assert first.state.alerting  # not recovered yet
    ctx.good = 2
    second = decide(first.state, "ok", "ran", policy(recover_after=2), ctx, NOW + HOUR)
    assert second is not None and second.event.kind == "recovery"
    assert second.event.text == "backup recovered after 3h FAILING: ran"
    assert not second.state.alerting and second.state.problem_since is None


def test_a_recovery_into_a_lesser_problem_says_what_the_job_is_now() -> None:
    # Issue 12: "recovered ... took 7m (max_runtime 5m)" while the job was SLOW.
    down = state("missing", alerting=True, alert_status="missing", problem_since=NOW - HOUR)
    reason = "backup took 7m on db1 (max_runtime 5m)"
    slow = decide(down, "slow", reason, policy(), Context(), NOW)
    assert slow is not None and slow.event.kind == "recovery"  # slow is not in alert_on
    assert slow.event.text == f"backup recovered after 1h MISSING, now SLOW: {reason}"
    fine = decide(down, "ok", "ran 1m ago on db1", policy(), Context(), NOW)
    assert fine is not None
    assert fine.event.text == "backup recovered after 1h MISSING: ran 1m ago on db1"
    assert "now" not in fine.event.text.split(":")[0]  # a fine job is not said to be anything


def test_a_relapse_while_recovering_keeps_the_incident() -> None:
    recovering = state(
        "ok",
        alerting=True,
        alert_status="missing",
        notified=NOW - HOUR,
        problem_since=NOW - 3 * HOUR,
        recovering_since=NOW - HOUR,
    )
    relapse = decide(recovering, "failing", "failed", policy(), Context(), NOW)
    assert relapse is not None and relapse.event.kind == "change"  # not a second problem
    assert relapse.state.problem_since == NOW - 3 * HOUR
    assert relapse.state.recovering_since is None


def test_recovery_during_a_silence_waits_for_its_end() -> None:
    down = state("missing", alerting=True, alert_status="missing", notified=NOW - HOUR)
    during = decide(down, "ok", "ran", policy(), Context(silence="in maintenance"), NOW)
    assert during is not None and during.event.kind == "change"
    assert during.event.note == "recovery not notified: in maintenance"
    after = decide(during.state, "ok", "ran", policy(), Context(), NOW + HOUR)
    assert after is not None and after.event.kind == "recovery"


def test_resuming_from_a_pause_starts_a_hold() -> None:
    decision = decide(state("paused"), "missing", "x", policy(), Context(), NOW)
    assert decision is not None and decision.event.kind == "change"
    assert decision.state.hold_until == NOW + HOUR
    assert decision.event.note is not None and "resumed from a pause" in decision.event.note
    later = decide(decision.state, "missing", "x", policy(), Context(), NOW + 2 * HOUR)
    assert later is not None and later.event.kind == "problem"


def test_first_sight_and_host_rows() -> None:
    assert first_state("a", "", "ok", "fine", NOW).status == "ok"
    assert first_state("a", "", "failing", "bad", NOW).status == "new"  # so the flip records it
    host = first_state("a", "db1", "ok", "fine", NOW)
    assert decide_host(host, "ok", "fine", NOW) is None
    change = decide_host(host, "missing", "gone", NOW)
    assert change is not None and change.event.kind == "change" and not change.event.notifies
    assert change.event.text == "a on db1: ok -> missing: gone"


def test_an_incident_opens_with_the_problem_and_its_messages_carry_it() -> None:
    opened = decide(state("ok"), "missing", "didn't run", policy(), Context(), NOW)
    assert opened is not None and opened.channels == ("ops",)
    incident = opened.state.incident
    assert incident == incident_id("backup", NOW) and incident.startswith("cw-")
    assert (opened.event.incident, opened.event.since) == (incident, NOW)
    assert opened.event.details == Details(
        hosts=(("db1", "failing"),), last_host="db1", exit_code=1
    )
    later = NOW + 2 * HOUR
    reminded = decide(opened.state, "missing", "still", policy(repeat=HOUR), Context(), later)
    assert reminded is not None and reminded.event.kind == "reminder"
    assert (reminded.event.incident, reminded.event.since) == (incident, NOW)
    recovered = decide(reminded.state, "ok", "ran", policy(), Context(), later + HOUR)
    assert recovered is not None and recovered.event.kind == "recovery"
    assert recovered.event.incident == incident
    # Closed: nothing of the incident is left on the state, the next problem opens a new one.
    closed = recovered.state
    assert (closed.incident, closed.acked, closed.escalated, closed.announced) == (None,) * 4
    again = decide(closed, "missing", "again", policy(), Context(), later + 2 * HOUR)
    assert again is not None and again.event.incident not in (None, incident)


def test_an_acknowledged_incident_is_neither_reminded_nor_escalated() -> None:
    rules = policy(repeat=HOUR, escalate_after=HOUR / 2, escalate_to=("pager",))
    down = state("missing", alerting=True, alert_status="missing", notified=NOW - 3 * HOUR,
                 announced=NOW - 3 * HOUR, problem_since=NOW - 3 * HOUR, incident="cw-1",
                 acked=NOW - HOUR, acked_by="alice")  # fmt: skip
    assert decide(down, "missing", "still", rules, Context(), NOW) is None
    changed = decide(down, "failing", "failed", rules, Context(), NOW)
    assert changed is not None and changed.event.kind == "change"
    assert changed.event.note == "acknowledged by alice: no reminder" and changed.channels == ()
    recovered = decide(down, "ok", "ran", rules, Context(), NOW)
    assert recovered is not None and recovered.event.kind == "recovery"
    assert recovered.channels == ("ops",)  # never escalated: the pager knows nothing of it


def test_an_unacknowledged_incident_escalates_once_then_its_pager_hears_the_rest() -> None:
    rules = policy(repeat=HOUR, escalate_after=HOUR / 2, escalate_to=("pager", "ops"))
    announced = NOW - HOUR / 4
    down = state("missing", alerting=True, alert_status="missing", notified=announced,
                 announced=announced, problem_since=NOW - 2 * HOUR, incident="cw-1")  # fmt: skip
    # Counted from the announcement, not from the problem's first sight.
    assert decide(down, "missing", "still", rules, Context(), NOW) is None
    escalated = decide(down, "missing", "still", rules, Context(), NOW + HOUR / 4)
    assert escalated is not None and escalated.event.kind == "escalation"
    assert escalated.channels == ("pager",)  # ops already knows
    assert escalated.event.text.startswith("backup is still MISSING (for 2h 15m) and nobody")
    after = escalated.state
    assert decide(after, "missing", "still", rules, Context(), NOW + HOUR) is None
    reminder = decide(after, "missing", "still", rules, Context(), NOW + HOUR / 4 + HOUR)
    assert reminder is not None and reminder.event.kind == "reminder"
    assert reminder.channels == ("ops", "pager")
    recovered = decide(reminder.state, "ok", "ran", rules, Context(), NOW + 2 * HOUR)
    assert recovered is not None and recovered.channels == ("ops", "pager")
    silent = decide(down, "missing", "still", rules, Context(silence="paused"), NOW + HOUR)
    assert silent is None  # no escalation during a silence
