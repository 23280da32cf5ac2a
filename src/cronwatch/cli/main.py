"""The ``cronwatch`` command group and its lazily loaded subcommands."""

from __future__ import annotations

import importlib
from typing import Any

import click

from cronwatch.cli.common import Settings, fail
from cronwatch.errors import CronwatchError
from cronwatch.version import __version__

#: subcommand -> "module:attribute"; each module is imported only when its command runs.
SUBCOMMANDS = {
    "run": "cronwatch.cli.run_cmd:run",
    "record": "cronwatch.cli.runs_cmd:record",
    "last": "cronwatch.cli.runs_cmd:last",
    "history": "cronwatch.cli.runs_cmd:history",
    "output": "cronwatch.cli.runs_cmd:output",
    "migrate": "cronwatch.cli.db_cmd:migrate",
    "prune": "cronwatch.cli.db_cmd:prune",
    "spool": "cronwatch.cli.db_cmd:spool",
    "check": "cronwatch.cli.check_cmd:check",
    "status": "cronwatch.cli.check_cmd:status",
    "import-crontab": "cronwatch.cli.crontab_cmd:import_crontab",
    "serve": "cronwatch.cli.serve_cmd:serve",
    "key": "cronwatch.cli.key_cmd:key",
    "uuid": "cronwatch.cli.uuid_cmd:uuid",
    "alerts": "cronwatch.cli.alerts_cmd:alerts",
    "schedule": "cronwatch.cli.schedule_cmd:schedule",
    "backup": "cronwatch.cli.backup_cmd:backup",
    "restore": "cronwatch.cli.backup_cmd:restore",
    "export": "cronwatch.cli.transfer_cmd:export",
    "import": "cronwatch.cli.transfer_cmd:import_",
    "hook": "cronwatch.cli.hook_cmd:hook",
    "import-systemd": "cronwatch.cli.systemd_cmd:import_systemd",
    "import-kubernetes": "cronwatch.cli.kubernetes_cmd:import_kubernetes",
    "import-healthchecks": "cronwatch.cli.healthchecks_cmd:import_healthchecks",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(SUBCOMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, attribute = target.split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand. The library's errors (:class:`~cronwatch.errors.CronwatchError`:
        bad input, a bad config file, the database away, not found, ...) are answered here, for
        every command, as ``cronwatch: error: MESSAGE`` on stderr and exit status 2
        (:func:`~cronwatch.cli.common.fail`). ``check`` answers its own (exit 3, UNKNOWN)."""
        try:
            return super().invoke(ctx)
        except CronwatchError as exc:
            fail(str(exc))


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--database-url",
    envvar="CRONWATCH_DATABASE_URL",
    metavar="URL",
    help="sqlite:///path/file.db or postgresql://user@host/db "
    "[env CRONWATCH_DATABASE_URL; default: a SQLite file in your data directory]",
)
@click.option(
    "--config",
    "config_path",
    envvar="CRONWATCH_CONFIG",
    metavar="FILE",
    help="TOML file declaring jobs and alert channels [env CRONWATCH_CONFIG]",
)
@click.version_option(__version__, prog_name="cronwatch")
@click.pass_context
def cli(ctx: click.Context, database_url: str | None, config_path: str | None) -> None:
    """Watch scheduled jobs: record every run, know when one goes wrong."""
    ctx.obj = Settings(database_url=database_url, config_path=config_path)


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point."""
    return cli.main(args=argv, prog_name="cronwatch")
