"""The ``cronwatch`` command run in this process (click's test runner)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from cronwatch.cli.main import cli


def invoke(
    *args: str,
    url: str | None = None,
    config: Path | None = None,
    stdin: str | bytes | None = None,
) -> Result:
    """``cronwatch [--database-url URL] [--config CONFIG] ARGS...``; an exception the command
    does not handle fails the test (it is not turned into an exit status)."""
    options = ["--database-url", url] if url is not None else []
    if config is not None:
        options += ["--config", str(config)]
    return CliRunner().invoke(cli, [*options, *args], input=stdin, catch_exceptions=False)
