"""systemd calendar expressions (``OnCalendar=``): parsing and the normalized form.

:func:`parse_calendar` accepts what ``systemd-analyze calendar`` (systemd 252) accepts and
nothing else, and says what is wrong with the rest: weekdays (``Mon``, ``Mon..Fri``,
``Sat,Sun``), a date ``[YEAR-]MONTH-DAY`` or ``MONTH~DAY`` (days before the end of the month), a
time ``HOUR:MINUTE[:SECOND]``, each field ``*``, a value, a list ``a,b``, a range ``a..b`` and a
step ``a/s`` or ``a..b/s``; fractions of seconds (``00:00:01.5``); the shorthands (``daily``,
``weekly``, ``quarterly``, ...); ``@UNIXTIME``; and a trailing ``UTC`` or IANA timezone.

Two differences, both refusals of what no one writes: a trailing timezone *abbreviation* of the
local zone (``12:00 CET`` where the zone is Europe/Berlin) is read as the timezone file of that
name where one exists, as systemd does on a host in UTC; and a seconds field with more than
60,000 values a minute (finer than one a millisecond) is refused.

:meth:`CalendarSpec.normalized` prints the same "Normalized form" as ``systemd-analyze``.

Longer than most modules on purpose: it is one concept, the grammar, and the parser and the
normalized form are its two directions (each field is read and printed by the same rules, so
they are kept side by side, where a change to one shows whether the other must follow).
"""

from __future__ import annotations

import calendar as _calendar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NoReturn
from zoneinfo import ZoneInfo

from cronwatch.errors import InvalidInput

USEC = 1_000_000
MIN_YEAR, MAX_YEAR = 1970, 2199
#: systemd refuses a field with more values than this (a stack-depth guard of its parser).
MAX_COMPONENTS = 240
_INT_MAX = 2**31 - 1
#: cronwatch's own limit: one value a millisecond at most in the seconds field.
MAX_SECOND_VALUES = 60_000
_DIGITS = "0123456789"

#: (start, stop, repeat) in the field's unit (microseconds for seconds); stop -1: no end;
#: repeat 0: the single value ``start``.
Component = tuple[int, int, int]
#: A field's components, or ``None`` for ``*`` (any value).
Chain = tuple[Component, ...] | None

_WEEKDAYS = (
    ("monday", 0),
    ("mon", 0),
    ("tuesday", 1),
    ("tue", 1),
    ("wednesday", 2),
    ("wed", 2),
    ("thursday", 3),
    ("thu", 3),
    ("friday", 4),
    ("fri", 4),
    ("saturday", 5),
    ("sat", 5),
    ("sunday", 6),
    ("sun", 6),
)
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
ANY_WEEKDAY = 0b1111111
_MIDNIGHT = (((0, -1, 0),), ((0, -1, 0),), ((0, -1, 0),))
# name -> (weekdays, months, days); the time of every shorthand is fixed below.
_SHORTHANDS: dict[str, tuple[int, Chain, Chain]] = {
    "minutely": (ANY_WEEKDAY, None, None),
    "hourly": (ANY_WEEKDAY, None, None),
    "daily": (ANY_WEEKDAY, None, None),
    "monthly": (ANY_WEEKDAY, None, ((1, -1, 0),)),
    "weekly": (0b0000001, None, None),
    "yearly": (ANY_WEEKDAY, ((1, -1, 0),), ((1, -1, 0),)),
    "annually": (ANY_WEEKDAY, ((1, -1, 0),), ((1, -1, 0),)),
    "anually": (ANY_WEEKDAY, ((1, -1, 0),), ((1, -1, 0),)),
    "quarterly": (ANY_WEEKDAY, tuple((m, -1, 0) for m in (1, 4, 7, 10)), ((1, -1, 0),)),
    "semiannually": (ANY_WEEKDAY, ((1, -1, 0), (7, -1, 0)), ((1, -1, 0),)),
}
for _alias in ("semi-annually", "biannually", "bi-annually"):
    _SHORTHANDS[_alias] = _SHORTHANDS["semiannually"]
_ZERO: Chain = ((0, -1, 0),)


