"""Test helper: run a command through cronwatch.runner the way the CLI does.

usage: wrap.py REPORT_JSON [--tail N] [--no-capture] [--started-file PATH]
               [--raise-in-on-started] [--busy-on-started UNTIL_FILE] [--core-dumps]
               -- COMMAND [ARGS...]

--busy-on-started makes on_started behave like a database that hangs: it returns only once
UNTIL_FILE exists and the command has been reaped (20 s at most each), and reports what it saw.

Writes the CommandResult and facts about this wrapper process (on_started calls, handlers and
signal mask before/after, peak memory) to REPORT_JSON, then ends with reraise_exit(result), so
the test can check this process's wait status. Nothing else is written to stdout/stderr.
"""

from __future__ import annotations

import json
import resource
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from cronwatch.runner import FORWARDED_SIGNALS, reraise_exit, run_command


def _custom_handler(signum: int, frame: object) -> None:  # pragma: no cover - never called
    raise AssertionError("the wrapper's own handler must not run while the command runs")


def _peak_rss_kb() -> int:
    # VmHWM, not ru_maxrss: the latter survives exec, so it may be our parent's peak.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc/self/status")


def _wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _children() -> list[str]:
    """Our children not reaped yet (zombies included): subprocess spawns from this thread."""
    return Path(f"/proc/self/task/{threading.get_native_id()}/children").read_text().split()


def main() -> int:
    split = sys.argv.index("--")
    opts, command = sys.argv[1:split], sys.argv[split + 1 :]
    report_path = Path(opts.pop(0))
    tail = 10_000
    capture = True
    started_file: Path | None = None
    raise_in_on_started = False
    busy_until: Path | None = None
    while opts:
        opt = opts.pop(0)
        if opt == "--tail":
            tail = int(opts.pop(0))
        elif opt == "--no-capture":
            capture = False
        elif opt == "--started-file":
            started_file = Path(opts.pop(0))
        elif opt == "--raise-in-on-started":
            raise_in_on_started = True
        elif opt == "--busy-on-started":
            busy_until = Path(opts.pop(0))
        elif opt == "--core-dumps":
            hard = resource.getrlimit(resource.RLIMIT_CORE)[1]
            resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))
        else:
            raise SystemExit(f"wrap.py: unknown option {opt}")

    # Known dispositions whatever the test runner inherited (an ignored signal would not be
    # forwarded), and a mix of kinds, to check that every kind is restored afterwards.
    for name in FORWARDED_SIGNALS:
        signal.signal(getattr(signal, name), signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGUSR1, _custom_handler)
    signals = [getattr(signal, name) for name in FORWARDED_SIGNALS] + [signal.SIGCHLD]
    handlers_before = {sig: signal.getsignal(sig) for sig in signals}
    mask_before = signal.pthread_sigmask(signal.SIG_BLOCK, [])

    calls = 0
    busy: dict[str, object] = {}

    def on_started() -> None:
        nonlocal calls
        calls += 1
        if started_file is not None:
            started_file.write_text("started")
        if raise_in_on_started:
            raise RuntimeError("on_started blew up")
        if busy_until is not None:
            busy["saw_file"] = _wait_for(busy_until.exists)
            busy["saw_reap"] = _wait_for(lambda: not _children())
            busy["returned"] = datetime.now(UTC).isoformat()

    result = run_command(command, tail_bytes=tail, capture=capture, on_started=on_started)

    report = {
        "exit_code": result.exit_code,
        "signal": result.signal,
        "output_tail": result.output_tail,
        "started": result.started.isoformat(),
        "finished": result.finished.isoformat(),
        "on_started_calls": calls,
        "on_started_busy": busy,
        "handlers_restored": all(signal.getsignal(s) is h for s, h in handlers_before.items()),
        "mask_restored": signal.pthread_sigmask(signal.SIG_BLOCK, []) == mask_before,
        "peak_rss_kb": _peak_rss_kb(),
    }
    report_path.write_text(json.dumps(report))
    return reraise_exit(result)


if __name__ == "__main__":
    sys.exit(main())
