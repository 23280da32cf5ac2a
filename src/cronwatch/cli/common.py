"""Helpers shared by the subcommands: opening the monitor, parsing instants, reporting errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import click

from cronwatch.errors import CronwatchError, InvalidInput
from cronwatch.monitor import Monitor

#: Exit status for cronwatch's own errors (bad input, database away). ``last`` uses 1 for "no
#: run recorded", so errors must differ from it.
EXIT_ERROR = 2


def fail(message: str) -> None:
    """Print ``cronwatch: error: message`` on stderr and exit with :data:`EXIT_ERROR`."""
    click.echo(f"cronwatch: error: {message}", err=True)
    raise SystemExit(EXIT_ERROR)


@contextmanager
def open_monitor(ctx: click.Context) -> Iterator[Monitor]:
    """The monitor for the group's database; cronwatch errors become a clear message."""
    from cronwatch.monitor import connect

    try:
        monitor = connect(ctx.obj.resolved_database_url(), statsd=None)
    except CronwatchError as exc:
        fail(str(exc))
        raise  # unreachable; keeps type checkers content
    try:
        yield monitor
    except CronwatchError as exc:
        fail(str(exc))
    finally:
        monitor.close()


def parse_instant(text: str, field: str) -> datetime:
    """An aware datetime from ISO 8601 with an offset (``2026-11-28T03:00:00Z``,
    ``...+01:00``), ``@<unix seconds>`` or ``now``. Naive times are refused: a crontab's
    local time is too easy to confuse with UTC."""
    value = text.strip()
    if value == "now":
        return datetime.now(UTC)
    if re.fullmatch(r"@\d+(\.\d+)?", value):
        return datetime.fromtimestamp(float(value[1:]), UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{field} {text!r} is not a time; use ISO 8601 with an offset "
            "(2026-11-28T03:00:00Z), @<unix seconds> or 'now'"
        ) from None
    if parsed.tzinfo is None:
        raise InvalidInput(
            f"{field} {text!r} has no timezone; add one, e.g. {value}Z or {value}+01:00"
        )
    return parsed
