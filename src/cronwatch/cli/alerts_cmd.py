"""``cronwatch alerts``: the alert loop on its own, and what it has done.

cronwatch alerts [--once] [--interval 30s]   run the loop (or one cycle)
cronwatch alerts status                      the loops' heartbeat, jobs down, deliveries not sent
cronwatch alerts history [JOB]               status changes and notifications, newest first
cronwatch alerts snooze JOB --until T        silence a job's alerts (--for 2h; unsnooze JOB)
cronwatch alerts retry [--channel C]         requeue deliveries that were given up
cronwatch alerts ack JOB [--note TEXT]       acknowledge a job's incident: no more reminders
cronwatch alerts test [CHANNEL]              send a test message through one channel, or all
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
from datetime import datetime, timedelta
from types import FrameType
from typing import TYPE_CHECKING

import click

from cronwatch.cli.common import fail, load_config_from
from cronwatch.specs.alerting import LOOP_DATABASE_TIMEOUT

if TYPE_CHECKING:
    from cronwatch.alerts.cycle import CycleSummary
    from cronwatch.alerts.health import AlertingReport
    from cronwatch.specs import Config
    from cronwatch.storage.connection import Database


def _open(ctx: click.Context, statement_timeout: float | None = None) -> Database:
    from cronwatch.storage.connection import open_database

    return open_database(
        ctx.find_root().obj.resolved_database_url(), statement_timeout=statement_timeout
    )


def _when(value: datetime | None) -> str:
    from cronwatch.alerts.messages import at

    return at(value) if value is not None else "-"


def _summary_line(summary: CycleSummary) -> str:
    parts = [f"{summary.jobs} jobs", f"{len(summary.events)} events"]
    if summary.notifications:
        parts.append(f"{len(summary.notifications)} notifications")
    report = summary.delivery
    parts += [f"{report.sent} sent"] + ([f"{report.failed} failed"] if report.failed else [])
    if report.gave_up:
        parts.append(f"{report.gave_up} given up")
    line = f"{_when(summary.at)}: " + ", ".join(parts) + f" ({summary.seconds:.2f}s)"
    if summary.outage is not None:
        line += (
            f"; cronwatch was not watching from {_when(summary.outage.started)}: "
            "new problems wait one slot of each job"
        )
    return line


@click.group(invoke_without_command=True)
@click.option("--once", is_flag=True, help="Run one cycle and exit.")
@click.option(
    "--interval", metavar="DURATION", help="Time between cycles [default: [alerts] interval, 30s]."
)
@click.option("--json", "as_json", is_flag=True, help="With --once: the cycle's summary as JSON.")
@click.option(
    "--database-timeout",
    type=click.FloatRange(0, min_open=True),
    metavar="SECONDS",
    help="Each statement of the loop must be answered this soon, or the cycle fails as an "
    "outage (a database gone silent) and is retried next interval [default: "
    f"{LOOP_DATABASE_TIMEOUT:g}; --once: none].",
)
@click.pass_context
def alerts(
    ctx: click.Context,
    once: bool,
    interval: str | None,
    as_json: bool,
    database_timeout: float | None,
) -> None:
    """Run the alert loop: each interval, evaluate the jobs that can have changed (every job
    in the first cycle and hourly), record status changes, and notify the jobs' channels of
    problems and recoveries (see `alerts status`).

    \b
        cronwatch --config jobs.toml alerts                 until stopped (SIGTERM, Ctrl-C)
        cronwatch --config jobs.toml alerts --once --json   one cycle

    Several loops may share one PostgreSQL database; each notification is sent once.
    """
    if ctx.invoked_subcommand is not None:
        if once or interval or as_json or database_timeout:
            fail(
                "--once, --interval, --json and --database-timeout go with `cronwatch alerts` alone"
            )
        return
    from cronwatch.alerts.cycle import run_alert_cycle
    from cronwatch.alerts.loop import AlertLoop
    from cronwatch.durations import parse_duration

    config = load_config_from(ctx)
    every = parse_duration(interval, field="--interval") if interval else None
    if every is not None and every < timedelta(seconds=1):
        fail("--interval must be at least 1s")
    if once:
        db = _open(ctx, database_timeout)
        try:
            # One heartbeat row per host for --once (often run from cron), not one per run.
            summary = run_alert_cycle(db, config, worker=f"alerts@{socket.gethostname()}:once")
        finally:
            db.close()
        click.echo(json.dumps(summary.to_json(), indent=2) if as_json else _summary_line(summary))
        return
    _open(ctx).close()  # fail now, clearly, if the database is away or the schema too new
    loop = AlertLoop(
        ctx.find_root().obj.resolved_database_url(),
        config,
        interval=every,
        on_cycle=_report,
        database_timeout=database_timeout or LOOP_DATABASE_TIMEOUT,
    )

    def stop(signum: int, frame: FrameType | None) -> None:
        loop.stop(timeout=0)

    signal.signal(signal.SIGTERM, stop)
    _warn_unheard(config)
    click.echo(
        f"cronwatch alerts: cycling every {loop.interval.total_seconds():g}s as {loop.name}",
        err=True,
    )
    from cronwatch.storage.serverlock import holding_server_lock

    # Held while the loop runs: `cronwatch restore` refuses to swap the data from under it.
    with holding_server_lock(loop.database_url), contextlib.suppress(KeyboardInterrupt):
        loop.run()


def _warn_unheard(config: Config | None) -> None:
    from cronwatch.alerts.health import channel_warning

    unheard = channel_warning(config)
    if unheard:
        click.echo(f"WARNING: {unheard}", err=True)


def _report(summary: CycleSummary) -> None:
    if summary.events or summary.delivery.sent or summary.delivery.errors or summary.outage:
        click.echo(_summary_line(summary), err=True)
        for event in summary.notifications:
            click.echo(f"  {event.kind}: {event.text}", err=True)
        for error in summary.delivery.errors:
            click.echo(f"  not delivered: {error}", err=True)


@alerts.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """The alert loops' heartbeat, the jobs whose problem was announced, snoozes, and every
    delivery not sent (waiting for a retry, or given up) with its attempts and last error."""
    from cronwatch.alerts.health import alerting_report, channel_warning
    from cronwatch.specs import AlertSettings
    from cronwatch.timeutil import utcnow

    config = load_config_from(ctx)
    settings = config.alerts if config is not None else AlertSettings()
    with _open(ctx) as db:
        report = alerting_report(db, utcnow(), stale_after=settings.outage_after)
    unheard = channel_warning(config)
    if as_json:
        click.echo(json.dumps({**report.to_json(), "channel_warning": unheard}, indent=2))
        return
    if unheard:
        click.echo(f"WARNING: {unheard}")
    _echo_loops(report)
    _echo_jobs(report)
    _echo_deliveries(report)


def _echo_loops(report: AlertingReport) -> None:
    health = report.health
    if health.last_heartbeat is None:
        click.echo("alert loop: never ran (start `cronwatch alerts` or `cronwatch serve`)")
    else:
        from cronwatch.durations import format_duration

        state = "running" if health.alive else "NOT RUNNING"
        age = format_duration(health.heartbeat_age or timedelta(0))
        click.echo(
            f"alert loop: {state}, last heartbeat {age} ago "
            f"({_when(health.last_heartbeat)}), {len(health.workers)} loop(s) today"
        )
    for outage in report.outages[:1]:
        click.echo(f"last outage: {_when(outage.started)} to {_when(outage.ended)}")
    if len(report.configs) > 1:
        from cronwatch.alerts.fingerprint import describe

        click.echo(
            "WARNING: the running alert loops have different configs; each of them evaluates"
            " every job each cycle until they agree (give every loop the same config file):"
        )
        for number, (loops, kinds) in enumerate(report.configs, 1):
            what = f" ({describe(kinds)} differ from config 1's)" if kinds else ""
            click.echo(f"  config {number}: {', '.join(loops)}{what}")


def _echo_jobs(report: AlertingReport) -> None:
    click.echo(f"jobs down: {len(report.down)}")
    for state_row in report.down:
        acked = ""
        if state_row.acked is not None:
            note = f": {state_row.ack_note}" if state_row.ack_note else ""
            acked = f" [acknowledged by {state_row.acked_by}{note}]"
        elif state_row.escalated is not None:
            acked = f" [escalated {_when(state_row.escalated)}]"
        click.echo(
            f"  {state_row.name}: {state_row.status} since "
            f"{_when(state_row.problem_since)}: {state_row.reason}{acked}"
        )
    if report.snoozed:
        click.echo(f"snoozed: {len(report.snoozed)}")
        for state_row in report.snoozed:
            click.echo(f"  {state_row.name} until {_when(state_row.snooze_until)}")


def _echo_deliveries(report: AlertingReport) -> None:
    health = report.health
    failed = [d for d in report.undelivered if d.status == "failed"]
    retrying = [d for d in report.undelivered if d.status == "pending" and d.attempts]
    click.echo(
        f"deliveries: {health.pending} pending ({health.retrying} retrying), "
        f"{health.failed} given up"
    )
    for row in failed + retrying:
        what = "GIVEN UP" if row.status == "failed" else f"retry {_when(row.next_attempt)}"
        click.echo(
            f"  #{row.event_id} -> {row.channel}: {what} after {row.attempts} "
            f"attempt(s): {row.last_error}\n      {row.text}"
        )


@alerts.command()
@click.argument("name", required=False)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--notifications", is_flag=True, help="Only problems, reminders, recoveries.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def history(
    ctx: click.Context, name: str | None, limit: int, notifications: bool, as_json: bool
) -> None:
    """Status changes and notifications, newest first (of job NAME)."""
    from cronwatch.storage.alerts import AlertStore

    with _open(ctx) as db:
        events = AlertStore(db).events(name, limit=limit, notifications_only=notifications)
    if as_json:
        click.echo(json.dumps([event.history_json() for event in events], indent=2))
        return
    if not events:
        click.echo("no events" + (f" for {name}" if name else " yet"), err=True)
        return
    for event in events:
        # An ack's or an action's text already carries who and the note.
        note = f"  [{event.note}]" if event.note and event.kind not in ("ack", "action") else ""
        click.echo(f"{_when(event.at)}  {event.kind:<10} {event.text}{note}")


@alerts.command()
@click.argument("name")
@click.option("--until", "until", metavar="TIME", help="ISO 8601 with an offset, or @unix.")
@click.option("--for", "span", metavar="DURATION", help="From now, e.g. 2h.")
@click.option("--by", metavar="WHO", help="Who snoozes, for the history [default: your user name].")
@click.pass_context
def snooze(
    ctx: click.Context, name: str, until: str | None, span: str | None, by: str | None
) -> None:
    """Silence job NAME's alerts until a time; it is announced then if still down. The snooze
    is kept in `alerts history` with who did it."""
    import getpass

    from cronwatch.actions import JobActions
    from cronwatch.durations import parse_duration
    from cronwatch.names import validate_name
    from cronwatch.storage.alerts import AlertStore
    from cronwatch.timeutil import parse_instant, utcnow

    if (until is None) == (span is None):
        fail("give --until TIME or --for DURATION")
    now = utcnow()
    validate_name(name, "job name")
    end = (
        parse_instant(until, "--until", typed=True)
        if until is not None
        else now + parse_duration(span or "", field="--for")
    )
    if end <= now:
        fail(f"--until {_when(end)} is not in the future (to lift a snooze: unsnooze {name})")
    config = load_config_from(ctx)
    with _open(ctx) as db:
        actions = JobActions(db, config)
        actions.jobs.get(name)  # NotFound (exit 2): a typo must not snooze a job nobody has
        AlertStore(db).snooze(name, end, now)
        actions.snoozed_elsewhere(name, end, by or getpass.getuser(), now)
    click.echo(f"{name}: alerts snoozed until {_when(end)}")


@alerts.command()
@click.argument("name")
@click.option("--by", metavar="WHO", help="Who, for the history [default: your user name].")
@click.pass_context
def unsnooze(ctx: click.Context, name: str, by: str | None) -> None:
    """Lift job NAME's snooze (kept in `alerts history` with who did it)."""
    import getpass

    from cronwatch.actions import JobActions
    from cronwatch.storage.alerts import AlertStore
    from cronwatch.timeutil import utcnow

    config = load_config_from(ctx)
    with _open(ctx) as db:
        now = utcnow()
        actions = JobActions(db, config)
        actions.jobs.get(name)  # NotFound (exit 2), as snooze
        AlertStore(db).snooze(name, None, now)
        actions.snoozed_elsewhere(name, None, by or getpass.getuser(), now)
    click.echo(f"{name}: alerts no longer snoozed")


