"""OnCalendar schedules without systemd: parsing and its errors, telling schedule kinds apart,
slots and DST by hand, the fast path against the emulation of systemd's walk, and properties.

The comparison with systemd itself is in ``test_oncalendar_systemd.py``.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cronwatch.errors import InvalidInput
from cronwatch.schedule import (
    CronSchedule,
    IntervalSchedule,
    OnCalendarSchedule,
    Schedule,
    parse_on_calendar,
    parse_schedule,
    parse_schedule_arguments,
    upcoming,
)
from cronwatch.systemd_time import parse_calendar
from cronwatch.timeutil import to_us
from tests.support.health import D, H, M, utc
from tests.support.schedules import (
    assert_next_and_previous_agree,
    assert_slots_count_and_chain_agree,
)


def cal(expression: str, zone: str = "UTC") -> OnCalendarSchedule:
    return OnCalendarSchedule((expression,), zone)


# --- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("daily", "*-*-* 00:00:00"),
        ("Mon..Fri 09:00", "Mon..Fri *-*-* 09:00:00"),
        ("*:0/15", "*-*-* *:00/15:00"),
        ("Sat,Sun 10:30 Europe/Berlin", "Sat,Sun *-*-* 10:30:00 Europe/Berlin"),
        ("*-*~01..07", "*-*~01..07 00:00:00"),
        ("quarterly", "*-01,04,07,10-01 00:00:00"),
        ("semi-annually", "*-01,07-01 00:00:00"),
        ("weekly", "Mon *-*-* 00:00:00"),
        ("1:2:3.5", "*-*-* 01:02:03.500000"),
        ("24-1-1 UTC", "2024-01-01 00:00:00 UTC"),
        ("Mon-Wed,Fri 00..23/5:00", "Mon..Wed,Fri *-*-* 00..20/5:00:00"),
    ],
)
def test_normalized_form(text: str, normalized: str) -> None:
    assert parse_calendar(text).normalized() == normalized


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "it is empty"),
        ("Mon..Fry 09:00", 'unknown weekday "Fry"'),
        ("Mondays 12:00", 'unknown weekday "Mondays"'),
        ("Fri..Mon 12:00", "goes backwards"),
        ("Mon.. 12:00", "has no end"),
        ("25:00", "hour 25 is out of range 0..23"),
        ("*:60", "minute 60 is out of range 0..59"),
        ("2024-13-01", "month 13 is out of range 1..12"),
        ("1969-01-01", "year 1969 is out of range 1970..2199"),
        ("*-*~29", "out of range 1..28"),
        ("*-*~16,28", "as value 2 of the list"),
        ("*:0/0", "a step of 0"),
        ("*:0/60", "larger than the whole range"),
        ("*-*-31..29", "goes backwards"),
        ("12:00 Europe/Berln", 'unknown timezone "Europe/Berln"'),
        ("12", "expected HOUR:MINUTE[:SECOND]"),
        ("12:00:00.", "digits after the decimal point"),
        ("*:*:0/0.000001", "one run a millisecond"),
        ("*-*-* 1-2:00", 'expected HOUR:MINUTE[:SECOND] at "-2:00"'),
    ],
)
def test_invalid_expressions_say_what_is_wrong(text: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_calendar(text)
    message = str(info.value)
    assert message.startswith(f'invalid OnCalendar expression "{text}"')
    assert fragment in message


def test_non_strings_are_refused() -> None:
    with pytest.raises(InvalidInput, match="must be a string"):
        parse_calendar(5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=r"on_calendar\[1\]: expected a string"):
        parse_on_calendar(["daily", 5])  # type: ignore[list-item]
    with pytest.raises(InvalidInput, match="one or more"):
        OnCalendarSchedule(())


# --- telling the kinds apart -----------------------------------------------------------------

EXISTING = ["0 3 * * *", "*/15 * * * *", "@daily", "@hourly", "30 2 * * 1-5", "every 15m",
            "every day", "every 1h30m", "0 0 1 1 *"]  # fmt: skip


@pytest.mark.parametrize("text", EXISTING)
def test_cron_and_every_strings_read_as_before(text: str) -> None:
    schedule = parse_schedule(text, "Europe/London")
    assert isinstance(schedule, CronSchedule | IntervalSchedule)
    if isinstance(schedule, CronSchedule):
        assert schedule == CronSchedule(text, "Europe/London")
    # and none of them is a calendar expression, so no string could mean both
    with pytest.raises(InvalidInput):
        parse_calendar(text)


def test_timer_lines_are_systemd_schedules() -> None:
    one = parse_schedule("OnCalendar=Mon..Fri 09:00", "Europe/Berlin")
    assert one == OnCalendarSchedule(("Mon..Fri 09:00",), "Europe/Berlin")
    assert one.expression == "OnCalendar=Mon..Fri 09:00"
    assert parse_schedule(one.expression, "Europe/Berlin") == one  # the expression round-trips
    several = parse_schedule("OnCalendar=Mon 09:00\noncalendar = Fri  17:00")
    assert several == OnCalendarSchedule(("Mon 09:00", "Fri 17:00"))
    assert parse_schedule(several.expression) == several
    assert parse_schedule("OnUnitActiveSec=1h 30min") == IntervalSchedule(90 * M)
    assert parse_schedule("OnBootSec=15min\nOnUnitActiveSec=2d") == IntervalSchedule(2 * D)
    assert parse_schedule("OnUnitInactiveSec=90") == IntervalSchedule(timedelta(seconds=90))


def test_cron_errors_without_a_calendar_reading_are_unchanged() -> None:
    with pytest.raises(InvalidInput) as info:
        parse_schedule("61 * * * *")
    assert str(info.value) == (
        'schedule: invalid cron expression "61 * * * *": bad minute field (0-59)'
    )


def test_parse_on_calendar_takes_a_string_or_a_list() -> None:
    assert parse_on_calendar("daily", "Europe/Paris") == OnCalendarSchedule(
        ("daily",), "Europe/Paris"
    )
    assert parse_on_calendar(["daily", "12:00"]).expressions == ("daily", "12:00")
    with pytest.raises(InvalidInput, match=r"^on_calendar\[1\]: invalid OnCalendar"):
        parse_on_calendar(["daily", "25:00"])
    with pytest.raises(InvalidInput, match="unknown timezone"):
        parse_on_calendar("daily", "Mars/Olympus")


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["daily"], cal("daily")),
        (["OnCalendar=daily"], cal("daily")),
        (["daily", "OnCalendar=Sat 12:00"], OnCalendarSchedule(("daily", "Sat 12:00"))),
        (["0 3 * * *"], CronSchedule("0 3 * * *")),
        (["every 15m"], IntervalSchedule(15 * M)),
        (["OnUnitActiveSec=1h"], IntervalSchedule(H)),
    ],
)
def test_cli_arguments(arguments: list[str], expected: Schedule) -> None:
    assert parse_schedule_arguments(arguments) == expected


def test_cli_argument_errors_are_the_likely_kind() -> None:
    with pytest.raises(InvalidInput, match="invalid OnCalendar"):
        parse_schedule_arguments(["Mon..Fry 09:00"])
    with pytest.raises(InvalidInput, match="invalid cron expression"):
        parse_schedule_arguments(["0 3 * *"])
    with pytest.raises(InvalidInput, match=r"EXPR 2: .*several EXPR are systemd calendar"):
        parse_schedule_arguments(["daily", "0 3 * * *"])
    with pytest.raises(InvalidInput, match="give a schedule"):
        parse_schedule_arguments([])


# --- the schedule interface ------------------------------------------------------------------


def test_schedules_are_frozen_hashable_and_compare_by_text_and_zone() -> None:
    a = cal("daily", "Europe/Berlin")
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.timezone = "UTC"  # type: ignore[misc]
    assert len({a, cal("daily", "Europe/Berlin"), cal("daily"), cal("Mon 09:00")}) == 3
    assert cal("  Mon   09:00 ") == cal("Mon 09:00")  # spacing is not part of it


def test_an_expression_zone_wins_over_the_schedule_zone() -> None:
    t = utc(2026, 7, 1, 12)
    assert cal("12:00 Europe/Berlin", "America/New_York").next_after(t) == utc(2026, 7, 2, 10)
    assert cal("12:00 UTC", "America/New_York").next_after(t) == utc(2026, 7, 2, 12)
    assert cal("12:00", "America/New_York").next_after(t) == utc(2026, 7, 1, 16)


def test_naive_and_bad_arguments_are_refused() -> None:
    schedule = cal("daily")
    naive = datetime(2026, 1, 1)
    for call in (schedule.next_after, schedule.previous_at_or_before):
        with pytest.raises(InvalidInput, match="naive"):
            call(naive)
    with pytest.raises(InvalidInput, match="naive"):
        schedule.slots_between(naive, utc(2026, 1, 2))
    with pytest.raises(InvalidInput, match="limit"):
        schedule.slots_between(utc(2026, 1, 1), utc(2026, 1, 2), limit=-1)
    with pytest.raises(InvalidInput, match="unknown timezone"):
        cal("daily", "Europe/Londn")


def test_ends_of_the_supported_range() -> None:
    once = cal("2030-01-01 12:00")
    assert once.next_after(utc(2026, 1, 1)) == utc(2030, 1, 1, 12)
    with pytest.raises(InvalidInput, match="no slot after"):
        once.next_after(utc(2030, 1, 1, 12))
    with pytest.raises(InvalidInput, match="no slot at or before"):
        once.previous_at_or_before(utc(2030, 1, 1, 11))
    assert once.slots_between(utc(2020, 1, 1), utc(2040, 1, 1)) == [utc(2030, 1, 1, 12)]
    assert once.count_slots_between(utc(2020, 1, 1), utc(2040, 1, 1)) == 1
    with pytest.raises(InvalidInput, match="no slot after"):
        cal("daily").next_after(utc(2199, 12, 31))  # systemd stops at 2199, and so do we


def test_describe_and_period_hint() -> None:
    assert cal("Mon..Fri 9:00", "Europe/Berlin").describe() == (
        'on calendar "Mon..Fri *-*-* 09:00:00" (Europe/Berlin)'
    )
    both = OnCalendarSchedule(("daily UTC", "12:00 Asia/Tokyo"))
    assert both.describe() == 'on calendar "*-*-* 00:00:00 UTC" or "*-*-* 12:00:00 Asia/Tokyo"'
    assert cal("*:0/15").period_hint() == 15 * M
    assert cal("Mon..Fri 09:00").period_hint() == D
    assert cal("weekly").period_hint() == 7 * D
    assert cal("2030-01-01").period_hint() == 365 * D  # one slot: no gap to measure


def test_several_expressions_are_the_union_each_slot_once() -> None:
    schedule = OnCalendarSchedule(("daily", "*-*-* 00,12:00", "Sat 06:00"))
    a = utc(2026, 5, 1)  # a Friday
    assert schedule.slots_between(a, a + 2 * D) == [
        a + 12 * H, a + D, a + D + 6 * H, a + D + 12 * H, a + 2 * D,
    ]  # fmt: skip
    assert schedule.count_slots_between(a, a + 2 * D) == 5
    assert schedule.count_slots_between(a, a + 700 * D) == 700 * 2 + 100
    assert schedule.previous_at_or_before(a + D + 7 * H) == a + D + 6 * H
    assert schedule.next_after(a + D + 6 * H) == a + D + 12 * H


def test_counting_a_decade_of_minutes_is_exact() -> None:
    schedule = cal("minutely", "Europe/Berlin")
    a, b = utc(2020, 1, 1), utc(2030, 1, 1, 0, 0, 30)
    # Every real minute but those of the ten repeated hours (systemd runs their wall-clock
    # minutes once); the skipped hours of spring have no real minutes either.
    assert schedule.count_slots_between(a, b) == (utc(2030, 1, 1) - a) // M - 10 * 60
    assert schedule.count_slots_between(b, a) == 0
    assert schedule.slots_between(a, b, limit=2) == [a + M, a + 2 * M]


def test_upcoming_counts_an_interval_from_the_start() -> None:
    start = utc(2026, 5, 1, 0, 7)
    assert upcoming(parse_schedule("every 15m"), start, 2) == [start + 15 * M, start + 30 * M]
    assert upcoming(cal("*:0/15"), start, 2) == [utc(2026, 5, 1, 0, 15), utc(2026, 5, 1, 0, 30)]
    assert upcoming(cal("2020-01-01"), start, 3) == []
    assert upcoming(cal("daily"), start, 0) == []
    with pytest.raises(InvalidInput, match="negative"):
        upcoming(cal("daily"), start, -1)


# --- DST by hand -----------------------------------------------------------------------------


def local_day(schedule: Schedule, zone: str, day: datetime) -> list[datetime]:
    from zoneinfo import ZoneInfo

    slots = schedule.slots_between(day - 2 * D, day + 2 * D, limit=None)
    return [s for s in slots if s.astimezone(ZoneInfo(zone)).date() == day.date()]


def test_spring_forward_a_time_in_the_skipped_hour_is_skipped() -> None:
    berlin = "Europe/Berlin"  # 2026-03-29: 02:00 CET -> 03:00 CEST
    assert local_day(cal("02:30", berlin), berlin, utc(2026, 3, 29)) == []
    assert local_day(cal("02,03:30", berlin), berlin, utc(2026, 3, 29)) == [utc(2026, 3, 29, 1, 30)]
    assert len(local_day(cal("hourly", berlin), berlin, utc(2026, 3, 29))) == 23
    # Lord Howe skips 02:00-02:30: 02:15 is skipped, 02:45 is not.
    howe = "Australia/Lord_Howe"
    assert local_day(cal("02:15", howe), howe, utc(2026, 10, 4)) == []
    assert local_day(cal("02:45", howe), howe, utc(2026, 10, 4)) == [utc(2026, 10, 3, 15, 45)]


def test_fall_back_every_time_runs_once_in_its_first_pass() -> None:
    berlin = "Europe/Berlin"  # 2026-10-25: 03:00 CEST -> 02:00 CET
    assert local_day(cal("02:30", berlin), berlin, utc(2026, 10, 25)) == [utc(2026, 10, 25, 0, 30)]
    hourly = cal("hourly", berlin)
    assert len(local_day(hourly, berlin, utc(2026, 10, 25))) == 24
    assert hourly.count_slots_between(utc(2026, 10, 24, 22), utc(2026, 10, 25, 23)) == 24
    twenty = cal("*:0/20", berlin)
    assert twenty.next_after(utc(2026, 10, 25, 0, 40)) == utc(2026, 10, 25, 2)
    assert twenty.previous_at_or_before(utc(2026, 10, 25, 1, 59)) == utc(2026, 10, 25, 0, 40)
    assert twenty.slots_between(utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 2, 30)) == [
        utc(2026, 10, 25, 0, 40), utc(2026, 10, 25, 2), utc(2026, 10, 25, 2, 20),
    ]  # fmt: skip
    # New York repeats 01:00-02:00 on 2026-11-01; Lord Howe 01:30-02:00 on 2026-04-05.
    assert local_day(cal("01:30", "America/New_York"), "America/New_York",
                     utc(2026, 11, 1)) == [utc(2026, 11, 1, 5, 30)]  # fmt: skip
    assert local_day(cal("01:45", "Australia/Lord_Howe"), "Australia/Lord_Howe",
                     utc(2026, 4, 5)) == [utc(2026, 4, 4, 14, 45)]  # fmt: skip


def test_steps_past_the_end_of_a_field_skip_what_systemd_skips() -> None:
    # "0/5" hours: 20, then 25 = 01:00 on the 1st, and systemd resets only the day: the 1st of
    # the month starts at 05:00. Field matching alone would have 00:00.
    schedule = cal("0/5:00")
    assert schedule.next_after(utc(2026, 3, 31, 20)) == utc(2026, 4, 1, 5)
    assert schedule.next_after(utc(2026, 3, 30, 20)) == utc(2026, 3, 31)  # not a month end
    assert cal("*:0/7").next_after(utc(2026, 3, 30, 23, 56)) == utc(2026, 3, 31, 0, 7)


# --- the fast path against the emulation, and properties -------------------------------------

_EXPRESSIONS = [
    "*:0/15", "hourly", "daily", "02:30", "01:30", "02,03:30", "*:0/20", "Mon..Fri 09:00",
    "Sat,Sun 10:30", "*-*~01 23:00", "*-02~01", "Mon *-*-1..7 09:00", "*:*:0/20",
    "*-*-* 00/3:30", "02:15", "01:45", "weekly", "monthly", "*:*:05,35", "12:00:00.5",
    "0/5:00", "*:0/7",
]  # fmt: skip
_ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Santiago"]
_CHANGES = [utc(2026, 3, 29, 1), utc(2026, 10, 25, 1), utc(2026, 3, 8, 7), utc(2026, 11, 1, 6),
            utc(2026, 4, 4, 15), utc(2026, 10, 3, 15, 30), utc(2026, 4, 5, 3),
            utc(2026, 9, 6, 4)]  # fmt: skip
calendars = st.builds(cal, st.sampled_from(_EXPRESSIONS), st.sampled_from(_ZONES))
instants = st.one_of(
    st.builds(
        lambda change, offset: change + offset,
        st.sampled_from(_CHANGES),
        st.timedeltas(min_value=-2 * D, max_value=2 * D),
    ),
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2060, 1, 1), timezones=st.just(UTC)
    ),
)


@settings(max_examples=400, deadline=None)
@given(calendars, instants)
def test_fast_answers_are_systemds_answers(schedule: OnCalendarSchedule, t: datetime) -> None:
    (walk,) = schedule._walks
    local = (t + timedelta(microseconds=1)).astimezone(walk.zone)
    if local.fold:  # from inside a repeated hour the two differ on purpose (see walk.py)
        return
    assert schedule.next_after(t) == datetime.fromtimestamp(0, UTC) + timedelta(
        microseconds=walk.systemd_next(to_us(t)) or 0
    )


@settings(max_examples=400, deadline=None)
@given(calendars, instants)
def test_next_and_previous_agree(schedule: OnCalendarSchedule, t: datetime) -> None:
    assert_next_and_previous_agree(schedule, t)


@settings(max_examples=200, deadline=None)
@given(calendars, instants, st.timedeltas(min_value=timedelta(0), max_value=3 * D),
       st.floats(min_value=0, max_value=1))  # fmt: skip
def test_slots_counts_and_chains_agree(
    schedule: OnCalendarSchedule, a: datetime, span: timedelta, split: float
) -> None:
    assert_slots_count_and_chain_agree(schedule, a, span, split)
