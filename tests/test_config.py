"""The TOML config file: what loads, the defaults, and an exact error for every mistake."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cronwatch.config import (
    ChannelSpec,
    Config,
    JobSpec,
    config_path_from_env,
    default_grace,
    load_config,
)
from cronwatch.errors import ConfigError, InvalidInput
from cronwatch.schedule import CronSchedule, IntervalSchedule, parse_schedule

FULL = """
[jobs.backup]
schedule = "0 3 * * *"        # or "every 15m"
timezone = "Europe/London"
grace = "30m"
hosts = ["db1", "db2"]        # each must run it; or min_hosts = 1
max_runtime = "2h"
min_runtime = "1m"
tags = ["db"]
paused = false
alerts = ["ops"]

[channels.ops]
type = "webhook"              # or "email" (to = ["ops@example.com"]), "command"
url = "https://hooks.example.com/cronwatch"
"""


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
            'jobs.backup: unknown field "shedule"; did you mean "schedule"? (allowed: alerts, '
            "grace, hosts, max_runtime, min_hosts, min_runtime, paused, schedule, tags, timezone)",
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
            'unknown field "jobz"; did you mean "jobs"? (allowed: channels, jobs)',
        ),
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
