"""``cronwatch import-healthchecks``: move a running Healthchecks' checks into cronwatch, each
keeping its ping UUID (see :mod:`cronwatch.healthchecks.importer`)."""

from __future__ import annotations

import click

from cronwatch.cli.common import open_monitor


@click.command("import-healthchecks")
@click.option("--url", required=True, help="The Healthchecks server, e.g. https://hc.example.com")
@click.option(
    "--api-key",
    required=True,
    envvar="HEALTHCHECKS_API_KEY",
    help="A read-write API key of the project (read-only keys hide the UUIDs); "
    "or $HEALTHCHECKS_API_KEY.",
)
@click.option(
    "--write",
    is_flag=True,
    help="Create the jobs in cronwatch's database instead of only listing them.",
)
@click.option(
    "--ping-key",
    default=None,
    help="The project's ping key: stored as a cronwatch ping key (with --write), so that its "
    "slug URLs /ping/<ping_key>/<slug> keep working too.",
)
@click.pass_context
def import_healthchecks(
    ctx: click.Context, url: str, api_key: str, write: bool, ping_key: str | None
) -> None:
    """Read the checks of a running Healthchecks (API v3) and create them as jobs, each with
    its ping UUID, so that existing clients keep working with only the host name changed.

    Without --write, prints what it would create and what it cannot carry over."""
    from cronwatch.healthchecks.importer import apply, fetch_checks, plan
    from cronwatch.storage.keys import KeyStore

    found = plan(fetch_checks(url, api_key))
    for name, uuid in ((job.name, job.uuid) for job in found.jobs):
        click.echo(f"{name}\t{uuid}")
    for job in found.jobs:
        for note in job.notes:
            click.echo(f"cronwatch: {job.name}: {note}", err=True)
    for label, why in found.skipped:
        click.echo(f"cronwatch: not carried over: {label}: {why}", err=True)
    if not write:
        click.echo(
            f"{len(found.jobs)} check(s) to import, {len(found.skipped)} not carried over; "
            "nothing written (pass --write to create them)",
            err=True,
        )
        return
    with open_monitor(ctx) as monitor:
        db = monitor.store.db
        report = apply(db, found.jobs)
        if ping_key is not None:
            key = KeyStore(db).adopt("ping", ping_key, None)
            click.echo(f"cronwatch: the project's ping key is ping key {key.id}", err=True)
    created = sum(1 for _, outcome in report if outcome == "created")
    for name, outcome in report:
        if outcome != "created":
            click.echo(f"cronwatch: {name}: {outcome}", err=True)
    click.echo(
        f"created {created} job(s) of {len(found.jobs)}; {len(found.skipped)} check(s) not "
        "carried over",
        err=True,
    )
