"""Helpers that drive alert cycles through simulated time (no test here): a config file
with channels pointing at the receivers of :mod:`tests.support.receivers`, runs at minutes
after ``T0``, cycles run minute by minute, and compact views of what they notified."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cronwatch.alerts.cycle import CycleSummary, run_alert_cycle
from cronwatch.config import load_config
from cronwatch.monitor import Monitor
from cronwatch.specs import Config
from cronwatch.storage.connection import Database
from tests.support.receivers import HttpReceiver, SmtpReceiver

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def write_config(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "cronwatch.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def channels_toml(http: HttpReceiver | None = None, smtp: SmtpReceiver | None = None) -> str:
    """[channels.hook] and [channels.mail] pointing at the receivers."""
    text = ""
    if http is not None:
        text += f'[channels.hook]\ntype = "webhook"\nurl = "{http.url}"\ntimeout = "3s"\n'
    if smtp is not None:
        text += (
            f'[channels.mail]\ntype = "email"\nto = ["ops@example.com"]\nhost = "127.0.0.1"\n'
            f'port = {smtp.port}\nfrom = "cronwatch@example.com"\ntimeout = "3s"\n'
        )
    return text


def run_until(
    db: Database,
    config: Config | None,
    start: datetime,
    end: datetime,
    step: timedelta = MINUTE,
    **kwargs: Any,
) -> list[CycleSummary]:
    """Alert cycles at start, start + step, ... up to and including end."""
    summaries = []
    now = start
    while now <= end:
        summaries.append(run_alert_cycle(db, config, now, **kwargs))
        now += step
    return summaries


def notifications(summaries: list[CycleSummary]) -> list[tuple[datetime, str, str]]:
    """(cycle time, kind, text) of every notification the cycles recorded."""
    return [(s.at, e.kind, e.text) for s in summaries for e in s.notifications]


def ran(
    monitor: Monitor,
    name: str,
    at: timedelta,
    *,
    ok: bool = True,
    host: str = "db1",
    took: timedelta = timedelta(seconds=30),
) -> None:
    """A run of ``name`` that started at T0 + ``at`` and took ``took``."""
    started = T0 + at
    if ok:
        monitor.record_success(name, started, started + took, hostname=host)
    else:
        monitor.record_failure(name, started, started + took, 1, hostname=host)


def timeline(
    db: Database,
    config: Config | None,
    minutes: range,
    runs: dict[int, list[tuple[str, bool]]] | None = None,
    monitor: Monitor | None = None,
    *,
    offset: timedelta = timedelta(seconds=45),
    **kwargs: Any,
) -> list[CycleSummary]:
    """For each minute in ``minutes``: record the runs started then (``runs[minute]``: (job,
    succeeded) pairs, 30 s long), then run a cycle ``offset`` into the minute."""
    summaries = []
    for minute in minutes:
        for name, ok in (runs or {}).get(minute, []):
            assert monitor is not None
            ran(monitor, name, minute * MINUTE, ok=ok)
        at = T0 + minute * MINUTE + offset
        summaries += run_until(db, config, at, at, **kwargs)
    return summaries


def kinds(summaries: list[CycleSummary]) -> list[tuple[int, str, str]]:
    """(minute after T0, kind, job) of every notification, for compact assertions."""
    return [
        (int((s.at - T0) // MINUTE), e.kind, e.name) for s in summaries for e in s.notifications
    ]


def every(
    minutes: int, name: str, start: int = 0, stop: int = 600, ok: bool = True
) -> dict[int, list[tuple[str, bool]]]:
    """Runs of ``name`` every ``minutes`` from ``start`` (inclusive) to ``stop`` (exclusive)."""
    return {m: [(name, ok)] for m in range(start, stop, minutes)}


def merge(*schedules: dict[int, list[tuple[str, bool]]]) -> dict[int, list[tuple[str, bool]]]:
    merged: dict[int, list[tuple[str, bool]]] = {}
    for schedule in schedules:
        for minute, runs in schedule.items():
            merged.setdefault(minute, []).extend(runs)
    return merged
