"""Helpers shared by the subcommands: opening the monitor, parsing instants, reporting errors."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from cronwatch.errors import CronwatchError, InvalidInput
from cronwatch.monitor import Monitor

if TYPE_CHECKING:
    from cronwatch.config import Config

#: Exit status for cronwatch's own errors (bad input, database away). ``last`` uses 1 for "no
#: run recorded", so errors must differ from it.
EXIT_ERROR = 2


def fail(message: str) -> None:
    """Print ``cronwatch: error: message`` on stderr and exit with :data:`EXIT_ERROR`."""
    click.echo(f"cronwatch: error: {message}", err=True)
    raise SystemExit(EXIT_ERROR)


@contextmanager
def open_monitor(ctx: click.Context, on_error: Callable[[str], object] = fail) -> Iterator[Monitor]:
    """The monitor for the group's database; cronwatch errors are passed to ``on_error``
    (by default :func:`fail`), which must exit."""
    from cronwatch.monitor import connect

    try:
        monitor = connect(ctx.find_root().obj.resolved_database_url(), statsd=None)
    except CronwatchError as exc:
        on_error(str(exc))
        raise  # unreachable: on_error exits
    try:
        yield monitor
    except CronwatchError as exc:
        on_error(str(exc))
    finally:
        monitor.close()


def load_config_from(
    ctx: click.Context, on_error: Callable[[str], object] | None = None
) -> Config | None:
    """The config file named by ``--config`` / ``$CRONWATCH_CONFIG``, or ``None``.

    A bad file raises :class:`ConfigError` (naming the file, job and field), or is passed to
    ``on_error`` when given."""
    from cronwatch.config import config_path_from_env, load_config

    path = config_path_from_env(ctx.find_root().obj.config_path)
    if path is None:
        return None
    try:
        return load_config(path)
    except CronwatchError as exc:
        if on_error is None:
            raise
        on_error(str(exc))
        raise  # unreachable: on_error exits


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


def log_warnings_to_stderr() -> None:
    """Show the library's warnings (``cronwatch.*`` loggers) on stderr as ``cronwatch: ...``
    lines, like the command's own messages."""
    import logging

    logger = logging.getLogger("cronwatch")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("cronwatch: %(message)s"))
        logger.addHandler(handler)