@alerts.command()
@click.option("--channel", metavar="NAME", help="Only this channel's deliveries.")
@click.pass_context
def retry(ctx: click.Context, channel: str | None) -> None:
    """Requeue the deliveries that were given up (after fixing the channel)."""
    from cronwatch.storage.alerts import AlertStore
    from cronwatch.timeutil import utcnow

    with _open(ctx) as db:
        count = AlertStore(db).retry_failed(utcnow(), channel)
    click.echo(f"{count} deliveries requeued; the alert loop sends them at its next cycle")


@alerts.command()
@click.argument("name")
@click.option("--note", metavar="TEXT", help="Why, or what you are doing about it.")
@click.option("--by", metavar="WHO", help="Who acknowledges [default: your user name].")
@click.pass_context
def ack(ctx: click.Context, name: str, note: str | None, by: str | None) -> None:
    """Acknowledge job NAME's incident: somebody is on it. Its reminders and its escalation
    stop until it recovers; the acknowledgement is kept in `alerts history`."""
    import getpass

    from cronwatch.alerts.ack import acknowledge

    who = by or getpass.getuser()
    with _open(ctx) as db:
        event = acknowledge(db, name, who, note)  # its errors: the group's (exit 2)
    incident = f" (incident {event.incident})" if event.incident else ""
    click.echo(f"{name}: acknowledged by {who}{incident}; no more reminders until it recovers")


