"""validate_name: the one rule for job names, host names, tags and channel names; and
validate_run_id, the one rule for run ids."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cronwatch.errors import InvalidInput
from cronwatch.names import (
    FORMAT_CHARACTERS,
    MAX_NAME_LENGTH,
    MAX_RUN_ID_LENGTH,
    validate_name,
    validate_run_id,
)


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
    normal = unicodedata.normalize("NFC", value)
    expected_ok = (
        0 < len(value) <= MAX_NAME_LENGTH
        and len(normal) <= MAX_NAME_LENGTH
        and not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value)
        and not any(unicodedata.category(c) == "Cf" for c in value)
        and "/" not in value
        and normal == normal.strip()
    )
    try:
        result = validate_name(value)
    except InvalidInput:
        assert not expected_ok
    else:
        assert expected_ok
        assert result == normal


def test_lone_surrogates_are_refused() -> None:
    with pytest.raises(InvalidInput, match="not valid Unicode"):
        validate_name("job\ud800")


# -- look-alike names (issue 11, item 11) -------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "backup\u200b",  # zero width space: looks exactly like "backup"
        "\u200bbackup",
        "back\u200dup",  # zero width joiner
        "back\u00adup",  # soft hyphen
        "backup\ufeff",  # byte order mark
        "\u202ekcabkcab",  # right-to-left override: shows as "backupbackup"
        "a\u2066b\u2069",  # bidi isolate
        "a\u200eb",  # left-to-right mark
        "a\u061cb",  # Arabic letter mark
        "tag\U000e0041",  # tag character
    ],
)
def test_invisible_format_and_bidi_characters_are_refused_naming_the_field(value: str) -> None:
    with pytest.raises(InvalidInput) as info:
        validate_name(value, "hostname", max_length=255)
    message = str(info.value)
    assert message.startswith("hostname must not contain invisible format or bidi control")
    invisible = next(c for c in value if unicodedata.category(c) == "Cf")
    assert f"U+{ord(invisible):04X}" in message  # the character is named, never shown raw
    assert invisible not in message


def test_names_come_back_in_nfc() -> None:
    decomposed = "cafe\u0301"  # e + combining acute accent
    assert validate_name(decomposed) == "caf\u00e9"
    assert validate_name("caf\u00e9") == "caf\u00e9"
    assert validate_name("\u212b") == "\u00c5"  # angstrom sign -> A with ring


def test_the_length_limit_holds_before_and_after_normalisation() -> None:
    # U+0958 is a composition exclusion: its NFC form is two characters.
    with pytest.raises(InvalidInput, match="too long"):
        validate_name("\u0958" * 150)
    assert validate_name("e\u0301" * 100) == "\u00e9" * 100
    with pytest.raises(InvalidInput, match="too long"):
        validate_name("e\u0301" * 101)  # 202 characters as given


def test_the_format_character_table_covers_unicode_category_cf() -> None:
    table = {c for low, high in FORMAT_CHARACTERS for c in range(low, high + 1)}
    categories = {unicodedata.category(chr(c)) for c in table}
    cf = {c for c in range(0x110000) if unicodedata.category(chr(c)) == "Cf"}
    assert cf <= table, [hex(c) for c in sorted(cf - table)]
    # The rest are code points newer Unicode versions made Cf, unassigned in this Python's.
    assert categories <= {"Cf", "Cn"}


# -- run ids ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["a", "run-1", "0123abcd", "host:1234", "2026-11-28T03.00~x_y", "r" * 64]
)
def test_valid_run_ids(value: str) -> None:
    assert validate_run_id(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "r" * (MAX_RUN_ID_LENGTH + 1),
        "job/1",
        "a b",
        "run#1",
        "a?b",
        "é",
        "a\x00",
        "%41",
        None,
        5,
    ],
)
def test_invalid_run_ids_are_refused_naming_the_field(value: object) -> None:
    with pytest.raises(InvalidInput) as info:
        validate_run_id(value, "rid")
    assert str(info.value).startswith("rid ")
    assert "1-64 characters of A-Z a-z 0-9 . _ : ~ -" in str(info.value)
