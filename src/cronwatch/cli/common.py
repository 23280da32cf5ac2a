"""Helpers shared by the subcommands: opening the monitor and the config, reporting errors.

Times typed on the command line are read by :func:`cronwatch.timeutil.parse_instant`
(``typed=True``: ISO 8601 with an offset, ``@<unix seconds>`` or ``now``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

import click

from cronwatch.errors import CronwatchError
from cronwatch.monitor import Monitor

if TYPE_CHECKING:
    from cronwatch.specs import Config

#: Exit status for cronwatch's own errors (bad input, database away). ``last`` uses 1 for "no
#: run recorded", so errors must differ from it.
EXIT_ERROR = 2


@dataclass
class Settings:
    """What the ``cronwatch`` group's options say, handed to every subcommand (``ctx.obj``)."""

    database_url: str | None
    config_path: str | None

    def resolved_database_url(self) -> str:
        from cronwatch.paths import database_url

        return database_url(self.database_url)


def fail(message: str) -> NoReturn:
    """Print ``cronwatch: error: message`` on stderr and exit with :data:`EXIT_ERROR`."""
    click.echo(f"cronwatch: error: {message}", err=True)
    raise SystemExit(EXIT_ERROR)


@contextmanager
def open_monitor(
    ctx: click.Context, on_error: Callable[[str], NoReturn] | None = None
) -> Iterator[Monitor]:
    """The monitor for the group's database. Cronwatch errors propagate (the group answers
    them: exit 2), or are passed to ``on_error``, which must exit (``check``: exit 3)."""
    from cronwatch.targets import connect

    try:
        monitor = connect(ctx.find_root().obj.resolved_database_url(), statsd=None)
    except CronwatchError as exc:
        if on_error is None:
            raise
        on_error(str(exc))
    try:
        yield monitor
    except CronwatchError as exc:
        if on_error is None:
            raise
        on_error(str(exc))
    finally:
        monitor.close()


def load_config_from(
    ctx: click.Context, on_error: Callable[[str], NoReturn] | None = None
) -> Config | None:
    """The config file named by ``--config`` / ``$CRONWATCH_CONFIG``, or ``None``. A bad file
    raises :class:`ConfigError` (naming the file, job and field: the group answers it), or is
    passed to ``on_error``, which must exit."""
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


def log_warnings_to_stderr() -> None:
    """Show the library's warnings (``cronwatch.*`` loggers) on stderr as ``cronwatch: ...``
    lines, like the command's own messages."""
    import logging

    logger = logging.getLogger("cronwatch")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("cronwatch: %(message)s"))
        logger.addHandler(handler)


class ProgressLine:
    """One line of progress rewritten in place on stderr, on a terminal only, and only for big
    work (a total of at least ``min_total``: a small database shows nothing). ``unit`` shows
    an amount (``"48.2 MB"``, ``"1,234"``). Use it as a context manager: the line is ended
    however the work ends."""

    def __init__(self, unit: Callable[[int], str], min_total: int) -> None:
        self.enabled = sys.stderr.isatty()
        self.unit = unit
        self.min_total = min_total
        self.shown = False

    def __call__(self, what: str, done: int, total: int) -> None:
        if self.enabled and total >= self.min_total:
            percent = 100 * done // max(total, 1)
            text = f"{what}: {self.unit(done)} of {self.unit(total)} ({percent}%)"
            click.echo(f"\r{text}\x1b[K", err=True, nl=False)
            self.shown = True
        elif self.shown:  # the next part is small: end the line of the last one
            self.done()

    def done(self) -> None:
        if self.shown:
            click.echo(err=True)
            self.shown = False

    def __enter__(self) -> ProgressLine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.done()
