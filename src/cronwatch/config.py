"""Reading the TOML configuration file into a :class:`~cronwatch.specs.Config`.

What the file declares lives in :mod:`cronwatch.specs` (a job's fields, one row each, in
:mod:`cronwatch.specs.fields`); this module reads a file, table by table, and says where a
mistake is.

::

    [jobs.backup]
    schedule = "0 3 * * *"        # or "every 15m"
    timezone = "Europe/London"
    grace = "30m"
    hosts = ["db1", "db2"]        # each must run it; or with min_hosts = 1, at least one of them
    max_runtime = "2h"
    min_runtime = "1m"
    tags = ["db"]
    paused = false
    alerts = ["ops"]

    [channels.ops]
    type = "webhook"              # or "email" (to = ["ops@example.com"]), "command"
    url = "https://hooks.example.com/cronwatch"

A job's fields, their defaults and rules: :data:`cronwatch.specs.fields.JOB_FIELDS`.
Durations are strings such as ``"30s"``, ``"15m"``, ``"1h30m"`` or numbers of seconds.

Alerting (see :mod:`cronwatch.alerts` for what the settings do)::

    [alerts]                      # the loop, and defaults for every job
    interval = "30s"              # how often the alert loop evaluates
    outage_after = "10m"          # a heartbeat gap this long is an outage of cronwatch itself
    channels = ["ops"]            # for jobs that name no channels (e.g. jobs seen running)
    alert_on = ["missing", "failing", "hung"]   # statuses that alert; add "late", "slow", ...
    alert_after = 1               # consecutive failures (failed runs, missed slots) first
    recover_after = 1             # consecutive successful runs before "recovered"
    repeat = "0"                  # remind while still down at this interval; 0 = never
    escalate_after = "30m"        # still down and not acknowledged this long after the
    escalate_to = ["pager"]       # problem was announced: send it to these channels too

    [jobs.backup]                 # per job, the same four, and a snooze
    alert_after = 2
    repeat = "4h"
    snooze_until = 2026-12-01T09:00:00Z

    [[maintenance]]               # silent during it; jobs and/or tags, neither = every job
    jobs = ["backup"]
    start = 2026-12-01T02:00:00Z  # one-off: start and end (offset date-times) ...
    end = 2026-12-01T04:00:00Z
    [[maintenance]]
    tags = ["db"]
    schedule = "0 2 * * 0"        # ... or recurring: a cron schedule and a duration
    timezone = "Europe/London"    # (or on_calendar = "Sun 02:00", a systemd calendar)
    duration = "2h"

    [channels.mail]               # email: host (localhost), port (25; 465 with ssl), from,
    type = "email"                # starttls or ssl, username + password (or password_env),
    to = ["ops@example.com"]      # ca_file (extra CA certificates), timeout (10s)
    host = "smtp.example.com"
    starttls = true

Links in alert messages (a job's page, where a write-key holder acknowledges)::

    [server]
    public_url = "https://cron.example.com"

What the server refuses (``cronwatch serve --max-jobs``/``--future-tolerance`` override it)::

    [limits]
    max_jobs = 10000              # new job names beyond this many jobs: 403
    future_tolerance = "5m"       # runs dated further ahead of the server's clock: 400

How long history is kept (see :mod:`cronwatch.retention`)::

    [retention]
    runs = "90d"                  # runs started earlier are deleted; "0" keeps every run
    keep_last = 50                # ... except each job's latest 50, whatever their age
    events = "90d"                # status changes (alert history)

What ``/metrics`` exports (see :mod:`cronwatch.prometheus`)::

    [metrics]
    per_host = false              # per job only, no `host` label (default: per job and host)

A job's alert fields left out inherit ``[alerts]``; ``[alerts]`` fields left out take the
defaults above, except ``outage_after``: ``max(10m, 3 * interval)``. ``repeat = 0`` turns
reminders off for a job whatever ``[alerts]`` says.

Loading is all or nothing: any problem raises :class:`ConfigError` and returns nothing. The
message names the file, the job (or channel) and the field, e.g. ``cronwatch.toml:
jobs.backup.schedule: invalid cron expression "61 * * * *": bad minute field (0-59)``. Unknown
fields are errors too (a misspelt ``max_runtme`` would otherwise silently do nothing).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from cronwatch.durations import format_duration
from cronwatch.errors import ConfigError, InvalidInput, type_name
from cronwatch.names import validate_name
from cronwatch.schedule import CronSchedule, OnCalendarSchedule, parse_on_calendar, parse_schedule
from cronwatch.specs import AlertSettings, ChannelSpec, Config, JobSpec, MaintenanceWindow, values
from cronwatch.specs.alerting import DEFAULT_ALERT_INTERVAL, MIN_OUTAGE_AFTER
from cronwatch.specs.channels import channel_names, channel_where, parse_channel
from cronwatch.specs.fields import FIELDS_BY_NAME, JobDraft, job_where, parse_job
from cronwatch.specs.limits import parse_limits
from cronwatch.specs.metrics import parse_metrics
from cronwatch.specs.retention import (
    DEFAULT_KEEP_EVENTS,
    DEFAULT_KEEP_RUNS,
    KEEP_LAST_RUNS,
    Retention,
    retention_problem,
)
from cronwatch.specs.server import parse_server

CONFIG_ENV = "CRONWATCH_CONFIG"

TOP_LEVEL = frozenset(
    {"jobs", "channels", "alerts", "maintenance", "retention", "server", "limits", "metrics"}
)
#: The ``[alerts]`` table: the loop's own settings, and job alert settings' defaults.
ALERTS_FIELDS = frozenset(
    {
        "interval",
        "outage_after",
        "channels",
        "alert_on",
        "alert_after",
        "recover_after",
        "repeat",
        "escalate_after",
        "escalate_to",
    }
)
MAINTENANCE_FIELDS = frozenset(
    {"jobs", "tags", "start", "end", "schedule", "on_calendar", "timezone", "duration"}
)
RETENTION_FIELDS = frozenset({"runs", "keep_last", "events"})


def config_path_from_env(
    explicit: str | None, environ: Mapping[str, str] | None = None
) -> Path | None:
    """The config file to use: ``explicit`` (``--config``), else ``$CRONWATCH_CONFIG``.

    ``None`` when neither is set; an empty value counts as not set.
    """
    if explicit:
        return Path(explicit)
    value = (os.environ if environ is None else environ).get(CONFIG_ENV, "")
    return Path(value) if value else None


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate the TOML file at ``path``; :class:`ConfigError` on any problem."""
    file = Path(path)
    try:
        with file.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        # The message carries "(at line N, column M)".
        raise ConfigError(f"{file}: invalid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{file}: not a UTF-8 text file") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read the config file: {exc.strerror or exc}") from None
    try:
        return _config(file, data)
    except InvalidInput as exc:  # every message starts with the key path
        raise ConfigError(f"{file}: {exc}") from None