@dataclass(frozen=True)
class CalendarSpec:
    """A parsed calendar expression: the fields systemd matches, in its normalized form."""

    weekdays: int  # bit 0 Monday ... bit 6 Sunday; ANY_WEEKDAY for no restriction
    years: Chain
    months: Chain
    days: Chain
    hours: Chain
    minutes: Chain
    seconds: tuple[Component, ...]  # microseconds within the minute; never "*"
    end_of_month: bool  # days count back from the end of the month ("~")
    utc: bool
    timezone: str | None  # the IANA name given in the expression, if any

    def normalized(self) -> str:
        """The expression as ``systemd-analyze calendar`` prints its "Normalized form"."""
        parts = []
        if self.weekdays != ANY_WEEKDAY:
            parts.append(_format_weekdays(self.weekdays) + " ")
        parts += [
            _format_chain(self.years, 4),
            "-",
            _format_chain(self.months, 2),
            "~" if self.end_of_month else "-",
            _format_chain(self.days, 2),
            " ",
            _format_chain(self.hours, 2),
            ":",
            _format_chain(self.minutes, 2),
            ":",
            _format_chain(self.seconds, 2, USEC),
        ]
        if self.utc:
            parts.append(" UTC")
        elif self.timezone is not None:
            parts.append(" " + self.timezone)
        return "".join(parts)


def parse_calendar(text: str) -> CalendarSpec:
    """Parse one calendar expression (one ``OnCalendar=`` value); ``InvalidInput`` if invalid.

    Surrounding whitespace is ignored, as in a unit file.
    """
    if not isinstance(text, str):
        raise InvalidInput(f"OnCalendar expression must be a string, not {type(text).__name__}")
    return _Parser(text.strip()).parse()


