"""Reading a crontab the way cron does: :func:`parse_crontab`, in named steps.

The lines are classified (:mod:`.lines`), the format is told (:mod:`.format`), then each line
is read in order: assignments set the timezone in force, each schedule line becomes a
:class:`~.entries.Candidate` or a warning, and the candidates get their names
(:mod:`.naming`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence

from cronwatch.crontab.entries import Candidate, CrontabWarning, ParsedCrontab
from cronwatch.crontab.format import content_says_system, path_says_system, user_field
from cronwatch.crontab.lines import Line, assignment, classify, schedule_width, split_fields
from cronwatch.crontab.naming import assign_names, cronwatch_run_name, derive_job_name
from cronwatch.crontab.shell import split_at_stdin
from cronwatch.errors import InvalidInput
from cronwatch.schedule import CronSchedule, load_zone, parse_schedule


def parse_crontab(
    text: str | bytes,
    *,
    path: str | os.PathLike[str] | None = None,
    system: bool | None = None,
    default_timezone: str = "UTC",
    cron_tz: bool = True,
) -> ParsedCrontab:
    """Parse a crontab's text into entries and warnings; see :mod:`cronwatch.crontab`.

    ``system``: ``True`` for the system format (user field), ``False`` for a user crontab,
    ``None`` to detect it: a ``path`` of ``/etc/crontab`` (any ``.../etc/crontab``) or a file in
    a ``cron.d`` directory is a system crontab; otherwise the content decides (the
    ``# m h dom mon dow user command`` header, or a known user name after the time fields of
    every line).

    ``cron_tz``: whether the cron that runs the crontab honours ``CRON_TZ`` and ``TZ`` (cronie
    does; Debian's cron ignores them and runs every line in the host's time: with ``False`` the
    lines below such an assignment stay in ``default_timezone``, and the assignment gets a
    warning saying so).

    Lines that look like a mistake get a warning: six time fields (``* * * * * * cmd``, which
    cron runs as the command ``* cmd``: skipped), a user field in what was guessed to be a user
    crontab, an unescaped ``%`` where a percent sign was surely meant (``date +%F``).

    ``default_timezone`` applies to lines with no ``CRON_TZ``/``TZ`` above them: cron runs those
    in the host's local time, so pass :func:`~cronwatch.crontab.local_timezone` when the
    crontab comes from this host. It must be a valid IANA name (``InvalidInput`` otherwise):
    that is the caller's mistake, not the file's.

    Bytes are decoded as UTF-8, invalid sequences replaced (they can only affect how a command
    is shown and named).
    """
    load_zone(default_timezone, field="default timezone")
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    lines = classify(text)
    system, guessed = _format(lines, path, system)
    reader = _Reader(system, default_timezone, cron_tz=cron_tz, user_field_warnings=guessed)
    for line in lines:
        reader.read(line)
    entries = assign_names(reader.candidates, reader.warnings)
    warnings = sorted(reader.warnings, key=lambda warning: warning.line_no)
    return ParsedCrontab(entries=entries, warnings=warnings, system=system, system_guessed=guessed)


def _format(
    lines: Sequence[Line], path: str | os.PathLike[str] | None, system: bool | None
) -> tuple[bool, bool]:
    """Whether the crontab is in the system format, and whether that was guessed from its
    content (given, or implied by the path, is not a guess)."""
    if system is not None:
        return system, False
    from_path = path_says_system(path)
    if from_path is not None:
        return from_path, False
    return content_says_system(lines), True


class _Skip(Exception):
    """A line is not imported; the message says why."""


class _Reader:
    """Reads the lines in order, keeping the timezone in force."""

    def __init__(
        self, system: bool, default_timezone: str, *, cron_tz: bool, user_field_warnings: bool
    ) -> None:
        self.system = system
        self.default_timezone = default_timezone
        self.cron_tz = cron_tz
        # A user crontab that was guessed to be one: a line with a user field is worth a word.
        self.user_field_warnings = user_field_warnings and not system
        self.candidates: list[Candidate] = []
        self.warnings: list[CrontabWarning] = []
        # The latest CRON_TZ and TZ values with the line that set them; validity is checked
        # where a line uses them, since only the one in force (CRON_TZ, else TZ) matters.
        self.zones: dict[str, tuple[str, int]] = {}

    def read(self, line: Line) -> None:
        if line.kind == "assignment":
            self._assign(line)
        elif line.kind == "entry":
            self._entry(line)

    def _assign(self, line: Line) -> None:
        name, value = assignment(line)
        if name in ("CRON_TZ", "TZ"):
            if not self.cron_tz:
                self.warnings.append(
                    CrontabWarning(
                        line.number,
                        f"Debian's cron ignores {name}: the lines below run in this host's time "
                        f"({self.default_timezone}), and are imported so; pass --cron cronie if "
                        "a cron that honours it runs this crontab",
                    )
                )
                return
            if value:
                self.zones[name] = (value, line.number)
            else:  # an empty value goes back to the default
                self.zones.pop(name, None)

    def _entry(self, line: Line) -> None:
        try:
            candidate = _candidate(line, self.system)
            for message in _looks_wrong(candidate, line, self.user_field_warnings):
                self.warnings.append(CrontabWarning(line.number, message))
            candidate.timezone = self._timezone()
            candidate.schedule_expr = _cron_expression(candidate)
        except _Skip as skip:
            self.warnings.append(CrontabWarning(line.number, str(skip)))
            return
        self.candidates.append(candidate)

    def _timezone(self) -> str:
        """The timezone in force: CRON_TZ, else TZ, else the default."""
        zone, zone_line = (
            self.zones.get("CRON_TZ") or self.zones.get("TZ") or (self.default_timezone, 0)
        )
        try:
            load_zone(zone, field=f"the timezone set at line {zone_line}")
        except InvalidInput as exc:
            # Importing the line in another zone would watch the wrong hours: skip it.
            raise _Skip(f"{exc}; line skipped") from None
        return zone


def _candidate(line: Line, system: bool) -> Candidate:
    """A schedule line's fields, its command and the names it offers."""
    width = schedule_width(line.text)
    first = line.text.split(None, 1)[0]
    if first.lower() == "@reboot":
        raise _Skip("skipped @reboot: it has no schedule to watch")
    split = split_fields(line.text, width + (1 if system else 0))
    if split is None or not split[1].strip():
        shape = ("an @alias" if width == 1 else "5 time fields") + (", a user" if system else "")
        raise _Skip(f"expected {shape} and a command; line skipped")
    fields, command = split
    user = fields.pop() if system else None
    try:
        explicit = cronwatch_run_name(command)
    except InvalidInput as exc:
        # The job records runs under that name and cronwatch run refuses it: importing it under
        # another name would create a job that never gets a run.
        raise _Skip(f"{exc}; line skipped") from None
    return Candidate(
        line_no=line.number,
        schedule_expr=" ".join(fields),
        timezone="",
        command=command,
        user=user,
        explicit=explicit,
        derived="" if explicit else derive_job_name(command),
    )


