"""OnCalendar schedules against systemd itself: ``systemd-analyze calendar --iterations=50``.

Every case runs the real ``systemd-analyze`` (Debian's systemd 252; it needs no running
systemd) with ``--base-time`` and, for expressions without their own zone, ``TZ=`` set to the
zone, and compares its 50 next elapses and its normalized form with cronwatch's. Under
``CI=true`` a missing ``systemd-analyze`` is a failure, not a skip.

systemd prints whole seconds; instants with a fraction of a second are compared truncated.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from cronwatch.errors import InvalidInput
from cronwatch.schedule import OnCalendarSchedule, parse_schedule
from cronwatch.systemd_time import parse_calendar, parse_timespan
from tests.support.databases import IN_CI
from tests.support.health import utc

ITERATIONS = 50
_ELAPSE = re.compile(
    r"(?:Next elapse|Iter\. #\d+|\(in UTC\)):\s+\w{3} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (\S+)$"
)


@pytest.fixture(scope="module")
def systemd_analyze() -> str:
    path = shutil.which("systemd-analyze")
    problem = None
    if path is None:
        problem = "systemd-analyze is not installed (Debian package systemd)"
    else:
        probe = subprocess.run(
            [path, "calendar", "daily"], capture_output=True, text=True, timeout=30
        )
        if probe.returncode != 0:
            problem = f"systemd-analyze calendar does not work here: {probe.stderr.strip()}"
    if problem is not None:
        if IN_CI:
            pytest.fail(problem + " (required under CI=true)")
        pytest.skip(problem)
    assert path is not None
    return path


def run_systemd(
    tool: str, expression: str, base: datetime, zone: str = "UTC", iterations: int = ITERATIONS
) -> tuple[str, list[datetime]]:
    """systemd's normalized form and next elapses after ``base`` (its local zone ``zone``)."""
    seconds = (base - utc(1970, 1, 1)) // timedelta(microseconds=1)
    whole, fraction = divmod(seconds, 1_000_000)
    result = subprocess.run(
        [tool, "calendar", f"--iterations={iterations}", f"--base-time=@{whole}.{fraction:06d}",
         expression],
        capture_output=True, text=True, timeout=120, env={**os.environ, "TZ": zone},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    normalized = re.search(r"Normalized form: (.*)", result.stdout)
    assert normalized is not None, result.stdout
    lines = result.stdout.splitlines()
    # In another local zone every elapse is also printed "(in UTC)"; in UTC it is UTC already.
    chosen = [line for line in lines if "(in UTC):" in line] or [
        line for line in lines if re.search(r"Next elapse|Iter\. #", line)
    ]
    elapses = []
    for line in chosen:
        if line.strip().endswith(": never"):
            break
        match = _ELAPSE.search(line.strip())
        assert match is not None and match.group(2) == "UTC", line
        elapses.append(datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC))
    return normalized.group(1), elapses


def cronwatch_chain(schedule: OnCalendarSchedule, base: datetime, count: int) -> list[datetime]:
    """The next ``count`` slots after ``base``, whole seconds (as systemd prints them)."""
    found, cursor = [], base
    for _ in range(count):
        try:
            cursor = schedule.next_after(cursor)
        except InvalidInput:
            break
        found.append(cursor.replace(microsecond=0))
    return found


