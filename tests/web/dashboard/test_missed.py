"""Missed slots on a job page's chart: a cron slot no run covers, an interval run that did not
come, never more markers than the limit, and nothing for a job without a schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from cronwatch.schedule import parse_schedule
from cronwatch.web.dashboard.missed import MAX_MISSED, missed_slots

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def hours_ago(*values: float) -> list[datetime]:
    return [NOW - timedelta(hours=h) for h in values]


def test_a_daily_cron_slot_without_a_run_is_missed() -> None:
    daily = parse_schedule("0 3 * * *", "Europe/London")
    runs = [datetime(2026, 11, d, 3, 0, 5, tzinfo=UTC) for d in range(1, 28) if d not in (10, 20)]
    missed = missed_slots(daily, runs, since=runs[0], now=NOW, grace=HOUR)
    # 10th and 20th skipped; the 28th's 03:00 slot is past its grace (12:00 > 04:00) and
    # has no run either.
    assert [t.day for t in missed.slots] == [10, 20, 28]
    assert not missed.truncated


def test_a_slot_still_inside_its_grace_is_not_missed() -> None:
    daily = parse_schedule("0 3 * * *")
    runs = [datetime(2026, 11, 27, 3, 0, tzinfo=UTC)]
    early = datetime(2026, 11, 28, 3, 30, tzinfo=UTC)
    assert missed_slots(daily, runs, since=runs[0], now=early, grace=HOUR).slots == ()


def test_an_early_start_within_the_tolerance_covers_the_slot() -> None:
    hourly = parse_schedule("0 * * * *")
    # The tolerance of an hourly schedule is 5 minutes: 4 minutes early covers, 6 do not.
    early, too_early = (
        datetime(2026, 11, 28, 8, 56, tzinfo=UTC),
        datetime(2026, 11, 28, 9, 54, tzinfo=UTC),
    )
    runs = [*hours_ago(5, 4), early, too_early, *hours_ago(1, 0)]
    missed = missed_slots(hourly, runs, since=runs[0], now=NOW, grace=timedelta(minutes=10))
    assert missed.slots == (datetime(2026, 11, 28, 10, 0, tzinfo=UTC),)


def test_one_run_per_slot_cannot_cover_two_slots() -> None:
    hourly = parse_schedule("0 * * * *")
    runs = hours_ago(3, 1)  # 09:00 and 11:00: 10:00 has no run of its own
    missed = missed_slots(hourly, runs, since=runs[0], now=NOW, grace=timedelta(minutes=10))
    assert missed.slots == (datetime(2026, 11, 28, 10, 0, tzinfo=UTC),)


def test_interval_slots_follow_each_run_until_the_next_one() -> None:
    every_hour = parse_schedule("every 1h")
    runs = hours_ago(30, 29, 28, 24, 3)
    missed = missed_slots(every_hour, runs, since=runs[0], now=NOW, grace=timedelta(minutes=10))
    expected = hours_ago(27, 26, 25) + hours_ago(*range(23, 3, -1)) + hours_ago(2, 1)
    assert missed.slots == tuple(expected)


def test_a_late_run_inside_the_grace_covers_its_interval_slot() -> None:
    every_hour = parse_schedule("every 1h")
    runs = [NOW - timedelta(minutes=150), NOW - timedelta(minutes=85)]  # 5 minutes late
    missed = missed_slots(every_hour, runs, since=runs[0], now=NOW, grace=timedelta(minutes=10))
    assert missed.slots == (NOW - timedelta(minutes=25),)


def test_a_job_that_never_ran_misses_the_slots_since_it_was_declared() -> None:
    every_hour = parse_schedule("every 1h")
    created = NOW - timedelta(minutes=200)
    missed = missed_slots(every_hour, [], since=created, now=NOW, grace=timedelta(minutes=10))
    assert missed.slots == (created + HOUR, created + 2 * HOUR, created + 3 * HOUR)


def test_no_schedule_no_missed_slots() -> None:
    assert missed_slots(None, hours_ago(50), since=NOW - 50 * HOUR, now=NOW, grace=HOUR).slots == ()


def test_markers_are_bounded_and_the_latest_are_kept() -> None:
    every_second = parse_schedule("every 1s")
    last = NOW - timedelta(days=365)  # a year of silence: 31 million slots
    missed = missed_slots(every_second, [last], since=last, now=NOW, grace=timedelta(minutes=1))
    assert len(missed.slots) == MAX_MISSED and missed.truncated
    assert missed.slots[-1] == NOW - timedelta(minutes=1)
    every_minute = parse_schedule("* * * * *", "Europe/London")
    missed = missed_slots(every_minute, [], since=last, now=NOW, grace=timedelta(minutes=1))
    assert len(missed.slots) == MAX_MISSED and missed.truncated
    assert missed.slots[-1] == NOW - timedelta(minutes=1)


@given(
    gaps=st.lists(st.integers(min_value=1, max_value=400), min_size=0, max_size=40),
    tail=st.integers(min_value=0, max_value=400),
    grace=st.integers(min_value=0, max_value=90),
)
def test_interval_misses_are_exactly_the_slots_whose_grace_ended_before_a_run(
    gaps: list[int], tail: int, grace: int
) -> None:
    """Property: after each run, the slots ``run + k * period`` are missed while their grace
    ends before the next run starts (for the last run: before now), and nothing else is."""
    period, allowance = timedelta(minutes=60), timedelta(minutes=grace)
    starts = [NOW - timedelta(minutes=sum(gaps) + tail)]
    for gap in gaps:
        starts.append(starts[-1] + timedelta(minutes=gap))
    missed = missed_slots(
        parse_schedule("every 1h"), starts, since=starts[0], now=NOW, grace=allowance
    )
    expected = []
    for i, start in enumerate(starts):
        k = 1
        while True:
            slot = start + k * period
            if i + 1 < len(starts):
                due = slot + allowance < starts[i + 1]
            else:
                due = slot + allowance <= NOW
            if not due:
                break
            expected.append(slot)
            k += 1
    assert list(missed.slots) == expected[-MAX_MISSED:]
    assert missed.truncated == (len(expected) > MAX_MISSED)
