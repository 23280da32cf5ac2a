"""Schedules: interval and cron slots, DST, counting, describing, parsing errors."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cronwatch.errors import InvalidInput
from cronwatch.schedule import (
    CronSchedule,
    IntervalSchedule,
    Schedule,
    load_zone,
    parse_schedule,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[arg-type, misc]


# --- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "period"),
    [
        ("every 30s", timedelta(seconds=30)),
        ("every 15m", timedelta(minutes=15)),
        ("every 2h", timedelta(hours=2)),
        ("every day", timedelta(days=1)),
        ("Every Hour", timedelta(hours=1)),
        ("every 1h30m", timedelta(minutes=90)),
        ("every 2 days", timedelta(days=2)),
    ],
)
def test_parses_intervals(text: str, period: timedelta) -> None:
    schedule = parse_schedule(text)
    assert schedule == IntervalSchedule(period)
    assert parse_schedule(schedule.expression) == schedule  # expression round-trips


@pytest.mark.parametrize(
    ("alias", "expanded"),
    [
        ("@hourly", "0 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
    ],
)
def test_cron_aliases_have_the_slots_of_their_expansion(alias: str, expanded: str) -> None:
    start = utc(2024, 1, 1)
    aliased = parse_schedule(alias, "Europe/London")
    plain = parse_schedule(expanded, "Europe/London")
    assert isinstance(aliased, CronSchedule)
    assert aliased.expression == alias
    assert aliased.slots_between(start, start + timedelta(days=800), limit=50) == (
        plain.slots_between(start, start + timedelta(days=800), limit=50)
    )


def test_cron_keeps_expression_and_timezone() -> None:
    schedule = parse_schedule("  0  3 * * *  ", "Europe/London")
    assert schedule == CronSchedule("0 3 * * *", "Europe/London")
    assert schedule.expression == "0 3 * * *"
    assert parse_schedule(schedule.expression, "Europe/London") == schedule
    assert parse_schedule("@Daily") == CronSchedule("@daily")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("61 * * * *", 'invalid cron expression "61 * * * *": bad minute field (0-59)'),
        ("0 24 * * *", "bad hour field"),
        ("0 0 30 2 *", "bad day-of-month field"),
        ("0 0 * 13 *", "bad month field"),
        ("0 0 * * 8", "bad day-of-week field"),
        ("*/0 * * * *", "bad minute field"),
        ("* * * *", "expected 5 fields"),
        ("0 * * * * *", "expected 5 fields"),  # cronsim's seconds field is not cron
        ("@reboot", "@reboot has no time to watch"),
        ("@fortnightly", "unknown alias"),
        ("", "empty schedule"),
        ("every", "empty duration"),
        ("every 0s", "longer than zero"),
        ("every -5m", "must not be negative"),
        ("every fortnight", "invalid duration"),
        # systemd: a bare calendar expression gets a hint; timer lines are read as a unit file
        ("daily", 'write "OnCalendar=daily"'),
        ("Mon..Fri 09:00", 'write "OnCalendar=Mon..Fri 09:00"'),
        ("OnCalendar=", "is empty"),
        ("OnCalendar=Mon..Fry", 'unknown weekday "Fry"'),
        ("OnBootSec=15min", "fire once"),
        ("OnUnitActiveSec=0", "longer than zero"),
        ("OnUnitActiveSec=5x", 'unknown unit "x"'),
        ("OnCalendar=daily\nOnUnitActiveSec=1h", "fires on either"),
        ("Persistent=true", "expected a timer setting"),
        ("OnCalendar=daily\n0 3 * * *", "line 2"),
    ],
)
def test_invalid_schedules_raise_invalid_input(text: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_schedule(text, field="jobs.backup.schedule")
    # The field comes first, and the line too when the text is several timer lines.
    assert str(info.value).startswith(("jobs.backup.schedule: ", "jobs.backup.schedule, line "))
    assert fragment in str(info.value)


@pytest.mark.parametrize("zone", ["Europe/Londn", "", "../etc/passwd", "/etc/localtime", "utc"])
def test_unknown_timezone_is_refused(zone: str) -> None:
    with pytest.raises(InvalidInput, match="unknown timezone"):
        parse_schedule("0 3 * * *", zone)
    with pytest.raises(InvalidInput, match="unknown timezone"):
        CronSchedule("0 3 * * *", zone)
    # Validated for interval schedules too: the typo is there whatever the schedule.
    with pytest.raises(InvalidInput, match="unknown timezone"):
        parse_schedule("every 15m", zone)


def test_load_zone_maps_utc_to_the_fixed_utc() -> None:
    assert load_zone("UTC") is UTC
    assert str(load_zone("Europe/London")) == "Europe/London"


def test_non_string_schedule_is_refused() -> None:
    with pytest.raises(InvalidInput, match="expected a string"):
        parse_schedule(15)  # type: ignore[arg-type]


def test_schedules_are_frozen_and_hashable() -> None:
    cron = CronSchedule("0 3 * * *", "Europe/London")
    interval = IntervalSchedule(timedelta(minutes=15))
    with pytest.raises(dataclasses.FrozenInstanceError):
        cron.timezone = "UTC"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        interval.period = timedelta(1)  # type: ignore[misc]
    assert len({cron, CronSchedule("0 3 * * *", "Europe/London"), interval}) == 2
    assert cron != CronSchedule("0 3 * * *", "UTC")


def test_interval_anchor_is_normalised_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    local = IntervalSchedule(timedelta(hours=1), datetime(2024, 1, 1, 2, tzinfo=plus_two))
    assert local == IntervalSchedule(timedelta(hours=1), utc(2024, 1, 1))
    assert local.anchor.tzinfo is UTC


def test_interval_refuses_non_positive_period_and_naive_anchor() -> None:
    with pytest.raises(InvalidInput, match="positive"):
        IntervalSchedule(timedelta(0))
    with pytest.raises(InvalidInput, match="positive"):
        IntervalSchedule(timedelta(seconds=-1))
    with pytest.raises(InvalidInput, match="naive"):
        IntervalSchedule(timedelta(hours=1), datetime(2024, 1, 1))


@pytest.mark.parametrize(
    "schedule", [IntervalSchedule(timedelta(hours=1)), CronSchedule("0 * * * *", "Europe/Paris")]
)
def test_naive_datetimes_are_refused(schedule: Schedule) -> None:
    naive = datetime(2024, 1, 1, 12)
    with pytest.raises(InvalidInput, match="naive"):
        schedule.next_after(naive)
    with pytest.raises(InvalidInput, match="naive"):
        schedule.previous_at_or_before(naive)
    with pytest.raises(InvalidInput, match="naive"):
        schedule.count_slots_between(naive, utc(2024, 1, 2))
    with pytest.raises(InvalidInput, match="naive"):
        schedule.slots_between(utc(2024, 1, 1), naive)
    with pytest.raises(InvalidInput, match="limit"):
        schedule.slots_between(utc(2024, 1, 1), utc(2024, 1, 2), limit=-1)


# --- describing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "zone", "words"),
    [
        ("every 15m", "UTC", "every 15 minutes"),
        ("every 1h", "UTC", "every hour"),
        ("every day", "UTC", "every day"),
        ("every 2h", "UTC", "every 2 hours"),
        ("every 1w", "UTC", "every week"),
        ("every 1h30m", "UTC", "every 90 minutes"),
        ("every 1500ms", "UTC", "every 1.5s"),
        ("0 3 * * *", "Europe/London", "at 03:00 every day (Europe/London)"),
        ("@daily", "UTC", "at 00:00 every day (UTC)"),
        ("0 0 * * 0", "America/New_York", "at 00:00 on Sunday (America/New_York)"),
    ],
)
def test_describe(text: str, zone: str, words: str) -> None:
    assert parse_schedule(text, zone).describe() == words


def test_describe_falls_back_to_the_expression_for_complex_crons() -> None:
    text = "1,7,13,19,25,31,37,43 0-2,4-6,8-10,12-14 1-5,10-15,20-25 1-3,5-7,9-11 1-5"
    described = parse_schedule(text).describe()
    assert text in described
    assert described.endswith("(UTC)")


# --- period hints ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("every 15m", timedelta(minutes=15)),
        ("*/15 * * * *", timedelta(minutes=15)),
        ("0 3 * * *", timedelta(days=1)),
        ("0 9 * * 1-5", timedelta(days=1)),  # weekends are the odd gaps
        ("0 0 * * 0", timedelta(weeks=1)),
        ("@hourly", timedelta(hours=1)),
        ("0 0 1 1 *", timedelta(days=365)),
    ],
)
def test_period_hint(text: str, hint: timedelta) -> None:
    assert parse_schedule(text, "Europe/London").period_hint() == hint


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
    following = schedule.next_after(t)
    previous = schedule.previous_at_or_before(t)
    assert previous <= t < following
    assert schedule.previous_at_or_before(following) == following
    assert schedule.previous_at_or_before(previous) == previous
    # No slot hides between them.
    assert schedule.next_after(previous) == following
    assert schedule.slots_between(previous, t) == []


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
    b = a + span
    slots = schedule.slots_between(a, b, limit=None)
    assert len(slots) == schedule.count_slots_between(a, b)
    # The list is exactly the chain of next_after() calls: ordered, distinct, within (a, b].
    chain = []
    cursor = a
    while (cursor := schedule.next_after(cursor)) <= b:
        chain.append(cursor)
    assert slots == chain
    mid = a + span * split
    assert schedule.count_slots_between(a, mid) + schedule.count_slots_between(mid, b) == len(slots)


@pytest.mark.parametrize(
    ("expression", "tolerance"),
    [
        ("every 10m", timedelta(minutes=1)),
        ("every 30s", timedelta(seconds=3)),
        ("*/20 * * * *", timedelta(minutes=2)),
        ("0 3 * * *", timedelta(minutes=5)),  # a tenth of a day, at most 5 minutes
        ("every 1w", timedelta(minutes=5)),
    ],
)
def test_the_early_tolerance_is_a_tenth_of_the_period_at_most_five_minutes(
    expression: str, tolerance: timedelta
) -> None:
    assert parse_schedule(expression).early_tolerance() == tolerance
