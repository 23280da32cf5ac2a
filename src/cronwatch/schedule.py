"""When a job is due: interval schedules ("every 15m") and cron schedules ("0 3 * * *").

A schedule is a set of instants, its *slots*. Every method takes and returns timezone-aware
datetimes; results are always in UTC, and naive inputs are refused with ``InvalidInput``.

- :class:`IntervalSchedule`: the slots ``anchor + k * period`` for every integer ``k``. The
  anchor defaults to the Unix epoch (so "every 15m" means :00, :15, :30, :45 UTC), but a
  period job is normally anchored at its last run: ``schedule.anchored(last_run)`` answers
  ``next_after(last_run) == last_run + period``, which is what "every 15m" means to a person.
- :class:`CronSchedule`: a 5-field cron expression (or an alias such as ``@daily``) evaluated by
  cronsim in an IANA timezone, with Debian cron's DST rules: on the fall-back day a
  ``30 1 * * *`` job runs once (the first 01:30); on the spring-forward day a slot that falls
  in the skipped hour runs at the first valid time after it (02:30 -> 03:00 in New York).
  Expressions whose minute or hour field starts with ``*`` follow real time instead (an hourly
  job runs every real hour, 25 times on the fall-back day).
- :class:`OnCalendarSchedule`: one or more systemd calendar expressions (``OnCalendar=``), the
  union of their slots, at the instants systemd computes for them, DST changes included (see
  :mod:`cronwatch.systemd_time.walk`): on the spring-forward day a time in the skipped hour is
  skipped, on the fall-back day every time of the repeated hour runs once, in its first pass.

Slot ranges are half-open, ``(a, b]``: the slots strictly after ``a`` and at or before ``b``,
so that counts over adjacent ranges add up.

Telling the kinds apart in :func:`parse_schedule`: ``every ...`` is an interval, a line of a
timer unit (``OnCalendar=Mon..Fri 09:00``, ``OnUnitActiveSec=1h``) is systemd's, anything else
is cron. A bare calendar expression is refused with a hint rather than guessed at, so that no
string that was a cron expression (or an error) before changes meaning.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError

from cronwatch.durations import format_duration, parse_duration
from cronwatch.errors import InvalidInput
from cronwatch.systemd_time.calendar import parse_calendar
from cronwatch.systemd_time.timespan import parse_timespan
from cronwatch.systemd_time.walk import CalendarWalk
from cronwatch.timeutil import EPOCH, from_us, require_aware, to_us

# slots_between() never builds a longer list unless asked to: an "every 1s" job that has been
# missing for a year has 31 million slots, and callers want the count, not the list.
DEFAULT_SLOT_LIMIT = 10_000
#: The early tolerance is a tenth of a schedule's period, but never more than this.
MAX_EARLY_TOLERANCE = timedelta(minutes=5)

CRON_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
#: The shape of an IANA timezone name: what :func:`load_zone` looks up.
TIMEZONE_PATTERN = re.compile(r"[A-Za-z0-9_+-]+(?:/[A-Za-z0-9_+-]+)*")
_ONE_US = timedelta(microseconds=1)
_ONE_S = timedelta(seconds=1)
_ONE_DAY = timedelta(days=1)


def load_zone(name: str, *, field: str = "timezone") -> tzinfo:
    """The tzinfo for an IANA timezone name ("Europe/London"); ``InvalidInput`` if unknown.

    A name is words of ``A-Z a-z 0-9 _ + -`` separated by ``/`` (:data:`TIMEZONE_PATTERN`, as
    every name of the database is) and must name a zone the system knows. "UTC" maps to
    :data:`datetime.UTC`, which also tells cronsim to skip its DST handling.
    """
    if not isinstance(name, str):
        raise InvalidInput(f"{field}: expected a timezone name, not {type(name).__name__}")
    if name == "UTC":
        return UTC
    if TIMEZONE_PATTERN.fullmatch(name):
        try:
            return ZoneInfo(name)
        except (ValueError, KeyError, OSError):
            pass  # ZoneInfoNotFoundError is a KeyError; malformed keys are ValueErrors
    shown = name if len(name) <= 60 else name[:57] + "..."
    raise InvalidInput(
        f'{field}: unknown timezone "{shown}"; use an IANA name such as "UTC", '
        '"Europe/London" or "America/New_York"'
    )


class Schedule(ABC):
    """The interface every schedule implements; see the module docstring for semantics."""

    #: The text :func:`parse_schedule` turns back into this schedule ("every 15m", "0 3 * * *");
    #: an interval's anchor is not part of it, and a cron's timezone is passed separately.
    expression: str

    @abstractmethod
    def next_after(self, t: datetime) -> datetime:
        """The first slot strictly after ``t``."""

    @abstractmethod
    def previous_at_or_before(self, t: datetime) -> datetime:
        """The latest slot at or before ``t``."""

    @abstractmethod
    def slots_between(
        self, a: datetime, b: datetime, *, limit: int | None = DEFAULT_SLOT_LIMIT
    ) -> list[datetime]:
        """The slots in ``(a, b]`` in order, at most ``limit`` of them (the earliest).

        Empty when ``b <= a``. Use :meth:`count_slots_between` for the full count.
        """

    @abstractmethod
    def count_slots_between(self, a: datetime, b: datetime) -> int:
        """How many slots lie in ``(a, b]`` (0 when ``b <= a``), without listing them."""

    @abstractmethod
    def period_hint(self) -> timedelta:
        """The typical gap between two slots, for sizing windows and default grace."""

    def early_tolerance(self) -> timedelta:
        """How early a start may be and still count for the slot after it: a tenth of
        :meth:`period_hint`, at most :data:`MAX_EARLY_TOLERANCE`. The health checks, the
        alert loop and the dashboard's missed slots all use it."""
        return min(self.period_hint() / 10, MAX_EARLY_TOLERANCE)

    @abstractmethod
    def describe(self) -> str:
        """The schedule in words: "every 15 minutes", "at 03:00 every day (Europe/London)"."""

    @abstractmethod
    def anchored(self, at: datetime) -> Schedule:
        """This schedule with its phase set by ``at`` (an interval's last run); cron: itself."""