# (expression, the local zone systemd-analyze runs in (TZ=), base time). Berlin changes at
# 01:00 UTC on 2026-03-29 and 2026-10-25; New York at 07:00 UTC on 2026-03-08 and 06:00 UTC on
# 2026-11-01; Lord Howe by 30 minutes, at 15:00 UTC on 2026-04-04 and 15:30 UTC on 2026-10-03.
CASES = [
    # steps, ranges, lists
    ("*:0/15", "UTC", utc(2026, 3, 1, 12, 7)),
    ("*-*-* *:00/15:00", "UTC", utc(2026, 12, 31, 20)),
    ("08..18/2:00 America/New_York", "UTC", utc(2026, 3, 6)),
    ("*-1,4,7,10-15 08:00", "UTC", utc(2025, 1, 1)),
    ("*-*-* 06,18:00,30", "Europe/Berlin", utc(2026, 3, 20)),
    ("*-*-1..7 00:00", "UTC", utc(2026, 1, 1)),
    # weekdays
    ("Mon..Fri 09:00", "America/New_York", utc(2026, 2, 20)),
    ("Sat,Sun 10:30 Europe/Berlin", "UTC", utc(2026, 3, 1)),
    ("Mon,Wed,Fri *-*-* 06:00,18:00", "UTC", utc(2026, 5, 5)),
    ("Mon-Wed 12:00", "UTC", utc(2026, 5, 5)),
    ("Mon *-*-1..7 09:00", "Europe/Berlin", utc(2026, 1, 1)),
    ("Sunday *-*-* 01:00:00", "Europe/Berlin", utc(2026, 3, 1)),
    # ~ (days before the end of the month)
    ("*-*~01 23:00 America/New_York", "UTC", utc(2025, 1, 1)),
    ("*-02~01", "UTC", utc(2000, 1, 1)),
    ("Mon *-05~07/1 09:00", "UTC", utc(2000, 1, 1)),
    ("*-*~01..03 12:00", "UTC", utc(2026, 1, 10)),
    # shorthands
    ("minutely", "Australia/Lord_Howe", utc(2026, 10, 3, 15, 5)),
    ("hourly", "America/New_York", utc(2026, 11, 1)),
    ("hourly", "America/New_York", utc(2026, 3, 7, 20)),
    ("daily", "Europe/Berlin", utc(2026, 3, 10)),
    ("weekly", "UTC", utc(2026, 1, 1)),
    ("monthly Europe/Berlin", "UTC", utc(2026, 1, 15)),
    ("quarterly", "America/New_York", utc(2020, 1, 1)),
    ("semiannually", "UTC", utc(2000, 1, 1)),
    ("yearly", "UTC", utc(2000, 6, 1)),
    ("annually UTC", "Europe/Berlin", utc(2000, 6, 1)),
    # seconds, fractions of seconds, years, a Unix time
    ("*:*:0/20", "UTC", utc(2026, 3, 1, 23, 59, 30)),
    ("*:*:05,35 Europe/Berlin", "UTC", utc(2026, 10, 25, 0, 50)),
    ("*:*:0/7.5", "UTC", utc(2026, 3, 1, 0, 0, 0, 300000)),
    ("*-*-* 12:00:00.5", "UTC", utc(2026, 3, 1)),
    ("2027..2035-06-15 12:00", "UTC", utc(2026, 1, 1)),
    ("2026-*-* 23:59:59", "UTC", utc(2026, 11, 20)),
    ("@1780000000", "UTC", utc(2026, 1, 1)),
    # DST, both directions: Berlin, New York, Lord Howe (30 minutes)
    ("*:0/15 Europe/Berlin", "UTC", utc(2026, 10, 24, 23, 30)),
    ("*:0/15 Europe/Berlin", "UTC", utc(2026, 3, 28, 23)),
    ("*-*-* 02:30:00", "Europe/Berlin", utc(2026, 3, 1)),
    ("*-*-* 02:30 Europe/Berlin", "UTC", utc(2026, 10, 1)),
    ("*-*-* 02,03:30 Europe/Berlin", "UTC", utc(2026, 3, 20)),
    ("*-*-* 02:00/30 Europe/Berlin", "UTC", utc(2026, 3, 25)),
    ("*:30 America/New_York", "UTC", utc(2026, 10, 31, 20)),
    ("*-*-* 00/3:30 America/New_York", "UTC", utc(2026, 10, 28)),
    ("*-*-* 01:30", "America/New_York", utc(2026, 10, 15)),
    ("*-*-* 02:30", "America/New_York", utc(2026, 2, 20)),
    ("*:0/10 Australia/Lord_Howe", "UTC", utc(2026, 4, 4, 14)),
    ("*:0/10 Australia/Lord_Howe", "UTC", utc(2026, 10, 3, 15)),
    ("*-*-* 02:15 Australia/Lord_Howe", "UTC", utc(2026, 9, 20)),
    ("*-*-* 01:45", "Australia/Lord_Howe", utc(2026, 3, 20)),
    # steps that run past the end of their field: systemd skips slots, and so must cronwatch
    ("0/5:00", "UTC", utc(2026, 3, 25)),
    ("*:0/7", "UTC", utc(2026, 3, 30, 20)),
    ("*:*:5/25", "UTC", utc(2026, 3, 30, 12, 50)),
    ("1/7:59", "UTC", utc(2026, 3, 20)),
    ("*-*-1/20", "UTC", utc(2025, 11, 1)),
]


