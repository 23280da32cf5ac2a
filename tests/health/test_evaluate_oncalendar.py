"""Health rules on OnCalendar schedules: missing, late, too often, next due, DST, properties.

Built with the helpers of ``tests.support.health``: the job is ``backup`` with 30 minutes of grace
unless a test says otherwise; its schedule is given as a timer line (``OnCalendar=...``).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cronwatch.schedule import OnCalendarSchedule, Schedule
from tests.support.health import D, H, M, assert_healthy, check, ran, spec, utc

FRIDAY = utc(2026, 11, 27)  # a Friday


def test_ok_late_missing_on_a_weekday_calendar() -> None:
    job = spec("OnCalendar=Mon..Fri 09:00", timezone="Europe/Berlin")
    slot = FRIDAY + 8 * H  # 09:00 CET
    done = check(job, slot + 2 * H, ran(slot, prev=slot - D))
    assert done.status == "ok"
    assert done.next_due == slot + 3 * D  # Monday, not Saturday
    assert done.schedule == 'on calendar "Mon..Fri *-*-* 09:00:00" (Europe/Berlin)'
    assert done.reason.endswith("next due 2026-11-30 08:00 UTC")
    before = ran(slot - D, prev=slot - 2 * D)
    late = check(job, slot + 10 * M, before)
    assert late.status == "late"
    assert late.reason == "backup is due since 08:00 UTC (grace until 08:30 UTC)"
    missing = check(job, slot + 31 * M, before)
    assert missing.status == "missing"
    assert missing.reason == (
        "backup didn't run since 08:00 UTC (last run 2026-11-26 08:00 UTC on db1)"
    )
    # The weekend owes nothing: on Sunday the latest slot is Friday's, which ran.
    assert_healthy(check(job, slot + 2 * D, ran(slot, prev=slot - D)))


def test_too_often_when_two_starts_share_a_calendar_slot() -> None:
    job = spec("OnCalendar=*-*-* 03:00 UTC")
    slot = FRIDAY + 3 * H
    twice = check(job, slot + H, ran(slot + 4 * M, prev=slot))
    assert twice.status == "too_often"
    assert twice.reason == "backup ran twice for one slot: 03:00 and 03:04 UTC on db1"
    assert_healthy(check(job, slot + H, ran(slot, prev=slot - D)))


def test_several_oncalendar_lines_owe_each_slot() -> None:
    job = spec("OnCalendar=Mon..Fri 18:00\nOnCalendar=Sat 12:00")
    saturday = FRIDAY + D + 12 * H
    result = check(job, saturday + 40 * M, ran(FRIDAY + 18 * H, prev=FRIDAY - 6 * H))
    assert result.status == "missing"
    assert result.reason.startswith("backup didn't run since 12:00 UTC (last run 2026-11-27")
    assert check(job, saturday - H, ran(FRIDAY + 18 * H)).next_due == saturday


def test_spring_forward_the_skipped_slot_is_not_owed() -> None:
    # 02:30 does not exist in Berlin on 2026-03-29; systemd skips the day, so must we.
    job = spec("OnCalendar=*-*-* 02:30 Europe/Berlin")
    day_before, day_after = utc(2026, 3, 28, 1, 30), utc(2026, 3, 30, 0, 30)
    row = ran(day_before, prev=day_before - D)
    for hours in range(1, 46):
        now = day_before + hours * H
        if now < day_after:
            assert check(job, now, row).status == "ok", now
    assert check(job, day_before + 2 * H, row).next_due == day_after
    assert check(job, day_after + 31 * M, row).status == "missing"


def test_fall_back_each_time_runs_once_and_the_repeated_hour_owes_nothing() -> None:
    # Berlin repeats 02:00-03:00 on 2026-10-25 (00:00-01:00 UTC in CEST, 01:00-02:00 in CET).
    hourly = spec("OnCalendar=hourly Europe/Berlin", grace=10 * M)
    first_pass = utc(2026, 10, 25, 0)  # 02:00 CEST
    row = ran(first_pass, prev=first_pass - H)
    for minutes in range(5, 120, 5):  # through the second pass (02:00-03:00 CET)
        result = check(hourly, first_pass + minutes * M, row)
        assert result.status == "ok", (minutes, result.reason)
        assert result.next_due == utc(2026, 10, 25, 2)  # 03:00 CET
    assert check(hourly, utc(2026, 10, 25, 2, 11), row).status == "missing"
    # A daily 02:30 ran at 02:30 CEST: 02:30 CET an hour later is not another slot.
    daily = spec("OnCalendar=*-*-* 02:30 Europe/Berlin")
    ran_once = ran(utc(2026, 10, 25, 0, 30), prev=utc(2026, 10, 24, 0, 30))
    for minutes in range(0, 24 * 60, 20):
        assert check(daily, utc(2026, 10, 25, 0, 40) + minutes * M, ran_once).status == "ok"


def test_lord_howe_half_hour_change() -> None:
    # Lord Howe repeats 01:30-02:00 on 2026-04-05: 01:45 runs once, at 01:45 +11.
    job = spec("OnCalendar=*-*-* 01:45 Australia/Lord_Howe", grace=5 * M)
    slot = utc(2026, 4, 4, 14, 45)
    row = ran(slot, prev=slot - D)
    for minutes in range(5, 24 * 60, 15):
        assert check(job, slot + minutes * M, row).status == "ok", minutes
    assert check(job, slot + 5 * M, row).next_due == utc(2026, 4, 5, 15, 15)  # +10:30


_EXPRESSIONS = ["*:0/15", "hourly", "02:30", "01:30", "Mon..Fri 09:00", "*-*~01 23:00",
                "*:0/20", "0/5:00"]  # fmt: skip
_ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]
calendars = st.builds(
    lambda expression, zone: OnCalendarSchedule((expression,), zone),
    st.sampled_from(_EXPRESSIONS),
    st.sampled_from(_ZONES),
)
_CHANGES = [utc(2026, 3, 29, 1), utc(2026, 10, 25, 1), utc(2026, 3, 8, 7), utc(2026, 11, 1, 6),
            utc(2026, 4, 4, 15), utc(2026, 10, 3, 15, 30)]  # fmt: skip
instants = st.one_of(
    st.builds(
        lambda change, offset: change + offset,
        st.sampled_from(_CHANGES),
        st.timedeltas(min_value=-D, max_value=D),
    ),
    st.datetimes(
        min_value=datetime(2024, 1, 1),
        max_value=datetime(2030, 1, 1),
        timezones=st.just(UTC),
    ),
)


@settings(max_examples=300, deadline=None)
@given(calendars, instants, st.floats(0, 1, exclude_max=True), st.sampled_from([0, 1, 30, 60]))
def test_a_run_on_a_calendar_slot_is_never_late_or_missing_until_the_next(
    schedule: Schedule, t: datetime, fraction: float, grace_minutes: int
) -> None:
    slot = schedule.previous_at_or_before(t)
    following = schedule.next_after(slot)
    before = schedule.previous_at_or_before(slot - timedelta(microseconds=1))
    now = slot + (following - slot) * fraction
    assume(slot <= now < following)
    job = dataclasses.replace(spec(None, grace=grace_minutes * M), schedule=schedule)
    result = check(job, now, ran(slot, took=timedelta(0), prev=before))
    assert result.status == "ok", result.reason
    assert result.next_due == following
