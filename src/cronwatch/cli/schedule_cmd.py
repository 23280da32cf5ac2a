"""``cronwatch schedule EXPR... [--timezone Z] [--from T] [--count N]``: when a schedule is due.

Contract:

- EXPR is any schedule cronwatch accepts: a cron expression (``"0 3 * * *"``, ``@daily``), an
  interval (``"every 15m"``), a systemd calendar expression, bare or as a timer line
  (``daily``, ``"Mon..Fri 09:00 Europe/Berlin"``, ``"OnCalendar=*:0/15"``), or
  ``OnUnitActiveSec=1h``. Several EXPR are calendar expressions, all of them (a timer's several
  ``OnCalendar=`` lines).
- Output: the next N slots after T, one per line, ISO 8601 in UTC (``2026-12-02T07:00:00Z``),
  nothing else on stdout. An interval counts from T, as the health checks count from the last
  run.
- Exit status 0; 1 when the schedule has no slot after T (a date in the past); 2 on bad input
  (``cronwatch: error: ...`` on stderr, naming what is wrong).
"""

from __future__ import annotations

from datetime import UTC, datetime

import click

from cronwatch.timeutil import parse_instant

#: More slots than anyone reads; also bounds the time a typo in --count can take.
MAX_COUNT = 100_000


@click.command("schedule")
@click.argument("expressions", nargs=-1, required=True, metavar="EXPR...")
@click.option(
    "--timezone",
    default="UTC",
    show_default=True,
    metavar="ZONE",
    help="IANA timezone of cron and calendar expressions without their own (as the job's "
    "timezone in the config file).",
)
@click.option(
    "--from",
    "start",
    default="now",
    show_default=True,
    metavar="T",
    help="Start after this instant: ISO 8601 with an offset (2026-03-29T00:00:00Z), "
    "@UNIXTIME or now.",
)
@click.option(
    "--count",
    "-n",
    default=10,
    show_default=True,
    metavar="N",
    type=click.IntRange(min=1, max=MAX_COUNT),
    help="How many slots to print.",
)
def schedule(expressions: tuple[str, ...], timezone: str, start: str, count: int) -> None:
    """Print when a schedule is due: the next N slots, one ISO 8601 UTC instant per line.

    The systemd-analyze calendar of cronwatch, for cron, every and OnCalendar schedules alike.

    \b
        cronwatch schedule '0 3 * * *' --timezone Europe/London
        cronwatch schedule 'Mon..Fri 09:00' --timezone America/New_York -n 5
        cronwatch schedule 'OnCalendar=*-*-* 02:30 Europe/Berlin' --from 2026-03-28T00:00:00Z
        cronwatch schedule daily 'Sat 12:00'          # a timer with two OnCalendar= lines
    """
    from cronwatch.schedule import parse_schedule_arguments, upcoming

    after = parse_instant(start, "--from", typed=True)
    parsed = parse_schedule_arguments(expressions, timezone)
    slots = upcoming(parsed, after, count)
    for slot in slots:
        click.echo(_iso(slot))
    if not slots:
        click.echo(f"cronwatch: {parsed.describe()} has no slot after {_iso(after)}", err=True)
        raise SystemExit(1)
    if len(slots) < count:
        click.echo(f"cronwatch: no slot after {_iso(slots[-1])}", err=True)


def _iso(t: datetime) -> str:
    """ISO 8601 in UTC with a Z: 2026-12-02T07:00:00Z (microseconds only when there are any)."""
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")
