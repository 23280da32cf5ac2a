"""parse_instant: the one instant parser (command line, REST API, config file)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from cronwatch.errors import InvalidInput
from cronwatch.timeutil import parse_instant, utcnow

T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-28T03:00:00Z",
        "2026-11-28T03:00:00+00:00",
        "2026-11-28T04:00:00+01:00",
        "2026-11-27T22:00:00-05:00",
        datetime(2026, 11, 28, 4, 0, tzinfo=timezone(timedelta(hours=1))),
    ],
)
def test_iso_8601_with_an_offset_and_aware_datetimes_give_utc(value: object) -> None:
    parsed = parse_instant(value, "at")
    assert parsed == T0 and parsed.tzinfo is UTC


def test_a_person_on_the_command_line_may_type_now_or_unix_seconds() -> None:
    before = utcnow()
    assert before <= parse_instant(" now ", "--at", typed=True) <= utcnow()
    assert parse_instant("@1795834800", "--at", typed=True) == T0
    assert parse_instant("@1795834800.5", "--at", typed=True) == T0 + timedelta(seconds=0.5)
    for shorthand in ("now", "@1795834800", " 2026-11-28T03:00:00Z"):
        with pytest.raises(InvalidInput, match="at: not a date-time"):
            parse_instant(shorthand, "at")  # not in a JSON body or a config file


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("soon", "at: not a date-time: 'soon' is not a time in ISO 8601 with a UTC offset"),
        ("2026-11-28T03:00:00", "at: 2026-11-28T03:00:00 has no UTC offset; add one, e.g."),
        (datetime(2026, 11, 28, 3), "at: 2026-11-28T03:00:00 has no UTC offset"),
        (date(2026, 11, 28), "at: expected a date-time such as 2026-11-28T03:00:00Z, not a date"),
        (5, "at: expected a date-time such as 2026-11-28T03:00:00Z, not a number"),
        (None, "at: expected a date-time"),
        ("0001-01-01T00:00:00+01:00", "at: 0001-01-01T00:00:00+01:00 is out of range; give an"),
        ("9999-12-31T23:00:00-05:00", "at: 9999-12-31T23:00:00-05:00 is out of range"),
        ("1969-12-31T23:59:59Z", "at: 1969-12-31T23:59:59+00:00 is out of range"),
        ("3000-01-01T00:00:00Z", "at: 3000-01-01T00:00:00+00:00 is out of range"),
        ("@99999999999999", "at: not a date-time"),
    ],
)
def test_refusals_name_the_field(value: object, message: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_instant(value, "at", typed=True)
    assert str(info.value).startswith(message)


def test_the_range_is_1970_to_2999_whatever_the_offset() -> None:
    assert parse_instant("1970-01-01T00:00:00Z", "at") == datetime(1970, 1, 1, tzinfo=UTC)
    assert parse_instant("3000-01-01T00:59:59+01:00", "at").year == 2999
    with pytest.raises(InvalidInput, match="out of range"):
        parse_instant("1970-01-01T00:30:00+01:00", "at")  # 1969 in UTC
