"""``cronwatch check`` (the Nagios plugin contract) and ``cronwatch status`` (for people).

``check`` prints one status line with perfdata, the problems one per line after it, and exits
0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. Usage errors, a bad config file, an unreachable
database and internal errors are all UNKNOWN (3), never CRITICAL: a monitoring system must not
page anyone for cronwatch's own problems as if a job had failed.

The two commands share one module, over the usual size, because they are one view of the
same statuses (filters, stored statuses from the alert loop, unknown jobs) in two renderings.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NoReturn

import click

from cronwatch.cli.common import fail, load_config_from, open_monitor
from cronwatch.errors import CronwatchError, InvalidInput, NotFound
from cronwatch.health.model import PRIORITY, SEVERITY, JobStatus, SettledStatus, Status

if TYPE_CHECKING:
    from cronwatch.alerts.model import JobState

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
STATE_NAMES = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}


class NagiosUsageError(click.UsageError):
    """A usage error that exits 3 (UNKNOWN), not Click's 2 (which Nagios reads as CRITICAL)."""

    exit_code = UNKNOWN


class NagiosCommand(click.Command):
    """A command whose usage errors exit 3 (UNKNOWN)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise NagiosUsageError(exc.message, exc.ctx) from None


def unknown(message: str, as_json: bool = False) -> NoReturn:
    if as_json:
        click.echo(json.dumps({"state": "UNKNOWN", "exit_code": UNKNOWN, "summary": message}))
    else:
        click.echo(f"CRONWATCH UNKNOWN - {message}")
    sys.exit(UNKNOWN)


@click.command(cls=NagiosCommand)
@click.argument("names", nargs=-1)
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="Only jobs with this tag.")
@click.option("--host", "hosts", multiple=True, metavar="H", help="Only jobs on this host.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--window",
    metavar="DURATION",
    help="Ad-hoc form without any config: NAMES are HOST:NAME (or NAME for any host); each "
    "must have succeeded within DURATION, e.g. `--window 30m db1:backup`.",
)
@click.pass_context
def check(
    ctx: click.Context,
    names: tuple[str, ...],
    tags: tuple[str, ...],
    hosts: tuple[str, ...],
    as_json: bool,
    window: str | None,
) -> None:
    """Check jobs as a Nagios/Icinga plugin: exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.

    \b
        cronwatch check                      every job
        cronwatch check backup sync-feeds    these jobs
        cronwatch check --tag db --json
        cronwatch check --window 30m db1:backup db2:backup
    """
    try:
        if window is not None:
            state, line, details, payload = _ad_hoc(ctx, names, window)
        else:
            state, line, details, payload = _scheduled(ctx, names, tags, hosts, as_json)
    except (CronwatchError, SystemExit) as exc:
        if isinstance(exc, SystemExit):
            raise
        unknown(str(exc), as_json)
    except Exception as exc:  # an internal error is UNKNOWN, never CRITICAL
        unknown(f"internal error: {type(exc).__name__}: {exc}", as_json)
    if as_json:
        click.echo(
            json.dumps(
                {"state": STATE_NAMES[state], "exit_code": state, "summary": line, **payload},
                indent=2,
            )
        )
    else:
        click.echo(f"CRONWATCH {STATE_NAMES[state]} - {line}")
        for detail in details:
            click.echo(detail)
    sys.exit(state)


def _scheduled(
    ctx: click.Context,
    names: tuple[str, ...],
    tags: tuple[str, ...],
    hosts: tuple[str, ...],
    as_json: bool,
) -> tuple[int, str, list[str], dict[str, Any]]:
    """The check of the jobs of the config and database: (state, status line with perfdata,
    detail lines, JSON payload). :class:`NotFound` when ``--tag``/``--host`` match no job."""
    statuses = _check_statuses(ctx, names, tags, hosts, as_json)
    if not statuses and (tags or hosts):
        # A mistyped --tag or --host would otherwise be OK forever, watching nothing.
        raise NotFound(f"no job matches {_filters(tags, hosts)}")
    state = max((s.severity for s in statuses), default=OK)
    counts = Counter(s.status for s in statuses)
    problems = [s for s in statuses if s.severity > OK]
    line = _check_line(statuses, counts, problems, names)
    perfdata = " ".join(
        [f"jobs={len(statuses)};;;0"] + [f"{st}={counts[st]};;;0" for st in PRIORITY]
    )
    if len(statuses) == 1:
        perfdata += _job_perfdata(statuses[0])
    details = [s.reason for s in problems] if len(problems) > 1 or not names else []
    return (
        state,
        f"{line} | {perfdata}",
        details,
        {
            "counts": {st: counts[st] for st in PRIORITY},
            "jobs": [s.to_json() for s in statuses if isinstance(s, JobStatus)],
        },
    )


def _check_statuses(
    ctx: click.Context,
    names: tuple[str, ...],
    tags: tuple[str, ...],
    hosts: tuple[str, ...],
    as_json: bool,
) -> list[JobStatus | SettledStatus]:
    """The statuses ``check`` judges, worst first: with an alert loop beating, what it
    settled and the evaluation of the jobs that can have changed, for a check of every job in
    words (no names, tags, hosts or ``--json``: every job read) or of ``--tag``/``--host``
    (only the filter's candidates read; with ``--json``, every candidate evaluated); else the
    named or filtered jobs evaluated in full. Records the declared jobs' first sighting."""
    from cronwatch.health.service import filtered_statuses, job_statuses, settled_statuses

    config = load_config_from(ctx)
    with open_monitor(ctx) as monitor:  # its errors: UNKNOWN, in check (JSON with --json)
        db = monitor.store.db
        # What the alert loop settled, plus the jobs that can have changed since (100,000
        # jobs in about a second; a tag or host: what may match), when one beats; the whole
        # evaluation otherwise. A monitor run from cron, maybe with no server: it records
        # when it first knew of each declared job, so that one that never runs turns CRITICAL.
        statuses: list[JobStatus | SettledStatus] = []
        if names:
            statuses += job_statuses(
                db, config, names=names, tags=tags, hosts=hosts, record_declared=True
            )
        elif tags or hosts:
            statuses += filtered_statuses(
                db, config, tags=tags, hosts=hosts, in_full=as_json, record_declared=True
            )
        else:
            settled = None if as_json else settled_statuses(db, config, record_declared=True)
            statuses += (
                settled if settled is not None else job_statuses(db, config, record_declared=True)
            )
        if len(statuses) == 1 and isinstance(statuses[0], SettledStatus):
            # One job: its perfdata (age, duration) needs its facts; evaluate it.
            statuses = list(job_statuses(db, config, names=[statuses[0].name], skip_unknown=True))
    return statuses


def _check_line(
    statuses: list[JobStatus | SettledStatus],
    counts: Counter[Status],
    problems: list[JobStatus | SettledStatus],
    names: tuple[str, ...],
) -> str:
    """The status line of ``check`` (before its perfdata): the one named job's reason, or the
    problems counted by status worst first with the first three reasons, or all ok."""
    if not statuses:
        return "no jobs known yet"
    if len(statuses) == 1 and names:
        return statuses[0].reason
    if problems:
        summary = ", ".join(
            f"{counts[st]} {st.replace('_', ' ')}"
            for st in PRIORITY
            if SEVERITY[st] > OK and counts[st]
        )
        line = f"{summary} of {len(statuses)} jobs: " + "; ".join(s.reason for s in problems[:3])
        if len(problems) > 3:
            line += f"; and {len(problems) - 3} more"
        return line
    return f"all {len(statuses)} jobs ok"


def _filters(tags: tuple[str, ...], hosts: tuple[str, ...]) -> str:
    """The --tag and --host options given, as typed (for "no job matches ...")."""
    return " ".join([f"--tag {t!r}" for t in tags] + [f"--host {h!r}" for h in hosts])


def _job_perfdata(status: JobStatus | SettledStatus) -> str:
    from cronwatch.timeutil import utcnow

    parts = []
    if status.last_success is not None:
        parts.append(f"age={(utcnow() - status.last_success).total_seconds():.0f}s;;;0")
    if status.last_duration is not None:
        parts.append(f"duration={status.last_duration.total_seconds():.3f}s;;;0")
    return "".join(" " + part for part in parts)


def _ad_hoc(
    ctx: click.Context, targets: tuple[str, ...], window: str
) -> tuple[int, str, list[str], dict[str, Any]]:
    """Launchpad's check: did each HOST:NAME succeed within the window?"""
    from cronwatch.durations import format_duration, parse_duration
    from cronwatch.names import validate_name
    from cronwatch.storage.jobs import JobStore
    from cronwatch.timeutil import to_us, utcnow

    if not targets:
        raise InvalidInput("--window needs at least one HOST:NAME (or NAME) to check")
    span = parse_duration(window, field="--window")
    if span <= timedelta(0):
        raise InvalidInput("--window must be longer than zero")
    pairs: list[tuple[str | None, str]] = []
    for target in targets:
        given_host, sep, given_name = target.partition(":")
        if not sep:
            given_host, given_name = "", target
        pairs.append(
            (
                validate_name(given_host, "host") if given_host else None,
                validate_name(given_name, "name"),
            )
        )
    now = utcnow()
    since = now - span
    failures, results = [], []
    config = load_config_from(ctx)
    declared = set(config.jobs) if config is not None else set()
    with open_monitor(ctx) as monitor:  # its errors: UNKNOWN, in check (JSON with --json)
        # A name no run and no config knows is a typo, not a missed run: UNKNOWN, as for
        # `check NAME`, so that it never pages anyone as if the job had failed.
        jobs = JobStore(monitor.store.db)
        strangers = sorted(
            {name for _, name in pairs if name not in declared and jobs.record(name) is None}
        )
        for host, name in [] if strangers else pairs:
            last = monitor.store.last_success_completed(name, host)
            where = f" on {host}" if host else ""
            ok = last is not None and last >= since
            last_us = None if last is None else to_us(last)
            results.append({"host": host, "name": name, "ok": ok, "last_success_us": last_us})
            if not ok:
                seen = f"last success {_when(last)}" if last is not None else "never succeeded"
                failures.append(
                    f"{name} didn't run{where} in the last {format_duration(span)} ({seen})"
                )
    if strangers:  # raised after the database is closed; check() answers it (JSON with --json)
        raise InvalidInput(f"no job named {', '.join(repr(n) for n in strangers)} is known")
    if failures:
        line = f"{len(failures)} of {len(pairs)} missing: " + "; ".join(failures)
        state = CRITICAL
    else:
        line = f"{len(pairs)} of {len(pairs)} ran in the last {format_duration(span)}"
        state = OK
    perfdata = f"checked={len(pairs)};;;0 missing={len(failures)};;;0"
    return state, f"{line} | {perfdata}", [], {"results": results}


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


@click.command()
@click.argument("names", nargs=-1)
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="Only jobs with this tag.")
@click.option("--host", "hosts", multiple=True, metavar="H", help="Only jobs on this host.")
@click.option("--problems", is_flag=True, help="Only jobs that are not fine.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    metavar="N",
    help="Only the first N jobs (worst first); a last line counts the others.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the statuses as JSON.")
