"""The reference Healthchecks (a pinned snapshot in ``/work/shared/peers``, or
``$CRONWATCH_HC_PEER``): started for the tests that compare cronwatch's answers with its own.

:func:`start_peer` sets it up in a work directory kept between sessions
(``$CRONWATCH_HC_PEER_WORKDIR``, default ``$TMPDIR/cronwatch-hcpeer``: its virtualenv takes
~25 s to build once, a start ~6 s after that), from a clean database, and returns what the
peer's script prints: ``url``, ``api_key`` (read-write), ``api_key_readonly``, ``ping_key``.
When it cannot start, the tests that need it skip, and fail under ``CI=true``.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.support.ports import free_port

DEFAULT_SCRIPT = "/work/shared/peers/run-healthchecks"


@dataclass(frozen=True)
class Peer:
    url: str
    api_key: str
    api_key_readonly: str
    ping_key: str
    workdir: Path
    script: str

    def stop(self) -> None:
        subprocess.run([self.script, "--stop", str(self.workdir)], capture_output=True,
                       timeout=60, check=False)  # fmt: skip


def start_peer() -> Peer:
    """A running Healthchecks with no checks; :class:`RuntimeError` saying why it did not
    start."""
    script = os.environ.get("CRONWATCH_HC_PEER", DEFAULT_SCRIPT)
    if not Path(script).exists():
        raise RuntimeError(f"the Healthchecks peer script {script} does not exist")
    default = Path(tempfile.gettempdir()) / "cronwatch-hcpeer"
    workdir = Path(os.environ.get("CRONWATCH_HC_PEER_WORKDIR", default))
    workdir.mkdir(parents=True, exist_ok=True)
    subprocess.run([script, "--stop", str(workdir)], capture_output=True, timeout=60, check=False)
    (workdir / "hc.sqlite").unlink(missing_ok=True)  # a clean slate (the virtualenv stays)
    result = subprocess.run([script, str(workdir), str(free_port())], capture_output=True,
                            text=True, timeout=600, check=False)  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"the Healthchecks peer did not start: {result.stderr[-2000:]}")
    info = json.loads(result.stdout.strip().splitlines()[-1])
    return Peer(info["url"], info["api_key"], info["api_key_readonly"], info["ping_key"],
                workdir, script)  # fmt: skip
