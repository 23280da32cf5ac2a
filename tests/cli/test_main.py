"""The ``cronwatch`` command group as shipped: the commands the README documents are the ones
it lists, and each one loads (a registration removed or pointing at a wrong module fails here,
not in a user's crontab)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.support.cli import invoke

#: The README's commands, written out here (not read from ``SUBCOMMANDS``: a test that takes its
#: expectation from the code under test cannot notice a command going missing).
COMMANDS = [
    "alerts", "backup", "check", "export", "history", "hook", "import", "import-crontab",
    "import-healthchecks", "import-kubernetes", "import-systemd", "key", "last", "migrate",
    "output", "prune", "record", "restore", "run", "schedule", "serve", "spool", "status", "uuid",
]  # fmt: skip


def test_the_shipped_command_lists_every_command() -> None:
    """``python -m cronwatch --help`` in a process of its own: nothing registered by a test."""
    result = subprocess.run([sys.executable, "-m", "cronwatch", "--help"],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    listed = re.findall(r"^  (\S+)\s", result.stdout.split("Commands:\n", 1)[1], re.M)
    assert listed == COMMANDS


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_loads_and_documents_itself(command: str) -> None:
    result = invoke(command, "--help")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: cli {command} ")