@click.option("--uuid", "show_uuid", is_flag=True, help="Add each job's ping UUID.")
@click.pass_context
def status(
    ctx: click.Context,
    names: tuple[str, ...],
    tags: tuple[str, ...],
    hosts: tuple[str, ...],
    problems: bool,
    limit: int | None,
    as_json: bool,
    show_uuid: bool,
) -> None:
    """Show every job's status, worst first, as a table for people (``--limit N``: the first
    N; ``--problems``: only those not fine)."""
    from cronwatch.alerts.model import alerting_json
    from cronwatch.timeutil import utcnow

    statuses, alerting = _status_statuses(ctx, names, tags, hosts, as_json)
    if problems:
        statuses = [s for s in statuses if s.severity > OK]
    left_out = 0
    if limit is not None and len(statuses) > limit:
        statuses, left_out = statuses[:limit], len(statuses) - limit
    if as_json:
        now = utcnow()
        shown = [
            {**s.to_json(), "alerts": alerting_json(alerting.get((s.name, "")), now)}
            for s in statuses
        ]
        click.echo(json.dumps(shown, indent=2))
        return
    if not statuses:
        matching = f" match {_filters(tags, hosts)}" if tags or hosts else ""
        known = " known yet" if not (matching or problems) else ""
        click.echo(f"no jobs{matching}{' with problems' if problems else ''}{known}", err=True)
        return
    _print_table(statuses, show_uuid)
    if left_out:
        click.echo(f"... and {left_out} more (--limit {limit})")