def _shorten(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def zone_exists(name: str) -> bool:
    """Whether ``name`` is an IANA timezone of the system's database (systemd's test)."""
    if not name or not all(c.isascii() and (c.isalnum() or c in "/_+-") for c in name):
        return False
    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        return False
    return True


class _Parser:
    """One pass over the expression; ``pos`` is the index of the next character."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.body = text
        self.pos = 0
        self.end_of_month = False

    def fail(self, reason: str) -> NoReturn:
        raise InvalidInput(f'invalid OnCalendar expression "{_shorten(self.text)}": {reason}')

    def parse(self) -> CalendarSpec:
        if not self.text:
            self.fail("it is empty; write e.g. daily, Mon..Fri 09:00 or *-*-* *:0/15")
        utc, zone, dropped = self._split_zone()
        body = self.body
        if not body:
            self.fail("nothing before the timezone")
        fields: dict[str, Chain] = {}
        end_of_month = False
        shorthand = _SHORTHANDS.get(body.lower())
        if shorthand is not None:
            weekdays, fields["months"], fields["days"] = shorthand
            # minutely: *:*:00, hourly: *:00:00, the others at midnight.
            wild = {"minutely": 2, "hourly": 1}.get(body.lower(), 0)
            fields["hours"], fields["minutes"], fields["seconds"] = (None,) * wild + _MIDNIGHT[
                wild:
            ]
        else:
            try:
                weekdays = self._weekdays()
                timestamp = self._date(fields)
                end_of_month = self.end_of_month
                if timestamp is not None:
                    utc = True
                    fields.update(_from_timestamp(timestamp))
                else:
                    self._time(fields)
            except InvalidInput:
                if dropped is not None and not zone_exists(dropped) and "/" in dropped:
                    self.fail(f'unknown timezone "{_shorten(dropped)}"')
                raise
        spec = CalendarSpec(
            weekdays=ANY_WEEKDAY if weekdays in (0, ANY_WEEKDAY) else weekdays,
            years=_normalize(_fix_years(fields.get("years"))),
            months=_normalize(fields.get("months")),
            days=_normalize(fields.get("days")),
            hours=_normalize(fields.get("hours")),
            minutes=_normalize(fields.get("minutes")),
            seconds=_normalize(fields.get("seconds")) or ((0, -1, USEC),),
            end_of_month=end_of_month and fields.get("days") is not None,
            utc=utc or zone == "UTC",
            timezone=None if utc or zone == "UTC" else zone,
        )
        self._validate(spec)
        return spec

    def _split_zone(self) -> tuple[bool, str | None, str | None]:
        """Take a trailing " UTC" or IANA zone off ``body``: (utc, zone, last word if kept)."""
        text = self.text
        if text.lower().endswith(" utc"):
            self.body = text[:-4]
            return True, None, None
        space = text.rfind(" ")
        if space < 0:
            return False, None, None
        last = text[space + 1 :]
        if zone_exists(last):
            self.body = text[:space]
            return False, last, None
        return False, None, last

    # --- the parts, in order ----------------------------------------------------------------

    def _weekdays(self) -> int:
        body, mask, open_from, first = self.body, 0, -1, True
        while True:
            lowered = body[self.pos : self.pos + 9].lower()
            match = next(((n, nr) for n, nr in _WEEKDAYS if lowered.startswith(n)), None)
            if match is None:
                if first:
                    return 0  # no weekdays: a date or time follows
                word = body[self.pos :].split(" ")[0].split(",")[0].split(".")[0]
                if word.isalpha():
                    self.fail(f'unknown weekday "{word}"; use Mon..Sun or Monday..Sunday')
                self.fail(f"expected a weekday name at {self._rest()}")
            name, nr = match
            following = body[self.pos + len(name) : self.pos + len(name) + 1]
            if following not in ("", "-", ".", ",", " "):
                word = body[self.pos :].split(" ")[0].split(",")[0]
                self.fail(f'unknown weekday "{word}"; use Mon..Sun or Monday..Sunday')
            mask |= 1 << nr
            if open_from >= 0:
                if open_from > nr:
                    self.fail(f"the weekday range ending at {_DAY_NAMES[nr]} goes backwards")
                for day in range(open_from + 1, nr):
                    mask |= 1 << day
            self.pos += len(name)
            char = body[self.pos : self.pos + 1]
            if char == "":
                return mask
            if char == " ":
                self._skip_spaces()
                return mask
            if char == ".":
                if open_from >= 0 or body[self.pos + 1 : self.pos + 2] != ".":
                    self.fail(f"expected a weekday range such as Mon..Fri at {self._rest()}")
                open_from, self.pos = nr, self.pos + 2
            elif char == "-":
                if open_from >= 0:
                    self.fail(f"expected a weekday range such as Mon..Fri at {self._rest()}")
                open_from, self.pos = nr, self.pos + 1
            elif char == ",":
                open_from, self.pos = -1, self.pos + 1
            if body[self.pos : self.pos + 1] in ("", " "):
                self._skip_spaces()
                if open_from >= 0:
                    self.fail("a weekday range has no end; write e.g. Mon..Fri")
                return mask
            first = False

    def _date(self, fields: dict[str, Chain]) -> int | None:
        """Parse a date into ``fields``; the Unix time of ``@TIMESTAMP``, else None."""
        body, start = self.body, self.pos
        if start == len(body):
            return None
        if body[start] == "@":
            end = start + 1
            while body[end : end + 1] and body[end] in _DIGITS:
                end += 1
            if end == start + 1 or end != len(body):
                self.fail("@ must be followed by the seconds since 1970 and nothing else")
            self.pos = end
            return int(body[start + 1 : end])
        first = self._chain(usec=False)
        if self._peek() in ("", ":"):
            self.pos = start  # it was a time, not a date
            return None
        parts = [first]
        for _ in range(2):
            separator = self._peek()
            if separator == "~":
                self.end_of_month = True
            elif separator != "-":
                self.fail(f"expected - between the parts of the date at {self._rest()}")
            self.pos += 1
            parts.append(self._chain(usec=False))
            if self._peek() in ("", " "):
                break
            if self.end_of_month:
                self.fail("~ goes between the month and the day: *-02~03 is the 3rd last day")
        else:
            if self._peek() not in ("", " "):
                self.fail(f"expected a space after the date at {self._rest()}")
        if len(parts) == 2:
            fields["months"], fields["days"] = parts
        else:
            fields["years"], fields["months"], fields["days"] = parts
        self._skip_spaces()
        return None

    def _time(self, fields: dict[str, Chain]) -> None:
        if self.pos == len(self.body):
            fields["hours"], fields["minutes"], fields["seconds"] = _MIDNIGHT
            return
        fields["hours"] = self._chain(usec=False)
        if self._peek() != ":":
            self.fail(f"expected HOUR:MINUTE[:SECOND] at {self._rest()}")
        self.pos += 1
        fields["minutes"] = self._chain(usec=False)
        if self._peek() == "":
            fields["seconds"] = _ZERO
            return
        if self._peek() != ":":
            self.fail(f"unexpected text after the minutes: {self._rest()}")
        self.pos += 1
        fields["seconds"] = self._chain(usec=True)
        if self._peek() != "":
            self.fail(f"unexpected text after the seconds: {self._rest()}")

    # --- fields -------------------------------------------------------------------------------

    def _chain(self, *, usec: bool) -> Chain:
        if self._peek() == "*":
            self.pos += 1
            return ((0, -1, USEC),) if usec else None
        components: list[Component] = []
        while True:
            if len(components) > MAX_COMPONENTS:
                self.fail(f"more than {MAX_COMPONENTS + 1} values in one field")
            start = self._decimal(usec)
            stop, repeat = -1, 0
            if self.body[self.pos : self.pos + 2] == "..":
                self.pos += 2
                stop, repeat = self._decimal(usec), USEC if usec else 1
            if self._peek() == "/":
                self.pos += 1
                repeat = self._decimal(usec)
                if repeat == 0:
                    self.fail("a step of 0 never advances")
            elif usec and stop >= 0 and start + repeat > stop:
                self.fail("a range of seconds shorter than one second needs a step, e.g. 0..1/0.5")
            if self._peek() not in ("", " ", ",", "-", "~", ":"):
                self.fail(f"unexpected {self._peek()!r} at {self._rest()}")
            components.append((start, stop, repeat))
            if self._peek() != ",":
                return tuple(components)
            self.pos += 1

    def _decimal(self, usec: bool) -> int:
        body, start = self.body, self.pos
        end = start
        while body[end : end + 1] and body[end] in _DIGITS:
            end += 1
        if end == start:
            shown = self._rest()
            self.fail(f"expected a number at {shown}" if shown != "the end" else "it is cut short")
        value = int(body[start:end])
        if usec:
            value *= USEC
            if body[end : end + 1] == "." and body[end + 1 : end + 2] != ".":
                self.pos = end + 1
                value += self._fraction()
                end = self.pos
        if value > _INT_MAX:
            self.fail(f"the number {body[start:end]} is too large")
        self.pos = end
        return value

    def _fraction(self) -> int:
        """Six digits of a fraction of a second, rounded on the seventh (as systemd does)."""
        body, value, count = self.body, 0, 0
        while count < 6 and body[self.pos : self.pos + 1] and body[self.pos] in _DIGITS:
            value = value * 10 + int(body[self.pos])
            self.pos += 1
            count += 1
        if count == 0:
            self.fail("expected digits after the decimal point")
        value *= int(10 ** (6 - count))
        if count == 6 and body[self.pos : self.pos + 1] in tuple("56789"):
            value += 1
        while body[self.pos : self.pos + 1] and body[self.pos] in _DIGITS:
            self.pos += 1
        return value

    # --- validation (after normalization, as systemd does) ------------------------------------

    def _validate(self, spec: CalendarSpec) -> None:
        self._check("year", spec.years, MIN_YEAR, MAX_YEAR)
        self._check("month", spec.months, 1, 12)
        self._check("day", spec.days, 1, 31, end_of_month=spec.end_of_month)
        self._check("hour", spec.hours, 0, 23)
        self._check("minute", spec.minutes, 0, 59)
        self._check("second", spec.seconds, 0, 60 * USEC - 1)
        values = sum(len(_expand(c, 60 * USEC - 1)) for c in spec.seconds)
        if values > MAX_SECOND_VALUES:
            self.fail(
                f"the seconds field has {values} values a minute; cronwatch watches at most "
                "one run a millisecond"
            )

    def _check(
        self, name: str, chain: Chain, low: int, high: int, *, end_of_month: bool = False
    ) -> None:
        unit = USEC if name == "second" else 1
        show = (lambda v: _format_value(v, 2, USEC)) if unit == USEC else str
        for index, (start, stop, repeat) in enumerate(chain or ()):
            if end_of_month:
                # At most 28 days back from the end of the month; systemd lowers that limit by
                # 3 for each further value of a ~ list (~28 is valid first, ~25 second, ...).
                high -= 3
            where = f"{name} {'~' if end_of_month else ''}{show(start)}"
            if not low <= start <= high:
                nth = f" as value {index + 1} of the list" if end_of_month and index else ""
                self.fail(f"{where} is out of range {show(low)}..{show(high)}{nth}")
            if repeat > high - low:
                self.fail(f"{name} step {show(repeat)} is larger than the whole range")
            if stop >= 0:
                if not low <= stop <= high:
                    self.fail(f"{name} {show(stop)} is out of range {show(low)}..{show(high)}")
                if start + repeat > stop:
                    self.fail(f"{name} range {show(start)}..{show(stop)} goes backwards")
            elif end_of_month and start - repeat < low:
                self.fail(f"day ~{start}/{repeat} steps past the end of the month")
            elif not end_of_month and start + repeat > high:
                self.fail(f"{where}/{show(repeat)} never repeats before {show(high)}")

    # --- small helpers -----------------------------------------------------------------------

    def _peek(self) -> str:
        return self.body[self.pos : self.pos + 1]

    def _rest(self) -> str:
        rest = self.body[self.pos :]
        return f'"{_shorten(rest)}"' if rest else "the end"

    def _skip_spaces(self) -> None:
        while self._peek() == " ":
            self.pos += 1


def _from_timestamp(seconds: int) -> dict[str, Chain]:
    try:
        t = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, ValueError, OSError):
        t = datetime(9999, 1, 1, tzinfo=UTC)  # refused below as out of range
    return {
        "years": ((t.year, -1, 0),),
        "months": ((t.month, -1, 0),),
        "days": ((t.day, -1, 0),),
        "hours": ((t.hour, -1, 0),),
        "minutes": ((t.minute, -1, 0),),
        "seconds": ((t.second * USEC, -1, 0),),
    }


def _fix_years(chain: Chain) -> Chain:
    """Two-digit years: 0-69 are 2000-2069, 70-99 are 1970-1999."""

    def fix(year: int) -> int:
        if 0 <= year < 70:
            return year + 2000
        if 70 <= year < 100:
            return year + 1900
        return year

    if chain is None:
        return None
    return tuple((fix(a), fix(b) if b >= 0 else b, r) for a, b, r in chain)


def _normalize(chain: Chain) -> Chain:
    """systemd's normalization: ranges end on a step; one-value ranges become values; sorted."""
    if chain is None:
        return None
    result = set()
    for start, stop, repeat in chain:
        if stop > start and repeat > 0:
            stop -= (stop - start) % repeat
        if (stop > start and repeat > 0 and start + repeat > stop) or start == stop:
            stop, repeat = -1, 0
        result.add((start, stop, repeat))
    return tuple(sorted(result))


def _expand(component: Component, high: int) -> range:
    """The values of one component up to ``high`` (the field's largest valid value)."""
    start, stop, repeat = component
    if repeat == 0:
        return range(start, start + 1) if start <= high else range(0)
    return range(start, min(stop if stop >= 0 else high, high) + 1, repeat)


def expand(chain: Chain, low: int, high: int) -> tuple[int, ...]:
    """The sorted valid values of a (non-``~``) field; every value for ``*``."""
    if chain is None:
        return tuple(range(low, high + 1))
    return tuple(sorted({v for c in chain for v in _expand(c, high)}))


def month_days(chain: Chain, end_of_month: bool, year: int, month: int) -> tuple[int, ...]:
    """The days of ``month`` that the day field selects, sorted."""
    last = _calendar.monthrange(year, month)[1]
    if not end_of_month:
        return tuple(d for d in expand(chain, 1, 31) if d <= last)
    days: set[int] = set()
    for start, stop, repeat in chain or ():
        # ~N is the Nth last day: last + 1 - N; a range ~a..b runs forward from ~b to ~a.
        first = last + 1 - (stop if stop >= 0 else start)
        final = last + 1 - start if stop >= 0 else last
        days.update(range(first, final + 1, repeat) if repeat else (first,))
    return tuple(sorted(d for d in days if 1 <= d <= last))


def _format_value(value: int, width: int, unit: int = 1) -> str:
    text = f"{value // unit:0{width}d}"
    return text + (f".{value % unit:06d}" if value % unit else "")


def _format_chain(chain: Chain, width: int, unit: int = 1) -> str:
    if chain is None or (unit == USEC and chain == ((0, -1, USEC),)):
        return "*"
    out = []
    for start, stop, repeat in chain:
        text = _format_value(start, width, unit)
        if stop > 0:
            text += ".." + _format_value(stop, width, unit)
        if repeat > 0 and not (stop > 0 and repeat == unit):
            text += f"/{repeat // unit}" + (f".{repeat % unit:06d}" if repeat % unit else "")
        out.append(text)
    return ",".join(out)


def _format_weekdays(mask: int) -> str:
    runs: list[tuple[int, int]] = []
    for day in range(7):
        if mask & (1 << day):
            if runs and runs[-1][1] == day - 1:
                runs[-1] = (runs[-1][0], day)
            else:
                runs.append((day, day))
    out = []
    for first, last in runs:
        if last - first >= 2:
            out.append(f"{_DAY_NAMES[first]}..{_DAY_NAMES[last]}")
        else:
            out.extend(_DAY_NAMES[d] for d in range(first, last + 1))
    return ",".join(out)
