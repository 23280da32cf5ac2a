"""``cronwatch hook start|stop NAME``: a run recorded by a systemd service's ``ExecStartPre=``
and ``ExecStopPost=`` (see :mod:`cronwatch.hooks`; ``cronwatch import-systemd --wrap`` writes
the drop-in).

Exit status 0 when the hook did its part (the run recorded, or kept in the spool, or said on
stderr why not), 2 when it was called wrongly (no ``$INVOCATION_ID``, no ``$SERVICE_RESULT``
for ``stop``, a bad name): nothing is recorded then.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

from cronwatch.cli.common import Settings

_OPTIONS = [
    click.argument("name"),
    click.option(
        "--run-id",
        metavar="ID",
        help="The run id both hooks of one run share [default: systemd-$INVOCATION_ID].",
    ),
    click.option("--host", metavar="H", help="Host name to record [default: this host's name]."),
    click.option(
        "--env-file",
        metavar="FILE",
        help="Read CRONWATCH_* settings (CRONWATCH_URL, CRONWATCH_PING_KEY, "
        "CRONWATCH_DATABASE_URL, ...) from this KEY=VALUE file, so that they stay out of the "
        "service's environment and its unit file.",
    ),
]


F = TypeVar("F", bound=Callable[..., Any])


def _options(func: F) -> F:
    """The options both hooks take."""
    for option in reversed(_OPTIONS):
        func = option(func)
    return func


@click.group("hook")
def hook() -> None:
    """Record a run from two processes: a systemd service's ExecStartPre= and ExecStopPost=.

    \b
        [Service]
        ExecStartPre=-+/usr/local/bin/cronwatch hook start backup
        ExecStopPost=-+/usr/local/bin/cronwatch hook stop backup

    `cronwatch import-systemd --wrap` prints such a drop-in for each timer's service.
    """


@hook.command("start")
@_options
@click.pass_context
def start(
    ctx: click.Context, name: str, run_id: str | None, host: str | None, env_file: str | None
) -> None:
    """Record that a run of job NAME starts now (as ExecStartPre=)."""
    from cronwatch.hooks import hook_run_id, hook_start
    from cronwatch.statsd import StatsdClient

    hook_start(
        name,
        hook_run_id(os.environ, run_id),
        database_url=_settings(ctx, env_file),
        hostname=host,
        statsd=StatsdClient.from_env(),
    )


@hook.command("stop")
@_options
@click.pass_context
def stop(
    ctx: click.Context, name: str, run_id: str | None, host: str | None, env_file: str | None
) -> None:
    """Record how the run of job NAME ended, from $SERVICE_RESULT, $EXIT_CODE and
    $EXIT_STATUS (as ExecStopPost=)."""
    from cronwatch.hooks import hook_run_id, hook_stop
    from cronwatch.statsd import StatsdClient

    hook_stop(
        name,
        hook_run_id(os.environ, run_id),
        os.environ,
        database_url=_settings(ctx, env_file),
        hostname=host,
        statsd=StatsdClient.from_env(),
    )


def _settings(ctx: click.Context, env_file: str | None) -> str:
    """The database URL to record into, after ``--env-file``'s settings are in force: the
    group's ``--database-url`` when given on the command line, else the file's, else the
    environment's (or the default)."""
    from cronwatch.hooks import read_env_file
    from cronwatch.paths import DATABASE_URL_ENV

    root = ctx.find_root()
    settings: Settings = root.obj
    if env_file is None:
        return settings.resolved_database_url()
    found = read_env_file(env_file)
    os.environ.update(found)  # CRONWATCH_URL, _PING_KEY, _SPOOL_DIR, _STATSD_*: read from here
    given = root.get_parameter_source("database_url") == click.core.ParameterSource.COMMANDLINE
    if not given and DATABASE_URL_ENV in found:
        return found[DATABASE_URL_ENV]
    return settings.resolved_database_url()