def parse_job_table(
    name: str,
    table: Mapping[str, Any],
    *,
    source: str,
    channels: Mapping[str, ChannelSpec] | None = None,
) -> JobSpec:
    """Validate one job's fields given as a mapping (the API, the database) exactly as a
    ``[jobs.NAME]`` table of the config file; ``source`` takes the file's place in messages.
    With ``channels`` ``None`` the alert channel names are not checked against a definition.
    """
    try:
        return _job(name, dict(table), channels)
    except InvalidInput as exc:
        raise ConfigError(f"{source}: {exc}") from None


def _config(file: Path, data: dict[str, Any]) -> Config:
    values.check_fields("", data, TOP_LEVEL)
    channels: dict[str, ChannelSpec] = {}
    for name, body in values.table("channels", data.get("channels", {})).items():
        channel = parse_channel(name, body)
        _unique(channel.name, channels, channel_where(name), "channel")
        channels[channel.name] = channel
    jobs: dict[str, JobSpec] = {}
    for name, body in values.table("jobs", data.get("jobs", {})).items():
        job = _job(name, body, channels)
        _unique(job.name, jobs, job_where(name), "job")
        jobs[job.name] = job
    alerts = _alert_settings(values.table("alerts", data.get("alerts", {})), channels)
    windows = data.get("maintenance", [])
    if not isinstance(windows, list):
        raise InvalidInput(
            f"maintenance: expected [[maintenance]] tables, not {type_name(windows)}"
        )
    maintenance = tuple(_maintenance(f"maintenance[{i}]", w) for i, w in enumerate(windows))
    retention = _retention(values.table("retention", data.get("retention", {})))
    server = parse_server(values.table("server", data.get("server", {})))
    limits = parse_limits(values.table("limits", data.get("limits", {})))
    metrics = parse_metrics(values.table("metrics", data.get("metrics", {})))
    _check_escalation(jobs, alerts)
    return Config(
        jobs=jobs,
        channels=channels,
        path=file,
        alerts=alerts,
        maintenance=maintenance,
        retention=retention,
        server=server,
        limits=limits,
        metrics=metrics,
    )


