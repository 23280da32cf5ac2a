"""The on_calendar job field end to end: declared in the config file or through the REST API,
runs recorded, the health of each job read back from ``cronwatch status --json`` (ok, late,
missing, too often, next due) and from the API, on SQLite and PostgreSQL.

The slots are placed relative to the real clock (a daily time 30 or 5 minutes ago), as the
status command judges at the current instant.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from click.testing import CliRunner

import cronwatch
from cronwatch.cli.main import cli
from tests.test_server_support import LiveServer

DAY = timedelta(days=1)


def status_json(database_url: str, config: Path | None = None) -> dict[str, dict[str, Any]]:
    base = ["--database-url", database_url] + (["--config", str(config)] if config else [])
    result = CliRunner().invoke(cli, [*base, "status", "--json"])
    assert result.exit_code == 0, result.output
    return {job["name"]: job for job in json.loads(result.output)}


def ran(url: str, name: str, *starts: datetime) -> None:
    with cronwatch.connect(url, statsd=False) as monitor:
        for start in starts:
            monitor.record_success(name, start, start + timedelta(seconds=20), "host1")


def iso(t: datetime) -> str:
    return t.isoformat()


def test_on_calendar_jobs_in_the_config_file(database_url: str, tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    slot, recent = now - timedelta(minutes=30), now - timedelta(minutes=5)
    berlin = slot.astimezone(ZoneInfo("Europe/Berlin"))
    config = tmp_path / "cronwatch.toml"
    config.write_text(
        f'[jobs.ok]\non_calendar = "*-*-* {slot:%H:%M:%S}"\ngrace = "10m"\n'
        # the expression's own zone: the same instant, written in Berlin time
        f'[jobs.missing]\non_calendar = ["{berlin:%H:%M:%S} Europe/Berlin"]\ngrace = "10m"\n'
        f'[jobs.late]\non_calendar = "{recent:%H:%M:%S}"\ngrace = "10m"\n'
        # the timezone field: the same instant again, written in New York time
        f'[jobs.twice]\non_calendar = "{slot.astimezone(ZoneInfo("America/New_York")):%T}"\n'
        'timezone = "America/New_York"\ngrace = "10m"\n'
        # several expressions: the union; the earlier one is the latest slot owed
        f'[jobs.either]\non_calendar = ["{slot:%H:%M:%S}", "{(now + 2 * DAY):%F} 12:00"]\n'
        'grace = "10m"\n'
    )
    ran(database_url, "ok", slot + timedelta(seconds=5))
    ran(database_url, "missing", slot - DAY)
    ran(database_url, "late", recent - DAY)
    ran(database_url, "twice", slot, slot + timedelta(minutes=2))
    ran(database_url, "either", slot - DAY + timedelta(seconds=5))

    jobs = status_json(database_url, config)
    assert {name: job["status"] for name, job in jobs.items()} == {
        "ok": "ok", "missing": "missing", "late": "late", "twice": "too_often",
        "either": "missing",
    }  # fmt: skip
    assert jobs["ok"]["schedule"] == f'on calendar "*-*-* {slot:%H:%M:%S}" (UTC)'
    assert jobs["ok"]["next_due"] == iso(slot + DAY)
    assert jobs["missing"]["schedule"] == (f'on calendar "*-*-* {berlin:%H:%M:%S} Europe/Berlin"')
    # (Instants of another day than today's show their date too.)
    missing = jobs["missing"]["reason"]
    assert missing.startswith("missing didn't run since ") and f"{slot:%H:%M} UTC (last" in missing
    late = jobs["late"]["reason"]
    assert late.startswith("late is due since ") and f"{recent:%H:%M} UTC (grace until " in late
    assert jobs["twice"]["reason"].startswith("twice ran twice for one slot")
    assert jobs["twice"]["schedule"].endswith("(America/New_York)")
    assert not jobs["either"]["learned"] and jobs["either"]["next_due"] == iso(slot + DAY)


def test_on_calendar_jobs_through_the_api(
    server: LiveServer, api: httpx.Client, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    slot = now - timedelta(minutes=30)
    later = f"{(now + 2 * DAY):%F} 12:00 UTC"  # a slot after now: owes nothing yet
    fields = {"on_calendar": [f"{slot:%H:%M:%S}", later], "grace": "10m"}
    created = api.post("/api/v1/jobs", json={"name": "report", **fields})
    assert created.status_code == 201, created.text
    assert created.json()["spec"] == fields
    # schedule beside on_calendar: refused, naming both, and nothing changes.
    both = api.patch("/api/v1/jobs/report", json={"schedule": "0 3 * * *"})
    assert both.status_code == 400
    assert both.json()["message"] == (
        "request: jobs.report.schedule: give either schedule or on_calendar, not both "
        "(jobs.report.on_calendar is set too)"
    )
    bad = api.post("/api/v1/jobs", json={"name": "x", "on_calendar": ["daily", 5]})
    assert bad.status_code == 400 and "on_calendar: expected a calendar expression" in bad.text
    assert api.get("/api/v1/jobs/report").json()["spec"] == fields
    assert api.get("/api/v1/jobs/x").status_code == 404

    ran(server.database_url, "report", slot - DAY)
    (status,) = api.get("/api/v1/status").json()["jobs"]
    assert (status["name"], status["status"]) == ("report", "missing")
    assert status["schedule"] == (
        f'on calendar "*-*-* {slot:%H:%M:%S}" or "{later.replace(" 12:00", " 12:00:00")}" (UTC)'
    )
    # Switching to a schedule takes removing on_calendar in the same patch.
    switched = api.patch("/api/v1/jobs/report", json={"on_calendar": None, "schedule": "every 1h"})
    assert switched.status_code == 200 and switched.json()["spec"] == {
        "schedule": "every 1h", "grace": "10m"}  # fmt: skip
    # The CLI reads the job the API declared from the same database.
    api.patch("/api/v1/jobs/report", json={"schedule": None, "on_calendar": f"{slot:%T}"})
    ran(server.database_url, "report", slot)
    report = status_json(server.database_url)["report"]
    assert (report["status"], report["next_due"]) == ("ok", iso(slot + DAY))
