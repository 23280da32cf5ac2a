"""``cronwatch import-crontab [FILE]``: jobs from a crontab, printed as TOML or merged.

Contract:

- Input: FILE; ``-`` for standard input; no FILE for the current user's crontab, read with
  ``crontab -l``.
- Output: without ``--write`` the ``[jobs.NAME]`` tables go to stdout for review and nothing is
  written. With ``--write`` they are merged into the config file (the group's ``--config`` or
  ``$CRONWATCH_CONFIG``): jobs it already has are left as they are, its text is kept byte for
  byte (see :func:`cronwatch.crontab.merge_into_config`).
- ``--cron debian|cronie``: whether ``CRON_TZ``/``TZ`` apply (cronie) or not (Debian's cron,
  which runs every line in the host's time); by default the cron installed here decides
  (:func:`cronwatch.crontab.daemon.installed_cron`).
- Lines that cannot be imported are reported on stderr with their line number
  (``cronwatch: warning: /etc/crontab, line 7: ...``); they do not make the command fail.
- ``--wrap``: instead of TOML, the same crontab with each job's command run under
  ``<absolute path of this cronwatch> run NAME -- COMMAND`` (see
  :mod:`cronwatch.crontab.wrapping`), ready for ``crontab -``; NAME is the job name the import
  gives the line. With the group's ``--database-url`` it goes into each wrapped line.
- Exit status 0 on success, 2 on an error (``cronwatch: error: ...`` on stderr), in which case
  no file was changed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cronwatch.cli.common import fail
from cronwatch.cli.importing import config_for_write, host_timezone, report_merge, write_option

if TYPE_CHECKING:
    from cronwatch.crontab import CrontabEntry, ParsedCrontab

STDIN = "-"
#: How long ``crontab -l`` may take; it reads one small file, so a hang means something broke.
CRONTAB_TIMEOUT = 30


@click.command("import-crontab")
@click.argument("file", required=False, metavar="[FILE]")
@write_option
@click.option(
    "--system/--no-system",
    default=None,
    help="The crontab has a user field before each command, as /etc/crontab and "
    "/etc/cron.d/* do [default: detect].",
)
@click.option(
    "--cron",
    "cron_flavour",
    type=click.Choice(["debian", "cronie"]),
    help="The cron that runs the crontab: cronie honours CRON_TZ and TZ, Debian's cron ignores "
    "them (every line runs in the host's time) [default: the one installed here, else cronie].",
)
@click.option(
    "--wrap",
    is_flag=True,
    help="Print the crontab itself with each job run under `cronwatch run NAME` (this "
    "cronwatch's absolute path), ready for `crontab -`, instead of the TOML.",
)
@click.option(
    "--timezone",
    metavar="ZONE",
    help="IANA timezone of the lines with no CRON_TZ above them [default: this host's, "
    "from /etc/localtime, since cron runs them in local time].",
)
@click.pass_context
def import_crontab(
    ctx: click.Context,
    file: str | None,
    write: bool,
    system: bool | None,
    cron_flavour: str | None,
    wrap: bool,
    timezone: str | None,
) -> None:
    """Turn the jobs of a crontab into [jobs.NAME] tables of the config file.

    FILE is a crontab file, or - for standard input; without it, your crontab (crontab -l).
    A command that runs under `cronwatch run NAME` keeps NAME; other jobs get a name made
    from their command. CRON_TZ sets the timezone of the lines below it under cronie; Debian's
    cron ignores it (--cron).

    \b
        cronwatch import-crontab                      # review the TOML for your crontab
        cronwatch import-crontab /etc/cron.d/backup
        cronwatch --config cronwatch.toml import-crontab --write
        cronwatch import-crontab --wrap | crontab -   # record every job's runs
    """
    from cronwatch.crontab import entries_to_toml, parse_crontab
    from cronwatch.crontab.daemon import honours_cron_tz, installed_cron

    # Everything that can fail without touching the input is checked first, so that a mistake
    # never consumes stdin or runs `crontab -l` for nothing.
    if write and wrap:
        fail("--wrap prints a crontab and --write merges jobs into the config file: pick one")
    config_path = config_for_write(ctx, "import-crontab") if write else None
    cronwatch = _cronwatch_for_cron(ctx) if wrap else []
    timezone = host_timezone(timezone, "lines without CRON_TZ")
    source, data = _read_input(file)
    parsed = parse_crontab(
        data,
        path=file if file not in (None, STDIN) else None,
        system=system,
        default_timezone=timezone,
        cron_tz=honours_cron_tz(cron_flavour or installed_cron()),  # type: ignore[arg-type]
    )
    _warn_about(source, parsed)
    if wrap:
        from cronwatch.crontab import wrap_crontab
        from cronwatch.crontab.wrapping import unreachable_cronwatch

        text = data.decode("utf-8", errors="replace")
        for warning in unreachable_cronwatch(text, parsed, cronwatch[:1]):
            click.echo(
                f"cronwatch: warning: {source}, line {warning.line_no}: {warning.message}",
                err=True,
            )
        click.echo(wrap_crontab(text, parsed, cronwatch), nl=False)
    elif not parsed.entries:
        click.echo(f"cronwatch: no jobs to import from {source}", err=True)
    elif config_path is None:
        click.echo(entries_to_toml(parsed.entries, source=source), nl=False)
    else:
        _merge(config_path, parsed.entries, source)


def _cronwatch_for_cron(ctx: click.Context) -> list[str]:
    """How cron must start this cronwatch: its absolute path (cron's PATH is /usr/bin:/bin),
    with the database the group was given (``--database-url`` or ``$CRONWATCH_DATABASE_URL``;
    never one with a password, which every user would see in ``ps``)."""
    import os

    from cronwatch.paths import DATABASE_URL_ENV, SERVER_URL_ENV, cronwatch_command
    from cronwatch.storage.url import parse_database_url

    command = cronwatch_command()
    url = ctx.find_root().obj.database_url
    if url:
        if parse_database_url(url).has_password:
            fail(
                "the database URL has a password, which `ps` would show to every user: put a "
                f"line {DATABASE_URL_ENV}=... above the jobs of the crontab instead"
            )
        return [*command, "--database-url", url]
    if os.environ.get(SERVER_URL_ENV):
        click.echo(
            f"cronwatch: note: ${SERVER_URL_ENV} is set here, but cron does not pass your "
            f"environment to jobs: keep the lines {SERVER_URL_ENV}=... and "
            "CRONWATCH_PING_KEY=... above the jobs",
            err=True,
        )
    return command


def _warn_about(source: str, parsed: ParsedCrontab) -> None:
    """A guessed system format, and every line skipped, on stderr."""
    if parsed.system and parsed.system_guessed:
        click.echo(
            f"cronwatch: note: {source} read as a system crontab (a user name before each "
            "command); pass --no-system if it is not one",
            err=True,
        )
    for warning in parsed.warnings:
        click.echo(
            f"cronwatch: warning: {source}, line {warning.line_no}: {warning.message}", err=True
        )


def _merge(config_path: Path, entries: list[CrontabEntry], source: str) -> None:
    """The entries merged into the config file; what was already there is named, left alone."""
    from cronwatch.crontab import merge_into_config

    added, skipped = merge_into_config(config_path, entries, source=source)
    report_merge(
        config_path,
        [entry.job_name for entry in added],
        (f'job "{entry.job_name}" (line {entry.line_no})' for entry in skipped),
    )


def _read_input(file: str | None) -> tuple[str, bytes]:
    """``(how to name the source in messages, its bytes)``; exits with a clear error."""
    if file == STDIN:
        if sys.stdin is None:  # started with stdin closed
            fail("cannot read standard input: it is closed")
        # Bytes, not text: the crontab is decoded as UTF-8 whatever this terminal's locale is.
        return "<stdin>", sys.stdin.buffer.read()
    if file is not None:
        try:
            with open(file, "rb") as handle:
                return file, handle.read()
        except OSError as exc:
            fail(f"cannot read {file}: {exc.strerror or exc}")
    return "crontab -l", _user_crontab()


def _user_crontab() -> bytes:
    """The current user's crontab, from ``crontab -l``."""
    try:
        result = subprocess.run(
            ["crontab", "-l"], capture_output=True, timeout=CRONTAB_TIMEOUT, check=False
        )
    except FileNotFoundError:
        fail(
            "the crontab command is not installed, so your crontab cannot be read; "
            "pass the file instead (cronwatch import-crontab FILE, or - for stdin)"
        )
    except subprocess.TimeoutExpired:
        fail(f"crontab -l did not answer within {CRONTAB_TIMEOUT} seconds")
    except OSError as exc:
        fail(f"cannot run crontab -l: {exc.strerror or exc}")
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", errors="replace").strip()
        if "no crontab" in message.lower():
            fail(f"you have no crontab to import ({message})")
        fail(f"crontab -l failed with exit status {result.returncode}: {message or 'no message'}")
    return result.stdout