def _status_statuses(
    ctx: click.Context,
    names: tuple[str, ...],
    tags: tuple[str, ...],
    hosts: tuple[str, ...],
    as_json: bool,
) -> tuple[list[JobStatus], dict[tuple[str, str], JobState]]:
    """The statuses ``status`` shows (the named or filtered jobs, evaluated in full, worst
    first; a ``--tag``/``--host`` with an alert loop beating evaluates only the filter's
    candidates) and, for ``--json``, the alert loop's states by (job, host) (else empty). A
    bad config or a refused filter ends the command (:func:`~cronwatch.cli.common.fail`)."""
    from cronwatch.health.service import filtered_statuses, job_statuses
    from cronwatch.storage.alerts import AlertStore

    config = load_config_from(ctx, on_error=fail)
    with open_monitor(ctx) as monitor:
        db = monitor.store.db
        try:
            if names:
                statuses = job_statuses(db, config, names=names, tags=tags, hosts=hosts)
            else:
                statuses = [*filtered_statuses(db, config, tags=tags, hosts=hosts, in_full=True)]
        except CronwatchError as exc:
            fail(str(exc))
        # The alert loop's view: snoozes and acknowledged incidents (one query).
        alerting = AlertStore(monitor.store.db).states() if as_json else {}
    return statuses, alerting


