"""The TOML configuration file: jobs and the alert channels they use.

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

Defaults of a job's fields when absent:

- ``schedule``: none; cronwatch learns the job's interval from its history.
- ``timezone``: ``"UTC"``. It applies to cron schedules.
- ``grace``: :func:`default_grace` of the schedule: 10% of its period, at least 1 minute and
  at most 1 hour ("every 15m" -> 1m 30s, daily -> 1h); 1 hour without a schedule.
  ``JobSpec.grace_explicit`` tells a configured grace from a default one, so that a learned
  interval can get its own default later.
- ``hosts``: empty, any host counts. With hosts, each listed host must run the job, unless
  ``min_hosts`` (1 to ``len(hosts)``; it requires ``hosts``) says how many of them suffice.
- ``max_runtime``, ``min_runtime``: none; the learned runtime baseline still applies.
- ``tags``, ``alerts``: empty. ``paused``: false.

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
    timezone = "Europe/London"
    duration = "2h"

    [channels.mail]               # email: host (localhost), port (25; 465 with ssl), from,
    type = "email"                # starttls or ssl, username + password (or password_env),
    to = ["ops@example.com"]      # ca_file (extra CA certificates), timeout (10s)
    host = "smtp.example.com"
    starttls = true

How long history is kept (see :mod:`cronwatch.retention`)::

    [retention]
    runs = "90d"                  # runs started earlier are deleted; "0" keeps every run
    keep_last = 50                # ... except each job's latest 50, whatever their age
    events = "90d"                # status changes (alert history)

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
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, cast

from cronwatch.durations import format_duration, parse_duration
from cronwatch.errors import ConfigError, InvalidInput
from cronwatch.names import validate_name
from cronwatch.retention import (
    DEFAULT_KEEP_EVENTS,
    DEFAULT_KEEP_RUNS,
    KEEP_LAST_RUNS,
    Retention,
    retention_problem,
)
from cronwatch.schedule import CronSchedule, Schedule, load_zone, parse_schedule
from cronwatch.timeutil import require_aware

CONFIG_ENV = "CRONWATCH_CONFIG"
MIN_DEFAULT_GRACE = timedelta(minutes=1)
MAX_DEFAULT_GRACE = timedelta(hours=1)
UNSCHEDULED_GRACE = timedelta(hours=1)
# Host names follow DNS's limit, as the library does when recording runs.
MAX_HOST_LENGTH = 255

ChannelType = Literal["webhook", "email", "command"]

JOB_FIELDS = frozenset(
    {
        "schedule",
        "timezone",
        "grace",
        "hosts",
        "min_hosts",
        "max_runtime",
        "min_runtime",
        "tags",
        "paused",
        "alerts",
    }
)
#: A job's alert settings. Kept apart from JOB_FIELDS (the fields the REST API also takes):
#: they are accepted in ``[jobs.NAME]`` tables of the config file.
ALERT_JOB_FIELDS = frozenset({"alert_after", "recover_after", "repeat", "alert_on", "snooze_until"})
#: The statuses an ``alert_on`` list may name (the problems; ok/running/new/paused never alert).
ALERTABLE_STATUSES = ("missing", "failing", "hung", "late", "too_often", "slow", "fast")
#: The CRITICAL statuses: what alerts when nothing says otherwise.
DEFAULT_ALERT_ON = ("missing", "failing", "hung")
ALERTS_FIELDS = frozenset(
    {"interval", "outage_after", "channels", "alert_on", "alert_after", "recover_after", "repeat"}
)
MAINTENANCE_FIELDS = frozenset({"jobs", "tags", "start", "end", "schedule", "timezone", "duration"})
DEFAULT_ALERT_INTERVAL = timedelta(seconds=30)
MIN_OUTAGE_AFTER = timedelta(minutes=10)
_EMAIL_OPTIONS = frozenset(
    {
        "host",
        "port",
        "from",
        "starttls",
        "ssl",
        "username",
        "password",
        "password_env",
        "ca_file",
        "timeout",
    }
)
# The options each channel type takes (besides "type"); the first set is required.
CHANNEL_OPTIONS: Mapping[str, tuple[frozenset[str], frozenset[str]]] = {
    "webhook": (frozenset({"url"}), frozenset({"headers", "timeout"})),
    "email": (frozenset({"to"}), _EMAIL_OPTIONS),
    "command": (frozenset({"command"}), frozenset({"timeout"})),
}
TOP_LEVEL = frozenset({"jobs", "channels", "alerts", "maintenance", "retention"})
RETENTION_FIELDS = frozenset({"runs", "keep_last", "events"})


@dataclass(frozen=True)
class JobSpec:
    """What is expected of one job; see the module docstring for each field's default."""

    name: str
    schedule: Schedule | None
    timezone: str
    grace: timedelta
    hosts: tuple[str, ...]
    min_hosts: int | None
    max_runtime: timedelta | None
    min_runtime: timedelta | None
    tags: tuple[str, ...]
    paused: bool
    alerts: tuple[str, ...]
    grace_explicit: bool = True
    # Alert settings; None inherits [alerts] (see AlertSettings.for_job).
    alert_after: int | None = None
    recover_after: int | None = None
    repeat: timedelta | None = None  # timedelta(0): never, even if [alerts] repeats
    alert_on: tuple[str, ...] | None = None
    snooze_until: datetime | None = None


