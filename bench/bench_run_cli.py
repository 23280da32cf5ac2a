"""`cronwatch run` as cron sees it: what wrapping a job costs, and how soon `run` returns when
something around it goes wrong. Whole processes are timed, interleaved where two sides are
compared, so both see the same load.

1. `cronwatch run bench -- true` against `true` on the default SQLite database. Target: under
   150 ms added (issue "Record every run"), and every run reached the database (runs stored ==
   runs made: a spooled run exits 0 too, so the exit status proves nothing).
2. Through a server that accepts the connection and never answers: `run` gives up after its
   5 s budget and spools the run. Target: under 6.5 s from start to exit (the issue saw 30 s),
   the run in the spool, the exit status the command's.
3. A command that leaves a background process holding its output: `run` exits when the output
   has been quiet for 0.5 s, while that process lives on. Target: under 2 s.

Prints a verdict per part and exits 1 when one falls short.

    python -m bench.bench_run_cli [--rounds 30]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from bench.common import exit_with_verdicts, report, verdict

ADDED_TARGET = 0.150
SILENT_TARGET = 6.5
BACKGROUND_TARGET = 2.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    cronwatch = shutil.which("cronwatch")
    assert cronwatch, "install the project first: pip install -e ."
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, XDG_DATA_HOME=home, CRONWATCH_SPOOL_DIR=f"{home}/spool")
        for name in ("CRONWATCH_DATABASE_URL", "CRONWATCH_URL", "CRONWATCH_PING_KEY"):
            env.pop(name, None)
        results = [
            overhead(cronwatch, env, args.rounds),
            silent_server(cronwatch, env),
            background_process(cronwatch, env),
        ]
    exit_with_verdicts(results)


def overhead(cronwatch: str, env: dict[str, str], rounds: int) -> bool:
    true = shutil.which("true") or "/bin/true"
    commands = {
        "true": [true],
        "cronwatch run bench -- true": [cronwatch, "run", "bench", "--", true],
    }
    subprocess.run(commands["cronwatch run bench -- true"], env=env, check=True)  # migrates
    samples: dict[str, list[float]] = {name: [] for name in commands}
    cpu: list[float] = []  # user + system seconds of each cronwatch run: less load-sensitive
    for _ in range(rounds):
        for name, argv in commands.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(argv, env=env, check=True)
            samples[name].append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if name != "true":
                cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    history = subprocess.run(
        [cronwatch, "history", "bench", "--limit", "10000", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    stored = len(history.stdout.splitlines())
    spooled = subprocess.run(
        [cronwatch, "spool", "list"], env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    medians = {name: statistics.median(values) for name, values in samples.items()}
    added = medians["cronwatch run bench -- true"] - medians["true"]
    ok = added < ADDED_TARGET and stored == rounds + 1 and not spooled
    report(
        "1. cronwatch run -- true against true (default SQLite file)",
        [
            (name, f"{seconds * 1000:7.1f} ms (median of {rounds})")
            for name, seconds in medians.items()
        ]
        + [
            ("added", f"{added * 1000:7.1f} ms  (target < {ADDED_TARGET * 1000:.0f} ms)"),
            ("CPU per cronwatch run", f"{statistics.median(cpu) * 1000:7.1f} ms (user + system)"),
            ("load average (1 min)", f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"),
            ("runs stored", f"{stored} of {rounds + 1} made, {len(spooled)} spooled"),
            verdict(ok),
        ],
    )
    return ok


def silent_server(cronwatch: str, env: dict[str, str]) -> bool:
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:  # accept and keep every connection, answer nothing
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    remote_env = dict(env, CRONWATCH_URL=url, CRONWATCH_PING_KEY="cwp_" + "B" * 32)
    timings, statuses = [], []
    for _ in range(3):
        start = time.perf_counter()
        done = subprocess.run(
            [cronwatch, "run", "silent", "--", "sh", "-c", "exit 3"],
            env=remote_env,
            capture_output=True,
            timeout=120,
        )
        timings.append(time.perf_counter() - start)
        statuses.append(done.returncode)
    spooled = subprocess.run(
        [cronwatch, "spool", "list"], env=remote_env, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    listener.close()
    for connection in held:
        connection.close()
    worst = max(timings)
    ok = worst < SILENT_TARGET and statuses == [3, 3, 3] and len(spooled) == 3
    report(
        "2. cronwatch run -- sh -c 'exit 3' through a server that never answers",
        [
            (
                "start to exit",
                f"{', '.join(f'{t:.2f}' for t in timings)} s  "
                f"(target < {SILENT_TARGET} s each; was 30 s)",
            ),
            ("exit statuses", f"{statuses} (the command's: 3)"),
            ("runs spooled", f"{len(spooled)} of 3"),
            verdict(ok),
        ],
    )
    return ok


def background_process(cronwatch: str, env: dict[str, str]) -> bool:
    with tempfile.TemporaryDirectory() as scratch:
        go = Path(scratch) / "go"
        script = f"(while [ ! -e {go} ]; do sleep 0.05; done; echo late) & echo early"
        start = time.perf_counter()
        proc = subprocess.Popen(
            [cronwatch, "run", "background", "--", "sh", "-c", script],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        status = proc.wait(timeout=60)
        elapsed = time.perf_counter() - start
        go.touch()
        assert proc.stdout is not None
        output = proc.stdout.read()  # EOF once the background process is done
    ok = elapsed < BACKGROUND_TARGET and status == 0 and output == b"early\nlate\n"
    report(
        "3. cronwatch run -- a command leaving a process that holds its output",
        [
            ("start to exit", f"{elapsed:.2f} s  (target < {BACKGROUND_TARGET} s)"),
            ("background output after exit", repr(output.decode())),
            verdict(ok),
        ],
    )
    return ok


if __name__ == "__main__":
    main()