def _check_limit(limit: int | None) -> None:
    if limit is not None and limit < 0:
        raise InvalidInput(f"limit must not be negative: {limit}")


@dataclass(frozen=True)
class IntervalSchedule(Schedule):
    """Slots every ``period``, in phase with ``anchor``: ``anchor + k * period``."""

    period: timedelta
    anchor: datetime = EPOCH
    expression: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.period, timedelta) or self.period <= timedelta(0):
            raise InvalidInput(
                f"interval must be a positive duration, not {format_duration(self.period)}"
                if isinstance(self.period, timedelta)
                else f"interval must be a timedelta, not {type(self.period).__name__}"
            )
        # Normalise to UTC so that equal schedules compare and hash equal.
        object.__setattr__(self, "anchor", require_aware(self.anchor, "anchor"))
        object.__setattr__(self, "expression", "every " + _exact_duration(self.period))

    def _index_at_or_before(self, t: datetime) -> int:
        # timedelta // timedelta floors, in exact integer microseconds.
        return (require_aware(t, "t") - self.anchor) // self.period

    def _slot(self, index: int) -> datetime:
        try:
            return self.anchor + index * self.period
        except OverflowError:
            raise InvalidInput("schedule slot is outside the supported date range") from None

    def next_after(self, t: datetime) -> datetime:
        return self._slot(self._index_at_or_before(t) + 1)

    def previous_at_or_before(self, t: datetime) -> datetime:
        return self._slot(self._index_at_or_before(t))

    def slots_between(
        self, a: datetime, b: datetime, *, limit: int | None = DEFAULT_SLOT_LIMIT
    ) -> list[datetime]:
        _check_limit(limit)
        first = self._index_at_or_before(a) + 1
        last = self._index_at_or_before(b)
        if limit is not None:
            last = min(last, first + limit - 1)
        return [self._slot(i) for i in range(first, last + 1)]

    def count_slots_between(self, a: datetime, b: datetime) -> int:
        return max(0, self._index_at_or_before(b) - self._index_at_or_before(a))

    def period_hint(self) -> timedelta:
        return self.period

    def describe(self) -> str:
        return "every " + _words(self.period)

    def anchored(self, at: datetime) -> IntervalSchedule:
        return replace(self, anchor=at)