def _check_escalation(jobs: Mapping[str, JobSpec], alerts: AlertSettings) -> None:
    """``escalate_after`` and ``escalate_to`` go together, in a job or from ``[alerts]``."""
    if (alerts.escalate_after is not None) != bool(alerts.escalate_to):
        given, missing = (
            ("escalate_after", "escalate_to")
            if alerts.escalate_after is not None
            else ("escalate_to", "escalate_after")
        )
        raise InvalidInput(f"alerts.{missing}: required with alerts.{given}")
    for job in jobs.values():
        policy = alerts.for_job(job)
        if policy.escalate_after is not None and not policy.escalate_to:
            raise InvalidInput(
                f"{job_where(job.name)}.escalate_to: required with escalate_after (the "
                "channels to escalate to; or [alerts] escalate_to)"
            )
        if job.escalate_to and job.escalate_after is None and alerts.escalate_after is None:
            raise InvalidInput(
                f"{job_where(job.name)}.escalate_after: required with escalate_to (how long "
                'a problem may stay unacknowledged, e.g. "30m"; or [alerts] escalate_after)'
            )


def _unique(name: str, seen: Mapping[str, object], where: str, what: str) -> None:
    # Two keys TOML tells apart can be one name once normalised (NFC): "café" written twice.
    if name in seen:
        raise InvalidInput(f"{where}: the same {what} name as an earlier key, once in Unicode NFC")


def _job(name: str, body: object, channels: Mapping[str, ChannelSpec] | None) -> JobSpec:
    where = job_where(name)
    name = validate_name(name, where)
    table = values.table(where, body)
    values.check_fields(where, table, FIELDS_BY_NAME)
    return parse_job(name, table, channels)


def _retention(table: dict[str, Any]) -> Retention:
    values.check_fields("retention", table, RETENTION_FIELDS)
    runs: timedelta | None = DEFAULT_KEEP_RUNS
    if "runs" in table:
        runs = values.duration("retention.runs", table["runs"]) or None  # 0: keep every run
    events = DEFAULT_KEEP_EVENTS
    if "events" in table:
        events = values.duration("retention.events", table["events"])
    keep_last = KEEP_LAST_RUNS
    if "keep_last" in table:
        keep_last = values.whole_number("retention.keep_last", table["keep_last"])
    problem = retention_problem(runs, keep_last, events)
    if problem is not None:
        setting, message = problem
        hint = ' ("0" keeps every run)' if setting == "runs" else ""
        raise InvalidInput(f"retention.{setting}: {message}{hint}")
    return Retention(runs=runs, keep_last=keep_last, events=events)


