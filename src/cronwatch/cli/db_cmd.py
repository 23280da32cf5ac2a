"""``cronwatch migrate``, ``prune`` and ``spool``: keeping the database and the spool in order."""

from __future__ import annotations

from datetime import timedelta

import click

from cronwatch.cli.common import (
    ProgressLine,
    fail,
    load_config_from,
    log_warnings_to_stderr,
    open_monitor,
)


@click.command()
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Bring the database schema up to this version (also done automatically on connect),
    and say if the database's settings could lose acknowledged runs in a crash."""
    from cronwatch.storage.revision import SCHEMA_REVISION

    with open_monitor(ctx) as monitor:
        revision = monitor.store.db.schema_revision()
        problems = monitor.store.db.durability_problems()
    click.echo(
        f"database {monitor.store.db.url.redacted()} is at schema revision {revision}"
        f"{' (current)' if revision == SCHEMA_REVISION else ''}"
    )
    for problem in problems:  # the settings are the administrator's: said, not changed
        click.echo(f"cronwatch: warning: {problem}", err=True)


@click.group()
def spool() -> None:
    """Runs waiting in the local spool because their database (or server) could not be
    reached. Both commands work on the target `cronwatch run` records into: the server of
    $CRONWATCH_URL when set, else the database."""


@spool.command("list")
@click.option("--all", "every", is_flag=True, help="Every target's spool, not only this one.")
@click.pass_context
def spool_list(ctx: click.Context, every: bool) -> None:
    """List the waiting runs (files on stdout, a count per target on stderr)."""
    from cronwatch.spool import Spool, displayed_target

    log_warnings_to_stderr()
    if every:
        spools = [s for s in Spool.every() if s.pending]
        for waiting in spools:
            for path in waiting.pending:
                click.echo(str(path))
            target = waiting.target or "a target not recorded (spooled by an older cronwatch)"
            click.echo(f"{len(waiting.pending)} run(s) waiting for {target}", err=True)
        if not spools:
            click.echo("no run waiting in any spool", err=True)
        return
    target = _recording_target(ctx)
    pending = Spool.for_target(target).pending()
    for path in pending:
        click.echo(str(path))
    click.echo(f"{len(pending)} run(s) waiting for {displayed_target(target)}", err=True)


@spool.command("flush")
@click.pass_context
def spool_flush(ctx: click.Context) -> None:
    """Send the waiting runs now."""
    from cronwatch.execution import open_recorder
    from cronwatch.spool import Spool, displayed_target

    log_warnings_to_stderr()
    target = _recording_target(ctx)
    waiting = Spool.for_target(target)
    if not waiting.pending():  # nothing to send: do not open (or create) the target
        click.echo(f"sent 0 run(s); nothing waits for {displayed_target(target)}")
        return
    try:
        monitor = open_recorder(target, None, timeout=10.0)
        try:
            sent = waiting.flush(monitor.store.save, time_budget=float("inf"))
        finally:
            monitor.close()
    except Exception as exc:
        left = len(waiting.pending())
        fail(f"{displayed_target(target)}: {exc}; {left} run(s) still waiting")
    click.echo(f"sent {sent} run(s); {len(waiting.pending())} still waiting")


def _recording_target(ctx: click.Context) -> str:
    from cronwatch.paths import recording_target

    return recording_target(ctx.find_root().obj.resolved_database_url())


@click.command()
@click.option(
    "--older-than",
    metavar="DURATION",
    help='delete runs started longer ago than this, e.g. "90d" ([retention] runs; default 90d)',
)
@click.option(
    "--keep-last",
    type=int,
    metavar="N",
    help="keep each job's latest N runs whatever their age ([retention] keep_last; default 50)",
)
@click.option("--dry-run", is_flag=True, help="count what would be deleted; delete nothing")
@click.pass_context
def prune(ctx: click.Context, older_than: str | None, keep_last: int | None, dry_run: bool) -> None:
    """Delete old runs and events (the server does it hourly by itself).

    The job summaries the status checks read are kept, so every job's status, counters and
    last success are the same afterwards. Settings not given come from the config file's
    [retention] table.
    """
    from dataclasses import replace

    from cronwatch.durations import format_duration, parse_duration
    from cronwatch.retention import prune as prune_history
    from cronwatch.specs import Retention
    from cronwatch.timeutil import utcnow

    config = load_config_from(ctx)
    retention = config.retention if config is not None else Retention()
    if older_than is not None:
        retention = replace(retention, runs=parse_duration(older_than, field="--older-than"))
    if keep_last is not None:
        retention = replace(retention, keep_last=keep_last)
    with open_monitor(ctx) as monitor, ProgressLine(lambda n: f"{n:,} jobs", 0) as show:

        def progress(done: int, total: int, deleted: int) -> None:
            if done % 100 == 0 or done == total:
                show(f"pruning ({deleted:,} runs so far)", done, total)

        report = prune_history(
            monitor.store.db, retention, utcnow(), dry_run=dry_run, progress=progress
        )
    verb = "would delete" if dry_run else "deleted"
    if report.cutoff is None:
        click.echo(f"runs are kept forever ([retention] runs = 0); {verb} {report.events} event(s)")
        return
    click.echo(
        f"{verb} {report.runs} run(s) started before {report.cutoff:%Y-%m-%d %H:%M} UTC "
        f"(older than {format_duration(retention.runs or timedelta(0))}, keeping each job's "
        f"latest {retention.keep_last}) in {report.jobs_examined} job(s), and "
        f"{report.events} event(s)"
    )
