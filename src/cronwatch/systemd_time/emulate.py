"""systemd's own walk (``calendar_spec_next_usec`` of systemd 252) over glibc's ``mktime``.

systemd walks the fields of a local wall-clock time, year down to seconds, and turns each
candidate into an instant with the C library's ``mktime``; where ``mktime`` moves a candidate
(a time skipped by a DST change, minute 61), systemd starts the next round from the moved time.
:class:`SystemdWalk` replays that, round by round, with ``mktime`` as glibc (Debian 12) answers
it, measured: see :meth:`SystemdWalk.mktime`. This is the reference the fast field matching of
:mod:`cronwatch.systemd_time.walk` must agree with, and what it falls back to on the days where
plain matching would not.
"""

from __future__ import annotations

import calendar as _calendar
from datetime import UTC, date, tzinfo

from cronwatch.systemd_time.calendar import (
    ANY_WEEKDAY,
    MAX_YEAR,
    USEC,
    CalendarSpec,
    Chain,
)
from cronwatch.systemd_time.wallclock import (
    Wall,
    as_wall,
    carry,
    local_wall,
    naive,
    offset_us,
    to_instant,
    wall_of,
)
from cronwatch.timeutil import from_us

#: systemd gives up after this many rounds of its walk ("Infinite loop in calendar calculation").
MAX_ROUNDS = 1000
_MATCH, _AGAIN, _STOP = 0, 1, 2