def _alert_settings(table: dict[str, Any], channels: Mapping[str, ChannelSpec]) -> AlertSettings:
    values.check_fields("alerts", table, ALERTS_FIELDS)
    interval = DEFAULT_ALERT_INTERVAL
    if "interval" in table:
        interval = values.duration("alerts.interval", table["interval"])
        if interval < timedelta(seconds=1):
            raise InvalidInput("alerts.interval: must be at least 1 second")
    outage_after = max(MIN_OUTAGE_AFTER, 3 * interval)
    if "outage_after" in table:
        outage_after = values.duration("alerts.outage_after", table["outage_after"])
        if outage_after <= interval:
            raise InvalidInput(
                f"alerts.outage_after: must be longer than alerts.interval "
                f"({format_duration(interval)}): every cycle would otherwise look like an outage"
            )
    # The defaults of the jobs' alert fields, read by the same rows as in [jobs.NAME].
    defaults: dict[str, Any] = {}
    for name in ("alert_on", "alert_after", "recover_after", "repeat", "escalate_after"):
        if name in table:
            defaults[name] = FIELDS_BY_NAME[name].read(
                f"alerts.{name}", table[name], JobDraft(channels)
            )
    return AlertSettings(
        interval=interval,
        outage_after=outage_after,
        channels=channel_names("alerts.channels", table.get("channels", []), channels),
        escalate_to=channel_names("alerts.escalate_to", table.get("escalate_to", []), channels),
        **defaults,
    )


def _maintenance(where: str, body: object) -> MaintenanceWindow:
    table = values.table(where, body)
    values.check_fields(where, table, MAINTENANCE_FIELDS)
    jobs = values.names(f"{where}.jobs", table.get("jobs", []))
    tags = values.names(f"{where}.tags", table.get("tags", []))
    one_off = "start" in table or "end" in table
    recurring = "schedule" in table or "on_calendar" in table or "duration" in table
    if one_off and recurring:
        raise InvalidInput(
            f"{where}: give either start and end (one-off) or schedule (or on_calendar) and "
            "duration (recurring)"
        )
    if one_off:
        return _one_off_window(where, table, jobs, tags)
    if not recurring:
        raise InvalidInput(
            f"{where}: needs start and end (one-off) or schedule (or on_calendar) and duration "
            "(recurring)"
        )
    return _recurring_window(where, table, jobs, tags)


def _one_off_window(
    where: str, table: dict[str, Any], jobs: tuple[str, ...], tags: tuple[str, ...]
) -> MaintenanceWindow:
    if "timezone" in table:
        raise InvalidInput(
            f"{where}.timezone: applies to a schedule; start and end carry an offset"
        )
    for needed in ("start", "end"):
        if needed not in table:
            raise InvalidInput(f"{where}.{needed}: required with a one-off window")
    start = values.instant(f"{where}.start", table["start"])
    end = values.instant(f"{where}.end", table["end"])
    if end <= start:
        raise InvalidInput(f"{where}.end: must be after start")
    return MaintenanceWindow(where=where, jobs=jobs, tags=tags, start=start, end=end)


def _recurring_window(
    where: str, table: dict[str, Any], jobs: tuple[str, ...], tags: tuple[str, ...]
) -> MaintenanceWindow:
    if "schedule" in table and "on_calendar" in table:
        raise InvalidInput(f"{where}.schedule: give either schedule or on_calendar, not both")
    for needed in ("schedule", "duration"):
        if needed not in table and (needed != "schedule" or "on_calendar" not in table):
            raise InvalidInput(f"{where}.{needed}: required with a recurring window")
    timezone = values.timezone(f"{where}.timezone", table.get("timezone", "UTC"))
    schedule: CronSchedule | OnCalendarSchedule
    if "on_calendar" in table:
        schedule = parse_on_calendar(table["on_calendar"], timezone, field=f"{where}.on_calendar")
    else:
        parsed = parse_schedule(table["schedule"], timezone, field=f"{where}.schedule")
        if not isinstance(parsed, CronSchedule | OnCalendarSchedule):
            raise InvalidInput(
                f"{where}.schedule: must be a cron expression such as "
                '"0 2 * * 0" or an OnCalendar= line (an interval has no fixed start)'
            )
        schedule = parsed
    duration = values.positive_duration(f"{where}.duration", table["duration"])
    return MaintenanceWindow(
        where=where, jobs=jobs, tags=tags, schedule=schedule, duration=duration
    )
