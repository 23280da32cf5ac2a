"""``import-systemd``: which timers to read, and the job each becomes (or why none).

:func:`import_timers` takes what the command line names (unit files, directories of units,
or unit names looked up in the unit directories) or, with nothing named, the timers this host
runs (:mod:`cronwatch.systemd_units.discover`), and returns a :class:`TimerImport`: the jobs,
the timers skipped and why, and notes on how the timers were found. It never raises for a
timer's content: a timer that cannot be watched is reported and skipped, the rest imported.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cronwatch.configmerge import ImportedJob
from cronwatch.errors import InvalidInput
from cronwatch.systemd_units import discover
from cronwatch.systemd_units.timers import Timer, read_timer, timer_job
from cronwatch.systemd_units.unitfile import read_unit


@dataclass(frozen=True)
class ImportedTimer:
    """A timer and the job that watches it."""

    timer: Timer
    job: ImportedJob


@dataclass
class TimerImport:
    """What :func:`import_timers` found: ``jobs`` in order, ``skipped`` (``(what, why)``),
    ``warnings`` (lines systemd would skip too) and ``notes`` (how the timers were found)."""

    jobs: list[ImportedTimer] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)


def import_timers(
    arguments: Sequence[str],
    timezone: str,
    *,
    user: bool = False,
    every: bool = False,
    use_systemctl: bool | None = None,
) -> TimerImport:
    """The jobs of the timers ``arguments`` name (files, directories, unit names), or of this
    host's timers when there are none. ``timezone``: the host's, for calendar expressions
    without a zone. ``every``: without arguments, disabled timers too. ``use_systemctl``:
    ask systemd which timers it has (default: when it runs). :class:`InvalidInput` for an
    argument that names nothing."""
    result = TimerImport()
    dirs = discover.unique_dirs(discover.user_unit_dirs() if user else discover.SYSTEM_UNIT_DIRS)
    units = (
        _named(arguments, dirs, result)
        if arguments
        else _host_timers(dirs, result, user, every, use_systemctl)
    )
    seen: set[str] = set()
    for unit in units:
        if unit.name in seen:
            continue
        seen.add(unit.name)
        add_unit(unit, timezone, result)
    return result


def _named(
    arguments: Sequence[str], dirs: list[Path], result: TimerImport
) -> list[discover.UnitFiles]:
    units: list[discover.UnitFiles] = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            names = discover.timer_files([path])
            if not names:
                result.notes.append(f"no *.timer files in {path}")
            result.sources.append(str(path))
            for name in names:
                found = discover.find_unit(name, [path])
                assert found is not None
                units.append(found)
        elif path.is_file() or os.path.lexists(path):
            if not path.name.endswith(".timer"):
                raise InvalidInput(f"{argument}: not a timer unit (its name must end in .timer)")
            result.sources.append(str(path))
            units.append(
                discover.UnitFiles(
                    path.name, path, discover.dropins_beside(path), discover.is_masked(path)
                )
            )
        elif "/" not in argument and argument.endswith(".timer"):
            found = discover.find_unit(argument, dirs)
            if found is None:
                raise InvalidInput(
                    f"{argument}: no such timer in the unit directories "
                    f"({', '.join(str(d) for d in dirs) or 'none exist'})"
                )
            result.sources.append(argument)
            units.append(found)
        else:
            raise InvalidInput(
                f"{argument}: no such file or directory (give a timer unit file, a directory of "
                "units, or a unit name such as apt-daily.timer)"
            )
    return units


def _host_timers(
    dirs: list[Path], result: TimerImport, user: bool, every: bool, use_systemctl: bool | None
) -> list[discover.UnitFiles]:
    if use_systemctl is None:
        use_systemctl = discover.systemd_running()
    if use_systemctl:
        names = discover.listed_timers(user=user)
        result.sources.append("systemctl list-timers --all")
    else:
        where = ", ".join(str(d) for d in dirs) or "no unit directory exists"
        result.notes.append(f"systemd is not running here: reading the unit directories ({where})")
        enabled = discover.enabled_timers(dirs)
        names = sorted(set(enabled) | set(discover.timer_files(dirs))) if every else enabled
        result.sources.append("the unit directories")
        if not every:
            left = [
                n
                for n in discover.timer_files(dirs)
                if n not in enabled and not discover.is_template(n)
            ]
            if left:
                result.notes.append(
                    f"not enabled, so not imported (--all imports them): {', '.join(left)}"
                )
    units = []
    for name in names:
        found = discover.find_unit(name, dirs)
        if found is None:
            result.skipped.append((name, "its unit file is not in the unit directories"))
        else:
            units.append(found)
    return units


def add_unit(unit: discover.UnitFiles, timezone: str, result: TimerImport) -> None:
    """Read ``unit`` and add its job to ``result``, or say in ``result.skipped`` why not."""
    if unit.masked:
        result.skipped.append((unit.name, f"masked ({unit.path} is empty or /dev/null)"))
        return
    if discover.is_template(unit.name):
        result.skipped.append(
            (
                unit.name,
                "a template: it runs only as an instance; import the instances "
                f"(e.g. {unit.name.replace('@.', '@INSTANCE.')})",
            )
        )
        return
    try:
        settings = read_unit(unit.files, result.warnings)
        timer = read_timer(unit.name, settings, result.warnings)
        job = timer_job(timer, timezone)
    except InvalidInput as exc:
        reason = str(exc).removeprefix(f"{unit.name}: ")
        result.skipped.append((unit.name, reason))
        return
    result.jobs.append(ImportedTimer(timer, job))
