"""``cronwatch record``, ``cronwatch last`` and ``cronwatch history``."""

from __future__ import annotations

import json

import click

from cronwatch.cli.common import open_monitor
from cronwatch.model import Run
from cronwatch.statsd import StatsdClient
from cronwatch.timeutil import parse_instant


@click.command()
@click.argument("name")
@click.option(
    "--started",
    required=True,
    metavar="TIME",
    help="When it started: ISO 8601 with offset, @unix-seconds or 'now'.",
)
@click.option("--completed", required=True, metavar="TIME", help="When it finished.")
@click.option("--host", metavar="H", help="Host it ran on [default: this host's name].")
@click.option(
    "--exit-code",
    type=int,
    default=0,
    show_default=True,
    help="0 records a success, 1-255 a failure.",
)
@click.option("--output", metavar="TEXT", help="The end of its output, kept with the run.")
@click.pass_context
def record(
    ctx: click.Context,
    name: str,
    started: str,
    completed: str,
    host: str | None,
    exit_code: int,
    output: str | None,
) -> None:
    """Record one finished run of job NAME (for jobs that do not run under `cronwatch run`).

    \b
        cronwatch record backup --started 2026-11-28T03:00:00Z --completed now
    """
    from cronwatch.monitor import make_run

    run = make_run(
        name,
        parse_instant(started, "--started", typed=True),
        parse_instant(completed, "--completed", typed=True),
        outcome="success" if exit_code == 0 else "failure",
        exit_code=exit_code or None,
        hostname=host,
        output=output,
    )
    with open_monitor(ctx) as monitor:
        monitor.statsd = _statsd()
        stored = monitor.record(run)
    click.echo(
        f"recorded {stored.outcome} of {stored.name!r} on {stored.hostname} "
        f"({describe_duration(stored)})"
    )


@click.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON.")
@click.pass_context
def last(ctx: click.Context, name: str, as_json: bool) -> None:
    """Show the last successful run of job NAME on any host; exit 1 if there is none."""
    with open_monitor(ctx) as monitor:
        run = monitor.last_activity(name)
    if run is None:
        click.echo(f"no successful run of {name!r} recorded", err=True)
        raise SystemExit(1)
    if as_json:
        click.echo(json.dumps(run.to_json(), indent=2))
        return
    click.echo(f"{run.name}: last success on {run.hostname}")
    click.echo(f"  started    {run.date_started}")
    click.echo(f"  completed  {run.date_completed}")
    click.echo(f"  duration   {describe_duration(run)}")


@click.command()
@click.argument("name")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--host", metavar="H", help="Only runs on this host.")
@click.option("--json", "as_json", is_flag=True, help="Print the runs as JSON lines.")
@click.pass_context
def history(ctx: click.Context, name: str, limit: int, host: str | None, as_json: bool) -> None:
    """Show the latest runs of job NAME, newest first."""
    with open_monitor(ctx) as monitor:
        runs = monitor.history(name, limit=limit, hostname=host)
    if as_json:
        for run in runs:
            click.echo(json.dumps(run.to_json()))
        return
    if not runs:
        click.echo(f"no runs of {name!r} recorded", err=True)
        return
    rows = [("STARTED (UTC)", "HOST", "OUTCOME", "EXIT", "DURATION")]
    for run in runs:
        rows.append(
            (
                run.date_started.strftime("%Y-%m-%d %H:%M:%S"),
                run.hostname,
                run.outcome,
                "" if run.exit_code is None else str(run.exit_code),
                describe_duration(run),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def describe_duration(run: Run) -> str:
    from cronwatch.durations import format_duration

    duration = run.duration
    return "still running" if duration is None else format_duration(duration)


def _statsd() -> StatsdClient | None:
    return StatsdClient.from_env()
