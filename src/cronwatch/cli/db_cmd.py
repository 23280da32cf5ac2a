"""``cronwatch migrate`` and ``cronwatch spool``: keeping the database and the spool in order."""

from __future__ import annotations

import click

from cronwatch.cli.common import fail, open_monitor
from cronwatch.errors import CronwatchError


@click.command()
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Bring the database schema up to this version (also done automatically on connect)."""
    from cronwatch.storage.revision import SCHEMA_REVISION

    with open_monitor(ctx) as monitor:
        revision = monitor.store.db.schema_revision()
    click.echo(
        f"database {monitor.store.db.url.redacted()} is at schema revision {revision}"
        f"{' (current)' if revision == SCHEMA_REVISION else ''}"
    )


@click.group()
def spool() -> None:
    """Runs waiting in the local spool because their database could not be reached."""


@spool.command("list")
@click.pass_context
def spool_list(ctx: click.Context) -> None:
    """List the runs waiting for this database."""
    from cronwatch.spool import Spool

    target = ctx.find_root().obj.resolved_database_url()
    pending = Spool.for_target(target).pending()
    for path in pending:
        click.echo(str(path))
    click.echo(f"{len(pending)} run(s) waiting for {target}", err=True)


@spool.command("flush")
@click.pass_context
def spool_flush(ctx: click.Context) -> None:
    """Send the waiting runs to the database now."""
    from cronwatch.spool import Spool

    root = ctx.find_root()
    waiting = Spool.for_target(root.obj.resolved_database_url())
    with open_monitor(root) as monitor:
        try:
            sent = waiting.flush(monitor.store.save, time_budget=float("inf"))
        except CronwatchError as exc:
            fail(f"stopped after some runs: {exc}")
            return
    click.echo(f"sent {sent} run(s); {len(waiting.pending())} still waiting")
