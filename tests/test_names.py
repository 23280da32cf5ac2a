"""validate_name: the one rule for job names, host names, tags and channel names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cronwatch.errors import InvalidInput
from cronwatch.names import MAX_NAME_LENGTH, validate_name


@pytest.mark.parametrize(
    "name",
    ["backup", "nightly report", "db.vacuum", "sauvegarde-nocturne", "日次バックアップ", "a" * 200],
)
def test_valid_names_come_back_unchanged(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "must not be empty"),
        ("a" * (MAX_NAME_LENGTH + 1), "too long (201 characters, at most 200)"),
        ("back\nup", "control characters"),
        ("back\x00up", "control characters"),
        ("tab\there", "control characters"),
        ("del\x7f", "control characters"),
        ("c1\x85", "control characters"),
        ("db/backup", "must not contain '/'"),
        (" backup", "whitespace"),
        ("backup ", "whitespace"),
        ("backup\u3000", "whitespace"),  # ideographic space: invisible, still whitespace
    ],
)
def test_invalid_names_are_refused_naming_the_field(value: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as info:
        validate_name(value, "jobs.x")
    assert fragment in str(info.value)
    assert str(info.value).startswith("jobs.x ")


@pytest.mark.parametrize("value", [None, 42, b"backup", ["backup"]])
def test_non_strings_are_refused(value: object) -> None:
    with pytest.raises(InvalidInput, match="must be a string"):
        validate_name(value)  # type: ignore[arg-type]


def test_error_shows_the_value_quoted_and_short() -> None:
    with pytest.raises(InvalidInput) as info:
        validate_name("x" * 5000 + "/")
    message = str(info.value)
    assert len(message) < 200  # a huge value must not flood logs
    with pytest.raises(InvalidInput) as info:
        validate_name("a\x1bb")
    assert "'a\\x1bb'" in str(info.value)  # the escape is visible, not sent to the terminal


def test_max_length_can_be_raised_for_host_names() -> None:
    host = "h" * 255
    assert validate_name(host, "hostname", max_length=255) == host
    with pytest.raises(InvalidInput, match="at most 255"):
        validate_name(host + "h", "hostname", max_length=255)


@given(st.text(max_size=250))
def test_accepts_exactly_the_documented_rule(value: str) -> None:
    expected_ok = (
        0 < len(value) <= MAX_NAME_LENGTH
        and not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value)
        and "/" not in value
        and value == value.strip()
    )
    try:
        result = validate_name(value)
    except InvalidInput:
        assert not expected_ok
    else:
        assert expected_ok
        assert result == value


def test_lone_surrogates_are_refused() -> None:
    with pytest.raises(InvalidInput, match="not valid Unicode"):
        validate_name("job\ud800")