_WORD_UNITS = (
    ("week", timedelta(weeks=1)),
    ("day", timedelta(days=1)),
    ("hour", timedelta(hours=1)),
    ("minute", timedelta(minutes=1)),
    ("second", timedelta(seconds=1)),
)
_EXACT_UNITS = (
    ("d", 86_400_000_000),
    ("h", 3_600_000_000),
    ("m", 60_000_000),
    ("s", 1_000_000),
    ("ms", 1_000),
    ("us", 1),
)


def _words(period: timedelta) -> str:
    """ "15 minutes", "hour", "2 days"; a period that is not a whole unit: "1h 30m"."""
    for word, unit in _WORD_UNITS:
        count, rest = divmod(period, unit)
        if count and not rest:
            return word if count == 1 else f"{count} {word}s"
    return format_duration(period)


def _exact_duration(period: timedelta) -> str:
    """Lossless compact form that parse_duration reads back: "1d", "1h30m", "1s500ms"."""
    us = period // _ONE_US
    parts = []
    for unit, size in _EXACT_UNITS:
        amount, us = divmod(us, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)


@dataclass(frozen=True)
class CronSchedule(Schedule):
    """A 5-field cron expression (or alias) evaluated in the IANA ``timezone``.

    Construction validates both; a bad expression or timezone raises ``InvalidInput``.
    """

    expression: str
    timezone: str = "UTC"
    _cron: str = field(init=False, repr=False, compare=False)
    _zone: tzinfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_zone", load_zone(self.timezone))
        object.__setattr__(self, "_cron", _validate_cron(self.expression))
        # Normalise spacing and alias case so that equal schedules compare equal.
        text = " ".join(self.expression.split())
        object.__setattr__(self, "expression", text.lower() if text.startswith("@") else text)

    def _iter(self, t: datetime, *, reverse: bool = False) -> CronSim:
        return CronSim(self._cron, t.astimezone(self._zone), reverse=reverse)

    def next_after(self, t: datetime) -> datetime:
        t = require_aware(t, "t")
        try:
            for slot in self._iter(t):
                result = slot.astimezone(UTC)
                # cronsim walks local wall-clock time, so from inside the repeated hour of a
                # fall-back it can return the first pass of that hour, which is before t.
                if result > t:
                    return result
        except (StopIteration, OverflowError):
            pass
        raise InvalidInput(
            f"cron expression {self.expression!r} has no slot after {t} in the supported date range"
        )

    def previous_at_or_before(self, t: datetime) -> datetime:
        t = require_aware(t, "t")
        candidate = self._reverse_candidate(t)
        if self._zone is UTC:
            return candidate
        # Around DST changes cronsim's reverse walk in wall-clock time can pick a slot after t
        # or skip one; step back until at or before t, then forward to the latest one.
        while candidate > t:
            candidate = self._reverse_candidate(candidate - _ONE_US)
        following = self.next_after(candidate)
        while following <= t:
            candidate, following = following, self.next_after(following)
        return candidate

    def _reverse_candidate(self, t: datetime) -> datetime:
        # CronSim's reverse iteration first steps back one second from a whole-second start:
        # start one second after t (floored) so that a slot exactly at t is found.
        try:
            start = t.replace(microsecond=0) + _ONE_S
            return next(self._iter(start, reverse=True)).astimezone(UTC)
        except (StopIteration, OverflowError):
            raise InvalidInput(
                f"cron expression {self.expression!r} has no slot at or before {t} "
                "in the supported date range"
            ) from None

    def slots_between(
        self, a: datetime, b: datetime, *, limit: int | None = DEFAULT_SLOT_LIMIT
    ) -> list[datetime]:
        _check_limit(limit)
        a, b = require_aware(a, "a"), require_aware(b, "b")
        result: list[datetime] = []
        if b <= a or limit == 0:
            return result
        last = a
        try:
            for slot in self._iter(a):
                value = slot.astimezone(UTC)
                if value > b:
                    break
                # Strictly after a (from inside a repeated hour cronsim can return the first
                # pass, before a) and strictly increasing, as a chain of next_after() is.
                if value > last:
                    result.append(value)
                    last = value
                    if limit is not None and len(result) >= limit:
                        break
        except (StopIteration, OverflowError):
            pass
        return result

    def count_slots_between(self, a: datetime, b: datetime) -> int:
        a, b = require_aware(a, "a"), require_aware(b, "b")
        # Whole local days with no DST change inside hold exactly slots_per_day slots, the
        # same for every day that has any, so they are counted without walking each slot.
        # Only partial days (at the ends) and DST-change days are walked: a year of an
        # every-minute job costs one cronsim call per day, not 525,600.
        per_day = _slots_per_matching_day(self._cron)
        count = 0
        cursor = a
        while cursor < b:
            try:
                first = self.next_after(cursor)
            except InvalidInput:
                break
            if first > b:
                break
            day_start, day_end, regular = self._local_day(first)
            if regular and cursor < day_start and day_end <= b:
                count += per_day
                cursor = day_end - _ONE_US
            else:
                end = min(b, day_end - _ONE_US)
                count += len(self.slots_between(cursor, end, limit=None))
                cursor = end
        return count

    def _local_day(self, t: datetime) -> tuple[datetime, datetime, bool]:
        """The UTC bounds of t's local calendar day, and whether it is a plain 24-hour day."""
        local_date: date = t.astimezone(self._zone).date()
        start = datetime.combine(local_date, time(), tzinfo=self._zone).astimezone(UTC)
        end = datetime.combine(local_date + _ONE_DAY, time(), tzinfo=self._zone).astimezone(UTC)
        # Equal offsets at both ends of a 24-hour span: no DST change inside (tzdata never has
        # two changes in one day), so local times map one-to-one to instants.
        regular = (
            end - start == _ONE_DAY
            and start.astimezone(self._zone).utcoffset()
            == (end - _ONE_US).astimezone(self._zone).utcoffset()
        )
        return start, end, regular

    def period_hint(self) -> timedelta:
        return _cron_period_hint(self._cron)

    def describe(self) -> str:
        return f"{_explain(self._cron, self.expression)} ({self.timezone})"

    def anchored(self, at: datetime) -> CronSchedule:
        # Cron slots are absolute; the last run does not move them.
        return self


