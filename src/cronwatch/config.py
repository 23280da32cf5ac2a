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
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, cast

from cronwatch.durations import format_duration, parse_duration
from cronwatch.errors import ConfigError, InvalidInput
from cronwatch.names import validate_name
from cronwatch.schedule import Schedule, load_zone, parse_schedule

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
# The options each channel type takes (besides "type"); the first set is required.
CHANNEL_OPTIONS: Mapping[str, tuple[frozenset[str], frozenset[str]]] = {
    "webhook": (frozenset({"url"}), frozenset({"headers", "timeout"})),
    "email": (frozenset({"to"}), frozenset()),
    "command": (frozenset({"command"}), frozenset({"timeout"})),
}
TOP_LEVEL = frozenset({"jobs", "channels"})


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


@dataclass(frozen=True)
class ChannelSpec:
    """An alert channel. ``options`` (read-only) holds its fields other than ``type``.

    webhook: ``url`` (str), optional ``headers`` (dict of str), ``timeout`` (timedelta).
    email: ``to`` (tuple of addresses). command: ``command`` (str for a shell command line,
    or tuple of argv strings), optional ``timeout`` (timedelta).
    """

    name: str
    type: ChannelType
    options: Mapping[str, object]


@dataclass(frozen=True)
class Config:
    """A loaded configuration file. ``jobs`` and ``channels`` keep the file's order."""

    jobs: dict[str, JobSpec]
    channels: dict[str, ChannelSpec]
    path: Path


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
        return Config(jobs=jobs, channels=channels, path=self.file)

    def job(
        self, name: str, body: object, channels: Mapping[str, ChannelSpec] | None
    ) -> JobSpec:
        where = f"jobs.{_key(name)}"
        self.name(where, name)
        table = self.table(where, body)
        self.check_fields(where, table, JOB_FIELDS)

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
        alerts = self.names(f"{where}.alerts", table.get("alerts", []))
        for index, channel in enumerate(alerts):
            if channels is not None and channel not in channels:
                defined = ", ".join(channels) if channels else "none"
                raise self.error(
                    f"{where}.alerts[{index}]",
                    f'no channel "{channel}" is defined (defined channels: {defined}); '
                    f"add a [channels.{_key(channel)}] table",
                )
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
        return ChannelSpec(
            name=name, type=cast(ChannelType, kind), options=MappingProxyType(options)
        )

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