def _print_table(statuses: list[JobStatus], show_uuid: bool) -> None:
    """Print ``statuses`` as ``status``'s table: a header, one row per job, columns padded to
    their widest cell but the last (the reason)."""
    from cronwatch.durations import format_duration
    from cronwatch.timeutil import utcnow

    now = utcnow()
    uuid_header = ("UUID",) if show_uuid else ()
    rows = [("JOB", *uuid_header, "STATUS", "HOSTS", "LAST RUN", "TOOK", "NEXT DUE", "REASON")]
    for s in statuses:
        rows.append(
            (
                s.name,
                *((s.uuid or "-",) if show_uuid else ()),
                s.status.upper() if s.severity else s.status,
                ",".join(h.hostname for h in s.hosts) or "-",
                _ago(now, s.last_started),
                format_duration(s.last_duration) if s.last_duration is not None else "-",
                _due(s),
                s.reason,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)]
        click.echo("  ".join([*cells, row[-1]]))


def _due(status: JobStatus) -> str:
    """The NEXT DUE cell: the health layer's next slot (never past), or since when the job is
    overdue ("overdue since ..."), the same slot as its reason's "since"."""
    if status.status == "paused":
        return "paused"
    if status.overdue_since is not None:
        return f"overdue since {_when(status.overdue_since)}"
    return _when(status.next_due) if status.next_due is not None else "-"


def _ago(now: datetime, value: datetime | None) -> str:
    from cronwatch.durations import format_duration

    if value is None:
        return "never"
    return f"{format_duration(max(now - value, timedelta(0)))} ago"
