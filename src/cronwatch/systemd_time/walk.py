"""When a calendar expression elapses: the slots a systemd timer fires at, DST included.

Instants are integers, microseconds since the Unix epoch (UTC); wall-clock times are tuples
``(year, month, day, hour, minute, microsecond_of_minute)`` in the expression's zone
(:mod:`~cronwatch.systemd_time.wallclock`).

The reference is systemd's own walk (:mod:`~cronwatch.systemd_time.emulate`). What it does
with DST, in both directions:

- Spring forward: a wall-clock time in the skipped hour does not exist; ``mktime`` moves it
  forward by the gap (02:30 -> 03:30 in Berlin) and the walk goes on from there, so a ``02:30``
  timer skips that day, ``02,03:30`` runs at 03:30 once, and ``*:0/20`` continues at 03:00.
- Fall back: a repeated wall-clock time is read in the offset of the last conversion, which
  for a walk that reaches the repeated hour from before it is the first pass. So each time of
  the repeated hour runs once, in its first pass: an hourly timer runs 24 times that day,
  ``*:0/20`` goes from 02:40 CEST to 03:00 CET.

The slots are those of a timer that runs through the change: each the next elapse after the
one before. systemd asked for the next elapse *from* an instant inside the second pass answers
with a slot of the second pass (its walk starts in that offset); here the answer from there is
still the next slot of the running timer, so that slot counts add up over adjacent ranges.
:meth:`CalendarWalk.systemd_next` keeps systemd's own answer. Where systemd 252 gives up (its
walk can go round in circles after a DST change; the timer then stops), the slot is the one its
walk finds without that flaw: a job whose timer stopped is then reported missing, as it should.

:class:`CalendarWalk` answers most questions by matching wall-clock fields directly, which is
exact on days without a DST change, and replays systemd's walk on the days with one and for the
expressions whose steps make systemd skip slots on any day (see
:func:`~cronwatch.systemd_time.emulate.skips_slots`).

One concept, one class (:class:`CalendarWalk`): the fast field matching and the days it hands
over to the emulation must agree on every instant, so they are read together.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from datetime import UTC, date, datetime, timedelta, tzinfo

from cronwatch.systemd_time.calendar import (
    ANY_WEEKDAY,
    MAX_YEAR,
    MIN_YEAR,
    USEC,
    CalendarSpec,
    expand,
    month_days,
)
from cronwatch.systemd_time.emulate import SystemdWalk, skips_slots
from cronwatch.systemd_time.wallclock import (
    Wall,
    carry_back,
    naive,
    naive_utc,
    offset_us,
    regular_offset,
    to_instant,
    wall_of,
    ymd,
)
from cronwatch.timeutil import from_us, to_us

#: Previous-slot searches step back over at most this many candidate wall-clock times.
_MAX_BACKSTEPS = 1000


class CalendarWalk:
    """One calendar expression in its zone: the zone of the expression, else ``zone``."""

    def __init__(self, spec: CalendarSpec, zone: tzinfo) -> None:
        from zoneinfo import ZoneInfo

        self.spec = spec
        if spec.utc:
            zone = UTC
        elif spec.timezone is not None:
            zone = ZoneInfo(spec.timezone)
        self.zone = zone
        self.years = expand(spec.years, MIN_YEAR, MAX_YEAR)
        self.months = expand(spec.months, 1, 12)
        self._year_set, self._month_set = frozenset(self.years), frozenset(self.months)
        self.hours = expand(spec.hours, 0, 23)
        self.minutes = expand(spec.minutes, 0, 59)
        self.usecs = expand(spec.seconds, 0, 60 * USEC - 1)
        self.first_time = (self.hours[0], self.minutes[0], self.usecs[0]) if self.usecs else None
        self.last_time = (self.hours[-1], self.minutes[-1], self.usecs[-1]) if self.usecs else None
        # systemd's walk skips some slots that plain field matching would find; such specs
        # always take the walk (see skips_slots).
        self.exact_walk_only = skips_slots(spec)
        self._days: dict[tuple[int, int], tuple[int, ...]] = {}
        self._matching: dict[tuple[int, int], tuple[int, ...]] = {}
        # For _chain_previous: a start of a period -> (last slot before it, the walk's next).
        self._crossings: dict[int, tuple[int | None, int | None]] = {}

    # --- public: canonical slots ----------------------------------------------------------------

    def next_after(self, t: int) -> int | None:
        """The first slot strictly after ``t``, or None (none before the year 2200)."""
        if self.exact_walk_only:
            # The slot after the timer's last one: the walk from there steps over what it
            # skips, which the walk from t might not.
            previous = self.previous_at_or_before(t)
            return self._walk_next(t if previous is None else previous)
        return self._restart_next(t)

    def previous_at_or_before(self, t: int) -> int | None:
        """The latest slot at or before ``t``, or None (none since 1970)."""
        found = self._restart_previous(t)
        if found is not None and self.exact_walk_only:
            found = self._chain_previous(found)
        return found

    def _restart_next(self, t: int) -> int | None:
        """The next slot of a timer (re)started at ``t`` (except inside a repeated hour)."""
        if self.zone is UTC and not self.exact_walk_only:
            wall = self._next_wall(wall_of(naive_utc(t + 1)))
            return None if wall is None else to_instant(wall, 0)
        local = from_us(t + 1).astimezone(self.zone)
        if local.fold:  # inside the second pass of a repeated hour: see the module docstring
            start = self._first_pass_end(t + 1)
            previous = self._restart_previous(start)
            found = self._walk_next(start if previous is None else previous)
            while found is not None and found <= t:
                found = self._walk_next(found)
            return found
        if self.regular_offset(local.date()) is not None:
            # A day without a DST change: wall-clock matching is exact up to the next match,
            # and the days before that match have none, so only its own day can differ.
            wall = self._next_wall(wall_of(local.replace(tzinfo=None)))
            if wall is None:
                return None
            offset = self.regular_offset(date(*wall[:3]))
            if offset is not None:
                return to_instant(wall, offset)
        return self._walk_next(t)

    def _restart_previous(self, t: int) -> int | None:
        """The latest slot at or before ``t`` of a timer (re)started just before it."""
        if self.zone is UTC and not self.exact_walk_only:
            wall = self._prev_wall(wall_of(naive_utc(t)))
            return None if wall is None else to_instant(wall, 0)
        local = from_us(t).astimezone(self.zone)
        if local.fold:  # the second pass of a repeated hour: the walk from the first pass
            start = self._first_pass_end(t)
            found = self._restart_previous(start)
            cursor = start if found is None else found
            while (following := self._walk_next(cursor)) is not None and following <= t:
                found = cursor = following
            return found
        wall = self._prev_wall(wall_of(local.replace(tzinfo=None)))
        for _ in range(_MAX_BACKSTEPS):
            if wall is None:
                return None
            offset = self.regular_offset(date(*wall[:3]))
            if offset is not None:
                return to_instant(wall, offset)
            # A day with a DST change: a match in the skipped hour is never a slot (systemd
            # moves it forward to another time); any other is one unless the walk skips it.
            local = naive(wall)
            first = to_us(local.replace(tzinfo=self.zone))
            second = to_us(local.replace(tzinfo=self.zone, fold=1))
            if first > second:  # skipped: go on from just before the change
                wall = self._prev_wall(wall_of(self._local(self._change(second, first) - 1)))
                continue
            found = self._restart_next(first - 1)
            if found is not None and found <= t:
                while (following := self._restart_next(found)) is not None and following <= t:
                    found = following
                return found
            wall = self._prev_wall(carry_back(wall))
        raise RuntimeError(f"no previous slot found within {_MAX_BACKSTEPS} steps")

    def _chain_previous(self, slot: int) -> int:
        """``slot``, or the slot before it if a running timer steps over it.

        A walk that crosses the start of an hour, day, month or year with a step past the end of
        a field skips the slots just after it (see :func:`skips_slots`); a timer started just
        before such a slot would fire there, a running one does not. So: from the timer's last
        slot before each such start, where does its walk go next?
        """
        for _ in range(8):  # a step back may land just after another start: look again
            for start in self._starts_before(slot):
                crossing = self._crossings.get(start)
                if crossing is None:
                    before = self._restart_previous(start - 1)
                    after = None if before is None else self._walk_next(before)
                    if len(self._crossings) > 1024:
                        self._crossings.clear()
                    crossing = self._crossings[start] = (before, after)
                before, after = crossing
                if before is not None and after is not None and before < slot < after:
                    slot = before
                    break
            else:
                return slot
        return slot

    def _starts_before(self, t: int) -> list[int]:
        """The starts of ``t``'s local hour, day, month and year that a skip after them could
        reach ``t`` from: a carried second reaches less than a minute into the hour, a carried
        hour less than a day into the month (a DST change adds an hour), a day a month."""
        local = from_us(t).astimezone(self.zone).replace(tzinfo=None)
        day = local.replace(hour=0, minute=0, second=0, microsecond=0)
        reach = (
            (local.replace(minute=0, second=0, microsecond=0), timedelta(minutes=1)),
            (day, timedelta(days=2)),
            (day.replace(day=1), timedelta(days=1, hours=2)),
            (day.replace(month=1, day=1), timedelta(days=32)),
        )
        return sorted(
            {
                min(t, to_us(first.replace(tzinfo=self.zone)))
                for first, near in reach
                if local - first < near
            }
        )

    # --- wall-clock matching (no DST) -----------------------------------------------------------

    def _next_wall(self, wall: Wall) -> Wall | None:
        """The earliest matching wall-clock time at or after ``wall``."""
        y, mo, d, h, mi, us = wall
        day = self._next_date(y, mo, d)
        if day is None or self.first_time is None:
            return None
        if day == (y, mo, d):
            later = self._next_time(h, mi, us)
            if later is not None:
                return (*day, *later)
            following = date(y, mo, d).toordinal() + 1
            day = self._next_date(*ymd(following))
            if day is None:
                return None
        return (*day, *self.first_time)

    def _prev_wall(self, wall: Wall) -> Wall | None:
        """The latest matching wall-clock time at or before ``wall``."""
        y, mo, d, h, mi, us = wall
        day = self._prev_date(y, mo, d)
        if day is None or self.last_time is None:
            return None
        if day == (y, mo, d):
            earlier = self._prev_time(h, mi, us)
            if earlier is not None:
                return (*day, *earlier)
            day = self._prev_date(*ymd(date(y, mo, d).toordinal() - 1))
            if day is None:
                return None
        return (*day, *self.last_time)

    def _next_time(self, h: int, mi: int, us: int) -> tuple[int, int, int] | None:
        hours, minutes, usecs = self.hours, self.minutes, self.usecs
        i = bisect_left(hours, h)
        if i < len(hours) and hours[i] == h:
            j = bisect_left(minutes, mi)
            if j < len(minutes) and minutes[j] == mi:
                k = bisect_left(usecs, us)
                if k < len(usecs):
                    return (h, mi, usecs[k])
                j += 1
            if j < len(minutes):
                return (h, minutes[j], usecs[0])
            i += 1
        if i < len(hours):
            return (hours[i], minutes[0], usecs[0])
        return None

    def _prev_time(self, h: int, mi: int, us: int) -> tuple[int, int, int] | None:
        hours, minutes, usecs = self.hours, self.minutes, self.usecs
        i = bisect_right(hours, h) - 1
        if i >= 0 and hours[i] == h:
            j = bisect_right(minutes, mi) - 1
            if j >= 0 and minutes[j] == mi:
                k = bisect_right(usecs, us) - 1
                if k >= 0:
                    return (h, mi, usecs[k])
                j -= 1
            if j >= 0:
                return (h, minutes[j], usecs[-1])
            i -= 1
        if i >= 0:
            return (hours[i], minutes[-1], usecs[-1])
        return None

    def matches_date(self, day: date) -> bool:
        """Whether the date fields and weekdays select ``day``."""
        y, mo = day.year, day.month
        return (
            y in self._year_set
            and mo in self._month_set
            and (day.day in self._matching_days(y, mo))
        )

    def _next_date(self, y: int, mo: int, d: int) -> tuple[int, int, int] | None:
        years, months = self.years, self.months
        while True:
            if y not in self._year_set:
                i = bisect_left(years, y)
                if i == len(years):
                    return None
                y, mo, d = years[i], 1, 1
            if mo not in self._month_set:
                i = bisect_left(months, mo)
                if i == len(months):
                    y, mo, d = y + 1, 1, 1
                    continue
                mo, d = months[i], 1
            days = self._matching_days(y, mo)
            i = bisect_left(days, d)
            if i < len(days):
                return (y, mo, days[i])
            y, mo, d = (y + 1, 1, 1) if mo == 12 else (y, mo + 1, 1)

    def _prev_date(self, y: int, mo: int, d: int) -> tuple[int, int, int] | None:
        years, months = self.years, self.months
        while True:
            if y not in self._year_set:
                i = bisect_right(years, y) - 1
                if i < 0:
                    return None
                y, mo, d = years[i], 12, 31
            if mo not in self._month_set:
                i = bisect_right(months, mo) - 1
                if i < 0:
                    y, mo, d = y - 1, 12, 31
                    continue
                mo, d = months[i], 31
            days = self._matching_days(y, mo)
            i = bisect_right(days, d) - 1
            if i >= 0:
                return (y, mo, days[i])
            y, mo, d = (y - 1, 12, 31) if mo == 1 else (y, mo - 1, 31)

    def _raw_days(self, y: int, mo: int) -> tuple[int, ...]:
        key = (y, mo)
        days = self._days.get(key)
        if days is None:
            spec = self.spec
            days = self._days[key] = month_days(spec.days, spec.end_of_month, y, mo)
        return days

    def _matching_days(self, y: int, mo: int) -> tuple[int, ...]:
        """The days of the month that match the day field and the weekdays."""
        key = (y, mo)
        days = self._matching.get(key)
        if days is None:
            days = self._raw_days(y, mo)
            mask = self.spec.weekdays
            if mask != ANY_WEEKDAY:
                days = tuple(d for d in days if mask >> date(y, mo, d).weekday() & 1)
            self._matching[key] = days
        return days

    def regular_offset(self, day: date) -> int | None:
        """The UTC offset (µs) of a day on which wall-clock matching gives the slots: a day
        without a DST change; None for a day with one, or any day where the walk skips slots."""
        if self.exact_walk_only:
            return None
        if self.zone is UTC:
            return 0
        return regular_offset(self.zone, day.toordinal())

    def _local(self, t: int) -> datetime:
        return from_us(t).astimezone(self.zone).replace(tzinfo=None)

    def _change(self, low: int, high: int) -> int:
        """The first instant in ``(low, high]`` with the offset of ``high`` (a DST change)."""
        target = from_us(high).astimezone(self.zone).utcoffset()
        while high - low > 1:
            middle = (low + high) // 2
            if from_us(middle).astimezone(self.zone).utcoffset() == target:
                high = middle
            else:
                low = middle
        return high

    def _first_pass_end(self, t: int) -> int:
        """For ``t`` in the second pass of a repeated hour: the last instant of the first."""
        local = from_us(t).astimezone(self.zone)
        repeat = offset_us(local.replace(fold=0).utcoffset()) - offset_us(local.utcoffset())
        # The change happened less than one repeat before t.
        return self._change(t - repeat, t) - 1

    # --- systemd's walk ---------------------------------------------------------------------

    def systemd_next(self, t: int) -> int | None:
        """``calendar_spec_next_usec(t)``: systemd's next elapse after ``t``, step by step;
        None where systemd has none, or gives up ("Infinite loop in calendar calculation")."""
        return SystemdWalk(self.spec, self.zone).run(t)

    def _walk_next(self, t: int) -> int | None:
        """systemd's next elapse; where systemd 252 gives up (a DST change right after a step
        past the end of a field can send its walk round in circles, and the timer then stops),
        the elapse its walk finds without that flaw."""
        walker = SystemdWalk(self.spec, self.zone)
        found = walker.run(t)
        if found is None and walker.gave_up:
            found = SystemdWalk(self.spec, self.zone, stale_isdst=False).run(t)
        return found
