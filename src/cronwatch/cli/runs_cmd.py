"""``cronwatch record``, ``cronwatch last``, ``cronwatch history`` and ``cronwatch output``.

Times are printed as everywhere else on the command line: UTC, to the second, with how long
ago (``2026-11-28 03:00:00 UTC (1d 2h ago)``)."""

from __future__ import annotations

import json
from datetime import datetime

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
    from cronwatch.timeutil import utcnow

    now = utcnow()
    click.echo(f"{run.name}: last success on {run.hostname}")
    click.echo(f"  started    {_when(run.date_started, now)}")
    if run.date_completed is not None:
        click.echo(f"  completed  {_when(run.date_completed, now)}")
    click.echo(f"  duration   {describe_duration(run)}")


@click.command()
@click.argument("name")
@click.argument("run", required=False)
@click.option("--host", metavar="H", help="Only runs on this host.")
@click.pass_context
def output(ctx: click.Context, name: str, run: str | None, host: str | None) -> None:
    """Print the output kept with a run of job NAME (its last 10 kB).

    RUN is the run's start as `cronwatch history` prints it (`2026-11-28 03:00:00`, UTC; or
    ISO 8601 with an offset), or its run id; without RUN, the latest run. The output goes to
    stdout as it was kept; which run it is goes to stderr.

    \b
        cronwatch output backup
        cronwatch output backup '2026-11-27 03:00:00' --host db1
    """
    from cronwatch.names import validate_name

    name = validate_name(name, "name")
    host = validate_name(host, "--host") if host is not None else None
    with open_monitor(ctx) as monitor:
        if run is None:
            found = monitor.store.history(name, limit=1, hostname=host)
        else:
            found = monitor.store.find(name, run_id=run, hostname=host)
            span = None if found else _started_span(run)
            if span is not None:
                found = monitor.store.find(name, started=span, hostname=host)
    if not found:
        which = f" started at {run!r} (or with that run id)" if run is not None else ""
        where = f" on {host}" if host else ""
        click.echo(f"cronwatch: error: no run of {name!r}{where}{which} recorded", err=True)
        raise SystemExit(1)
    if len(found) > 1:
        hosts = ", ".join(sorted({r.hostname for r in found}))
        click.echo(
            f"cronwatch: error: {len(found)} runs of {name!r} started then (on {hosts}): "
            "pass --host H, or the run id (cronwatch history --json shows it)",
            err=True,
        )
        raise SystemExit(2)
    chosen = found[0]
    exit_part = f", exit {chosen.exit_code}" if chosen.exit_code is not None else ""
    click.echo(
        f"{chosen.name} on {chosen.hostname}, started {_when(chosen.date_started)}: "
        f"{chosen.outcome}{exit_part}, {describe_duration(chosen)}",
        err=True,
    )
    if not chosen.output:
        click.echo("(no output was kept with this run)", err=True)
        return
    click.echo(chosen.output, nl=not chosen.output.endswith("\n"))


def _started_span(text: str) -> tuple[datetime, datetime] | None:
    """The instants a start typed as ``history`` prints it (UTC, to the minute or the
    second) or as ISO 8601 with an offset stands for; ``None`` if it is no time."""
    from datetime import UTC, timedelta

    from cronwatch.errors import InvalidInput
    from cronwatch.timeutil import parse_instant

    for pattern, step in (("%Y-%m-%d %H:%M:%S", 1), ("%Y-%m-%d %H:%M", 60)):
        try:
            start = datetime.strptime(text.strip(), pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
        return start, start + timedelta(seconds=step)
    try:
        instant = parse_instant(text, "RUN", typed=True)
    except InvalidInput:
        return None
    # history shows whole seconds: a typed second covers the runs started within it
    start = instant.replace(microsecond=0)
    return start, start + timedelta(seconds=1)


def _when(value: datetime, now: datetime | None = None) -> str:
    """``2026-11-28 03:00:00 UTC``, and ``(1d 2h ago)`` when ``now`` is given."""
    from datetime import UTC, timedelta

    from cronwatch.durations import format_duration

    text = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    if now is None:
        return text
    return f"{text} ({format_duration(max(now - value, timedelta(0)))} ago)"


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
        on = f" on {host!r}" if host is not None else ""  # the job may well have others
        click.echo(f"no runs of {name!r}{on} recorded", err=True)
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
