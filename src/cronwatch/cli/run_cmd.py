"""``cronwatch run NAME -- COMMAND...``."""

from __future__ import annotations

import click

from cronwatch.cli.common import Settings


@click.command(
    # Options may follow NAME (`run NAME --host H -- CMD`); everything after `--` is the command.
    context_settings={"ignore_unknown_options": True},
)
@click.argument("name")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option("--host", metavar="H", help="Host name to record [default: this host's name].")
@click.option(
    "--capture/--no-capture",
    default=True,
    help="Keep the end of the output with the run (default). --no-capture hands the "
    "terminal straight to the command.",
)
@click.pass_obj
def run(
    settings: Settings, name: str, command: tuple[str, ...], host: str | None, capture: bool
) -> None:
    """Run COMMAND as job NAME, record its start and outcome, exit with its exit code.

    \b
        cronwatch run backup -- /usr/local/bin/backup.sh --full

    The command's output, exit code and signals pass through untouched, whatever fails
    inside cronwatch. If the database (or the server of $CRONWATCH_URL) cannot be reached,
    the run is kept in a local spool and sent by a later run.
    """
    from cronwatch.cli.common import log_warnings_to_stderr
    from cronwatch.execution import run_and_record
    from cronwatch.runner import reraise_exit
    from cronwatch.statsd import StatsdClient

    log_warnings_to_stderr()
    result = run_and_record(
        name,
        list(command),
        database_url=settings.resolved_database_url(),
        hostname=host,
        capture=capture,
        statsd=StatsdClient.from_env(),
    )
    raise SystemExit(reraise_exit(result))
