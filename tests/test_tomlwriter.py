"""tomlwriter: keys, strings and comments that tomllib reads back as written."""

from __future__ import annotations

import tomllib

from hypothesis import given
from hypothesis import strategies as st

from cronwatch import tomlwriter


@given(st.text(max_size=80))
def test_keys_and_strings_read_back(value: str) -> None:
    text = f"[jobs.{tomlwriter.key(value)}]\nx = {tomlwriter.string(value)}\n"
    assert tomllib.loads(text) == {"jobs": {value: {"x": value}}}


def test_keys_are_bare_when_they_can_be_and_controls_are_visible() -> None:
    assert tomlwriter.key("backup-2_x") == "backup-2_x"
    assert tomlwriter.key("nightly report") == '"nightly report"'
    assert tomlwriter.key('a"b\\c') == '"a\\"b\\\\c"'
    assert tomlwriter.key("a\tb\x85") == '"a\\u0009b\\u0085"'
    assert tomlwriter.key("é" * 100, max_chars=60) == '"' + "é" * 57 + '..."'


@given(st.text(max_size=300))
def test_a_comment_stays_one_valid_line(text: str) -> None:
    comment = tomlwriter.comment(text, max_chars=160)
    assert len(comment) <= 160
    assert tomllib.loads(f"# {comment}\nx = 1\n") == {"x": 1}


@given(
    st.one_of(
        st.text(max_size=40),
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.lists(st.text(max_size=20), max_size=4),
    )
)
def test_values_read_back(value: str | bool | int | list[str]) -> None:
    assert tomllib.loads(f"x = {tomlwriter.value(value)}\n") == {"x": value}
