"""Reading one value of a config table (TOML) or a JSON body into what a spec holds.

Each reader takes the value and ``where``, its key path (``jobs.backup.grace``), and returns
the value as the spec holds it, or raises :class:`~cronwatch.errors.InvalidInput` whose
message starts with ``where`` and says what was expected in TOML's words ("expected true or
false, not a string"). The config loader prefixes the file name; the REST API answers 400.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, cast

from cronwatch.durations import parse_duration
from cronwatch.errors import InvalidInput, type_name
from cronwatch.names import MAX_NAME_LENGTH, validate_name
from cronwatch.schedule import load_zone
from cronwatch.timeutil import parse_instant


def table(where: str, value: object) -> dict[str, Any]:
    """A TOML table (a JSON object)."""
    if not isinstance(value, dict):
        raise InvalidInput(f"{where}: expected a table, not {type_name(value)}")
    return cast(dict[str, Any], value)


def check_fields(where: str, value: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """Refuse a field not in ``allowed``, with the closest allowed one as a hint: a misspelt
    field would otherwise silently do nothing."""
    allowed = frozenset(allowed)
    for name in value:
        if name not in allowed:
            import difflib  # only on this error path

            close = difflib.get_close_matches(name, allowed, n=1)
            hint = f'; did you mean "{close[0]}"?' if close else ""
            prefix = f"{where}: " if where else ""
            raise InvalidInput(
                f'{prefix}unknown field "{name}"{hint} (allowed: {", ".join(sorted(allowed))})'
            )


def names(where: str, value: object, *, max_length: int = MAX_NAME_LENGTH) -> tuple[str, ...]:
    """A list of distinct names (:func:`~cronwatch.names.validate_name`, in NFC)."""
    if not isinstance(value, list):
        raise InvalidInput(f"{where}: expected a list of strings, not {type_name(value)}")
    result: list[str] = []
    for index, item in enumerate(value):
        item_where = f"{where}[{index}]"
        if not isinstance(item, str):
            raise InvalidInput(f"{item_where}: expected a string, not {type_name(item)}")
        name = validate_name(item, item_where, max_length=max_length)
        if name in result:
            raise InvalidInput(f'{item_where}: "{item}" is listed twice')
        result.append(name)
    return tuple(result)


#: What separates tags where they are joined: ``/metrics``' ``tags`` label (``,db,nightly,``)
#: and Healthchecks' ``tags`` string (``db nightly``); so no tag may hold one.
TAG_SEPARATORS = re.compile(r"[,\s]")


def tags(where: str, value: object) -> tuple[str, ...]:
    """Distinct tags: :func:`names` without a comma or whitespace (:data:`TAG_SEPARATORS`)."""
    result = names(where, value)
    for index, tag in enumerate(result):
        if TAG_SEPARATORS.search(tag):
            raise InvalidInput(
                f"{where}[{index}]: a tag must not contain a comma or whitespace "
                f"(tags are joined by them): {tag!r}"[:300]
            )
    return result


def duration(where: str, value: object) -> timedelta:
    """A duration: ``"15m"``, ``"1h30m"`` or a number of seconds; zero allowed."""
    if not isinstance(value, str | int | float):
        raise InvalidInput(f'{where}: expected a duration such as "15m", not {type_name(value)}')
    return parse_duration(value, field=where)


def positive_duration(where: str, value: object) -> timedelta:
    """A duration longer than zero."""
    result = duration(where, value)
    if not result:
        raise InvalidInput(f"{where}: must be longer than zero")
    return result


#: The longest free text a job field takes (``description``).
MAX_TEXT = 2000
_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
#: The same rule as a JSON Schema pattern (what the OpenAPI document states).
TEXT_PATTERN = r"^[^\x00-\x08\x0b-\x1f\x7f]*$"


def text(where: str, value: object) -> str:
    """Free text: at most :data:`MAX_TEXT` characters, no control characters but tabs and
    newlines."""
    if not isinstance(value, str):
        raise InvalidInput(f"{where}: expected a string, not {type_name(value)}")
    if len(value) > MAX_TEXT:
        raise InvalidInput(f"{where}: at most {MAX_TEXT} characters, not {len(value)}")
    if _TEXT_CONTROL.search(value):
        raise InvalidInput(f"{where}: no control characters but tabs and newlines")
    return value


def boolean(where: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{where}: expected true or false, not {type_name(value)}")
    return value


def whole_number(where: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{where}: expected a whole number, not {type_name(value)}")
    return value


def count(where: str, value: object, low: int = 1, high: int = 1000) -> int:
    """A whole number from ``low`` to ``high``."""
    number = whole_number(where, value)
    if not low <= number <= high:
        raise InvalidInput(f"{where}: must be between {low} and {high}, not {number}")
    return number


def timezone(where: str, value: object) -> str:
    """An IANA timezone name (:func:`~cronwatch.schedule.load_zone`)."""
    if not isinstance(value, str):
        raise InvalidInput(f"{where}: expected a string, not {type_name(value)}")
    load_zone(value, field=where)
    return value


def instant(where: str, value: object) -> datetime:
    """An aware instant, in UTC: a TOML offset date-time, or a string holding one in ISO 8601
    (blanks around it ignored); see :func:`~cronwatch.timeutil.parse_instant`."""
    return parse_instant(value.strip() if isinstance(value, str) else value, where)