@dataclass(frozen=True)
class OnCalendarSchedule(Schedule):
    """systemd calendar expressions, the slots of any of them, in the IANA ``timezone``.

    ``expressions`` holds one expression per ``OnCalendar=`` line of a timer (a string is one
    expression); an expression's own trailing zone (``... Europe/Berlin``, ``... UTC``) wins
    over ``timezone``. Construction validates them; errors are ``InvalidInput`` naming the
    expression and what is wrong with it.
    """

    expressions: tuple[str, ...]
    timezone: str = "UTC"
    expression: str = field(init=False, repr=False, compare=False)
    _walks: tuple[CalendarWalk, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        zone = load_zone(self.timezone)
        given: object = self.expressions
        if isinstance(given, str):
            given = (given,)
        if not isinstance(given, Sequence) or not given:
            raise InvalidInput("OnCalendar: expected one or more calendar expressions")
        texts = tuple(
            " ".join(str(text).split()) if isinstance(text, str) else text for text in given
        )
        object.__setattr__(self, "expressions", texts)
        specs = [parse_calendar(text) for text in texts]
        object.__setattr__(self, "_walks", tuple(CalendarWalk(spec, zone) for spec in specs))
        object.__setattr__(self, "expression", "\n".join("OnCalendar=" + t for t in texts))

    def _next_us(self, t: int) -> int | None:
        found = [s for w in self._walks if (s := w.next_after(t)) is not None]
        return min(found) if found else None

    def next_after(self, t: datetime) -> datetime:
        t = require_aware(t, "t")
        found = self._next_us(to_us(t))
        if found is None:
            raise InvalidInput(
                f"OnCalendar {self._shown()} has no slot after {t} (systemd computes up to 2199)"
            )
        return from_us(found)

    def previous_at_or_before(self, t: datetime) -> datetime:
        t = require_aware(t, "t")
        us = to_us(t)
        found = [s for w in self._walks if (s := w.previous_at_or_before(us)) is not None]
        if not found:
            raise InvalidInput(f"OnCalendar {self._shown()} has no slot at or before {t}")
        return from_us(max(found))

    def _iter(self, a: int, b: int) -> Iterator[int]:
        """The slots in ``(a, b]``, in order, each once (expressions may share slots)."""
        heap = [(s, i) for i, w in enumerate(self._walks) if (s := w.next_after(a)) is not None]
        heapq.heapify(heap)
        last = a
        while heap and heap[0][0] <= b:
            slot, i = heap[0]
            following = self._walks[i].next_after(slot)
            if following is None:
                heapq.heappop(heap)
            else:
                heapq.heapreplace(heap, (following, i))
            if slot > last:
                yield slot
                last = slot

    def slots_between(
        self, a: datetime, b: datetime, *, limit: int | None = DEFAULT_SLOT_LIMIT
    ) -> list[datetime]:
        _check_limit(limit)
        a, b = require_aware(a, "a"), require_aware(b, "b")
        if b <= a:
            return []
        return [from_us(s) for s in itertools.islice(self._iter(to_us(a), to_us(b)), limit)]

    def count_slots_between(self, a: datetime, b: datetime) -> int:
        a, b = require_aware(a, "a"), require_aware(b, "b")
        start, end = to_us(a), to_us(b)
        zones = {w.zone for w in self._walks}
        if (
            len(zones) > 1
            or len(self._walks) > _MAX_COUNTED_UNION
            or any(w.exact_walk_only for w in self._walks)
        ):
            return sum(1 for _ in self._iter(start, end))
        # As for cron: whole days without a DST change are counted from the fields alone;
        # only the days at the ends and the days with a change are walked.
        count, cursor, walk = 0, start, self._walks[0]
        while cursor < end:
            first = self._next_us(cursor)
            if first is None or first > end:
                break
            day = from_us(first).astimezone(walk.zone).date()
            day_start = to_us(datetime.combine(day, time(), tzinfo=walk.zone))
            day_end = to_us(datetime.combine(day + _ONE_DAY, time(), tzinfo=walk.zone))
            if cursor < day_start and day_end <= end and walk.regular_offset(day) is not None:
                # Every expression that matches the day has all its times of day on it.
                count += _union_per_day(self._walks, day)
                cursor = day_end - 1
            else:
                stop = min(end, day_end - 1)
                count += sum(1 for _ in self._iter(cursor, stop))
                cursor = stop
        return count

    def period_hint(self) -> timedelta:
        return _on_calendar_period_hint(self)

    def describe(self) -> str:
        forms = " or ".join(f'"{w.spec.normalized()}"' for w in self._walks)
        local = any(not w.spec.utc and w.spec.timezone is None for w in self._walks)
        return f"on calendar {forms}" + (f" ({self.timezone})" if local else "")

    def anchored(self, at: datetime) -> OnCalendarSchedule:
        # Calendar slots are absolute; the last run does not move them.
        return self

    def _shown(self) -> str:
        text = " | ".join(self.expressions)
        return repr(text if len(text) <= 60 else text[:57] + "...")


def _union_per_day(walks: tuple[CalendarWalk, ...], day: date) -> int:
    """How many slots a day without a DST change has."""
    return _union_size(tuple(w for w in walks if w.matches_date(day)))


@functools.lru_cache(maxsize=1024)
def _union_size(matching: tuple[CalendarWalk, ...]) -> int:
    """The size of the union of the walks' times of day (hours x minutes x seconds each), by
    inclusion-exclusion: the intersection of such products is the product of intersections."""
    total = 0
    for size in range(1, len(matching) + 1):
        for group in itertools.combinations(matching, size):
            common = 1
            for values in zip(*((w.hours, w.minutes, w.usecs) for w in group), strict=True):
                common *= len(set.intersection(*(set(v) for v in values)))
            total += common if size % 2 else -common
    return total


#: Up to this many expressions, whole days are counted by inclusion-exclusion (2^n terms).
_MAX_COUNTED_UNION = 8


@functools.lru_cache(maxsize=1024)
def _on_calendar_period_hint(schedule: OnCalendarSchedule) -> timedelta:
    """The median gap of the first slots from a fixed date (deterministic), as for cron."""
    start = datetime(2001, 1, 1, tzinfo=UTC)
    slots = list(itertools.islice(schedule._iter(to_us(start), to_us(_FAR_FUTURE)), 25))
    gaps = sorted(timedelta(microseconds=b - a) for a, b in itertools.pairwise(slots))
    return gaps[len(gaps) // 2] if gaps else timedelta(days=365)


_FAR_FUTURE = datetime(2200, 1, 1, tzinfo=UTC)


_FIELD_HELP = {
    "Bad minute": "bad minute field (0-59)",
    "Bad hour": "bad hour field (0-23)",
    "Bad day-of-month": "bad day-of-month field (1-31, L, LW; some months are shorter)",
    "Bad month": "bad month field (1-12 or JAN-DEC)",
    "Bad day-of-week": "bad day-of-week field (0-7 or SUN-SAT, 0 and 7 are Sunday)",
}


def _validate_cron(expression: str) -> str:
    """The 5-field form of ``expression`` (aliases expanded); ``InvalidInput`` if invalid."""
    if not isinstance(expression, str):
        raise InvalidInput(f"cron expression must be a string, not {type(expression).__name__}")
    text = " ".join(expression.split())
    shown = text if len(text) <= 60 else text[:57] + "..."
    prefix = f'invalid cron expression "{shown}"'
    if text.lower() == "@reboot":
        raise InvalidInput(
            f"{prefix}: @reboot has no time to watch; use an interval or a cron time"
        )
    if text.startswith("@"):
        if text.lower() not in CRON_ALIASES:
            raise InvalidInput(f"{prefix}: unknown alias; known: {', '.join(CRON_ALIASES)}")
        return CRON_ALIASES[text.lower()]
    fields = text.split()
    if len(fields) != 5:
        # cronsim also takes 6 fields (with seconds), but without Debian cron's DST rules.
        raise InvalidInput(
            f"{prefix}: expected 5 fields (minute hour day-of-month month day-of-week), "
            f"got {len(fields)}"
        )
    try:
        next(CronSim(text, datetime(2000, 1, 1, tzinfo=UTC)))
    except CronSimError as exc:
        raise InvalidInput(f"{prefix}: {_FIELD_HELP.get(str(exc), str(exc))}") from None
    except StopIteration:
        raise InvalidInput(f"{prefix}: it never matches") from None
    except (ValueError, IndexError, TypeError) as exc:
        # cronsim is a parser of untrusted text; anything it trips over is the text's fault.
        raise InvalidInput(f"{prefix}: {exc}") from None
    return text


@functools.lru_cache(maxsize=1024)
def _slots_per_matching_day(cron: str) -> int:
    """How many slots a day has if it has any (5-field cron: independent of the date)."""
    first = next(CronSim(cron, datetime(2000, 1, 1, tzinfo=UTC)))
    day_start = first.replace(hour=0, minute=0, second=0)
    count = 0
    for slot in CronSim(cron, day_start - _ONE_S):
        if slot >= day_start + _ONE_DAY:
            break
        count += 1
    return count


@functools.lru_cache(maxsize=1024)
def _cron_period_hint(cron: str) -> timedelta:
    """The median gap of the first slots from a fixed date, in UTC (so it is deterministic).

    Cached per expression: a config with thousands of jobs shares a handful of expressions.
    """
    slots = CronSim(cron, datetime(2001, 1, 1, tzinfo=UTC))
    previous = next(slots)
    gaps = []
    for _ in range(24):
        try:
            current = next(slots)
        except StopIteration:
            break
        gaps.append(current - previous)
        previous = current
    if not gaps:
        return timedelta(days=365)
    gaps.sort()
    return gaps[len(gaps) // 2]


def _explain(cron: str, original: str) -> str:
    try:
        from cronsim.explain import explain  # imported lazily: only the dashboard needs words

        text: str = explain(cron)
    except Exception:  # describing is best effort; the expression itself always works
        return f'cron "{original}"'
    # Very long explanations are harder to read than the expression itself.
    if len(text) > 90:
        return f'cron "{original}"'
    return text[0].lower() + text[1:]


#: Timer settings parse_schedule reads (lower case): a calendar, or a span between runs.
_CALENDAR_KEY = "oncalendar"
_PERIODIC_KEYS = ("onunitactivesec", "onunitinactivesec")
_ONCE_KEYS = ("onbootsec", "onstartupsec", "onactivesec")


def parse_schedule(text: str, timezone: str = "UTC", *, field: str = "schedule") -> Schedule:
    """Parse "every 15m" / "every day" into an IntervalSchedule, timer lines into systemd's
    schedules (:func:`parse_timer_lines`), anything else as cron.

    ``timezone`` (an IANA name) applies to cron and calendar schedules; it is validated in every
    case so that a typo is reported even before the schedule becomes a cron one. Errors are
    ``InvalidInput`` prefixed with ``field``.
    """
    load_zone(timezone)
    if not isinstance(text, str):
        raise InvalidInput(
            f'{field}: expected a string such as "every 15m" or "0 3 * * *", '
            f"not {type(text).__name__}"
        )
    stripped = text.strip()
    if not stripped:
        raise InvalidInput(f'{field}: empty schedule; write e.g. "every 15m" or "0 3 * * *"')
    words = stripped.split(maxsplit=1)
    if words[0].lower() == "every":
        amount = words[1] if len(words) > 1 else ""
        # "every day" is "every 1 day"; parse_duration knows the unit names.
        if amount.lower() in {"second", "minute", "hour", "day", "week"}:
            amount = "1" + amount
        try:
            period = parse_duration(amount, field=field)
        except InvalidInput as exc:
            raise InvalidInput(f'{exc}; intervals look like "every 15m"') from None
        if not period:
            raise InvalidInput(f"{field}: an interval must be longer than zero: {text!r}")
        return IntervalSchedule(period)
    if "=" in stripped.splitlines()[0]:
        return parse_timer_lines(stripped, timezone, field=field)
    try:
        return CronSchedule(stripped, timezone)
    except InvalidInput as exc:
        raise InvalidInput(f"{field}: {exc}{_calendar_hint(stripped)}") from None


def parse_on_calendar(
    expressions: str | Sequence[str], timezone: str = "UTC", *, field: str = "on_calendar"
) -> OnCalendarSchedule:
    """An :class:`OnCalendarSchedule` of one expression or a list of them (the values of a
    timer's ``OnCalendar=`` lines); errors are ``InvalidInput`` prefixed with ``field``."""
    items = [expressions] if isinstance(expressions, str) else expressions
    if not isinstance(items, Sequence) or not items:
        raise InvalidInput(
            f'{field}: expected a calendar expression such as "Mon..Fri 09:00" or a list of them'
        )
    for index, item in enumerate(items):
        where = field if isinstance(expressions, str) else f"{field}[{index}]"
        if not isinstance(item, str):
            raise InvalidInput(f"{where}: expected a string, not {type(item).__name__}")
        try:
            parse_calendar(item)
        except InvalidInput as exc:
            raise InvalidInput(f"{where}: {exc}") from None
    try:
        return OnCalendarSchedule(tuple(items), timezone)
    except InvalidInput as exc:
        raise InvalidInput(f"{field}: {exc}") from None


def parse_timer_lines(text: str, timezone: str = "UTC", *, field: str = "schedule") -> Schedule:
    """The schedule of a timer unit's ``[Timer]`` lines, one per line:

    - ``OnCalendar=EXPR`` (several lines: the union) -> :class:`OnCalendarSchedule`;
    - ``OnUnitActiveSec=SPAN`` or ``OnUnitInactiveSec=SPAN`` (systemd time spans such as
      ``1h 30min``, ``2d``, ``90``) -> :class:`IntervalSchedule`; ``OnBootSec=``,
      ``OnStartupSec=`` and ``OnActiveSec=`` may come with them (they only delay the first
      run), but alone they fire once per boot, which is no schedule to watch.
    """
    calendars: list[str] = []
    periods: list[timedelta] = []
    once: list[timedelta] = []
    for number, line in enumerate(text.strip().splitlines(), start=1):
        where = field if "\n" not in text.strip() else f"{field}, line {number}"
        key, sep, value = line.strip().partition("=")
        name = key.strip().lower()
        if not sep or name not in (_CALENDAR_KEY, *_PERIODIC_KEYS, *_ONCE_KEYS):
            raise InvalidInput(
                f"{where}: expected a timer setting such as OnCalendar=daily or "
                f"OnUnitActiveSec=1h, not {line.strip()[:60]!r}"
            )
        value = value.strip()
        if not value:
            raise InvalidInput(f"{where}: {key.strip()}= is empty (in a unit file that resets it)")
        if name == _CALENDAR_KEY:
            try:
                parse_calendar(value)
            except InvalidInput as exc:
                raise InvalidInput(f"{where}: {exc}") from None
            calendars.append(value)
            continue
        span = parse_timespan(value, field=f"{where}: {key.strip()}")
        (periods if name in _PERIODIC_KEYS else once).append(span)
    if calendars and periods:
        raise InvalidInput(
            f"{field}: a timer with both OnCalendar= and OnUnitActiveSec= fires on either; "
            "cronwatch watches one schedule per job, so give the one that matters"
        )
    if calendars:
        return OnCalendarSchedule(tuple(calendars), timezone)
    if not periods:
        raise InvalidInput(
            f"{field}: OnBootSec=, OnStartupSec= and OnActiveSec= alone fire once (after boot "
            "or activation), not periodically; watch the timer's OnUnitActiveSec= interval"
        )
    if not min(periods):
        raise InvalidInput(f"{field}: an interval must be longer than zero")
    # Several periodic settings each re-arm the timer; the shortest one sets the pace.
    return IntervalSchedule(min(periods))


def parse_schedule_arguments(
    texts: Sequence[str], timezone: str = "UTC", *, field: str = "EXPR"
) -> Schedule:
    """The schedule ``cronwatch schedule EXPR...`` shows: one schedule as :func:`parse_schedule`
    reads it, or systemd calendar expressions, bare or as ``OnCalendar=`` lines, several of
    them being their union (a timer with several ``OnCalendar=`` lines).

    A bare calendar expression is accepted here, unlike in a config file's ``schedule``: no
    cron or interval expression is also a valid calendar expression, so nothing is ambiguous,
    and the error for a config file tells the ``OnCalendar=`` form to write.
    """
    load_zone(timezone, field="timezone")
    if isinstance(texts, str) or not texts:
        raise InvalidInput(f"{field}: give a schedule, e.g. '0 3 * * *', 'every 15m' or daily")
    calendars: list[str] = []
    for index, text in enumerate(texts):
        where = field if len(texts) == 1 else f"{field} {index + 1}"
        if not isinstance(text, str):
            raise InvalidInput(f"{where}: expected a string, not {type(text).__name__}")
        value = text.strip()
        key, sep, rest = value.partition("=")
        if sep and key.strip().lower() == _CALENDAR_KEY and "\n" not in value:
            value = rest.strip()
        elif len(texts) == 1 and not _calendar_hint(value) and _not_calendar_like(value):
            return parse_schedule(text, timezone, field=where)
        try:
            parse_calendar(value)
        except InvalidInput as exc:
            union = "; several EXPR are systemd calendar expressions" if len(texts) > 1 else ""
            raise InvalidInput(f"{where}: {exc}{union}") from None
        calendars.append(value)
    return OnCalendarSchedule(tuple(calendars), timezone)


_CALENDAR_START = re.compile(
    r"(mon|tue|wed|thu|fri|sat|sun|minutely|hourly|daily|weekly|monthly|yearly|annually"
    r"|quarterly|semi-?annually|bi-?annually)",
    re.IGNORECASE,
)


def _not_calendar_like(text: str) -> bool:
    """Whether ``text`` reads as an interval, a cron expression or timer lines (so that its
    error is the one of those), rather than as a calendar expression with a mistake in it."""
    words = text.split()
    if not words or words[0].lower() == "every" or "=" in text:
        return True
    calendar = (
        ":" in text
        or "~" in text
        or _CALENDAR_START.match(text) is not None
        or (len(words) <= 3 and any("-" in word for word in words))
    )
    return not calendar


def upcoming(schedule: Schedule, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` slots after ``after`` (fewer if the schedule ends before).

    An interval counts from ``after``, as the health checks count from the last run (so
    ``every 15m`` gives ``after + 15m``, ``after + 30m`` ...); other schedules are absolute.
    """
    if count < 0:
        raise InvalidInput(f"count must not be negative: {count}")
    after = require_aware(after, "after")
    if isinstance(schedule, IntervalSchedule):
        schedule = schedule.anchored(after)
    found: list[datetime] = []
    cursor = after
    for _ in range(count):
        try:
            cursor = schedule.next_after(cursor)
        except InvalidInput:  # no slot any more (a calendar that ends, a cron of Feb 30)
            break
        found.append(cursor)
    return found


def _calendar_hint(text: str) -> str:
    """A hint for a systemd calendar expression given where a cron one was expected."""
    try:
        parse_calendar(text)
    except InvalidInput:
        return ""
    return f'; this is a systemd calendar expression: write "OnCalendar={text}" to use it as one'
