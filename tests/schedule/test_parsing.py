"""Reading a schedule from text (cronwatch.schedule.parsing): intervals, cron, aliases, timer
lines, and the exact error for every mistake; construction refuses what no schedule is."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

from cronwatch.errors import InvalidInput
from cronwatch.schedule import (
    CronSchedule,
    IntervalSchedule,
    Schedule,
    load_zone,
    parse_schedule,
)
from tests.support.health import utc

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
