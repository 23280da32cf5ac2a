"""The TOML config file: what loads, the defaults, and an exact error for every mistake."""

from __future__ import annotations

import itertools
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import cronwatch.config
from cronwatch.config import config_path_from_env, load_config
from cronwatch.errors import ConfigError, InvalidInput
from cronwatch.schedule import CronSchedule, IntervalSchedule, parse_schedule
from cronwatch.specs import (
    AlertSettings,
    ChannelSpec,
    Config,
    JobAlerting,
    JobSpec,
    Limits,
    default_grace,
)
from cronwatch.specs.fields import ALERT_FIELDS, API_FIELDS


def _first_example(doc: str | None) -> str:
    """The first ``::`` block of a docstring, dedented: the example the module shows."""
    assert doc is not None
    lines = doc.split("::\n\n", 1)[1].splitlines()
    block = itertools.takewhile(lambda line: not line or line.startswith("    "), lines)
    return textwrap.dedent("\n".join(block)).strip() + "\n"


#: The example of config.py's docstring: the test proves that what the docs show loads.
FULL = _first_example(cronwatch.config.__doc__)


def write(tmp_path: Path, text: str, name: str = "cronwatch.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> str:
    """The message of the ConfigError that loading ``text`` raises."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message  # always names the file
    return message[len(f"{path}: ") :]


def test_full_example_loads(tmp_path: Path) -> None:
    path = write(tmp_path, FULL)
    config = load_config(path)
    assert isinstance(config, Config)
    assert config.path == path
    assert config.jobs == {
        "backup": JobSpec(
            name="backup",
            schedule=CronSchedule("0 3 * * *", "Europe/London"),
            timezone="Europe/London",
            grace=timedelta(minutes=30),
            hosts=("db1", "db2"),
            min_hosts=None,
            max_runtime=timedelta(hours=2),
            min_runtime=timedelta(minutes=1),
            tags=("db",),
            paused=False,
            alerts=("ops",),
        )
    }
    assert config.channels == {
        "ops": ChannelSpec(
            name="ops", type="webhook", options={"url": "https://hooks.example.com/cronwatch"}
        )
    }


def test_defaults(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            """
            [jobs.frequent]
            schedule = "every 15m"
            [jobs.daily]
            schedule = "@daily"
            [jobs.learned]
            [jobs."every 30 seconds"]
            schedule = "every 30s"
            """,
        )
    )
    assert list(config.jobs) == ["frequent", "daily", "learned", "every 30 seconds"]
    frequent = config.jobs["frequent"]
    assert frequent.schedule == IntervalSchedule(timedelta(minutes=15))
    assert frequent.grace == timedelta(seconds=90)  # 10% of the period
    assert frequent.grace_explicit is False
    assert config.jobs["daily"].grace == timedelta(hours=1)  # capped at 1h
    assert config.jobs["every 30 seconds"].grace == timedelta(minutes=1)  # at least 1m
    learned = config.jobs["learned"]
    assert learned.schedule is None
    assert learned.grace == timedelta(hours=1)
    assert (learned.timezone, learned.hosts, learned.min_hosts) == ("UTC", (), None)
    assert (learned.max_runtime, learned.min_runtime) == (None, None)
    assert (learned.tags, learned.paused, learned.alerts) == ((), False, ())
    assert config.channels == {}


def test_explicit_zero_grace_is_kept(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[jobs.a]\nschedule = "every 1h"\ngrace = 0\n'))
    assert config.jobs["a"].grace == timedelta(0)
    assert config.jobs["a"].grace_explicit is True


def test_empty_file_is_an_empty_config(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "# nothing yet\n"))
    assert (config.jobs, config.channels) == ({}, {})


@given(st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=3000)))
def test_default_grace_is_a_tenth_of_the_period_within_bounds(period: timedelta) -> None:
    grace = default_grace(IntervalSchedule(period))
    assert timedelta(minutes=1) <= grace <= timedelta(hours=1)
    if timedelta(minutes=10) <= period <= timedelta(hours=10):
        assert grace == period / 10


def test_default_grace_of_cron_uses_its_period() -> None:
    assert default_grace(parse_schedule("*/20 * * * *")) == timedelta(minutes=2)
    assert default_grace(None) == timedelta(hours=1)


def test_channels_of_each_type(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            """
            [channels.hook]
            type = "webhook"
            url = "http://127.0.0.1:9000/alert"
            headers = { Authorization = "Bearer abc" }
            timeout = "10s"
            [channels.mail]
            type = "email"
            to = ["ops@example.com", "dba@example.com"]
            [channels.pager]
            type = "command"
            command = ["/usr/local/bin/page", "--urgent"]
            [channels.script]
            type = "command"
            command = "logger -t cronwatch"
            [jobs.a]
            alerts = ["hook", "mail", "pager", "script"]
            """,
        )
    )
    hook = config.channels["hook"]
    assert hook.type == "webhook"
    assert hook.options["timeout"] == timedelta(seconds=10)
    assert hook.options["headers"] == {"Authorization": "Bearer abc"}
    assert config.channels["mail"].options == {"to": ("ops@example.com", "dba@example.com")}
    assert config.channels["pager"].options["command"] == ("/usr/local/bin/page", "--urgent")
    assert config.channels["script"].options["command"] == "logger -t cronwatch"
    assert config.jobs["a"].alerts == ("hook", "mail", "pager", "script")
    with pytest.raises(TypeError):
        hook.options["url"] = "https://evil.example.com"  # type: ignore[index]


def test_min_hosts_k_of_n(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[jobs.a]\nhosts = ["w1", "w2", "w3"]\nmin_hosts = 2\n'))
    assert (config.jobs["a"].hosts, config.jobs["a"].min_hosts) == (("w1", "w2", "w3"), 2)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[jobs.backup]\nschedule = "61 * * * *"',
            'jobs.backup.schedule: invalid cron expression "61 * * * *": bad minute field (0-59)',
        ),
        (
            '[jobs.backup]\nschedule = "0 3 * * *"\ntimezone = "Europe/Londn"',
            'jobs.backup.timezone: unknown timezone "Europe/Londn"; use an IANA name such as '
            '"UTC", "Europe/London" or "America/New_York"',
        ),
        (
            '[jobs.backup]\ngrace = "-5m"',
            "jobs.backup.grace: duration must not be negative: '-5m'",
        ),
        (
            '[jobs.backup]\nshedule = "0 3 * * *"',
            'jobs.backup: unknown field "shedule"; did you mean "schedule"? (allowed: '
            "alert_after, alert_on, alerts, description, escalate_after, escalate_to, grace, "
            "hosts, max_runtime, min_hosts, min_runtime, on_calendar, paused, recover_after, "
            "repeat, "
            "schedule, snooze_until, tags, timezone)",
        ),
        (
            '[jobs.backup]\nhosts = "db1"',
            "jobs.backup.hosts: expected a list of strings, not a string",
        ),
        (
            '[jobs.backup]\nhosts = ["db1", 2]',
            "jobs.backup.hosts[1]: expected a string, not a number",
        ),
        (
            '[jobs.backup]\nhosts = ["db1", "db1"]',
            'jobs.backup.hosts[1]: "db1" is listed twice',
        ),
        (
            '[jobs.backup]\nhosts = ["db1", " db2"]',
            "jobs.backup.hosts[1] must not start or end with whitespace: ' db2'",
        ),
        (
            '[jobs.backup]\nhosts = ["db1"]\nmin_hosts = 2',
            "jobs.backup.min_hosts: must be between 1 and the number of hosts (1), not 2",
        ),
        ("[jobs.backup]\nmin_hosts = 1", "jobs.backup.min_hosts: needs a hosts list to count from"),
        (
            '[jobs.backup]\nhosts = ["a"]\nmin_hosts = true',
            "jobs.backup.min_hosts: expected a whole number, not a boolean",
        ),
        (
            '[jobs.backup]\nmin_runtime = "2h"\nmax_runtime = "1h"',
            "jobs.backup.min_runtime: min_runtime (2h) is longer than max_runtime (1h)",
        ),
        ('[jobs.backup]\nmax_runtime = "0s"', "jobs.backup.max_runtime: must be longer than zero"),
        (
            '[jobs.backup]\nalerts = ["ops"]',
            'jobs.backup.alerts[0]: no channel "ops" is defined (defined channels: none); '
            "add a [channels.ops] table",
        ),
        (
            '[jobs.backup]\npaused = "no"',
            "jobs.backup.paused: expected true or false, not a string",
        ),
        ('[jobs.backup]\ntags = [""]', "jobs.backup.tags[0] must not be empty"),
        ('[jobs."db/backup"]', "jobs.\"db/backup\" must not contain '/': 'db/backup'"),
        # The key path escapes control characters as TOML does, never printing them raw.
        ('[jobs."a\\tb"]', 'jobs."a\\u0009b" must not contain control characters'),
        (
            '[jobs."nightly report"]\ngrace = "soon"',
            'jobs."nightly report".grace: invalid duration',
        ),
        ("[jobs]\nbackup = 5", "jobs.backup: expected a table, not a number"),
        ("jobs = 5", "jobs: expected a table, not a number"),
        (
            "[jobz.backup]",
            'unknown field "jobz"; did you mean "jobs"? (allowed: alerts, channels, jobs, '
            "limits, maintenance, metrics, retention, server)",
        ),
        ("[limits]\nmax_jobs = 0", "limits.max_jobs: must be between 1 and 10000000, not 0"),
        ('[limits]\nmax_jobs = "many"', "limits.max_jobs: expected a whole number"),
        ('[limits]\nfuture_tolerance = "2d"', "limits.future_tolerance: at most 1d"),
        ('[limits]\nfuture_tolerance = "soon"', "limits.future_tolerance: invalid duration"),
        ("[limits]\nmax_job = 5", 'limits: unknown field "max_job"; did you mean "max_jobs"?'),
        ('[channels.ops]\nurl = "https://x.example"', "channels.ops.type: missing (one of: "),
        ('[channels.ops]\ntype = "sms"', 'channels.ops.type: unknown channel type "sms"'),
        ('[channels.ops]\ntype = ["webhook"]', "channels.ops.type: expected a string"),
        ('[channels.ops]\ntype = "webhook"', 'channels.ops.url: required for a "webhook" channel'),
        (
            '[channels.ops]\ntype = "webhook"\nurl = "ftp://x.example"',
            "channels.ops.url: expected an http:// or https:// URL, not 'ftp://x.example'",
        ),
        (
            '[channels.ops]\ntype = "webhook"\nurl = "https://x.example"\nto = ["a@b.c"]',
            'channels.ops: unknown field "to"',
        ),
        (
            '[channels.ops]\ntype = "webhook"\nurl = "https://x.example"\n'
            'headers = { X = "a\\nb" }',
            "channels.ops.headers.X: expected a single-line string",
        ),
        ('[channels.ops]\ntype = "email"\nto = []', "channels.ops.to: expected a non-empty list"),
        (
            '[channels.ops]\ntype = "email"\nto = ["ops"]',
            "channels.ops.to[0]: not an email address: 'ops'",
        ),
        ('[channels.ops]\ntype = "command"\ncommand = ""', "channels.ops.command: expected"),
        (
            '[channels.ops]\ntype = "command"\ncommand = "x"\ntimeout = "0s"',
            "channels.ops.timeout: must be longer than zero",
        ),
    ],
)
def test_errors_name_the_file_the_key_and_the_field(
    tmp_path: Path, text: str, message: str
) -> None:
    assert load_error(tmp_path, text).startswith(message)


def test_limits_default_and_from_the_file(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "")).limits == Limits(10_000, timedelta(minutes=5))
    text = '[limits]\nmax_jobs = 50\nfuture_tolerance = "1h"\n'
    assert load_config(write(tmp_path, text)).limits == Limits(50, timedelta(hours=1))


def test_toml_syntax_error_gives_the_line(tmp_path: Path) -> None:
    message = load_error(tmp_path, '[jobs.backup]\nschedule = "0 3 * * *"\ngrace = 5m\n')
    assert message.startswith("invalid TOML: ")
    assert "line 3" in message


def test_one_bad_job_fails_the_whole_file(tmp_path: Path) -> None:
    # All or nothing: the good job before the bad one is not returned, and nothing is cached.
    text = '[jobs.good]\nschedule = "every 1h"\n\n[jobs.bad]\nschedule = "every never"\n'
    assert load_error(tmp_path, text).startswith("jobs.bad.schedule: ")
    fixed = load_config(write(tmp_path, text.replace("every never", "every 2h")))
    assert set(fixed.jobs) == {"good", "bad"}


def test_config_error_is_not_invalid_input(tmp_path: Path) -> None:
    # Callers catch ConfigError for files; the wrapped InvalidInput must not leak out.
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, '[jobs.a]\ngrace = "x"\n'))
    assert not isinstance(info.value, InvalidInput)


def test_unreadable_files(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(ConfigError, match=r"missing\.toml: cannot read the config file"):
        load_config(missing)
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_config(tmp_path)  # a directory
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b'[jobs.a]\nschedule = "\xff"\n')
    with pytest.raises(ConfigError, match=r"binary\.toml: (not a UTF-8 text file|invalid TOML)"):
        load_config(binary)


def test_config_path_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    assert config_path_from_env(None) is None
    monkeypatch.setenv("CRONWATCH_CONFIG", "/etc/cronwatch.toml")
    assert config_path_from_env(None) == Path("/etc/cronwatch.toml")
    assert config_path_from_env("./mine.toml") == Path("mine.toml")  # --config wins
    monkeypatch.setenv("CRONWATCH_CONFIG", "")
    assert config_path_from_env(None) is None  # empty means unset
    assert config_path_from_env(None, {"CRONWATCH_CONFIG": "/x.toml"}) == Path("/x.toml")


# -- alerting ---------------------------------------------------------------------------------

ALERTING = """
[alerts]
interval = "1m"
channels = ["mail"]
alert_on = ["missing", "failing", "hung", "late"]
alert_after = 2
repeat = "6h"

[channels.mail]
type = "email"
to = "ops@example.com"
host = "smtp.example.com"
port = 587
from = "cronwatch@example.com"
starttls = true
username = "cronwatch"
password_env = "SMTP_PASSWORD"
ca_file = "/etc/ssl/internal-ca.pem"
timeout = "20s"

[jobs.backup]
alerts = ["mail"]
alert_after = 3
recover_after = 2
repeat = "4h"
alert_on = ["missing", "slow"]
snooze_until = 2026-12-01T09:00:00+01:00

[jobs.quiet]
repeat = 0

[jobs.plain]

[[maintenance]]
jobs = ["backup"]
start = 2026-12-01T02:00:00Z
end = "2026-12-01T04:00:00Z"

[[maintenance]]
tags = ["db"]
schedule = "0 2 * * 0"
timezone = "Europe/London"
duration = "2h"
"""


def test_alert_settings_load_and_jobs_inherit_what_they_leave_out(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ALERTING))
    alerts = config.alerts
    assert alerts == AlertSettings(
        interval=timedelta(minutes=1),
        outage_after=timedelta(minutes=10),  # max(10m, 3 * interval)
        channels=("mail",),
        alert_on=("missing", "failing", "hung", "late"),
        alert_after=2,
        recover_after=1,
        repeat=timedelta(hours=6),
    )
    backup = config.jobs["backup"]
    assert backup.snooze_until == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # normalised to UTC
    assert alerts.for_job(backup) == JobAlerting(
        channels=("mail",),
        alert_on=frozenset({"missing", "slow"}),
        alert_after=3,
        recover_after=2,
        repeat=timedelta(hours=4),
        snooze_until=datetime(2026, 12, 1, 8, 0, tzinfo=UTC),
    )
    plain = alerts.for_job(config.jobs["plain"])
    assert plain.channels == ("mail",)  # a job naming no channels uses [alerts].channels
    assert (plain.alert_on, plain.alert_after, plain.recover_after, plain.repeat) == (
        frozenset({"missing", "failing", "hung", "late"}), 2, 1, timedelta(hours=6),
    )  # fmt: skip
    assert alerts.for_job(config.jobs["quiet"]).repeat is None  # 0: never, whatever [alerts] says


def test_alert_defaults_without_an_alerts_table(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[jobs.a]\n"))
    # The README's defaults, written out (not AlertSettings(): the code under test's own).
    alerts = config.alerts
    assert (alerts.interval, alerts.outage_after) == (timedelta(seconds=30), timedelta(minutes=10))
    assert alerts.channels == () and set(alerts.alert_on) == {"missing", "failing", "hung"}
    assert (alerts.alert_after, alerts.recover_after, alerts.repeat) == (1, 1, None)
    assert (alerts.escalate_after, alerts.escalate_to) == (None, ())
    assert config.maintenance == ()
    job = config.alerts.for_job(config.jobs["a"])
    assert job.alert_on == frozenset({"missing", "failing", "hung"})  # CRITICAL only
    assert (job.alert_after, job.recover_after, job.repeat, job.snooze_until) == (1, 1, None, None)
    slow_loop = load_config(write(tmp_path, '[alerts]\ninterval = "5m"\n'))
    assert slow_loop.alerts.outage_after == timedelta(minutes=15)  # 3 intervals


def test_email_channel_options(tmp_path: Path) -> None:
    mail = load_config(write(tmp_path, ALERTING)).channels["mail"]
    assert dict(mail.options) == {
        "to": ("ops@example.com",),
        "host": "smtp.example.com",
        "port": 587,
        "from": "cronwatch@example.com",
        "starttls": True,
        "username": "cronwatch",
        "password_env": "SMTP_PASSWORD",
        "ca_file": "/etc/ssl/internal-ca.pem",
        "timeout": timedelta(seconds=20),
    }


def test_maintenance_windows(tmp_path: Path) -> None:
    one_off, weekly = load_config(write(tmp_path, ALERTING)).maintenance
    assert (one_off.where, one_off.jobs, one_off.tags) == ("maintenance[0]", ("backup",), ())
    inside = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    assert one_off.active_until(inside) == datetime(2026, 12, 1, 4, 0, tzinfo=UTC)
    assert one_off.last_end(inside) is None
    after = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
    assert one_off.active_until(after) is None
    assert one_off.last_end(after) == datetime(2026, 12, 1, 4, 0, tzinfo=UTC)
    assert one_off.active_until(datetime(2026, 12, 1, 1, 0, tzinfo=UTC)) is None  # not yet
    assert one_off.active_until(datetime(2026, 12, 1, 4, 0, tzinfo=UTC)) is None  # end excluded
    # Sundays 02:00-04:00 London time (GMT in December, BST in June).
    sunday = datetime(2026, 12, 6, 2, 30, tzinfo=UTC)
    assert weekly.active_until(sunday) == datetime(2026, 12, 6, 4, 0, tzinfo=UTC)
    assert weekly.last_end(sunday) == datetime(2026, 11, 29, 4, 0, tzinfo=UTC)  # the week before
    june = datetime(2026, 6, 7, 1, 30, tzinfo=UTC)  # 02:30 BST
    assert weekly.active_until(june) == datetime(2026, 6, 7, 3, 0, tzinfo=UTC)
    assert weekly.active_until(datetime(2026, 12, 7, 2, 30, tzinfo=UTC)) is None  # a Monday
    spec = load_config(write(tmp_path, ALERTING)).jobs
    assert one_off.applies_to(spec["backup"]) and not one_off.applies_to(spec["plain"])
    everyone = load_config(
        write(
            tmp_path, "[[maintenance]]\nstart = 2026-01-01T00:00:00Z\nend = 2026-01-02T00:00:00Z\n"
        )
    ).maintenance[0]
    assert everyone.applies_to(spec["plain"])  # neither jobs nor tags: every job


def test_maintenance_windows_on_a_calendar(tmp_path: Path) -> None:
    # The first Saturday of each month, 22:00-02:00 Berlin time; an OnCalendar= line works too.
    text = (
        '[[maintenance]]\non_calendar = "Sat *-*-1..7 22:00"\ntimezone = "Europe/Berlin"\n'
        'duration = "4h"\n'
        '[[maintenance]]\nschedule = "OnCalendar=2026-12-24 18:00 UTC"\nduration = "2d"\n'
    )
    monthly, christmas = load_config(write(tmp_path, text)).maintenance
    first_saturday = datetime(2026, 12, 5, 21, 0, tzinfo=UTC)  # 22:00 CET
    assert monthly.active_until(first_saturday + timedelta(hours=3)) == first_saturday + (
        timedelta(hours=4)
    )
    assert monthly.active_until(first_saturday - timedelta(seconds=1)) is None
    assert monthly.active_until(datetime(2026, 12, 12, 22, 0, tzinfo=UTC)) is None  # 2nd Sat.
    # November's ended: it began on 7 Nov (the first Saturday) at 22:00 CET.
    assert monthly.last_end(first_saturday + timedelta(hours=1)) == datetime(
        2026, 11, 8, 1, 0, tzinfo=UTC
    )
    eve = datetime(2026, 12, 24, 18, 0, tzinfo=UTC)
    assert christmas.active_until(eve + timedelta(days=1)) == eve + timedelta(days=2)
    # A calendar with one slot has no earlier occurrence: none ended before the first.
    assert christmas.last_end(eve + timedelta(hours=1)) is None
    assert christmas.last_end(eve + timedelta(days=3)) == eve + timedelta(days=2)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[alerts]\nintervall = "1m"',
            'alerts: unknown field "intervall"; did you mean "interval"?',
        ),
        ('[alerts]\ninterval = "0s"', "alerts.interval: must be at least 1 second"),
        (
            '[alerts]\nchannels = ["ops"]',
            'alerts.channels[0]: no channel "ops" is defined (defined channels: none)',
        ),
        (
            '[alerts]\ninterval = "1m"\noutage_after = "30s"',
            "alerts.outage_after: must be longer than alerts.interval (1m)",
        ),
        ('[alerts]\nalert_on = ["ok"]', 'alerts.alert_on[0]: "ok" is not a status that can alert'),
        ("[alerts]\nsnooze_until = 2026-01-01T00:00:00Z", 'alerts: unknown field "snooze_until"'),
        ("[jobs.backup]\nalert_after = 0", "jobs.backup.alert_after: must be between 1 and 1000"),
        ('[jobs.backup]\nalert_after = "2"', "jobs.backup.alert_after: expected a whole number"),
        ("[jobs.backup]\nrecover_after = true", "jobs.backup.recover_after: expected a whole num"),
        ('[jobs.backup]\nrepeat = "often"', "jobs.backup.repeat: invalid duration 'often'"),
        ('[jobs.backup]\nalert_on = "missing"', "jobs.backup.alert_on: expected a list of strings"),
        (
            '[jobs.backup]\nalert_on = ["missing", "paused"]',
            'jobs.backup.alert_on[1]: "paused" is not a status that can alert (one of: missing, '
            "failing, hung, late, too_often, slow, fast)",
        ),
        (
            "[jobs.backup]\nsnooze_until = 2026-12-01T09:00:00",
            "jobs.backup.snooze_until: 2026-12-01T09:00:00 has no UTC offset; add one",
        ),
        ("[jobs.backup]\nsnooze_until = 2026-12-01", "jobs.backup.snooze_until: expected a date-t"),
        ('[jobs.backup]\nsnooze_until = "tomorrow"', "jobs.backup.snooze_until: not a date-time"),
        ("maintenance = 3", "maintenance: expected [[maintenance]] tables, not a number"),
        ("[[maintenance]]\njobs = []", "maintenance[0]: needs start and end (one-off) or sched"),
        (
            "[[maintenance]]\nstart = 2026-01-01T00:00:00Z",
            "maintenance[0].end: required with a one-off window",
        ),
        (
            "[[maintenance]]\nstart = 2026-01-02T00:00:00Z\nend = 2026-01-01T00:00:00Z",
            "maintenance[0].end: must be after start",
        ),
        (
            "[[maintenance]]\nstart = 2026-01-01T00:00:00Z\nend = 2026-01-02T00:00:00Z\n"
            'duration = "1h"',
            "maintenance[0]: give either start and end (one-off) or schedule (or on_calendar) "
            "and duration",
        ),
        (
            "[[maintenance]]\nstart = 2026-01-01T00:00:00Z\nend = 2026-01-02T00:00:00Z\n"
            'timezone = "UTC"',
            "maintenance[0].timezone: applies to a schedule",
        ),
        (
            '[[maintenance]]\nschedule = "0 2 * * 0"',
            "maintenance[0].duration: required with a recurring window",
        ),
        (
            '[[maintenance]]\nschedule = "every 1d"\nduration = "1h"',
            'maintenance[0].schedule: must be a cron expression such as "0 2 * * 0"',
        ),
        (
            '[[maintenance]]\non_calendar = "Sun 02:00"\nschedule = "0 2 * * 0"\nduration = "1h"',
            "maintenance[0].schedule: give either schedule or on_calendar, not both",
        ),
        (
            '[[maintenance]]\non_calendar = "Sun 02:00"',
            "maintenance[0].duration: required with a recurring window",
        ),
        (
            '[[maintenance]]\non_calendar = "Sun 25:00"\nduration = "1h"',
            'maintenance[0].on_calendar: invalid OnCalendar expression "Sun 25:00"',
        ),
        (
            '[[maintenance]]\non_calendar = []\nduration = "1h"',
            "maintenance[0].on_calendar: expected a calendar expression",
        ),
        (
            '[[maintenance]]\nschedule = "0 2 * * 8"\nduration = "1h"',
            'maintenance[0].schedule: invalid cron expression "0 2 * * 8"',
        ),
        (
            '[[maintenance]]\nschedule = "0 2 * * 0"\nduration = "0s"',
            "maintenance[0].duration: must be longer than zero",
        ),
        (
            '[[maintenance]]\nschedule = "0 2 * * 0"\nduration = "1h"\ntimezone = "Mars/Base"',
            'maintenance[0].timezone: unknown timezone "Mars/Base"',
        ),
        (
            '[[maintenance]]\nschedule = "0 2 * * 0"\nduration = "1h"\nhosts = ["a"]',
            'maintenance[0]: unknown field "hosts"',
        ),
        (
            '[[maintenance]]\nschedule = "0 2 * * 0"\nduration = "1h"\njobs = ["a/b"]',
            "maintenance[0].jobs[0] must not contain '/'",
        ),
        (
            '[channels.m]\ntype = "email"\nto = ["a@b.c"]\nstarttls = true\nssl = true',
            "channels.m.ssl: starttls and ssl exclude each other",
        ),
        (
            '[channels.m]\ntype = "email"\nto = ["a@b.c"]\nusername = "u"',
            "channels.m.password: required with username",
        ),
        (
            '[channels.m]\ntype = "email"\nto = ["a@b.c"]\npassword = "p"',
            "channels.m.username: required with a password",
        ),
        (
            '[channels.m]\ntype = "email"\nto = ["a@b.c"]\nusername = "u"\npassword = "p"\n'
            'password_env = "P"',
            "channels.m.password_env: give password or password_env, not both",
        ),
        ('[channels.m]\ntype = "email"\nto = ["a@b.c"]\nport = 0', "channels.m.port: expected a p"),
        ('[channels.m]\ntype = "email"\nto = ["a@b.c"]\nstarttls = "yes"', "channels.m.starttls"),
        ('[channels.m]\ntype = "email"\nto = ["a@b.c"]\nfrom = "me"', "channels.m.from: not an e"),
        ('[channels.m]\ntype = "email"\nto = ["a@b.c"]\nhost = ""', "channels.m.host: expected a"),
    ],
)
def test_alerting_errors_name_the_file_the_key_and_the_field(
    tmp_path: Path, text: str, message: str
) -> None:
    assert load_error(tmp_path, text).startswith(message)


def test_api_job_fields_are_unchanged() -> None:
    # The REST API validates API_FIELDS; alert settings are a config-file addition on purpose.
    assert API_FIELDS.isdisjoint(ALERT_FIELDS)


def test_names_are_read_in_nfc_and_two_spellings_of_one_name_are_refused(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[jobs."cafe\\u0301"]\ntags = ["nin\\u0303o"]\n'))
    assert list(config.jobs) == ["caf\u00e9"]
    assert config.jobs["caf\u00e9"].name == "caf\u00e9"
    assert config.jobs["caf\u00e9"].tags == ("ni\u00f1o",)
    message = load_error(tmp_path, '[jobs."caf\\u00e9"]\n[jobs."cafe\\u0301"]\n')
    assert message.startswith('jobs."cafe\u0301": the same job name as an earlier key')
    message = load_error(tmp_path, '[jobs."backup\\u200b"]\n')
    assert message.startswith('jobs."backup\u200b" must not contain invisible format or bidi')


def test_the_metrics_table_turns_per_host_series_off(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "")).metrics.per_host is True
    off = load_config(write(tmp_path, "[metrics]\nper_host = false\n"))
    assert off.metrics.per_host is False
    assert load_config(write(tmp_path, "[metrics]\n")).metrics.per_host is True


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[metrics]\nper_host = "no"\n', "metrics.per_host: expected true or false, not"),
        ("[metrics]\nperhost = false\n", "perhost"),
        ("metrics = 1\n", "metrics"),
    ],
)
def test_a_wrong_metrics_table_is_refused_naming_the_field(
    tmp_path: Path, body: str, message: str
) -> None:
    assert message in load_error(tmp_path, body)
