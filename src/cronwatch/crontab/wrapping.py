"""A crontab with its jobs run under ``cronwatch run NAME``: what ``import-crontab --wrap``
prints, ready for ``crontab -`` (or a file in ``/etc/cron.d``).

Contract of :func:`wrap_crontab`:

- Every line that :func:`~cronwatch.crontab.parse_crontab` imports as a job, and that does not
  run under ``cronwatch run`` already, gets its command replaced by
  ``CRONWATCH... run NAME -- COMMAND``, NAME being the job name the import gives it (so the
  runs are recorded under the job ``import-crontab`` declares). Everything before the command
  (the time fields, a system crontab's user field, their blanks) is kept as written.
- A command the shell runs as one program (``/usr/local/bin/backup.sh --full >/dev/null``)
  follows ``--`` as written. Any other command line (``cd /srv && ./manage.py x``, pipes,
  ``FOO=1 job``) is handed to the crontab's shell (``SHELL=`` in force, else ``/bin/sh``) as one
  ``-c`` argument in single quotes, so that cronwatch records the whole line, not its first
  part. Cron's ``%`` handling is kept: the part after the first unescaped ``%`` (the command's
  standard input) stays outside the quotes, and ``\\%`` stays escaped.
- Every other line (comments, blank lines, environment assignments such as ``CRON_TZ``, lines
  already wrapped, lines the import skips with a warning, ``@reboot``) is kept byte for byte,
  and so are the line endings. Wrapping the output again changes nothing.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence

from cronwatch.crontab.entries import CrontabWarning, ParsedCrontab
from cronwatch.crontab.lines import assignment, classify
from cronwatch.crontab.shell import (
    basename,
    is_simple_command,
    programs,
    runnable_part,
    split_at_stdin,
)

DEFAULT_SHELL = "/bin/sh"
#: The PATH cron gives jobs when the crontab sets none (Debian's cron and cronie alike).
CRON_PATH = "/usr/bin:/bin"


def _crontab_word(word: str) -> str:
    """``word`` quoted for the shell, with ``%`` escaped for cron (which would cut there)."""
    return shlex.quote(word).replace("%", "\\%")


def wrapped_command(cronwatch: Sequence[str], name: str, command: str, shell: str) -> str:
    """``command`` (a crontab line's command, as written) run under ``cronwatch run name``."""
    prefix = " ".join(_crontab_word(word) for word in [*cronwatch, "run", name, "--"])
    runnable, stdin = split_at_stdin(command)
    runnable = runnable.rstrip(" \t")
    if is_simple_command(runnable.replace("\\%", "%")):
        return f"{prefix} {runnable}{stdin}"
    # Single quotes keep everything but "'" literal; cron still turns "\%" into "%" inside them.
    quoted = "'" + runnable.replace("'", "'\\''") + "'"
    return f"{prefix} {_crontab_word(shell)} -c {quoted}{stdin}"


def wrap_crontab(text: str, parsed: ParsedCrontab, cronwatch: Sequence[str]) -> str:
    """``text`` (the crontab ``parsed`` was read from) with its jobs wrapped; see the module.

    ``cronwatch`` is how cron must start this cronwatch: an absolute path (and options such
    as ``--database-url URL``), since cron's ``PATH`` is ``/usr/bin:/bin``.
    """
    to_wrap = {entry.line_no: entry for entry in parsed.entries if not entry.wrapped}
    raw_lines = text.split("\n")
    shell = DEFAULT_SHELL
    for line in classify(text):
        if line.kind == "assignment":
            name, value = assignment(line)
            if name == "SHELL":
                shell = value or DEFAULT_SHELL
            continue
        entry = to_wrap.get(line.number)
        if entry is None:
            continue
        raw = raw_lines[line.number - 1]
        ending = "\r" if raw.endswith("\r") else ""
        body = raw.removesuffix("\r")
        # The command is the end of the line as written (parse_crontab keeps it verbatim).
        assert body.endswith(entry.command)
        head = body[: len(body) - len(entry.command)]
        raw_lines[line.number - 1] = (
            head + wrapped_command(cronwatch, entry.job_name, entry.command, shell) + ending
        )
    return "\n".join(raw_lines)


def unreachable_cronwatch(
    text: str, parsed: ParsedCrontab, cronwatch: Sequence[str]
) -> list[CrontabWarning]:
    """The lines already under ``cronwatch run`` that start ``cronwatch`` by a bare name which
    cron's ``PATH`` (the crontab's ``PATH=``, else ``/usr/bin:/bin``) does not find: they fail
    with ``cronwatch: not found`` every time and their job never runs. :func:`wrap_crontab`
    leaves them as they are; this says so, with the full path to write instead."""
    wrapped = {entry.line_no: entry for entry in parsed.entries if entry.wrapped}
    path = CRON_PATH
    warnings: list[CrontabWarning] = []
    for line in classify(text):
        if line.kind == "assignment":
            name, value = assignment(line)
            if name == "PATH":
                path = value
            continue
        entry = wrapped.get(line.number)
        if entry is None:
            continue
        for program in programs(runnable_part(entry.command)):
            if program.module or "/" in program.name or basename(program.name) != "cronwatch":
                continue
            if any(os.access(os.path.join(d, "cronwatch"), os.X_OK) for d in path.split(":") if d):
                continue
            warnings.append(
                CrontabWarning(
                    line.number,
                    f"cron looks for cronwatch in PATH={path} and will not find it there "
                    f"(/bin/sh: cronwatch: not found, and the job never runs): write "
                    f"{' '.join(cronwatch)} instead of cronwatch",
                )
            )
            break
    return warnings
