"""Interval schedules (cronwatch.schedule.interval): slots on the anchor's grid, counts that
add up, limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from cronwatch.schedule import (
    CronSchedule,
    IntervalSchedule,
    parse_schedule,
)
from tests.support.health import utc

# --- interval slots --------------------------------------------------------------------------


def test_interval_anchored_at_last_run_is_due_one_period_later() -> None:
    last_run = utc(2024, 5, 1, 3, 7, 12)
    schedule = parse_schedule("every 15m").anchored(last_run)
    assert schedule.next_after(last_run) == last_run + timedelta(minutes=15)
    assert schedule.previous_at_or_before(last_run) == last_run


def test_cron_anchored_is_unchanged() -> None:
    cron = CronSchedule("0 3 * * *")
    assert cron.anchored(utc(2024, 5, 1, 3, 7)) is cron


def test_interval_default_anchor_is_the_epoch_grid() -> None:
    schedule = parse_schedule("every 15m")
    assert schedule.next_after(utc(2024, 5, 1, 3, 7)) == utc(2024, 5, 1, 3, 15)
    assert schedule.previous_at_or_before(utc(2024, 5, 1, 3, 15)) == utc(2024, 5, 1, 3, 15)
    assert schedule.slots_between(utc(2024, 5, 1, 3), utc(2024, 5, 1, 4)) == [
        utc(2024, 5, 1, 3, 15),
        utc(2024, 5, 1, 3, 30),
        utc(2024, 5, 1, 3, 45),
        utc(2024, 5, 1, 4),
    ]


_instants = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2060, 1, 1), timezones=st.just(UTC)
)
_periods = st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=400))


@given(_periods, _instants, _instants)
def test_interval_slot_properties(period: timedelta, anchor: datetime, t: datetime) -> None:
    schedule = IntervalSchedule(period, anchor)
    following = schedule.next_after(t)
    previous = schedule.previous_at_or_before(t)
    assert previous <= t < following
    assert following - previous == period
    assert schedule.previous_at_or_before(following) == following
    assert schedule.next_after(previous) == following
    assert (following - anchor) % period == timedelta(0)  # in phase with the anchor


@given(_periods.filter(lambda p: p >= timedelta(minutes=1)), _instants, _instants, _instants)
def test_interval_counts_match_lists_and_add_up(
    period: timedelta, anchor: datetime, a: datetime, b: datetime
) -> None:
    schedule = IntervalSchedule(period, anchor)
    a, b = min(a, b), max(a, b)
    b = min(b, a + 2000 * period)  # keep the list short
    mid = a + (b - a) / 2
    slots = schedule.slots_between(a, b, limit=None)
    assert len(slots) == schedule.count_slots_between(a, b)
    assert all(a < s <= b for s in slots)
    assert slots == sorted(set(slots))
    assert schedule.count_slots_between(a, mid) + schedule.count_slots_between(mid, b) == len(slots)
    assert schedule.count_slots_between(b, a) == 0
    assert schedule.slots_between(b, a) == []


def test_slots_between_limit_keeps_the_earliest() -> None:
    for schedule in (parse_schedule("every 1m"), parse_schedule("* * * * *", "Europe/Berlin")):
        a, b = utc(2024, 1, 1), utc(2025, 1, 1)
        slots = schedule.slots_between(a, b, limit=3)
        assert slots == [utc(2024, 1, 1, 0, 1), utc(2024, 1, 1, 0, 2), utc(2024, 1, 1, 0, 3)]
        assert schedule.slots_between(a, b, limit=0) == []
        assert schedule.count_slots_between(a, b) == 366 * 24 * 60  # the count is not limited


def test_reversed_or_empty_range_has_no_slots() -> None:
    for schedule in (parse_schedule("every 1m"), parse_schedule("* * * * *", "Europe/Berlin")):
        a, b = utc(2024, 1, 1, 12), utc(2024, 1, 1, 13)
        assert schedule.slots_between(b, a) == []
        assert schedule.count_slots_between(b, a) == 0
        assert schedule.slots_between(a, a) == []
        assert schedule.count_slots_between(a, a) == 0
