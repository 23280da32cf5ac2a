"""``cronwatch import-systemd [DIR|UNIT ...]``: jobs from systemd timers, printed as TOML or
merged, and the drop-ins that record their services' runs.

Contract:

- Input: timer unit files, directories of units, or unit names (``apt-daily.timer``, looked
  up in the unit directories); none: this host's timers (``systemctl list-timers --all`` when
  systemd runs, else the enabled timers of the unit directories; ``--all``: every timer file).
  Drop-ins (``NAME.timer.d/*.conf``) apply as systemd applies them. ``--user``: the user
  manager's timers and directories.
- Output: ``[jobs.NAME]`` tables on stdout, or merged into the config file with ``--write``
  (jobs already there are left as they are). ``--wrap``: the drop-in of each timer's service
  that records its runs, on stdout; ``--wrap-into DIR`` writes them under DIR
  (``DIR/NAME.service.d/cronwatch.conf``).
- Timers that cannot be watched (only ``OnBootSec=``, masked, templates, ...) are reported on
  stderr and skipped; lines systemd would skip are warnings. Exit status 0, or 2 on an error
  (``cronwatch: error: ...``), in which case no file was changed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cronwatch.cli.common import fail
from cronwatch.cli.importing import (
    config_for_write,
    host_timezone,
    merge_and_report,
    write_option,
)

if TYPE_CHECKING:
    from cronwatch.systemd_units.importer import ImportedTimer


@click.command("import-systemd")
@click.argument("units", nargs=-1, metavar="[DIR|UNIT ...]")
@write_option
@click.option(
    "--wrap",
    is_flag=True,
    help="Print, for each timer's service, a drop-in whose ExecStartPre=/ExecStopPost= record "
    "every run (start, outcome, duration) with this cronwatch.",
)
@click.option(
    "--wrap-into",
    metavar="DIR",
    help="Write those drop-ins under DIR (e.g. /etc/systemd/system) as "
    "NAME.service.d/cronwatch.conf; an existing different file is left alone.",
)
@click.option(
    "--env-file",
    metavar="FILE",
    help="With --wrap: the hooks read CRONWATCH_URL, CRONWATCH_PING_KEY, "
    "CRONWATCH_DATABASE_URL... from FILE (keep secrets out of unit files).",
)
@click.option("--user", is_flag=True, help="The user manager's timers (as systemctl --user).")
@click.option("--all", "every", is_flag=True, help="Without DIR|UNIT: timers not enabled too.")
@click.option(
    "--timezone",
    metavar="ZONE",
    help="IANA timezone of calendar expressions without one [default: this host's, as "
    "systemd evaluates them in local time].",
)
@click.pass_context
def import_systemd(
    ctx: click.Context,
    units: tuple[str, ...],
    write: bool,
    wrap: bool,
    wrap_into: str | None,
    env_file: str | None,
    user: bool,
    every: bool,
    timezone: str | None,
) -> None:
    """Turn systemd timers into [jobs.NAME] tables of the config file.

    The job is named after the timer (apt-daily.timer: apt-daily), scheduled by its
    OnCalendar= lines (on_calendar) or OnUnitActiveSec= (an interval), with AccuracySec= +
    RandomizedDelaySec= as its grace.

    \b
        cronwatch import-systemd                         # this host's timers, to review
        cronwatch import-systemd /etc/systemd/system/backup.timer
        cronwatch --config cronwatch.toml import-systemd --write
        cronwatch import-systemd --wrap-into /etc/systemd/system && systemctl daemon-reload
    """
    from cronwatch.systemd_units import import_timers

    config_path = config_for_write(ctx, "import-systemd") if write else None
    wrap = wrap or wrap_into is not None
    if env_file is not None and not os.path.isabs(env_file):
        fail(f"--env-file {env_file}: give an absolute path (the hooks run from /)")
    hook_command = _hook_command(ctx, env_file) if wrap else []
    zone = host_timezone(timezone, "calendar expressions without a zone")
    found = import_timers(units, zone, user=user, every=every)
    for note in found.notes:
        click.echo(f"cronwatch: note: {note}", err=True)
    for warning in found.warnings:
        click.echo(f"cronwatch: warning: {warning}", err=True)
    for name, reason in found.skipped:
        click.echo(f"cronwatch: skipped {name}: {reason}", err=True)
    source = ", ".join(found.sources) or "nothing"
    if not found.jobs:
        click.echo(f"cronwatch: no timers to import from {source}", err=True)
        return
    header = [
        f"Jobs imported from {source} by cronwatch import-systemd.",
        "Runs are recorded by the drop-in `cronwatch import-systemd --wrap` prints for each",
        "service (or by `cronwatch run NAME -- ...` in its ExecStart=).",
    ]
    jobs = [item.job for item in found.jobs]
    if config_path is not None:
        merge_and_report(config_path, jobs, header)
    elif not wrap:
        from cronwatch.configmerge import jobs_to_toml

        click.echo(jobs_to_toml(jobs, header=header), nl=False)
    if wrap:
        _wrap(found.jobs, hook_command, env_file, wrap_into)


def _hook_command(ctx: click.Context, env_file: str | None) -> list[str]:
    """How the hooks run this cronwatch: its absolute path, and the database the import was
    told of (never one with a password: that belongs in --env-file)."""
    from cronwatch.paths import DATABASE_URL_ENV, SERVER_URL_ENV, cronwatch_command
    from cronwatch.storage.url import parse_database_url

    command = cronwatch_command()
    url = ctx.find_root().obj.database_url
    if env_file is not None:
        return command
    if url:
        if parse_database_url(url).has_password:  # InvalidInput: the group says it
            fail(
                "the database URL has a password, which a unit file would show to every user: "
                f"put {DATABASE_URL_ENV}=... in a root-only file and pass --env-file FILE"
            )
        return [*command, "--database-url", url]
    if os.environ.get(SERVER_URL_ENV):
        click.echo(
            f"cronwatch: note: ${SERVER_URL_ENV} is set here but systemd does not pass it to "
            "the hooks: put it (and CRONWATCH_PING_KEY) in a root-only file and pass "
            "--env-file FILE",
            err=True,
        )
    click.echo(
        "cronwatch: note: the hooks record into the default database of the user they run as "
        "(root's: /root/.local/share/cronwatch/cronwatch.db); pass --database-url or "
        "--env-file FILE to name another",
        err=True,
    )
    return command


def _wrap(
    found: list[ImportedTimer], command: list[str], env_file: str | None, into: str | None
) -> None:
    from cronwatch.systemd_units import service_dropin
    from cronwatch.systemd_units.wrap import DROPIN_NAME

    options = ["--env-file", env_file] if env_file else []
    texts: dict[str, str] = {}
    for item in found:
        service = item.timer.unit
        if service in texts:
            click.echo(
                f"cronwatch: skipped the drop-in of {item.timer.name}: {service} is wrapped "
                "already (by another timer); its runs are recorded under the first job",
                err=True,
            )
            continue
        texts[service] = service_dropin(service, item.job.name, command, options=options)
    if into is None:
        click.echo("\n".join(texts.values()), nl=False)
        return
    for service, text in texts.items():
        target = Path(into) / f"{service}.d" / DROPIN_NAME
        try:
            if target.exists() and target.read_text(encoding="utf-8") != text:
                click.echo(
                    f"cronwatch: left {target} as it is: it differs from what cronwatch would "
                    "write (remove it to have it rewritten)",
                    err=True,
                )
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {target}: {exc.strerror or exc}")
        click.echo(f"wrote {target}")
    click.echo("cronwatch: note: then run `systemctl daemon-reload`", err=True)
