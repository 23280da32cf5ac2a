"""The words of alerts: one line per event, the same on every channel.

backup is MISSING: backup didn't run on db2 since 03:00 UTC (last run 2026-11-27 03:00 UTC)
backup is still MISSING (for 4h 2m): backup didn't run on db2 since 03:00 UTC (...)
backup recovered after 5h 10m MISSING: ran 2m ago on db2, took 14m 2s
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cronwatch.durations import format_duration


def shout(status: str) -> str:
    """A status as alerts show it: ``MISSING``, ``TOO OFTEN``."""
    return status.replace("_", " ").upper()


def at(t: datetime) -> str:
    """``2026-11-28 03:00 UTC``: alerts are read later and elsewhere, so the date is kept."""
    t = t.astimezone(UTC)
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d} UTC"


def _for(since: datetime | None, now: datetime) -> str:
    if since is None:
        return ""
    return format_duration(max(now - since, timedelta(0)))


def problem_text(name: str, status: str, reason: str) -> str:
    return f"{name} is {shout(status)}: {reason}"


def reminder_text(
    name: str, status: str, reason: str, since: datetime | None, now: datetime
) -> str:
    lasting = _for(since, now)
    return (
        f"{name} is still {shout(status)}"
        + (f" (for {lasting})" if lasting else "")
        + f": {reason}"
    )


def recovery_text(
    name: str, was: str | None, reason: str, since: datetime | None, now: datetime
) -> str:
    lasting = _for(since, now)
    after = f" after {lasting} {shout(was)}" if lasting and was else ""
    return f"{name} recovered{after}: {reason}"


def change_text(name: str, hostname: str, old: str, new: str, reason: str) -> str:
    where = f" on {hostname}" if hostname else ""
    return f"{name}{where}: {old} -> {new}: {reason}"
