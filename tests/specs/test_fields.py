"""cronwatch.specs: the one table of job fields, read back and forth, and the specs' rules;
the on_calendar field end to end (config file and REST API to ``cronwatch status --json``)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import jsonschema_rs
import pytest

import cronwatch
from cronwatch.errors import InvalidInput
from cronwatch.specs import ChannelSpec, JobSpec
from cronwatch.specs.fields import (
    ALERT_FIELDS,
    API_FIELDS,
    FIELDS_BY_NAME,
    JOB_FIELDS,
    check_json_types,
    parse_job,
    spec_json,
)
from tests.support.cli import invoke
from tests.support.server import LiveServer

CHANNELS = {"ops": ChannelSpec("ops", "webhook", {"url": "https://x.example"})}
EVERY_FIELD = {
    "timezone": "Europe/London",
    "schedule": "0 3 * * *",
    "grace": 1800.0,
    "hosts": ["db1", "db2"],
    "min_hosts": 1,
    "max_runtime": 7200.0,
    "min_runtime": 60.0,
    "tags": ["db"],
    "description": "the nightly dump\nof every database",
    "paused": True,
    "alerts": ["ops"],
    "alert_after": 2,
    "recover_after": 3,
    "repeat": 14400.0,
    "alert_on": ["missing", "late"],
    "snooze_until": "2026-12-01T09:00:00+00:00",
    "escalate_after": 1800.0,
    "escalate_to": ["ops"],
}


def test_the_table_has_a_row_for_every_field_of_a_job_spec() -> None:
    attributes = {f.name for f in dataclasses.fields(JobSpec)} - {"name", "grace_explicit"}
    assert [row.name for row in JOB_FIELDS] == list(FIELDS_BY_NAME)
    assert set(FIELDS_BY_NAME) == attributes
    assert attributes == API_FIELDS | ALERT_FIELDS and not API_FIELDS & ALERT_FIELDS
    # schedule and on_calendar exclude each other: EVERY_FIELD has the one, a test the other.
    assert set(EVERY_FIELD) | {"on_calendar"} == attributes


def test_every_field_reads_back_what_it_shows() -> None:
    spec = parse_job("backup", EVERY_FIELD, CHANNELS)
    assert spec.schedule is not None and spec.schedule.expression == "0 3 * * *"
    assert (spec.grace, spec.hosts, spec.paused) == (timedelta(minutes=30), ("db1", "db2"), True)
    assert spec.snooze_until == datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert spec_json(spec, api_only=False) == EVERY_FIELD
    assert parse_job("backup", spec_json(spec, api_only=False), CHANNELS) == spec
    shown = spec_json(spec)  # what the REST API shows: its fields only
    assert set(shown) == API_FIELDS - {"on_calendar"}
    assert parse_job("backup", shown, CHANNELS) == dataclasses.replace(
        spec,
        alert_after=None,
        recover_after=None,
        repeat=None,
        alert_on=None,
        snooze_until=None,
        escalate_after=None,
        escalate_to=None,
    )


def test_defaults_are_left_out_but_the_timezone() -> None:
    spec = parse_job("plain", {})
    assert spec_json(spec, api_only=False) == {"timezone": "UTC"}
    assert (spec.grace, spec.grace_explicit) == (timedelta(hours=1), False)
    assert parse_job("plain", {"schedule": "every 15m"}).grace == timedelta(minutes=1, seconds=30)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"paused": 1}, "paused: expected boolean"),
        ({"grace": True}, "grace: expected a duration such as '15m' or a number of seconds"),
        ({"hosts": ["a", 2]}, "hosts: expected a list of strings"),
        ({"min_hosts": "1"}, "min_hosts: expected integer"),
        (
            {"alert_after": 2},
            'unknown job field "alert_after" (allowed: alerts, description, grace, hosts,',
        ),
        ({"max_runtme": "1h"}, 'unknown job field "max_runtme"'),
    ],
)
def test_json_types_are_checked_before_parsing(fields: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput) as info:
        check_json_types(fields)
    assert str(info.value).startswith(message)


@pytest.mark.parametrize("tag", ["a,b", "a b", "a\u2003b", "nightly\u00a0db"])
def test_a_tag_with_a_comma_or_whitespace_is_refused(tag: str) -> None:
    """/metrics joins tags with commas (",a,b,"), Healthchecks' API with spaces: a tag holding
    either would read as two. The parser and the API's JSON Schema refuse it alike."""
    with pytest.raises(InvalidInput) as info:
        parse_job("x", {"tags": ["db", tag]})
    assert str(info.value).startswith("jobs.x.tags[1]: a tag must not contain a comma")
    schema = jsonschema_rs.Draft202012Validator(FIELDS_BY_NAME["tags"].json_schema())
    assert not schema.is_valid(["db", tag])
    for fine in (["db", "nightly-db", "café", "team:ops"], []):
        assert parse_job("x", {"tags": fine}).tags == tuple(fine)
        assert schema.is_valid(fine)


def test_null_is_a_type_only_for_a_patch() -> None:
    check_json_types({"grace": None}, nullable=True)
    with pytest.raises(InvalidInput, match="grace: expected"):
        check_json_types({"grace": None})


