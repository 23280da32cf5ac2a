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
    scan = _Scan(text, field)
    total, parts = 0, 0
    while True:
        scan.skip_space()
        if scan.at_end():
            break
        total += scan.part()
        parts += 1
        if total > _MAX_US:
            raise scan.fail("it is longer than any schedule cronwatch can watch")
    if not parts:
        raise scan.fail("it is empty; write e.g. 15min, 1h 30min or 2d")
    return timedelta(microseconds=total)


class _Scan:
    """A cursor over one span's text: reads it part by part (``<number>[<unit>]``)."""

    def __init__(self, text: str, field: str) -> None:
        self.text, self.field, self.pos = text, field, 0
        stripped = text.strip()
        self.shown = stripped if len(stripped) <= 60 else stripped[:57] + "..."

    def fail(self, reason: str) -> InvalidInput:
        return InvalidInput(f'{self.field}: invalid time span "{self.shown}": {reason}')

    def at_end(self) -> bool:
        return self.pos == len(self.text)

    def skip_space(self) -> None:
        self.pos = self._skip(self.pos, _SPACE)

    def _skip(self, pos: int, chars: str) -> int:
        """The first position from ``pos`` on whose character is not in ``chars``."""
        while self.text[pos : pos + 1] and self.text[pos] in chars:
            pos += 1
        return pos

    def part(self) -> int:
        """The microseconds of the part at the cursor, which moves past it."""
        text, start = self.text, self.pos
        if text.startswith("infinity", start):
            raise self.fail("infinity never elapses; cronwatch needs a finite interval")
        if text[start] in "+-":
            raise self.fail("a time span cannot be negative or signed")
        whole, fraction = self._number()
        multiplier = self._unit(start)
        total = int(whole or "0") * multiplier
        scale = multiplier // 10
        for digit in fraction:
            total += int(digit) * scale
            scale //= 10
        return total

    def _number(self) -> tuple[str, str]:
        """The digits before and after the decimal point at the cursor (either may be empty,
        not both)."""
        text, start = self.text, self.pos
        self.pos = self._skip(start, _DIGITS)
        whole = text[start : self.pos]
        if text[self.pos : self.pos + 1] != ".":
            if not whole:
                raise self.fail(f"expected a number at {text[start : start + 20]!r}")
            return whole, ""
        frac_start = self.pos + 1
        self.pos = self._skip(frac_start, _DIGITS)
        fraction = text[frac_start : self.pos]
        if not fraction:
            raise self.fail("expected digits after the decimal point")
        return whole, fraction

    def _unit(self, start: int) -> int:
        """The size of the unit after the number (seconds when there is none); the part
        began at ``start``."""
        text = self.text
        unit_at = self._skip(self.pos, _SPACE)
        for name, size in _UNITS:
            if text.startswith(name, unit_at):
                self.pos = unit_at + len(name)
                return size
        if unit_at < len(text) and text[unit_at] not in _DIGITS + ".":
            word = text[unit_at:].split()[0]
            raise self.fail(f'unknown unit "{word}"; use us, ms, s, min, h, d, w, M (months) or y')
        if unit_at == self.pos and self.pos < len(text):  # "12.34.56"
            raise self.fail(f"expected a unit after {text[start : self.pos]!r}")
        return _SECOND
