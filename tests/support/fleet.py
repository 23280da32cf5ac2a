"""What the dashboard tests share: a fleet of jobs in every status, a real browser, and the
checks every browser test makes (no console errors, no dialogs). No test here.

The fleet's histories are written relative to the time of the test, with margins of several
minutes on every threshold, so that the statuses the server computes a moment later are the
ones named in :data:`EXPECTED` (``tests/web/dashboard/test_fleet.py`` checks that they are).

The browser is Debian's Chromium (``/usr/bin/chromium``) driven by Playwright; no browser
download is involved. Without it the browser tests are skipped locally and fail under
``CI=true``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import cronwatch
from cronwatch.config import load_config
from cronwatch.health.service import job_statuses
from cronwatch.monitor import Monitor, make_run
from cronwatch.specs import Config
from cronwatch.storage import open_database
from cronwatch.timeutil import utcnow
from tests.support.databases import IN_CI
from tests.support.paths import ARTIFACTS

CHROMIUM = os.environ.get("CRONWATCH_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
XSS_NAME = "<img src=x onerror=alert(1)>"
XSS_OUTPUT = "</pre><script>alert(2)</script><img src=x onerror=alert(3)>"

FLEET_TOML = """
[jobs.backup]
schedule = "0 3 * * *"
timezone = "Europe/London"
grace = "1h"
hosts = ["db1", "db2"]
max_runtime = "35m"
min_runtime = "1m"
tags = ["db", "nightly"]

[jobs.send-reports]
schedule = "every 1h"
grace = "10m"
tags = ["mail"]

[jobs.sync-inventory]
schedule = "every 1h"
grace = "30m"
tags = ["erp"]

[jobs.rotate-logs]
schedule = "every 1h"
grace = "10m"
tags = ["ops"]

[jobs.import-orders]
schedule = "every 1h"
grace = "10m"
tags = ["erp"]

[jobs.build-search-index]
schedule = "every 1h"
grace = "10m"
max_runtime = "1h"
tags = ["search"]

[jobs.reindex-archive]
schedule = "every 6h"
grace = "30m"
max_runtime = "30m"
tags = ["search"]

[jobs.compress-uploads]
schedule = "every 1h"
grace = "10m"
max_runtime = "5m"
tags = ["ops"]

[jobs.warm-cache]
schedule = "every 1h"
grace = "10m"
min_runtime = "1m"
tags = ["web"]

[jobs.renew-certs]
schedule = "every 1h"
grace = "10m"
tags = ["ops"]

[jobs.legacy-export]
schedule = "every 1h"
paused = true
tags = ["erp"]