def test_a_row_may_read_the_rows_above_it() -> None:
    with pytest.raises(InvalidInput, match=r"jobs\.x\.schedule: invalid cron expression"):
        parse_job("x", {"timezone": "America/New_York", "schedule": "0 3 * *"})
    with pytest.raises(InvalidInput, match=r"jobs\.x\.min_hosts: must be between 1 and the"):
        parse_job("x", {"hosts": ["a"], "min_hosts": 2})
    with pytest.raises(InvalidInput, match=r"jobs\.x\.alerts\[0\]: no channel \"ops\""):
        parse_job("x", {"alerts": ["ops"]}, {})
    assert parse_job("x", {"alerts": ["ops"]}).alerts == ("ops",)  # None: not checked


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"grace": 99_999_999_999}, "grace"),
        ({"schedule": "every 999999999d"}, "schedule"),
        ({"max_runtime": "106751991d"}, "max_runtime"),
        ({"min_runtime": "200000d"}, "min_runtime"),
        ({"repeat": "36526d"}, "repeat"),
    ],
)
def test_durations_beyond_a_century_are_refused(fields: dict[str, object], field: str) -> None:
    # Added to instants by the health checks, they would overflow datetime.
    with pytest.raises(InvalidInput) as info:
        parse_job("long", fields)
    assert str(info.value).startswith(f"jobs.long.{field}: ")
    assert str(info.value).endswith("is too long; at most 100 years")


def test_a_century_is_allowed() -> None:
    spec = parse_job("centennial", {"schedule": "every 36525d", "grace": 36525 * 86400})
    assert spec.grace == timedelta(days=36525)


def test_on_calendar_reads_back_what_it_shows_and_is_the_schedule() -> None:
    fields = {**EVERY_FIELD, "on_calendar": ["Mon..Fri 09:00", "Sat 12:00 UTC"]}
    del fields["schedule"]
    spec = parse_job("backup", fields, CHANNELS)
    assert spec.on_calendar is not None and spec.schedule is spec.on_calendar
    assert spec.on_calendar.expressions == ("Mon..Fri 09:00", "Sat 12:00 UTC")
    assert spec.on_calendar.timezone == "Europe/London"
    shown = spec_json(spec, api_only=False)
    assert shown == fields and "schedule" not in shown
    assert parse_job("backup", shown, CHANNELS) == spec
    one = parse_job("one", {"on_calendar": "daily"})
    assert spec_json(one) == {"timezone": "UTC", "on_calendar": "daily"}
    # The default grace follows the calendar's period, as it does for a schedule.
    assert one.grace == timedelta(hours=1)
    assert parse_job("q", {"on_calendar": "*:0/15"}).grace == timedelta(minutes=1, seconds=30)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"schedule": "0 3 * * *", "on_calendar": "daily"},
            "jobs.x.schedule: give either schedule or on_calendar, not both "
            "(jobs.x.on_calendar is set too)",
        ),
        ({"on_calendar": "Mon..Fry 09:00"}, "jobs.x.on_calendar: invalid OnCalendar expression"),
        ({"on_calendar": ["daily", "13:61"]}, "jobs.x.on_calendar[1]: invalid OnCalendar"),
        ({"on_calendar": []}, "jobs.x.on_calendar: expected a calendar expression such as"),
        ({"on_calendar": 3}, "jobs.x.on_calendar: expected a calendar expression such as"),
        ({"on_calendar": ["daily", 3]}, "jobs.x.on_calendar[1]: expected a string, not int"),
        ({"on_calendar": ["daily"] * 51}, "jobs.x.on_calendar: at most 50 calendar expressions"),
        (
            {"on_calendar": "daily", "timezone": "Mars/Olympus"},
            'jobs.x.timezone: unknown timezone "Mars/Olympus"',
        ),
    ],
)
def test_on_calendar_errors_name_the_field(fields: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_job("x", fields)
    assert str(info.value).startswith(message), str(info.value)


def test_on_calendar_json_type() -> None:
    check_json_types({"on_calendar": "daily"})
    check_json_types({"on_calendar": ["daily", "weekly"]})
    for wrong in (1, ["daily", 2], {"a": "b"}, True):
        with pytest.raises(InvalidInput, match="on_calendar: expected a calendar expression"):
            check_json_types({"on_calendar": wrong})


def test_on_calendar_is_the_schedule_of_the_same_oncalendar_lines() -> None:
    # So every health rule tested on OnCalendar= schedules (DST both ways included, in
    # test_health_oncalendar) holds for the field as well.
    zone = {"timezone": "Australia/Lord_Howe"}
    field = parse_job("x", {**zone, "on_calendar": ["*-*-* 02:15", "Sat 12:00 UTC"]})
    lines = parse_job("x", {**zone, "schedule": "OnCalendar=*-*-* 02:15\nOnCalendar=Sat 12:00 UTC"})
    assert field.schedule == lines.schedule and hash(field.schedule) == hash(lines.schedule)
    assert field.grace == lines.grace and lines.on_calendar is None


# -- on_calendar end to end: the slots are placed relative to the real clock (a daily time 30 or
# 5 minutes ago), as the status command judges at the current instant.

DAY = timedelta(days=1)


def status_json(database_url: str, config: Path | None = None) -> dict[str, dict[str, Any]]:
    result = invoke("status", "--json", url=database_url, config=config)
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
