"""parse_duration and format_duration: durations as people write and read them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cronwatch.durations import format_duration, parse_duration
from cronwatch.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1w", timedelta(weeks=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        ("2 hours 5 minutes", timedelta(hours=2, minutes=5)),
        ("90", timedelta(seconds=90)),
        (" 90 ", timedelta(seconds=90)),
        ("1.5h", timedelta(hours=1, minutes=30)),
        ("0.1s", timedelta(milliseconds=100)),
        ("850ms", timedelta(milliseconds=850)),
        ("15M", timedelta(minutes=15)),  # M is minutes, never months
        ("0s", timedelta(0)),
    ],
)
def test_parses_strings(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(90, timedelta(seconds=90)), (1.5, timedelta(seconds=1.5)), (0, timedelta(0))],
)
def test_parses_numbers_as_seconds(value: float, expected: timedelta) -> None:
    assert parse_duration(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "-5m",
        "-1",
        "abc",
        "5x",
        "1h30",  # a unitless number after a unit is ambiguous
        "1h1h",  # a repeated unit is a typo
        "1e3",
        "١٥m",  # non-ASCII digits
        "1..5s",
        "1h-30m",
        "15 m x",
        "99999999999999w",
        "9" * 200,
        -1,
        -0.5,
        float("nan"),
        float("inf"),
        10**30,
        True,  # bool is an int, but `grace = true` is a mistake
        None,
        ["15m"],
    ],
)
def test_refuses_bad_values_naming_field_and_value(value: object) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_duration(value, field="jobs.backup.grace")  # type: ignore[arg-type]
    message = str(info.value)
    assert message.startswith("jobs.backup.grace: ")
    if isinstance(value, str) and value.strip() and len(value) < 50:
        assert repr(value) in message


def test_overflow_is_invalid_input_not_overflow_error() -> None:
    with pytest.raises(InvalidInput, match="too large"):
        parse_duration(float(10**20))


@pytest.mark.parametrize(
    ("td", "expected"),
    [
        (timedelta(hours=1, minutes=30), "1h 30m"),
        (timedelta(seconds=45), "45s"),
        (timedelta(days=2, hours=3, minutes=5), "2d 3h"),
        (timedelta(milliseconds=850), "850ms"),
        (timedelta(microseconds=3), "3µs"),
        (timedelta(0), "0s"),
        (timedelta(seconds=12.56), "12.5s"),  # truncated, never overstated
        (timedelta(hours=1, seconds=5), "1h"),
        (timedelta(days=10), "10d"),
        (timedelta(minutes=-90), "-1h 30m"),
        (timedelta.min, "-999999999d"),
    ],
)
def test_format_duration(td: timedelta, expected: str) -> None:
    assert format_duration(td) == expected


_durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=10_000))


@given(_durations)
def test_format_never_overstates_and_parses_back_close(td: timedelta) -> None:
    shown = parse_duration(format_duration(td))
    assert shown <= td
    # Two units are kept, so the loss is less than one unit of the second one shown: under
    # 1ms, 0.1s, 1s (for durations under a minute), or 1/60 of the duration above a minute.
    if td >= timedelta(minutes=1):
        assert td - shown < td / 24 + timedelta(seconds=1)
    elif td >= timedelta(seconds=1):
        assert td - shown < timedelta(milliseconds=100)
    else:
        assert td - shown < timedelta(milliseconds=1)


@given(st.integers(min_value=0, max_value=10**12))
def test_integer_seconds_and_strings_agree(seconds: int) -> None:
    assert parse_duration(seconds) == parse_duration(str(seconds)) == timedelta(seconds=seconds)


def test_a_huge_finite_number_of_seconds_is_refused_cleanly() -> None:
    with pytest.raises(InvalidInput, match="grace: duration too large"):
        parse_duration(2.5e307, field="grace")