@pytest.mark.parametrize(("expression", "zone", "base"), CASES)
def test_next_50_agree_with_systemd(
    systemd_analyze: str, expression: str, zone: str, base: datetime
) -> None:
    normalized, expected = run_systemd(systemd_analyze, expression, base, zone)
    assert expected, "systemd found no elapse: the case tests nothing"
    schedule = OnCalendarSchedule((expression,), zone)
    assert parse_calendar(expression).normalized() == normalized
    assert cronwatch_chain(schedule, base, ITERATIONS) == expected


def test_the_cases_cover_what_the_issue_asks_for() -> None:
    texts = " ".join(expression for expression, _, _ in CASES)
    assert len(CASES) >= 40
    for needed in ("..", "/15", ",", "Mon..Fri", "~", "daily", "weekly", "quarterly",
                   "minutely", ":05,35", "2027..2035", "Europe/Berlin", "America/New_York",
                   "Australia/Lord_Howe"):  # fmt: skip
        assert needed in texts or any(needed == zone for _, zone, _ in CASES), needed


def test_several_expressions_are_the_union_of_systemd_elapses(systemd_analyze: str) -> None:
    base = utc(2026, 3, 1)
    expressions = ("Mon 09:00 Europe/Berlin", "Fri 17:00 America/New_York", "daily UTC")
    merged = sorted({t for e in expressions for t in run_systemd(systemd_analyze, e, base)[1]})
    schedule = OnCalendarSchedule(expressions)
    # Each systemd list covers 50 elapses; the union is exact up to the shortest horizon.
    horizon = min(run_systemd(systemd_analyze, e, base)[1][-1] for e in expressions)
    expected = [t for t in merged if t <= horizon]
    assert cronwatch_chain(schedule, base, len(expected)) == expected


def test_from_inside_a_repeated_hour_cronwatch_follows_a_running_timer(
    systemd_analyze: str,
) -> None:
    # 01:10 UTC on 2026-10-25 is 02:10 CET, the second pass of Berlin's 02:00-03:00. Asked from
    # there, systemd's walk starts in CET and answers 02:20 CET; a timer that ran through the
    # change fired 02:00, 02:20, 02:40 CEST and goes on at 03:00 CET. cronwatch expects the
    # latter (the documented difference), which is systemd's own answer from before the hour.
    inside, before = utc(2026, 10, 25, 1, 10), utc(2026, 10, 24, 23, 50)
    from_inside = run_systemd(systemd_analyze, "*:0/20 Europe/Berlin", inside, iterations=2)[1]
    assert from_inside == [utc(2026, 10, 25, 1, 20), utc(2026, 10, 25, 1, 40)]
    running = run_systemd(systemd_analyze, "*:0/20 Europe/Berlin", before, iterations=4)[1]
    assert running[-2:] == [utc(2026, 10, 25, 0, 40), utc(2026, 10, 25, 2, 0)]
    schedule = OnCalendarSchedule(("*:0/20 Europe/Berlin",))
    assert schedule.next_after(inside) == utc(2026, 10, 25, 2)
    assert cronwatch_chain(schedule, before, 4) == running
    assert schedule.previous_at_or_before(inside) == utc(2026, 10, 25, 0, 40)