def _cron_expression(candidate: Candidate) -> str:
    """The candidate's schedule, validated in its timezone and normalised."""
    # parse_schedule also reads "every 15m"; cron has no such thing, and its error message
    # would talk about durations.
    if candidate.schedule_expr.split()[0].lower() == "every":
        raise _Skip(
            f'schedule: invalid cron expression "{candidate.schedule_expr}": cron has no '
            "intervals; line skipped"
        )
    try:
        schedule = parse_schedule(candidate.schedule_expr, candidate.timezone, field="schedule")
    except InvalidInput as exc:
        raise _Skip(f"{exc}; line skipped") from None
    assert isinstance(schedule, CronSchedule)  # not "every ...", so a cron schedule
    return schedule.expression


# A word that can only be a time field: digits, "*", and the "/", ",", "-" between them.
_TIME_FIELD = re.compile(r"[0-9*][0-9*/,-]*")


def _looks_wrong(candidate: Candidate, line: Line, user_field_warnings: bool) -> Iterator[str]:
    """Warnings for a line that cron runs, but surely not as meant; raises :class:`_Skip` for
    one that must not be imported at all."""
    first = candidate.user if candidate.user is not None else candidate.command.split(None, 1)[0]
    if _TIME_FIELD.fullmatch(first) and not candidate.schedule_expr.startswith("@"):
        raise _Skip(
            f'"{candidate.schedule_expr} {first}" looks like 6 time fields; cron reads 5 (minute, '
            f"hour, day of month, month, day of week), so it would run {first!r} as "
            + ("the user" if candidate.user is not None else "the command")
            + "; line skipped"
        )
    if user_field_warnings:
        user = user_field(line)
        if user is not None:
            yield (
                f'"{user}" after the time fields looks like the user field of a system crontab '
                "(/etc/crontab, /etc/cron.d); read as a user crontab, cron runs it as the "
                "command: pass --system if this is a system crontab"
            )
    runnable, stdin = split_at_stdin(candidate.command)
    if stdin and (runnable.endswith("+") or _open_quote(runnable)):
        yield (
            "cron ends the command at the unescaped % (the rest is the command's standard "
            f"input), so it runs {runnable.strip()!r}: write \\% for a percent sign"
        )


def _open_quote(text: str) -> bool:
    """Whether ``text`` ends inside a quoted string (the shell would see an unclosed quote)."""
    quote = ""
    escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\" and quote != "'":
            escaped = True
        elif quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
    return bool(quote)