class SystemdWalk:
    """One run of systemd's ``find_next`` (systemd 252) over the C library's ``mktime``.

    ``prefer`` is the C library's memory of the last offset it used, which decides a repeated
    wall-clock time. ``isdst`` is the candidate's ``tm_isdst``: -1 (unknown) after each round's
    normalization, except that a time the library moved keeps the ``tm_isdst`` of where it
    moved to, even after systemd resets its hour or minute (``stale_isdst``); and once the walk
    found a time not after its start ("stuck"), systemd moves on an hour and keeps every
    ``tm_isdst`` from then on.
    """

    def __init__(self, spec: CalendarSpec, zone: tzinfo, *, stale_isdst: bool = True) -> None:
        self.spec = spec
        self.zone = zone
        self.prefer = 0
        self.isdst = -1
        self.stale_isdst = stale_isdst
        self.keep_isdst = False
        self.gave_up = False

    def mktime(self, wall: Wall, isdst: int) -> tuple[int, Wall] | None:
        """(instant, normalized wall), or None where ``mktime`` fails.

        The C library's (glibc's) choices, as measured with it: a skipped time is read with
        the offset on the side whose ``tm_isdst`` differs from the one asked for (forward by
        the gap for -1 and 0, backward for 1), and fails if neither side differs; a repeated
        time is read in the offset whose ``tm_isdst`` was asked for, else in the offset of the
        last conversion; a time that lacks the ``tm_isdst`` asked for is read with the offset
        of the nearest time that has it.
        """
        wall = carry(*wall)
        if wall[0] > 9999:
            return None
        if self.zone is UTC:
            return to_instant(wall, 0), wall
        zone, local = self.zone, naive(wall)
        folds = (local, local.replace(fold=1))
        before, after = (offset_us(zone.utcoffset(n)) for n in folds)
        if before < after:
            dst_before, dst_after = (bool(zone.dst(n)) for n in folds)
            if dst_before != dst_after:
                forward = dst_after if isdst < 0 else dst_after != bool(isdst)
            elif isdst >= 0 and bool(isdst) == dst_before:
                return None
            else:
                forward = self.prefer != after
            offset = before if forward else after
            instant = to_instant(wall, offset)
            self.prefer = offset
            return instant, local_wall(instant, self.zone)
        offset = after if before > after and self.prefer == after else before
        if isdst >= 0:
            fold = 0 if offset == before else 1
            if bool(zone.dst(folds[fold])) != bool(isdst):
                other = folds[1 - fold]
                if before != after and bool(zone.dst(other)) == bool(isdst):
                    offset = after if fold == 0 else before
                else:
                    offset = self._probe(wall, offset, bool(isdst))
                    instant = to_instant(wall, offset)
                    self.prefer = offset
                    return instant, local_wall(instant, self.zone)
        self.prefer = offset
        return to_instant(wall, offset), wall

    def _probe(self, wall: Wall, offset: int, dst: bool) -> int:
        """glibc's answer to a ``tm_isdst`` the time does not have: the offset of the nearest
        time that has it, probing a week at a time, earlier first."""
        t = to_instant(wall, offset)
        stride = 601_200 * USEC
        for step in range(1, 382):
            for direction in (-1, 1):
                probe = from_us(t + direction * step * stride).astimezone(self.zone)
                if bool(probe.dst()) == dst:
                    return offset_us(probe.utcoffset())
        return offset

    def isdst_of(self, instant: int) -> int:
        if self.zone is UTC:
            return 0
        return 1 if from_us(instant).astimezone(self.zone).dst() else 0

    def within(self, wall: Wall) -> tuple[int, Wall]:
        """``tm_within_bounds``: 1 if valid as is; 0 and the moved wall; -1 if refused."""
        if wall[0] > MAX_YEAR:
            return -1, wall
        converted = self.mktime(wall, self.isdst)
        if converted is None:
            return -1, wall
        moved = list(converted[1])
        # Compared to the second, as struct tm is; the fraction is not part of it.
        old = (*wall[:5], wall[5] // USEC)
        new = (*moved[:5], moved[5] // USEC)
        if new == old:
            return 1, wall
        if new < old:
            return -1, wall  # "Refuse to go backward"
        unit = next(i for i in range(6) if new[i] != old[i])
        if unit < 5:  # the unit below the one that changed starts again
            moved[unit + 1] = 1 if unit + 1 in (1, 2) else 0
        moved[5] = moved[5] // USEC * USEC + wall[5] % USEC
        # systemd keeps the whole struct tm, tm_isdst of the moved time included, and hands it
        # to mktime at the next round although the reset may have moved the time elsewhere.
        self.isdst = self.isdst_of(converted[0]) if self.stale_isdst else -1
        y, mo, d, h, mi, us = moved
        return 0, (y, mo, d, h, mi, us)

    def end_of_month_days(self, wall: Wall) -> Chain:
        """The ``~`` components as days of this month, converting dates as systemd does (it
        leaves the C library's offset at the last date it converted)."""
        y, mo, _, h, mi, us = wall
        last = _calendar.monthrange(y, mo)[1]
        days: list[tuple[int, int, int]] = []
        for start, stop, repeat in self.spec.days or ():
            for back in (start, stop):
                self.mktime((y, mo + 1, 1 - back, h, mi, us - us % USEC), self.isdst)
            if stop >= 0:  # ~a..b runs forward from the b-th last day to the a-th last
                days.append((last + 1 - stop, last + 1 - start, repeat))
            else:
                days.append((last + 1 - start, -1, repeat))
        return tuple(days)

    def run(self, t: int) -> int | None:
        first = from_us(t + 1).astimezone(self.zone)
        self.prefer = offset_us(first.utcoffset())
        self.isdst = self.isdst_of(t + 1)
        start = c = wall_of(first.replace(tzinfo=None))
        for _ in range(MAX_ROUNDS):
            converted = self.mktime(c, self.isdst)  # every round starts from a normalized time
            if converted is not None:
                c = converted[1]
                self.isdst = self.isdst_of(converted[0]) if self.keep_isdst else -1
            elif not self.keep_isdst:
                self.isdst = -1
            state, c = self.date_step(c)
            if state == _STOP:
                return None
            if state == _AGAIN:
                continue
            matched, c = self.time_step(c)
            if not matched:
                continue
            # Compared field by field (struct tm), then by the fraction of the second.
            if (*start[:5], start[5] // USEC, start[5] % USEC) >= (
                *c[:5],
                c[5] // USEC,
                c[5] % USEC + 1,
            ):
                # "We're stuck": a DST change sent the walk back to its start or before it.
                # systemd moves on an hour and lets mktime keep the DST state from now on.
                self.keep_isdst = True
                c = (*c[:3], c[3] + 1, c[4], c[5])
                continue
            converted = self.mktime(c, self.isdst)
            return None if converted is None else converted[0]
        self.gave_up = True
        return None

    def date_step(self, c: Wall) -> tuple[int, Wall]:
        """The year, month, day and weekday stages: (_MATCH, c), (_AGAIN, where to go on) or
        (_STOP, c) when nothing can match any more.

        Values come from the components as systemd computes them, past the end of the field
        included (``11/9`` gives hour 29 after 20), which the C library then carries over.
        """
        spec = self.spec
        year = _raw_next(spec.years, c[0])
        if year is None:
            return _STOP, c
        if year != c[0]:
            c = (year, 1, 1, 0, 0, 0)
        r, c = self.within(c)
        if r <= 0:
            return _STOP, c
        y, mo = c[0], c[1]
        month = _raw_next(spec.months, mo)
        if month is None:
            return _AGAIN, (y + 1, 1, 1, 0, 0, 0)
        if month != mo:
            c = (y, month, 1, 0, 0, 0)
        r, moved = self.within(c)
        if r < 0:
            return _AGAIN, (y + 1, 1, 1, 0, 0, 0)
        if r == 0:
            return _AGAIN, moved
        y, mo, d = c[0], c[1], c[2]
        days = self.end_of_month_days(c) if spec.end_of_month else spec.days
        day = _raw_next(days, d)
        if day is None:
            return _AGAIN, (y, mo + 1, 1, 0, 0, 0)
        if day != d:
            c = (y, mo, day, 0, 0, 0)
        r, moved = self.within(c)
        if r < 0:
            return _AGAIN, (y, mo + 1, 1, 0, 0, 0)
        if r == 0:
            return _AGAIN, moved
        day = c[2]
        if spec.weekdays != ANY_WEEKDAY and not spec.weekdays >> date(y, mo, day).weekday() & 1:
            return _AGAIN, (y, mo, day + 1, 0, 0, 0)
        return _MATCH, c

    def time_step(self, c: Wall) -> tuple[bool, Wall]:
        """The hour, minute and second stages: (True, the slot) or (False, where to go on)."""
        spec = self.spec
        for chain, index in ((spec.hours, 3), (spec.minutes, 4), (spec.seconds, 5)):
            # No match in this unit: the unit above moves on one, and everything below restarts.
            carry = (*c[: index - 1], c[index - 1] + 1, *(0 for _ in range(6 - index)))
            current = c[index]
            found = _raw_next(chain, current)
            if found is None:
                return False, as_wall(carry)
            if found != current:
                c = as_wall((*c[:index], found, *(0 for _ in range(5 - index))))
            r, moved = self.within(c)
            if r < 0:
                return False, as_wall(carry)
            if r == 0:
                return False, moved
        return True, c


def skips_slots(spec: CalendarSpec) -> bool:
    """Whether systemd's walk skips slots of this spec on ordinary days.

    A step without an end (``0/5`` hours, ``*:0/7``, ``*:*:5/25``) goes on past the end of its
    field (hour 25, minute 63); the C library carries that into the next unit (01:00 the next
    day), and systemd then restarts only the unit right below the one that changed: the next
    day's 00:00, the next hour's second 0 and so on are skipped when the carry crosses a month,
    a day, an hour (``1/7:59`` skips 01:59 on the 1st of the month; ``*:0/7`` skips 00:00;
    ``*-*-1/20`` skips the 1st of January). Matching fields directly would find those slots,
    so for such specs every answer comes from the walk itself.
    """

    def carries_past(chain: Chain, size: int, first: int) -> bool:
        for start, stop, repeat in chain or ():
            if stop < 0 < repeat:
                beyond = start + repeat * -((start - size - first) // repeat)
                if beyond - size > first:
                    return True
        return False

    days: Chain = spec.days
    if spec.end_of_month:
        # ~N/step (no end) counts from the end of the month: in December from day 32 - N.
        days = tuple(
            (32 - start, -1, repeat) for start, stop, repeat in spec.days or () if stop < 0
        )
    return (
        carries_past(spec.hours, 24, 0)
        or carries_past(spec.minutes, 60, 0)
        or carries_past(spec.seconds, 60 * USEC, 0)
        or carries_past(days, 31, 1)
    )


def _raw_next(chain: Chain, value: int) -> int | None:
    """systemd's ``find_matching_component``: the least value of ``chain`` at or after
    ``value``, which may lie past the end of the field; ``value`` itself for ``*``."""
    if chain is None:
        return value
    best = None
    for start, stop, repeat in chain:
        if start >= value:
            candidate = start
        elif repeat > 0:
            candidate = start + repeat * -((start - value) // repeat)
            if 0 <= stop < candidate:
                continue
        else:
            continue
        if best is None or candidate < best:
            best = candidate
    return best
