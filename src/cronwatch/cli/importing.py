"""What the ``import-*`` commands share: the config file ``--write`` merges into, the merge
and its report, the host's timezone (see :mod:`cronwatch.configmerge`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import click

from cronwatch.cli.common import fail
from cronwatch.configmerge import ImportedJob

#: The ``--write`` flag of every import command.
write_option = click.option(
    "--write",
    is_flag=True,
    help="Merge the jobs into the config file (--config or $CRONWATCH_CONFIG) instead of "
    "printing them. Jobs already there are never changed.",
)


def config_for_write(ctx: click.Context, command: str) -> Path:
    """The config file ``--write`` merges into (``--config`` or ``$CRONWATCH_CONFIG``); exits
    with a clear error when there is none."""
    from cronwatch.config import config_path_from_env

    settings = ctx.find_root().obj
    path = config_path_from_env(getattr(settings, "config_path", None))
    if path is None:
        fail(
            f"--write needs a config file: pass --config FILE before {command}, "
            "or set CRONWATCH_CONFIG"
        )
    return path


def host_timezone(given: str | None, what: str) -> str:
    """``given`` (``--timezone``, checked), else this host's timezone, else UTC with a warning
    naming ``what`` is read in it."""
    from cronwatch.crontab import local_timezone
    from cronwatch.schedule import load_zone

    if given is not None:
        load_zone(given, field="--timezone")  # InvalidInput: the group says it
        return given
    found = local_timezone()
    if found is None:
        click.echo(
            f"cronwatch: warning: cannot tell this host's timezone; {what} are read as UTC "
            "(pass --timezone ZONE to say otherwise)",
            err=True,
        )
        return "UTC"
    return found


def merge_and_report(config_path: Path, jobs: Sequence[ImportedJob], header: Sequence[str]) -> None:
    """Merge ``jobs`` into the config file and say what was added and what was already there."""
    from cronwatch.configmerge import jobs_to_toml, merge_jobs

    added, skipped = merge_jobs(
        config_path,
        jobs,
        name_of=lambda job: job.name,
        render=lambda new: jobs_to_toml(new, header=header),
    )
    report_merge(config_path, [job.name for job in added], (f'job "{job.name}"' for job in skipped))


def report_merge(config_path: Path, added: Sequence[str], skipped: Iterable[str]) -> None:
    """Say which jobs a merge added (stdout) and which it found already there (stderr)."""
    for label in skipped:
        click.echo(f"cronwatch: note: {label} is already in {config_path}; left as it is", err=True)
    if added:
        jobs_word = "job" if len(added) == 1 else "jobs"
        click.echo(f"added {len(added)} {jobs_word} to {config_path}: {', '.join(added)}")
    else:
        click.echo(f"nothing added: every job is already in {config_path}")
