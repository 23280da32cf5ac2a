"""Test helper: a command that traps signals and says what it got.

usage: trap.py SIGNAME[,SIGNAME...] [LINGER_SECONDS [GOT_FILE]]

Prints "ready" once its handlers are installed, waits (10 s at most) for a first signal, creates
GOT_FILE if given, waits LINGER_SECONDS more (default 0.5) so that duplicates arrive too, prints
one line "got SIGNAME xCOUNT" per signal received and exits 0; exits 99 if no signal came.
"""

from __future__ import annotations

import signal
import sys
import time

counts: dict[str, int] = {}


def _handler(signum: int, frame: object) -> None:
    name = signal.Signals(signum).name
    counts[name] = counts.get(name, 0) + 1


def main() -> int:
    for name in sys.argv[1].split(","):
        signal.signal(getattr(signal, name), _handler)
    linger = float(sys.argv[2]) if len(sys.argv) > 2 else 0.5
    got_file = sys.argv[3] if len(sys.argv) > 3 else None
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    deadline = time.monotonic() + 10
    while not counts and time.monotonic() < deadline:
        time.sleep(0.01)
    if not counts:
        return 99
    if got_file is not None:
        open(got_file, "w").close()
    time.sleep(linger)
    for name, count in sorted(counts.items()):
        sys.stdout.write(f"got {name} x{count}\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
