"""``cronwatch uuid NAME [--regenerate]``: a job's ping UUID, the Healthchecks-style
``/ping/<uuid>`` credential for that one job."""

from __future__ import annotations

import json

import click

from cronwatch.cli.common import load_config_from, open_monitor


@click.command()
@click.argument("name")
@click.option(
    "--regenerate",
    is_flag=True,
    help="Give the job a new random UUID; the old /ping/<uuid> URL stops working at once.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the job as the REST API shows it.")
@click.pass_context
def uuid(ctx: click.Context, name: str, regenerate: bool, as_json: bool) -> None:
    """Print job NAME's ping UUID (ping it at <server>/ping/<UUID>, no key needed)."""
    from cronwatch.jobs import JobsService

    config = load_config_from(ctx)
    with open_monitor(ctx) as monitor:
        service = JobsService(monitor.store.db, config)
        job = service.regenerate_uuid(name) if regenerate else service.get(name)
        if job["uuid"] is None:  # declared in the config file and never stored: store it now
            job = service.regenerate_uuid(name)
    if as_json:
        click.echo(json.dumps(job, indent=2))
    else:
        click.echo(job["uuid"])
    if regenerate:
        click.echo(f"{name}: new ping UUID; the old one is refused from now on", err=True)