@dataclass(frozen=True)
class ChannelSpec:
    """An alert channel. ``options`` (read-only) holds its fields other than ``type``.

    webhook: ``url`` (str), optional ``headers`` (dict of str), ``timeout`` (timedelta).
    email: ``to`` (tuple of addresses), optional ``host``, ``from``, ``username``,
    ``password``, ``password_env`` (the name of an environment variable holding the password),
    ``ca_file`` (str), ``port`` (int), ``starttls``, ``ssl`` (bool), ``timeout`` (timedelta).
    command: ``command`` (str for a shell command line, or tuple of argv strings), optional
    ``timeout`` (timedelta).
    """

    name: str
    type: ChannelType
    options: Mapping[str, object]


@dataclass(frozen=True)
class JobAlerting:
    """One job's alert settings, with ``[alerts]`` filled in for what the job leaves out."""

    channels: tuple[str, ...]
    alert_on: frozenset[str]
    alert_after: int
    recover_after: int
    repeat: timedelta | None  # None: never remind
    snooze_until: datetime | None


@dataclass(frozen=True)
class AlertSettings:
    """The ``[alerts]`` table: the alert loop's settings and every job's defaults."""

    interval: timedelta = DEFAULT_ALERT_INTERVAL
    outage_after: timedelta = MIN_OUTAGE_AFTER
    channels: tuple[str, ...] = ()  # for jobs that name none (e.g. jobs seen running)
    alert_on: tuple[str, ...] = DEFAULT_ALERT_ON
    alert_after: int = 1
    recover_after: int = 1
    repeat: timedelta | None = None

    def for_job(self, spec: JobSpec) -> JobAlerting:
        """``spec``'s alert settings; a zero ``repeat`` (job or default) means never."""
        repeat = spec.repeat if spec.repeat is not None else self.repeat
        return JobAlerting(
            channels=spec.alerts or self.channels,
            alert_on=frozenset(spec.alert_on if spec.alert_on is not None else self.alert_on),
            alert_after=spec.alert_after or self.alert_after,
            recover_after=spec.recover_after or self.recover_after,
            repeat=repeat if repeat else None,
            snooze_until=spec.snooze_until,
        )


