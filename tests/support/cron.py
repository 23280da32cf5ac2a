"""Debian's cron daemon, for the tests that run crontab lines as cron runs them.

:func:`debian_cron` (a fixture) makes sure ``/usr/sbin/cron`` is running, starting
``cron -f`` with an empty environment when it is not (and stopping that one afterwards), and
hands out :class:`RootCrontab`, which installs root's crontab with ``crontab -u root -`` (and
files in ``/etc/cron.d``) and puts back what was there before. Only root can do that; without
Debian's cron, or as another user, the tests are skipped, and under ``CI=true`` they fail. One
test at a time holds the lock: root's crontab is one per machine.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from tests.support.databases import IN_CI

CRON = Path("/usr/sbin/cron")
PID_FILE = Path("/run/crond.pid")
LOCK = Path("/tmp/cronwatch-tests-root-crontab.lock")
#: Cron reads changed crontabs once a minute and runs `* * * * *` at the next minute: two
#: minutes and a little cover any phase.
WITHIN = 150.0

T = TypeVar("T")


def _missing(message: str) -> None:
    if IN_CI:
        pytest.fail(message + " (required under CI=true)")
    pytest.skip(message)


def _running_cron() -> int | None:
    try:
        pid = int(PID_FILE.read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return None
    try:
        name = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None
    return pid if name == "cron" else None


class RootCrontab:
    """Root's crontab, installed for a test and put back after."""

    def __init__(self) -> None:
        before = subprocess.run(["crontab", "-u", "root", "-l"], capture_output=True, check=False)
        self.before: bytes | None = before.stdout if before.returncode == 0 else None

        self.cron_d: list[Path] = []

    def install(self, text: str) -> None:
        subprocess.run(["crontab", "-u", "root", "-"], input=text.encode(), check=True)

    def install_cron_d(self, text: str) -> Path:
        """``text`` as a file of ``/etc/cron.d`` (a name cron accepts: no dots), removed after."""
        path = Path("/etc/cron.d") / f"cronwatch-test-{os.getpid()}"
        self.cron_d.append(path)
        path.write_text(text, encoding="utf-8")
        path.chmod(0o644)  # cron ignores a file others may write
        return path

    def restore(self) -> None:
        for path in self.cron_d:
            path.unlink(missing_ok=True)
        if self.before is None:
            subprocess.run(["crontab", "-u", "root", "-r"], capture_output=True, check=False)
        else:
            subprocess.run(["crontab", "-u", "root", "-"], input=self.before, check=True)


@pytest.fixture
def debian_cron() -> Iterator[RootCrontab]:
    """Debian's cron running, and root's crontab for the test to install (see the module)."""
    if not CRON.exists() or shutil.which("crontab") is None:
        _missing("Debian's cron is not installed (apt-get install cron)")
    if os.geteuid() != 0:
        _missing("the cron daemon tests install root's crontab, so they run as root")
    with LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        started: subprocess.Popen[bytes] | None = None
        if _running_cron() is None:
            # An empty environment, as at boot: the jobs must not inherit this test's PATH.
            started = subprocess.Popen(
                ["env", "-i", str(CRON), "-f"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        crontab = RootCrontab()
        try:
            yield crontab
        finally:
            crontab.restore()
            if started is not None:
                started.terminate()
                started.wait(10)


def wait_for(probe: Callable[[], T | None], within: float = WITHIN) -> T | None:
    """``probe()``'s first true answer, polled every 2 s for ``within`` seconds; else None."""
    deadline = time.monotonic() + within
    while True:
        answer = probe()
        if answer or time.monotonic() > deadline:
            return answer
        time.sleep(2)