def test_where_systemd_gives_up_cronwatch_expects_what_a_working_walk_finds(
    systemd_analyze: str,
) -> None:
    # Hour 29 (1/7 after 22) carried into 2026-03-29 05:00 CEST, then reset to 00:00 with
    # CEST's tm_isdst, reads as 23:00 the day before: systemd 252 goes round in circles and
    # gives up ("Infinite loop in calendar calculation"), and the timer stops there.
    expression, base = "1/7:59 Europe/Berlin", utc(2026, 3, 28, 20)
    fine = run_systemd(systemd_analyze, expression, base, iterations=1)[1]
    assert fine == [utc(2026, 3, 28, 21, 59)]  # 22:59 CET, then the walk is stuck
    stuck = subprocess.run(
        [systemd_analyze, "calendar", "--base-time=@1774735140", expression],  # 21:59 UTC
        capture_output=True, text=True, timeout=30, env={**os.environ, "TZ": "UTC"},
    )  # fmt: skip
    assert stuck.returncode != 0 and "Resource deadlock avoided" in stuck.stderr
    schedule = OnCalendarSchedule((expression,))
    walk = schedule._walks[0]
    assert walk.systemd_next(1774735140 * 1_000_000) is None  # the same dead end
    # cronwatch expects 01:59 CET, where a walk without that flaw goes: a timer that stopped
    # is then reported missing.
    assert schedule.next_after(utc(2026, 3, 28, 21, 59)) == utc(2026, 3, 29, 0, 59)


INVALID = [
    "", "Mon..", "Fri..Mon", "Mond 12:00", "Mon-Wed-Fri", "25:00", "*:60", "*:*:60",
    "2024-13-01", "2024-02-32", "1969-01-01", "2200-01-01", "*-*~29", "*-*~16,28", "*:0/60",
    "*:59/1", "*:0/0", "12:00:00.", "*-*~1/1", "*-*-31..29", "*-*-* 1-2:00", "12:00 Foo/Bar",
    "12:00  UTC", "@", "*:*:1..1.5", "12", "12:00 12:00", "daily weekly",
]  # fmt: skip
VALID_EDGES = [
    "*-*-* 05..05:00", "Mon,  12:00", "Mon,Tue,", "24-1-1", "daily utc", "*:*:1.0000005",
    "*-*~28", "*-*~16,17", "00..23/5:00", "sunday 12:00", "*:*:0/0.25", "@0",
]  # fmt: skip


@pytest.mark.parametrize("expression", INVALID)
def test_what_systemd_refuses_cronwatch_refuses(systemd_analyze: str, expression: str) -> None:
    result = subprocess.run(
        [systemd_analyze, "calendar", expression],
        capture_output=True, text=True, timeout=30, env={**os.environ, "TZ": "UTC"},
    )  # fmt: skip
    assert result.returncode != 0, result.stdout
    with pytest.raises(InvalidInput, match="OnCalendar"):
        parse_calendar(expression)


@pytest.mark.parametrize("expression", VALID_EDGES)
def test_what_systemd_accepts_cronwatch_accepts_alike(
    systemd_analyze: str, expression: str
) -> None:
    normalized, _ = run_systemd(systemd_analyze, expression, utc(2026, 1, 1), iterations=1)
    assert parse_calendar(expression).normalized() == normalized


SPANS = ["90", "90s", "1h 30min", "1h30min", "2d", "1.5h", "2 weeks", "1M", "1y", "5min 30s",
         "500ms", "3us", "1h30", " 2h ", ".5h", "1h.5", "1w 2d 3h 4min 5s 6ms 7us"]  # fmt: skip


@pytest.mark.parametrize("span", SPANS)
def test_time_spans_agree_with_systemd(systemd_analyze: str, span: str) -> None:
    result = subprocess.run(
        [systemd_analyze, "timespan", span], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    micro = re.search(r"μs: (\d+)", result.stdout)
    assert micro is not None, result.stdout
    assert parse_timespan(span) == timedelta(microseconds=int(micro.group(1)))
    assert parse_schedule(f"OnUnitActiveSec={span}").period_hint() == parse_timespan(span)


@pytest.mark.parametrize("span", ["", "5x", "1h..5", "-5s", "1..2s", "5 m s", "infinity"])
def test_time_spans_systemd_refuses_are_refused(systemd_analyze: str, span: str) -> None:
    result = subprocess.run(
        [systemd_analyze, "timespan", span], capture_output=True, text=True, timeout=30
    )
    if span != "infinity":  # systemd accepts infinity; no schedule ever elapses on it
        assert result.returncode != 0, result.stdout
    with pytest.raises(InvalidInput, match="time span"):
        parse_timespan(span)
