"""Cron schedules: a 5-field expression (or an alias such as ``@daily``) evaluated by cronsim
in an IANA timezone, with Debian cron's DST rules (see :mod:`cronwatch.schedule`)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from cronsim import CronSim, CronSimError

from cronwatch.errors import InvalidInput
from cronwatch.schedule.base import (
    DEFAULT_SLOT_LIMIT,
    Schedule,
    check_limit,
    load_zone,
)
from cronwatch.timeutil import require_aware

CRON_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_ONE_US = timedelta(microseconds=1)
_ONE_S = timedelta(seconds=1)
_ONE_DAY = timedelta(days=1)


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
        check_limit(limit)
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
