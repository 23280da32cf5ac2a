"""A timer unit's ``[Timer]`` settings as systemd applies them, and the job it becomes.

systemd.timer(5), as systemd 252 reads it:

- ``OnCalendar=``, ``OnActiveSec=``, ``OnBootSec=``, ``OnStartupSec=``, ``OnUnitActiveSec=``
  and ``OnUnitInactiveSec=`` add a trigger each; an empty value of any of them resets the list
  of triggers (calendar and monotonic alike), so a drop-in can replace a timer's schedule:
  ``OnCalendar=`` then ``OnCalendar=weekly``. A value systemd cannot parse is skipped (it logs
  it); so is it here, with a warning.
- ``AccuracySec=`` (default 1min) and ``RandomizedDelaySec=`` (default 0): the timer fires up
  to their sum after its slot; that sum is the job's grace (at least 1 minute).
- ``Persistent=``: a slot missed while the machine was off runs when it starts again.
- ``Unit=``: the unit it starts (default: the timer's name with ``.service``).
- Everything else (``[Install]``, ``WantedBy=``, ``WakeSystem=``, ...) has no say in when the
  job runs, and is ignored.

A timer's calendar expressions without a zone of their own are in the host's timezone, as
systemd evaluates them in local time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from cronwatch.configmerge import ImportedJob
from cronwatch.durations import format_duration
from cronwatch.errors import InvalidInput
from cronwatch.names import validate_name
from cronwatch.schedule import IntervalSchedule, OnCalendarSchedule, parse_timer_lines
from cronwatch.systemd_time.calendar import parse_calendar
from cronwatch.systemd_time.timespan import parse_timespan
from cronwatch.systemd_units.unitfile import Setting

TRIGGERS = (
    "OnCalendar",
    "OnActiveSec",
    "OnBootSec",
    "OnStartupSec",
    "OnUnitActiveSec",
    "OnUnitInactiveSec",
)
DEFAULT_ACCURACY = timedelta(minutes=1)
MIN_GRACE = timedelta(minutes=1)
_TRUE = frozenset({"1", "yes", "y", "true", "t", "on"})
_FALSE = frozenset({"0", "no", "n", "false", "f", "off"})


@dataclass(frozen=True)
class Timer:
    """What a timer unit says about when its unit runs, its drop-ins applied."""

    name: str  # the unit's name: "apt-daily.timer"
    files: tuple[str, ...]  # the unit file, then the drop-ins that applied
    triggers: tuple[tuple[str, str], ...]  # ("OnCalendar", "*-*-* 6:00"), in order
    accuracy: timedelta = DEFAULT_ACCURACY
    randomized_delay: timedelta = timedelta(0)
    persistent: bool | None = None  # None: not set (systemd's default: false)
    unit: str = ""  # the unit it starts
    description: str | None = None

    @property
    def job_name(self) -> str:
        """The job's name: the unit's name without ``.timer``."""
        return self.name.removesuffix(".timer")


def read_timer(name: str, settings: Sequence[Setting], warnings: list[str]) -> Timer:
    """The :class:`Timer` that ``settings`` (the unit file's, then its drop-ins') describe;
    values systemd would skip are skipped with a warning in ``warnings``."""
    triggers: list[tuple[str, str]] = []
    accuracy, delay = DEFAULT_ACCURACY, timedelta(0)
    persistent: bool | None = None
    unit = ""
    description = None
    for setting in settings:
        key, value = setting.key, setting.value
        where = f"{setting.path}, line {setting.line}"
        if setting.section == "Unit" and key == "Description":
            description = _expand(value, name) or None
        if setting.section != "Timer":
            continue
        if key in TRIGGERS:
            if not value:
                triggers.clear()  # systemd: an empty assignment resets every trigger
            elif _valid_trigger(key, value, where, warnings):
                triggers.append((key, value))
        elif key in ("AccuracySec", "RandomizedDelaySec"):
            span = _span(key, value, where, warnings)
            if span is not None and key == "AccuracySec":
                accuracy = span
            elif span is not None:
                delay = span
        elif key == "Persistent":
            if value.lower() in _TRUE | _FALSE:
                persistent = value.lower() in _TRUE
            else:
                warnings.append(f"{where}: Persistent={value[:40]} is not a boolean; skipped")
        elif key == "Unit":
            unit = _expand(value, name)
    return Timer(
        name=name,
        files=tuple(dict.fromkeys(s.path for s in settings)),
        triggers=tuple(triggers),
        accuracy=accuracy,
        randomized_delay=delay,
        persistent=persistent,
        unit=unit or name.removesuffix(".timer") + ".service",
        description=description,
    )


def _valid_trigger(key: str, value: str, where: str, warnings: list[str]) -> bool:
    try:
        if key == "OnCalendar":
            parse_calendar(value)
        else:
            parse_timespan(value, field=f"{key}=")
    except InvalidInput as exc:
        warnings.append(f"{where}: {exc}; skipped, as systemd skips it")
        return False
    return True


def _span(key: str, value: str, where: str, warnings: list[str]) -> timedelta | None:
    if not value:
        return DEFAULT_ACCURACY if key == "AccuracySec" else timedelta(0)
    try:
        return parse_timespan(value, field=f"{key}=")
    except InvalidInput as exc:
        warnings.append(f"{where}: {exc}; skipped, as systemd skips it")
        return None


def _expand(value: str, timer: str) -> str:
    """``Unit=`` with the specifiers a timer's Unit= uses expanded (``%i``, ``%p``, ``%n``,
    ``%N``, ``%%``); other specifiers are left as they are."""
    stem = timer.removesuffix(".timer")
    prefix, _, instance = stem.partition("@")
    known = {"i": instance, "I": instance, "p": prefix, "P": prefix, "n": timer, "N": stem}
    out, chars = [], iter(value)
    for char in chars:
        if char == "%":
            following = next(chars, "")
            out.append("%" if following == "%" else known.get(following, "%" + following))
        else:
            out.append(char)
    return "".join(out)


def timer_job(timer: Timer, timezone: str) -> ImportedJob:
    """The job that watches ``timer``; :class:`InvalidInput` saying why when it cannot be
    watched (no trigger, only boot-relative ones, a name cronwatch refuses, ...).

    ``timezone`` is the host's: the zone of calendar expressions without their own.
    """
    name = validate_name(timer.job_name, f"job name of {timer.name}")
    if not timer.triggers:
        raise InvalidInput(
            "no OnCalendar= or OnUnitActiveSec= (a drop-in may have reset them): it never fires"
        )
    lines = "\n".join(f"{key}={value}" for key, value in timer.triggers)
    schedule = parse_timer_lines(lines, timezone, field=timer.name)
    fields: list[tuple[str, str | list[str]]] = []
    if isinstance(schedule, OnCalendarSchedule):
        expressions = list(schedule.expressions)
        fields.append(("on_calendar", expressions[0] if len(expressions) == 1 else expressions))
        if timezone != "UTC" and any(_zoneless(text) for text in expressions):
            fields.append(("timezone", timezone))
    else:
        assert isinstance(schedule, IntervalSchedule)
        fields.append(("schedule", schedule.expression))
    grace = max(MIN_GRACE, timer.accuracy + timer.randomized_delay)
    fields.append(("grace", format_duration(grace)))
    return ImportedJob(name, tuple(fields), tuple(_comments(timer, schedule)))


def _zoneless(expression: str) -> bool:
    spec = parse_calendar(expression)
    return not spec.utc and spec.timezone is None


def _comments(timer: Timer, schedule: object) -> list[str]:
    starts = f" starts {timer.unit}" if timer.unit else ""
    comments = [f"{timer.name}{starts}: {timer.description or 'no description'}"]
    comments.extend(f"  from {path}" for path in timer.files)
    once = [f"{key}={value}" for key, value in timer.triggers if key not in _PERIODIC]
    if once and isinstance(schedule, IntervalSchedule):
        comments.append(f"{', '.join(once)}: only delays the first run after boot or start")
    grace = f"AccuracySec={format_duration(timer.accuracy)}"
    if timer.randomized_delay:
        grace += f" + RandomizedDelaySec={format_duration(timer.randomized_delay)}"
    comments.append(f"grace: {grace}, how late systemd may start it")
    if timer.persistent:
        comments.append(
            "Persistent=true: a run missed while the machine was off runs when it is back; "
            "until then the job shows as missing"
        )
    elif timer.persistent is False:
        comments.append("Persistent=false: a run missed while the machine was off is skipped")
    return comments


_PERIODIC = ("OnCalendar", "OnUnitActiveSec", "OnUnitInactiveSec")
