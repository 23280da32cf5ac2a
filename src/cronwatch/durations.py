"""Durations as people write them in config files and read them in alerts.

``parse_duration`` accepts:

- a string of one or more ``<number><unit>`` parts, optionally separated by spaces:
  ``"30s"``, ``"15m"``, ``"2h"``, ``"1d"``, ``"1w"``, ``"1h30m"``, ``"1h 30m"``, ``"1.5h"``,
  ``"850ms"``; units are ``us``/``µs``, ``ms``, ``s``, ``m``, ``h``, ``d``, ``w`` and their
  spelled-out forms (``sec``, ``seconds``, ``min``, ``minutes``, ``hours``, ``days``, ...);
- a bare number in a string, meaning seconds: ``"90"``;
- an ``int`` or ``float`` (how TOML gives ``grace = 90``), meaning seconds.

It refuses negative, empty, non-finite and garbage values with :class:`InvalidInput` naming the
field and the bad value. Zero is allowed (a zero grace is a legitimate choice); callers that need
a strictly positive value check it themselves.

``format_duration`` is the inverse for humans: short and approximate ("1h 30m", "45s",
"2d 3h", "850ms"), never longer than two units.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta

from cronwatch.errors import InvalidInput

_US_PER = {
    "us": 1,
    "ms": 1_000,
    "s": 1_000_000,
    "m": 60_000_000,
    "h": 3_600_000_000,
    "d": 86_400_000_000,
    "w": 604_800_000_000,
}
# Every accepted spelling, mapped to its canonical unit.
_UNIT_ALIASES = {
    "us": "us",
    "µs": "us",
    "usec": "us",
    "ms": "ms",
    "msec": "ms",
    "s": "s",
    "sec": "s",
    "secs": "s",
    "second": "s",
    "seconds": "s",
    "m": "m",
    "min": "m",
    "mins": "m",
    "minute": "m",
    "minutes": "m",
    "h": "h",
    "hr": "h",
    "hrs": "h",
    "hour": "h",
    "hours": "h",
    "d": "d",
    "day": "d",
    "days": "d",
    "w": "w",
    "week": "w",
    "weeks": "w",
}
_NUMBER = r"(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)"  # ASCII digits: \d also takes "١٥"
_BARE_NUMBER = re.compile(_NUMBER)
_PART = re.compile(rf"({_NUMBER})\s*([a-zµ]+)\s*", re.IGNORECASE)
_WHOLE = re.compile(rf"(?:{_NUMBER}\s*[a-zµ]+\s*)+", re.IGNORECASE)
# Longer than any sensible duration; refusing early keeps the error message readable and the
# regex work bounded when someone pastes a whole file into a field.
_MAX_TEXT = 100


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_duration(text: str | int | float, *, field: str = "duration") -> timedelta:
    """Parse ``text`` into a non-negative :class:`timedelta` (microsecond precision).

    Raises :class:`InvalidInput` whose message names ``field`` and the bad value.
    """
    if isinstance(text, bool):  # bool is an int subclass; `grace = true` is a mistake.
        raise InvalidInput(f"{field}: expected a duration such as '15m', not {text!r}")
    if isinstance(text, int | float):
        return _from_seconds(text, field)
    if not isinstance(text, str):
        raise InvalidInput(
            f"{field}: expected a duration such as '15m' or a number of seconds, "
            f"not {type(text).__name__}"
        )
    stripped = text.strip()
    if not stripped:
        raise InvalidInput(f"{field}: empty duration; write e.g. '30s', '15m' or '2h'")
    if len(stripped) > _MAX_TEXT:
        raise InvalidInput(f"{field}: duration too long: {_show(text)}")
    if stripped.startswith("-"):
        raise InvalidInput(f"{field}: duration must not be negative: {_show(text)}")
    if _BARE_NUMBER.fullmatch(stripped):
        # A bare number means seconds, but only on its own: "1h30" is ambiguous and refused.
        return _from_us(_number_times(stripped, _US_PER["s"]), field, text)
    if not _WHOLE.fullmatch(stripped):
        raise _garbage(field, text)
    total_us = 0
    seen: set[str] = set()
    for number, unit_text in _PART.findall(stripped):
        unit = _UNIT_ALIASES.get(unit_text.lower())
        if unit is None or unit in seen:  # "1h1h" is a typo, not 2 hours.
            raise _garbage(field, text)
        seen.add(unit)
        total_us += _number_times(number, _US_PER[unit])
    return _from_us(total_us, field, text)


def _number_times(number: str, unit_us: int) -> int:
    """``number * unit_us`` exactly, in integers (float would turn "0.1s" into 99999µs)."""
    whole, _, frac = number.partition(".")
    result = int(whole or "0") * unit_us
    if frac:
        result += int(frac) * unit_us // 10 ** len(frac)
    return result


def _garbage(field: str, text: str) -> InvalidInput:
    return InvalidInput(
        f"{field}: invalid duration {_show(text)}; write e.g. '30s', '15m', '2h', '1d', "
        "'1h30m' or a number of seconds"
    )


def _from_seconds(value: int | float, field: str) -> timedelta:
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInput(f"{field}: duration must be a finite number, not {value!r}")
    if value < 0:
        raise InvalidInput(f"{field}: duration must not be negative: {value!r}")
    if isinstance(value, int):
        return _from_us(value * 1_000_000, field, value)
    try:
        microseconds = round(value * 1_000_000)
    except OverflowError:  # a finite float whose microseconds overflow to infinity
        raise InvalidInput(f"{field}: duration too large: {_show(value)}") from None
    return _from_us(microseconds, field, value)


def _from_us(us: int, field: str, original: object) -> timedelta:
    try:
        return timedelta(microseconds=us)
    except OverflowError:
        raise InvalidInput(f"{field}: duration too large: {_show(original)}") from None


_FORMAT_UNITS = (("d", 86_400_000_000), ("h", 3_600_000_000), ("m", 60_000_000), ("s", 1_000_000))


def format_duration(td: timedelta) -> str:
    """Render ``td`` short for people: ``"1h 30m"``, ``"45s"``, ``"2d 3h"``, ``"850ms"``.

    At most the two most significant units are shown, truncated (not rounded) so that a
    displayed value never overstates the duration. Under a minute, tenths of a second are kept
    ("12.5s"); under a second, milliseconds ("850ms"), and under a millisecond microseconds.
    Negative durations get a leading ``-``.
    """
    # Exact integer microseconds, without building a divisor per call (reasons are hot).
    us = (td.days * 86_400 + td.seconds) * 1_000_000 + td.microseconds
    # Work on the integer: -timedelta.min does not fit in a timedelta.
    return "-" + _format_us(-us) if us < 0 else _format_us(us)


def _format_us(us: int) -> str:
    if us == 0:
        return "0s"
    if us < 1_000:
        return f"{us}µs"
    if us < 1_000_000:
        return f"{us // 1_000}ms"
    if us < 60_000_000:
        tenths = us // 100_000
        whole, frac = divmod(tenths, 10)
        return f"{whole}s" if frac == 0 else f"{whole}.{frac}s"
    for index, (unit, size) in enumerate(_FORMAT_UNITS):
        amount, remaining = divmod(us, size)
        if amount:
            text = f"{amount}{unit}"
            # Only the next unit down is shown, and only when non-zero: "1h 30m", "2d", "1h".
            if index + 1 < len(_FORMAT_UNITS):
                next_unit, next_size = _FORMAT_UNITS[index + 1]
                if remaining >= next_size:
                    text += f" {remaining // next_size}{next_unit}"
            return text
    raise AssertionError("unreachable: durations of a minute or more have a non-zero unit")
