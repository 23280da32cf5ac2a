"""What every schedule answers through the interface (cronwatch.schedule.base): its words,
its period hint, its early tolerance."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cronwatch.schedule import (
    parse_schedule,
)

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