[jobs.metrics-rollup]
schedule = "every 1h"
tags = ["web"]
"""

#: The status each job of the fleet is built to be in (``backup`` depends on the time of day:
#: ok, or running while tonight's run goes on).
EXPECTED = {
    "send-reports": "ok",
    "cleanup-tmp": "ok",
    "sync-inventory": "late",
    "rotate-logs": "missing",
    "import-orders": "failing",
    "build-search-index": "running",
    "reindex-archive": "hung",
    "compress-uploads": "slow",
    "warm-cache": "fast",
    "renew-certs": "too_often",
    "legacy-export": "paused",
    "metrics-rollup": "new",
}


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


@dataclass
class Fleet:
    """The jobs written into a database, the config declaring them, and when."""

    config: Config
    now: datetime
    missed_backups: list[datetime] = field(default_factory=list)


def _jitter(i: int, base: float, spread: float = 0.06) -> float:
    """A deterministic duration within ±spread of base (keeps every run inside the band)."""
    return base * (1 + spread * (((i * 7919) % 13) - 6) / 6)


def _hourly(m: Monitor, name: str, host: str, last: datetime, count: int, seconds: float) -> None:
    """``count`` successful runs an hour apart, the latest starting at ``last``."""
    for k in range(count, 0, -1):
        start = last - timedelta(hours=k)
        m.record_success(name, start, start + timedelta(seconds=_jitter(k, seconds)), host)


def _finished(
    m: Monitor,
    name: str,
    host: str,
    start: datetime,
    seconds: float,
    exit_code: int = 0,
    output: str | None = None,
) -> None:
    m.record(
        make_run(
            name,
            start,
            start + timedelta(seconds=seconds),
            outcome="success" if exit_code == 0 else "failure",
            exit_code=exit_code or None,
            hostname=host,
            output=output,
        )
    )


def build_fleet(database_url: str, tmp_path: Path, *, xss: bool = False) -> Fleet:
    """Write the fleet into ``database_url``; with ``xss``, also a job whose name and output
    are HTML and script. Baselines are learned at the end, as the alert loop would."""
    path = tmp_path / "cronwatch.toml"
    path.write_text(FLEET_TOML)
    config = load_config(path)
    now = utcnow().replace(microsecond=0)
    fleet = Fleet(config, now)
    with cronwatch.connect(database_url, statsd=False) as m:
        last = now - minutes(20)
        _hourly(m, "send-reports", "app1", last, 23, 90)
        _finished(m, "send-reports", "app1", last, 90, output="sent 1,204 reports\n")

        _hourly(m, "sync-inventory", "erp1", now - minutes(70), 3, 45)
        _finished(m, "sync-inventory", "erp1", now - minutes(70), 45)

        _hourly(m, "rotate-logs", "web1", now - minutes(180), 8, 12)
        _finished(m, "rotate-logs", "web1", now - minutes(180), 12)

        _hourly(m, "import-orders", "erp1", now - minutes(140), 10, 300)
        for k, start in enumerate((now - minutes(140), now - minutes(80), now - minutes(20))):
            _finished(
                m,
                "import-orders",
                "erp1",
                start,
                42 + k,
                exit_code=2,
                output="Traceback (most recent call last):\n  ...\n"
                "ConnectionError: orders API answered 503\n",
            )

        _hourly(m, "build-search-index", "search1", now - minutes(4), 12, 1200)
        m.start("build-search-index", "search1", date_started=now - minutes(4))

        for k in range(6, 0, -1):
            start = now - minutes(120) - timedelta(hours=6 * k)
            _finished(m, "reindex-archive", "search2", start, _jitter(k, 1100))
        m.start("reindex-archive", "search2", date_started=now - minutes(120))

        _hourly(m, "compress-uploads", "files1", now - minutes(25), 12, 180)
        _finished(m, "compress-uploads", "files1", now - minutes(25), 720)

        _hourly(m, "warm-cache", "web2", now - minutes(15), 12, 120)
        _finished(m, "warm-cache", "web2", now - minutes(15), 3)

        _hourly(m, "renew-certs", "web1", now - minutes(12), 6, 8)
        _finished(m, "renew-certs", "web1", now - minutes(12), 8)
        _finished(m, "renew-certs", "web1", now - minutes(6), 8)

        _hourly(m, "legacy-export", "erp2", now - minutes(600), 4, 30)

        for k in range(24, 0, -1):  # not declared: its interval (15m) is learned
            start = now - minutes(5) - minutes(15 * k)
            _finished(m, "cleanup-tmp", "app2", start, _jitter(k, 4))
        _finished(m, "cleanup-tmp", "app2", now - minutes(5), 4)

        fleet.missed_backups = _backups(m, config, now)
        if xss:
            _finished(
                m, XSS_NAME, "<b>host<i>", now - minutes(3), 2, exit_code=1, output=XSS_OUTPUT
            )
    with open_database(database_url) as db:
        job_statuses(db, config, now=now)  # learns the baselines
    return fleet


def _backups(m: Monitor, config: Config, now: datetime) -> list[datetime]:
    """A month of nightly backups on db1 and db2, two nights missed, one failure on db2; a
    run that would still be going now is recorded as started only. The missed slots."""
    schedule = config.jobs["backup"].schedule
    assert schedule is not None
    slots = schedule.slots_between(now - timedelta(days=30), now)
    missed = [slots[-6], slots[-13]]
    for i, slot in enumerate(slots):
        if slot in missed:
            continue
        for host, offset in (("db1", 5), ("db2", 40)):
            start = slot + timedelta(seconds=offset)
            seconds = _jitter(i + offset, 1380)
            if start > now:  # tonight's slot has only just come
                continue
            if start + timedelta(seconds=seconds) > now - minutes(1):
                m.start("backup", host, date_started=start)
            elif host == "db2" and i == len(slots) - 9:
                _finished(
                    m,
                    "backup",
                    host,
                    start,
                    95,
                    exit_code=1,
                    output="pg_dump: error: connection to server lost\n",
                )
            else:
                _finished(
                    m,
                    "backup",
                    host,
                    start,
                    seconds,
                    output=f"backup of {host} written: {40 + i % 7}.{i % 10} GB\n",
                )
    return missed


# -- the browser ------------------------------------------------------------------------------


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium under Playwright: skipped when absent (a failure under CI=true)."""
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        message = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
        if IN_CI:
            pytest.fail(message + "; required under CI=true")
        pytest.skip(message)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if IN_CI:
            pytest.fail("the playwright package is missing; required under CI=true")
        pytest.skip("the playwright package is not installed")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Watched:
    """A page whose console errors, uncaught exceptions and dialogs are collected; a dialog
    (``alert``) is dismissed, recorded, and fails the test in :meth:`assert_clean`."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("dialog", self._dialog)

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def assert_clean(self) -> None:
        assert self.dialogs == [], f"a dialog opened: script ran: {self.dialogs}"
        assert self.errors == [], f"errors in the browser: {self.errors}"


def screenshot(page: Any, name: str, *, full_page: bool = True) -> Path:
    """Save a screenshot under test-artifacts/ (gitignored) and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