@dataclass(frozen=True)
class MaintenanceWindow:
    """A ``[[maintenance]]`` entry: alerts of the jobs it covers are silent during it.

    It covers the jobs named in ``jobs`` and those with any of ``tags``; neither: every job.
    One-off: ``start`` and ``end``. Recurring: it starts at each slot of ``schedule`` (a cron
    schedule, in its timezone) and lasts ``duration``. ``where`` is its key path in the file
    ("maintenance[0]"), for messages.
    """

    where: str
    jobs: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    schedule: CronSchedule | None = None
    duration: timedelta | None = None

    def applies_to(self, spec: JobSpec) -> bool:
        if not self.jobs and not self.tags:
            return True
        return spec.name in self.jobs or not set(self.tags).isdisjoint(spec.tags)

    def active_until(self, now: datetime) -> datetime | None:
        """The end of the window in force at ``now`` (start <= now < end), else ``None``."""
        start, end = self._latest_start(now)
        return end if start is not None and end is not None and now < end else None

    def last_end(self, now: datetime) -> datetime | None:
        """The end of the latest occurrence that is over at ``now`` (``end <= now``)."""
        start, end = self._latest_start(now)
        if start is None or end is None:
            return None
        if end <= now:
            return end
        if self.schedule is None or self.duration is None:
            return None  # a one-off window still in force has no earlier occurrence
        earlier = self.schedule.previous_at_or_before(start - timedelta(microseconds=1))
        return earlier + self.duration

    def _latest_start(self, now: datetime) -> tuple[datetime | None, datetime | None]:
        """The latest occurrence that started at or before ``now``: (start, end)."""
        if self.schedule is not None and self.duration is not None:
            try:
                start = self.schedule.previous_at_or_before(now)
            except InvalidInput:  # no slot in the supported range (e.g. "0 0 30 2 *")
                return None, None
            return start, start + self.duration
        if self.start is not None and self.start <= now:
            return self.start, self.end
        return None, None


@dataclass(frozen=True)
class Config:
    """A loaded configuration file. ``jobs`` and ``channels`` keep the file's order."""

    jobs: dict[str, JobSpec]
    channels: dict[str, ChannelSpec]
    path: Path
    alerts: AlertSettings = field(default_factory=AlertSettings)
    maintenance: tuple[MaintenanceWindow, ...] = ()
    retention: Retention = field(default_factory=Retention)


def default_grace(schedule: Schedule | None) -> timedelta:
    """10% of the schedule's period, clamped to [1 minute, 1 hour]; 1 hour without a schedule.

    Long enough to absorb a slow start or clock skew, short enough that a missing run is
    reported within a tenth of the job's period for frequent jobs.
    """
    if schedule is None:
        return UNSCHEDULED_GRACE
    return min(MAX_DEFAULT_GRACE, max(MIN_DEFAULT_GRACE, schedule.period_hint() / 10))


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
    return _Loader(file).load(data)


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
    return _Loader(Path(source)).job(name, dict(table), channels)


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _key(name: str) -> str:
    """``name`` as TOML writes it in a dotted key: bare when possible, else quoted."""
    if _BARE_KEY.fullmatch(name):
        return name
    shown = name if len(name) <= 60 else name[:57] + "..."
    # Escape as a TOML basic string does, so that control characters stay visible.
    escaped = "".join(
        "\\" + char
        if char in '"\\'
        else f"\\u{ord(char):04x}"
        if ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F
        else char
        for char in shown
    )
    return f'"{escaped}"'


