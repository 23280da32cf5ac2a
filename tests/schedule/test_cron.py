"""Cron schedules (cronwatch.schedule.cron): slots in a timezone, Debian cron's DST rules,
next/previous/count agreeing over DST changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cronwatch.schedule import (
    CronSchedule,
    Schedule,
    load_zone,
    parse_schedule,
)
from tests.support.health import utc
from tests.support.schedules import (
    assert_next_and_previous_agree,
    assert_slots_count_and_chain_agree,
)

# --- cron slots and DST ----------------------------------------------------------------------


def _local_day_slots(schedule: Schedule, day: datetime) -> list[datetime]:
    """The slots whose local date (in the schedule's zone) is ``day``'s date."""
    assert isinstance(schedule, CronSchedule)
    zone = load_zone(schedule.timezone)
    start = day - timedelta(days=1)
    return [
        s
        for s in schedule.slots_between(start, start + timedelta(days=3), limit=None)
        if s.astimezone(zone).date() == day.date()
    ]


# Fall-back days: the repeated hour is 01:00-02:00 local time in both zones.
_FALL_BACK = {"Europe/London": utc(2024, 10, 27), "America/New_York": utc(2024, 11, 3)}
_SPRING_FORWARD = {"Europe/London": utc(2024, 3, 31), "America/New_York": utc(2024, 3, 10)}


@pytest.mark.parametrize("zone", ["Europe/London", "America/New_York"])
@pytest.mark.parametrize("expression", ["30 2 * * *", "30 1 * * *"])
def test_fixed_time_job_runs_exactly_once_on_fall_back_day(zone: str, expression: str) -> None:
    schedule = parse_schedule(expression, zone)
    slots = _local_day_slots(schedule, _FALL_BACK[zone])
    assert len(slots) == 1, slots
    local = slots[0].astimezone(load_zone(zone))
    assert (local.hour, local.minute) == (int(expression.split()[1]), 30)
    # The first pass of an ambiguous time: 01:30 New York is 05:30 UTC (EDT), not 06:30.
    if (zone, expression) == ("America/New_York", "30 1 * * *"):
        assert slots == [utc(2024, 11, 3, 5, 30)]
    if (zone, expression) == ("Europe/London", "30 1 * * *"):
        assert slots == [utc(2024, 10, 27, 0, 30)]


def test_spring_forward_slot_in_the_gap_runs_at_the_end_of_the_gap() -> None:
    # 02:30 does not exist in New York on 2024-03-10; cronsim (like Debian cron) runs it at
    # 03:00 EDT, once.
    new_york = parse_schedule("30 2 * * *", "America/New_York")
    assert _local_day_slots(new_york, _SPRING_FORWARD["America/New_York"]) == [
        utc(2024, 3, 10, 7, 0)
    ]
    # London skips 01:00-02:00: a 01:30 job runs at 02:00 BST; 02:30 exists and is unaffected.
    london_gap = parse_schedule("30 1 * * *", "Europe/London")
    assert _local_day_slots(london_gap, _SPRING_FORWARD["Europe/London"]) == [
        utc(2024, 3, 31, 1, 0)
    ]
    london = parse_schedule("30 2 * * *", "Europe/London")
    assert _local_day_slots(london, _SPRING_FORWARD["Europe/London"]) == [utc(2024, 3, 31, 1, 30)]


def test_two_slots_in_the_gap_become_one_run() -> None:
    schedule = parse_schedule("15,45 2 * * *", "America/New_York")
    slots = _local_day_slots(schedule, _SPRING_FORWARD["America/New_York"])
    assert slots == [utc(2024, 3, 10, 7, 0)]
    day = _SPRING_FORWARD["America/New_York"]
    assert schedule.count_slots_between(day, day + timedelta(days=1)) == 1


@pytest.mark.parametrize("zone", ["Europe/London", "America/New_York"])
def test_hourly_job_follows_real_hours_across_dst(zone: str) -> None:
    schedule = parse_schedule("0 * * * *", zone)
    assert len(_local_day_slots(schedule, _FALL_BACK[zone])) == 25
    assert len(_local_day_slots(schedule, _SPRING_FORWARD[zone])) == 23


def test_previous_inside_the_repeated_hour_finds_the_first_pass() -> None:
    # 01:10 EST on the fall-back day is after 01:30 EDT (05:30 UTC): that is the latest slot,
    # although cronsim's wall-clock walk backwards from "01:10" lands on the day before.
    schedule = parse_schedule("30 1 * * *", "America/New_York")
    t = utc(2024, 11, 3, 6, 10)
    assert schedule.previous_at_or_before(t) == utc(2024, 11, 3, 5, 30)
    # And nothing from inside the repeated hour goes back to the first pass, which is past.
    assert schedule.next_after(t) == utc(2024, 11, 4, 6, 30)
    end = t + timedelta(days=1, hours=1)
    assert schedule.slots_between(t, end) == [utc(2024, 11, 4, 6, 30)]
    assert schedule.count_slots_between(t, end) == 1


def test_cron_in_a_timezone() -> None:
    schedule = parse_schedule("0 3 * * *", "Europe/London")
    assert schedule.next_after(utc(2024, 1, 15, 12)) == utc(2024, 1, 16, 3)  # GMT
    assert schedule.next_after(utc(2024, 7, 15, 12)) == utc(2024, 7, 16, 2)  # BST
    assert schedule.previous_at_or_before(utc(2024, 7, 16, 2)) == utc(2024, 7, 16, 2)
    assert schedule.previous_at_or_before(utc(2024, 7, 16, 1, 59, 59, 999999)) == utc(
        2024, 7, 15, 2
    )


def test_results_are_utc_whatever_the_input_zone() -> None:
    tokyo = timezone(timedelta(hours=9))
    for schedule in (parse_schedule("0 3 * * *", "Europe/London"), parse_schedule("every 1h")):
        t = datetime(2024, 7, 15, 12, tzinfo=tokyo)
        for result in (schedule.next_after(t), schedule.previous_at_or_before(t)):
            assert result.tzinfo is UTC
        assert schedule.next_after(t) == schedule.next_after(t.astimezone(UTC))


def test_counting_a_decade_of_minutes_is_exact() -> None:
    # Whole days are counted without walking their slots; the answer must still be exact.
    schedule = parse_schedule("* * * * *", "Europe/London")
    a, b = utc(2020, 1, 1), utc(2030, 1, 1, 0, 0, 30)
    assert schedule.count_slots_between(a, b) == (utc(2030, 1, 1) - a) // timedelta(minutes=1)
    daily = parse_schedule("30 1 * * *", "America/New_York")  # DST days included
    assert daily.count_slots_between(utc(2024, 1, 1), utc(2025, 1, 1)) == 366


_EXPRESSIONS = [
    "30 2 * * *",
    "30 1 * * *",
    "0 * * * *",
    "*/20 * * * *",
    "15 1,2,3 * * *",
    "15,45 2 * * *",
    "0 0 * * *",
    "*/7 1-3 * * *",
    "0 2 * * 0",
    "0 */2 * * *",
    "59 1 * * 1-5",
    "0 1 L * *",
    "0 0 1 * *",
]
_ZONES = [
    "UTC",
    "Europe/London",
    "America/New_York",
    "Australia/Lord_Howe",  # 30-minute DST shift
    "America/Santiago",  # DST changes at midnight
    "Asia/Kolkata",
]
# Instants around 2024's DST changes of those zones, and anywhere else.
_TRANSITIONS = [
    utc(2024, 3, 10, 7),
    utc(2024, 11, 3, 6),
    utc(2024, 3, 31, 1),
    utc(2024, 10, 27, 1),
    utc(2024, 4, 6, 15),
    utc(2024, 10, 5, 15),
    utc(2024, 4, 7, 3),
    utc(2024, 9, 8, 4),
]
_cron_instants = st.one_of(
    st.builds(
        lambda base, offset: base + offset,
        st.sampled_from(_TRANSITIONS),
        st.timedeltas(min_value=timedelta(hours=-30), max_value=timedelta(hours=30)),
    ),
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
    ),
)
_crons = st.builds(CronSchedule, st.sampled_from(_EXPRESSIONS), st.sampled_from(_ZONES))


@settings(max_examples=300, deadline=None)
@given(_crons, _cron_instants)
def test_cron_next_and_previous_agree(schedule: CronSchedule, t: datetime) -> None:
    assert_next_and_previous_agree(schedule, t)


@settings(max_examples=200, deadline=None)
@given(
    _crons,
    _cron_instants,
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=4)),
    st.floats(min_value=0, max_value=1),
)
def test_cron_slots_count_and_chain_agree(
    schedule: CronSchedule, a: datetime, span: timedelta, split: float
) -> None:
    assert_slots_count_and_chain_agree(schedule, a, span, split)