@alerts.command("test")
@click.argument("channel", required=False)
@click.pass_context
def test_channel(ctx: click.Context, channel: str | None) -> None:
    """Send a test message through CHANNEL now, or through every channel of the config;
    each one's result is printed (exit 1 if any failed)."""
    from cronwatch.alerts.channels import DeliveryError, build_channel
    from cronwatch.alerts.model import Event
    from cronwatch.timeutil import utcnow

    config = load_config_from(ctx)
    defined = ", ".join(config.channels) if config and config.channels else "none"
    if config is None or not config.channels:
        fail("no channel in the config (add a [channels.NAME] table; see the README, Alerts)")
    if channel is not None and channel not in config.channels:
        fail(f"no channel {channel!r} in the config (defined channels: {defined})")
    names = [channel] if channel is not None else list(config.channels)
    failed = 0
    for name in names:
        text = f"cronwatch test message from {socket.gethostname()}: channel {name} works"
        event = Event(
            name="cronwatch",
            hostname="",
            kind="test",
            old_status="ok",
            new_status="ok",
            reason=text,
            text=text,
            at=utcnow(),
        )
        try:
            build_channel(config.channels[name], config.server).send(event)
        except DeliveryError as exc:
            click.echo(f"{name}: not delivered: {exc}")
            failed += 1
        except Exception as exc:  # a channel's bug: reported, the others still tried
            click.echo(f"{name}: not delivered: {type(exc).__name__}: {exc}")
            failed += 1
        else:
            click.echo(f"{name}: delivered")
    if failed:
        click.echo(f"cronwatch: {failed} of {len(names)} channel(s) failed", err=True)
        raise SystemExit(1)