class _Loader:
    """Validates the parsed TOML; every error is prefixed with the file and the key path."""

    def __init__(self, file: Path) -> None:
        self.file = file

    def error(self, where: str, message: str) -> ConfigError:
        return ConfigError(
            f"{self.file}: {where}: {message}" if where else f"{self.file}: {message}"
        )

    def wrap(self, exc: InvalidInput) -> ConfigError:
        # InvalidInput messages from the parsers already start with the field path.
        return ConfigError(f"{self.file}: {exc}")

    def check_fields(self, where: str, table: Mapping[str, Any], allowed: frozenset[str]) -> None:
        for name in table:
            if name not in allowed:
                import difflib  # only on this error path

                close = difflib.get_close_matches(name, allowed, n=1)
                hint = f'; did you mean "{close[0]}"?' if close else ""
                raise self.error(
                    where,
                    f'unknown field "{name}"{hint} (allowed: {", ".join(sorted(allowed))})',
                )

    def table(self, where: str, value: object) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(where, f"expected a table, not {_type_name(value)}")
        return cast(dict[str, Any], value)

    def name(self, where: str, value: str, *, max_length: int | None = None) -> str:
        try:
            if max_length is None:
                return validate_name(value, where)
            return validate_name(value, where, max_length=max_length)
        except InvalidInput as exc:
            raise self.wrap(exc) from None

    def names(self, where: str, value: object, *, max_length: int | None = None) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise self.error(where, f"expected a list of strings, not {_type_name(value)}")
        result: list[str] = []
        for index, item in enumerate(value):
            item_where = f"{where}[{index}]"
            if not isinstance(item, str):
                raise self.error(item_where, f"expected a string, not {_type_name(item)}")
            if item in result:
                raise self.error(item_where, f'"{item}" is listed twice')
            result.append(self.name(item_where, item, max_length=max_length))
        return tuple(result)

    def duration(self, where: str, value: object) -> timedelta:
        if not isinstance(value, str | int | float):
            raise self.error(where, f'expected a duration such as "15m", not {_type_name(value)}')
        try:
            return parse_duration(value, field=where)
        except InvalidInput as exc:
            raise self.wrap(exc) from None

    def load(self, data: dict[str, Any]) -> Config:
        self.check_fields("", data, TOP_LEVEL)
        channels: dict[str, ChannelSpec] = {}
        for name, body in self.table("channels", data.get("channels", {})).items():
            channels[name] = self.channel(name, body)
        jobs: dict[str, JobSpec] = {}
        for name, body in self.table("jobs", data.get("jobs", {})).items():
            jobs[name] = self.job(name, body, channels)
        alerts = self.alert_settings(self.table("alerts", data.get("alerts", {})), channels)
        windows = data.get("maintenance", [])
        if not isinstance(windows, list):
            raise self.error(
                "maintenance", f"expected [[maintenance]] tables, not {_type_name(windows)}"
            )
        maintenance = tuple(self.maintenance(f"maintenance[{i}]", w) for i, w in enumerate(windows))
        retention = self.retention(self.table("retention", data.get("retention", {})))
        return Config(jobs=jobs, channels=channels, path=self.file, alerts=alerts,
                      maintenance=maintenance, retention=retention)  # fmt: skip

    def retention(self, table: dict[str, Any]) -> Retention:
        self.check_fields("retention", table, RETENTION_FIELDS)
        runs: timedelta | None = DEFAULT_KEEP_RUNS
        if "runs" in table:
            runs = self.duration("retention.runs", table["runs"]) or None  # 0: keep every run
        events = DEFAULT_KEEP_EVENTS
        if "events" in table:
            events = self.duration("retention.events", table["events"])
        keep_last = KEEP_LAST_RUNS
        if "keep_last" in table:
            value = table["keep_last"]
            if isinstance(value, bool) or not isinstance(value, int):
                raise self.error(
                    "retention.keep_last", f"expected a whole number, not {_type_name(value)}"
                )
            keep_last = value
        problem = retention_problem(runs, keep_last, events)
        if problem is not None:
            setting, message = problem
            hint = ' ("0" keeps every run)' if setting == "runs" else ""
            raise self.error(f"retention.{setting}", message + hint)
        return Retention(runs=runs, keep_last=keep_last, events=events)

    # -- alerting -------------------------------------------------------------------------------

    def count(self, where: str, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(where, f"expected a whole number, not {_type_name(value)}")
        if not 1 <= value <= 1000:
            raise self.error(where, f"must be between 1 and 1000, not {value}")
        return value

    def alert_on(self, where: str, value: object) -> tuple[str, ...]:
        statuses = self.names(where, value)
        for index, status in enumerate(statuses):
            if status not in ALERTABLE_STATUSES:
                raise self.error(
                    f"{where}[{index}]",
                    f'"{status}" is not a status that can alert '
                    f"(one of: {', '.join(ALERTABLE_STATUSES)})",
                )
        return statuses

    def instant(self, where: str, value: object) -> datetime:
        """An aware instant: a TOML offset date-time, or a string in ISO 8601 with an offset."""
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.strip())
            except ValueError:
                raise self.error(
                    where, f"not a date-time: {value!r:.60}; write e.g. 2026-12-01T09:00:00Z"
                ) from None
        if not isinstance(value, datetime):
            kind = "a date" if isinstance(value, date) else _type_name(value)
            raise self.error(
                where, f"expected a date-time such as 2026-12-01T09:00:00Z, not {kind}"
            )
        if value.tzinfo is None:
            raise self.error(
                where, f"{value.isoformat()} has no UTC offset; add one, e.g. Z or +01:00"
            )
        return require_aware(value, where)

    def job_alerting(self, where: str, table: Mapping[str, Any]) -> dict[str, Any]:
        """The alert fields of a job table, as JobSpec keyword arguments."""
        fields: dict[str, Any] = {}
        for name in ("alert_after", "recover_after"):
            if name in table:
                fields[name] = self.count(f"{where}.{name}", table[name])
        if "repeat" in table:
            fields["repeat"] = self.duration(f"{where}.repeat", table["repeat"])
        if "alert_on" in table:
            fields["alert_on"] = self.alert_on(f"{where}.alert_on", table["alert_on"])
        if "snooze_until" in table:
            fields["snooze_until"] = self.instant(f"{where}.snooze_until", table["snooze_until"])
        return fields

    def channel_names(
        self, where: str, value: object, channels: Mapping[str, ChannelSpec] | None
    ) -> tuple[str, ...]:
        names = self.names(where, value)
        for index, channel in enumerate(names):
            if channels is not None and channel not in channels:
                defined = ", ".join(channels) if channels else "none"
                raise self.error(
                    f"{where}[{index}]",
                    f'no channel "{channel}" is defined (defined channels: {defined}); '
                    f"add a [channels.{_key(channel)}] table",
                )
        return names

    def alert_settings(
        self, table: dict[str, Any], channels: Mapping[str, ChannelSpec]
    ) -> AlertSettings:
        self.check_fields("alerts", table, ALERTS_FIELDS)
        interval = DEFAULT_ALERT_INTERVAL
        if "interval" in table:
            interval = self.duration("alerts.interval", table["interval"])
            if interval < timedelta(seconds=1):
                raise self.error("alerts.interval", "must be at least 1 second")
        outage_after = max(MIN_OUTAGE_AFTER, 3 * interval)
        if "outage_after" in table:
            outage_after = self.duration("alerts.outage_after", table["outage_after"])
            if outage_after <= interval:
                raise self.error(
                    "alerts.outage_after",
                    f"must be longer than alerts.interval ({format_duration(interval)}): every "
                    "cycle would otherwise look like an outage",
                )
        settings = AlertSettings(interval=interval, outage_after=outage_after)
        fields = self.job_alerting("alerts", table)
        return AlertSettings(
            interval=interval,
            outage_after=outage_after,
            channels=self.channel_names("alerts.channels", table.get("channels", []), channels),
            alert_on=fields.get("alert_on", settings.alert_on),
            alert_after=fields.get("alert_after", settings.alert_after),
            recover_after=fields.get("recover_after", settings.recover_after),
            repeat=fields.get("repeat", settings.repeat),
        )

    def maintenance(self, where: str, body: object) -> MaintenanceWindow:
        table = self.table(where, body)
        self.check_fields(where, table, MAINTENANCE_FIELDS)
        jobs = self.names(f"{where}.jobs", table.get("jobs", []))
        tags = self.names(f"{where}.tags", table.get("tags", []))
        one_off = "start" in table or "end" in table
        recurring = "schedule" in table or "duration" in table
        if one_off and recurring:
            raise self.error(
                where, "give either start and end (one-off) or schedule and duration (recurring)"
            )
        if one_off:
            if "timezone" in table:
                raise self.error(
                    f"{where}.timezone", "applies to a schedule; start and end carry an offset"
                )
            for needed in ("start", "end"):
                if needed not in table:
                    raise self.error(f"{where}.{needed}", "required with a one-off window")
            start = self.instant(f"{where}.start", table["start"])
            end = self.instant(f"{where}.end", table["end"])
            if end <= start:
                raise self.error(f"{where}.end", "must be after start")
            return MaintenanceWindow(where=where, jobs=jobs, tags=tags, start=start, end=end)
        if not recurring:
            raise self.error(
                where, "needs start and end (one-off) or schedule and duration (recurring)"
            )
        for needed in ("schedule", "duration"):
            if needed not in table:
                raise self.error(f"{where}.{needed}", "required with a recurring window")
        timezone = table.get("timezone", "UTC")
        if not isinstance(timezone, str):
            raise self.error(f"{where}.timezone", f"expected a string, not {_type_name(timezone)}")
        try:
            load_zone(timezone, field=f"{where}.timezone")
            schedule = parse_schedule(table["schedule"], timezone, field=f"{where}.schedule")
        except InvalidInput as exc:
            raise self.wrap(exc) from None
        if not isinstance(schedule, CronSchedule):
            raise self.error(
                f"{where}.schedule",
                'must be a cron expression such as "0 2 * * 0" (an interval has no fixed start)',
            )
        duration = self.duration(f"{where}.duration", table["duration"])
        if not duration:
            raise self.error(f"{where}.duration", "must be longer than zero")
        return MaintenanceWindow(
            where=where, jobs=jobs, tags=tags, schedule=schedule, duration=duration
        )

    def job(self, name: str, body: object, channels: Mapping[str, ChannelSpec] | None) -> JobSpec:
        where = f"jobs.{_key(name)}"
        self.name(where, name)
        table = self.table(where, body)
        self.check_fields(where, table, JOB_FIELDS | ALERT_JOB_FIELDS)

        timezone = table.get("timezone", "UTC")
        if not isinstance(timezone, str):
            raise self.error(f"{where}.timezone", f"expected a string, not {_type_name(timezone)}")
        try:
            load_zone(timezone, field=f"{where}.timezone")
            schedule = (
                parse_schedule(table["schedule"], timezone, field=f"{where}.schedule")
                if "schedule" in table
                else None
            )
        except InvalidInput as exc:
            raise self.wrap(exc) from None

        grace_explicit = "grace" in table
        grace = (
            self.duration(f"{where}.grace", table["grace"])
            if grace_explicit
            else default_grace(schedule)
        )
        hosts = self.names(f"{where}.hosts", table.get("hosts", []), max_length=MAX_HOST_LENGTH)
        min_hosts = self.min_hosts(where, table.get("min_hosts"), hosts)
        max_runtime = (
            self.duration(f"{where}.max_runtime", table["max_runtime"])
            if "max_runtime" in table
            else None
        )
        if max_runtime is not None and not max_runtime:
            raise self.error(f"{where}.max_runtime", "must be longer than zero")
        min_runtime = (
            self.duration(f"{where}.min_runtime", table["min_runtime"])
            if "min_runtime" in table
            else None
        )
        if min_runtime is not None and max_runtime is not None and min_runtime > max_runtime:
            raise self.error(
                f"{where}.min_runtime",
                f"min_runtime ({format_duration(min_runtime)}) is longer than "
                f"max_runtime ({format_duration(max_runtime)})",
            )
        paused = table.get("paused", False)
        if not isinstance(paused, bool):
            raise self.error(f"{where}.paused", f"expected true or false, not {_type_name(paused)}")
        alerts = self.channel_names(f"{where}.alerts", table.get("alerts", []), channels)
        return JobSpec(
            name=name,
            schedule=schedule,
            timezone=timezone,
            grace=grace,
            hosts=hosts,
            min_hosts=min_hosts,
            max_runtime=max_runtime,
            min_runtime=min_runtime,
            tags=self.names(f"{where}.tags", table.get("tags", [])),
            paused=paused,
            alerts=alerts,
            grace_explicit=grace_explicit,
            **self.job_alerting(where, table),
        )

    def min_hosts(self, where: str, value: object, hosts: tuple[str, ...]) -> int | None:
        where = f"{where}.min_hosts"
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(where, f"expected a whole number, not {_type_name(value)}")
        if not hosts:
            raise self.error(where, "needs a hosts list to count from")
        if not 1 <= value <= len(hosts):
            raise self.error(
                where, f"must be between 1 and the number of hosts ({len(hosts)}), not {value}"
            )
        return value

    def channel(self, name: str, body: object) -> ChannelSpec:
        where = f"channels.{_key(name)}"
        self.name(where, name)
        table = self.table(where, body)
        kind = table.get("type")
        choices = f"one of: {', '.join(CHANNEL_OPTIONS)}"
        if "type" not in table:
            raise self.error(f"{where}.type", f"missing ({choices})")
        if not isinstance(kind, str):
            raise self.error(
                f"{where}.type", f"expected a string ({choices}), not {_type_name(kind)}"
            )
        if kind not in CHANNEL_OPTIONS:
            raise self.error(f"{where}.type", f'unknown channel type "{kind}" ({choices})')
        required, optional = CHANNEL_OPTIONS[kind]
        self.check_fields(where, table, required | optional | {"type"})
        for option in sorted(required):
            if option not in table:
                raise self.error(f"{where}.{option}", f'required for a "{kind}" channel')
        options: dict[str, object] = {}
        for option, value in table.items():
            if option != "type":
                options[option] = self.channel_option(f"{where}.{option}", option, value)
        if kind == "email":
            self.check_email(where, options)
        return ChannelSpec(
            name=name, type=cast(ChannelType, kind), options=MappingProxyType(options)
        )

    def check_email(self, where: str, options: Mapping[str, object]) -> None:
        if options.get("starttls") and options.get("ssl"):
            raise self.error(
                f"{where}.ssl", "starttls and ssl exclude each other (ssl: TLS from the start)"
            )
        if "password" in options and "password_env" in options:
            raise self.error(f"{where}.password_env", "give password or password_env, not both")
        has_password = "password" in options or "password_env" in options
        if "username" in options and not has_password:
            raise self.error(f"{where}.password", "required with username (or password_env)")
        if has_password and "username" not in options:
            raise self.error(f"{where}.username", "required with a password")

    def channel_option(self, where: str, option: str, value: object) -> object:
        if option == "timeout":
            timeout = self.duration(where, value)
            if not timeout:
                raise self.error(where, "must be longer than zero")
            return timeout
        if option == "url":
            if not isinstance(value, str) or not _URL.fullmatch(value):
                raise self.error(where, f"expected an http:// or https:// URL, not {value!r:.80}")
            return value
        if option == "headers":
            headers = self.table(where, value)
            for key, item in headers.items():
                if not isinstance(item, str) or _CONTROL.search(key + item):
                    raise self.error(f"{where}.{_key(key)}", "expected a single-line string")
            return MappingProxyType(dict(headers))
        if option == "to":
            addresses = [value] if isinstance(value, str) else value
            if not isinstance(addresses, list) or not addresses:
                raise self.error(where, "expected a non-empty list of email addresses")
            for index, address in enumerate(addresses):
                if not isinstance(address, str) or not _EMAIL.fullmatch(address):
                    raise self.error(f"{where}[{index}]", f"not an email address: {address!r:.80}")
            return tuple(cast(list[str], addresses))
        if option in ("host", "username", "password", "password_env", "ca_file"):
            if not isinstance(value, str) or not value or _CONTROL.search(value):
                raise self.error(where, "expected a single-line, non-empty string")
            return value
        if option == "from":
            if not isinstance(value, str) or not _EMAIL.fullmatch(value):
                raise self.error(where, f"not an email address: {value!r:.80}")
            return value
        if option == "port":
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
                raise self.error(where, f"expected a port number (1-65535), not {value!r:.40}")
            return value
        if option in ("starttls", "ssl"):
            if not isinstance(value, bool):
                raise self.error(where, f"expected true or false, not {_type_name(value)}")
            return value
        if option == "command":
            if isinstance(value, str) and value.strip():
                return value
            if (
                isinstance(value, list)
                and value
                and all(isinstance(arg, str) for arg in value)
                and cast(list[str], value)[0]
            ):
                return tuple(cast(list[str], value))
            raise self.error(where, "expected a command line or a non-empty list of strings")
        raise AssertionError(f"unhandled channel option {option}")  # CHANNEL_OPTIONS is checked


_URL = re.compile(r"https?://[^\s\x00-\x1f\x7f/?#]+[^\s\x00-\x1f\x7f]*", re.IGNORECASE)
_EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _type_name(value: object) -> str:
    """How a TOML user would name the type of ``value``."""
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    for kind, label in names.items():
        if isinstance(value, kind):
            return label
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__
