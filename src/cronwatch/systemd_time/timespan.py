"""systemd time spans (``OnUnitActiveSec=1h 30min``), as systemd.time(7) defines them.

A span is one or more ``<number>[<unit>]`` parts, with or without spaces between them:
``90``, ``90s``, ``1h 30min``, ``1h30min``, ``2d``, ``1.5h``, ``2 weeks``. A number without a
unit is seconds. Units are case-sensitive, as in systemd: ``m`` is a minute and ``M`` a month
(30.44 days); ``y`` is 365.25 days.

This differs on purpose from :func:`cronwatch.durations.parse_duration` (the config file's
durations), which is case-insensitive and has no months or years: a value copied from a unit
file must mean what it meant to systemd.
"""

from __future__ import annotations

from datetime import timedelta

from cronwatch.errors import InvalidInput

_SECOND = 1_000_000
_MINUTE = 60 * _SECOND
_HOUR = 60 * _MINUTE
_DAY = 24 * _HOUR
# Longest first where one unit is a prefix of another, in systemd's order of trying them.
_UNITS = (
    ("seconds", _SECOND),
    ("second", _SECOND),
    ("sec", _SECOND),
    ("s", _SECOND),
    ("minutes", _MINUTE),
    ("minute", _MINUTE),
    ("min", _MINUTE),
    ("months", 2_629_800 * _SECOND),
    ("month", 2_629_800 * _SECOND),
    ("M", 2_629_800 * _SECOND),
    ("msec", 1_000),
    ("ms", 1_000),
    ("m", _MINUTE),
    ("hours", _HOUR),
    ("hour", _HOUR),
    ("hr", _HOUR),
    ("h", _HOUR),
    ("days", _DAY),
    ("day", _DAY),
    ("d", _DAY),
    ("weeks", 7 * _DAY),
    ("week", 7 * _DAY),
    ("w", 7 * _DAY),
    ("years", 31_557_600 * _SECOND),
    ("year", 31_557_600 * _SECOND),
    ("y", 31_557_600 * _SECOND),
    ("usec", 1),
    ("us", 1),
    ("\u03bcs", 1),
    ("\u00b5s", 1),
)
_DIGITS = "0123456789"
_SPACE = " \t\n\r"
#: A span longer than this (about 300 years) is a mistake, and would overflow a timedelta.
_MAX_US = 10_000 * 365 * _DAY


def parse_timespan(text: str, *, field: str = "time span") -> timedelta:
    """The :class:`timedelta` of a systemd time span; ``InvalidInput`` naming ``field`` if bad.

    Zero is returned for ``"0"``; callers that need a positive span check it.
    """
    if not isinstance(text, str):
        raise InvalidInput(
            f"{field}: expected a time span such as '1h 30min', not {type(text).__name__}"
        )
    shown = text.strip() if len(text.strip()) <= 60 else text.strip()[:57] + "..."

    def fail(reason: str) -> InvalidInput:
        return InvalidInput(f'{field}: invalid time span "{shown}": {reason}')

    pos, total, parts = 0, 0, 0
    while True:
        while text[pos : pos + 1] and text[pos] in _SPACE:
            pos += 1
        if pos == len(text):
            break
        if text.startswith("infinity", pos):
            raise fail("infinity never elapses; cronwatch needs a finite interval")
        if text[pos] in "+-":
            raise fail("a time span cannot be negative or signed")
        start = pos
        while text[pos : pos + 1] and text[pos] in _DIGITS:
            pos += 1
        whole = text[start:pos]
        fraction = ""
        if text[pos : pos + 1] == ".":
            pos += 1
            frac_start = pos
            while text[pos : pos + 1] and text[pos] in _DIGITS:
                pos += 1
            fraction = text[frac_start:pos]
            if not fraction:
                raise fail("expected digits after the decimal point")
        elif not whole:
            raise fail(f"expected a number at {text[start : start + 20]!r}")
        unit_at = pos
        while text[unit_at : unit_at + 1] and text[unit_at] in _SPACE:
            unit_at += 1
        multiplier = _SECOND
        for name, size in _UNITS:
            if text.startswith(name, unit_at):
                multiplier, pos = size, unit_at + len(name)
                break
        else:
            if unit_at < len(text) and text[unit_at] not in _DIGITS + ".":
                word = text[unit_at:].split()[0]
                raise fail(f'unknown unit "{word}"; use us, ms, s, min, h, d, w, M (months) or y')
            if unit_at == pos and pos < len(text):  # "12.34.56"
                raise fail(f"expected a unit after {text[start:pos]!r}")
        total += int(whole or "0") * multiplier
        scale = multiplier // 10
        for digit in fraction:
            total += int(digit) * scale
            scale //= 10
        parts += 1
        if total > _MAX_US:
            raise fail("it is longer than any schedule cronwatch can watch")
    if not parts:
        raise fail("it is empty; write e.g. 15min, 1h 30min or 2d")
    return timedelta(microseconds=total)
