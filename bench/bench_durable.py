"""What durable commits cost: pings/s of ``cronwatch serve`` on SQLite with
``synchronous=FULL`` (what cronwatch uses: each commit fsynced) against the old ``NORMAL``
(commits survive a killed process, not a power cut), side by side.

Two servers, each on its own scratch SQLite file on the same disk, identical but for that one
setting (the NORMAL one is ``cronwatch serve`` with ``SQLite.SYNCHRONOUS`` set before it
starts), take the same load in turns, round after round; the ratio FULL / NORMAL of each round
is taken and their median reported (the machine's load drifts between rounds, not within
one). Every acknowledged ping must be stored on both (each request has its own run id: see
``bench_ping`` for how they are checked). The server writes pings in group-committed
batches, so one fsync is shared by a batch: the target is the same rate within noise
(``--target``, default 0.90). Then, for information, the cost where nothing is batched: one
``record_success`` (one commit, one fsync) per call through the library, FULL against NORMAL.

    python -m bench.bench_durable [--duration 6] [--rounds 5] [--connections 64]
                                  [--loadgen wrk|python] [--target 0.9]

Exits 1 when the ratio is below the target or a ping was lost.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bench.bench_ping import account, free_port, python_loadgen, running, wrk
from bench.common import exit_with_verdicts, report, verdict

SETTINGS = ("FULL", "NORMAL")

# `cronwatch serve` with another synchronous setting: the one class attribute, then the CLI.
_SERVE_WITH = (
    "import sys; from cronwatch.storage.dialect import SQLite; SQLite.SYNCHRONOUS = sys.argv[1];"
    " from cronwatch.cli.main import main; sys.exit(main(sys.argv[2:]))"
)


def serve_argv(setting: str, url: str, port: int) -> list[str]:
    return [sys.executable, "-c", _SERVE_WITH, setting, "--database-url", url, "serve",
            "--port", str(port), "--log-level", "warning", "--rate-limit", "0",
            "--no-alerts"]  # fmt: skip


@dataclass
class Pings:
    """Each setting's rates per round, what was acknowledged and stored, the rounds' ratios."""

    rates: dict[str, list[float]]
    acknowledged: dict[str, int]
    stored: dict[str, int]
    lost: list[str]  # acknowledged run ids not in the database (must stay empty)

    @property
    def ratios(self) -> list[float]:
        return [f / n for f, n in zip(self.rates["FULL"], self.rates["NORMAL"], strict=True)]


def bench_pings(*, duration: float, rounds: int, connections: int, loadgen: str) -> Pings:
    from cronwatch.storage import open_database
    from cronwatch.storage.keys import KeyStore

    generate = wrk if loadgen == "wrk" else python_loadgen
    rates: dict[str, list[float]] = {s: [] for s in SETTINGS}
    acknowledged = dict.fromkeys(SETTINGS, 0)
    stored = dict.fromkeys(SETTINGS, 0)
    lost: list[str] = []
    # On the disk the database would live on (not a tmpfs, where fsync costs nothing).
    base = os.environ.get("CRONWATCH_BENCH_DIR") or os.path.expanduser("~")
    with tempfile.TemporaryDirectory(prefix=".cronwatch-bench-", dir=base) as directory:
        urls = {s: f"sqlite:///{directory}/{s.lower()}.db" for s in SETTINGS}
        keys = {}
        for setting, url in urls.items():
            with open_database(url) as db:
                keys[setting] = KeyStore(db).create("ping", "bench")[1]
        ports = {s: free_port() for s in SETTINGS}
        env = {k: v for k, v in os.environ.items() if not k.startswith("CRONWATCH_STATSD")}
        with running(serve_argv("FULL", urls["FULL"], ports["FULL"]), ports["FULL"], env) as full, \
             running(serve_argv("NORMAL", urls["NORMAL"], ports["NORMAL"]), ports["NORMAL"],
                     env) as normal:  # fmt: skip
            targets = {
                "FULL": f"{full}/ping/{keys['FULL']}/bench-job?host=bench",
                "NORMAL": f"{normal}/ping/{keys['NORMAL']}/bench-job?host=bench",
            }
            for target in targets.values():
                generate(target, connections, 1, "warm")  # warm-up
            for round_ in range(rounds):
                # Alternate which goes first: neither always gets the fresher machine.
                order = SETTINGS if round_ % 2 == 0 else SETTINGS[::-1]
                for setting in order:
                    prefix = f"r{round_}"  # every request has its own run id
                    load = generate(targets[setting], connections, duration, prefix)
                    time.sleep(0.5)  # let the last batch commit
                    rates[setting].append(load.rate)
                    round_stored, round_lost, _ = account(urls[setting], prefix, load, connections)
                    acknowledged[setting] += load.ok
                    stored[setting] += round_stored
                    lost += [f"{setting} {item}" for item in round_lost]
    return Pings(rates, acknowledged, stored, lost)


def bench_records(calls: int = 300) -> dict[str, float]:
    """Seconds per ``record_success`` (one commit each) with each setting, interleaved."""
    import cronwatch
    from cronwatch.storage.dialect import SQLite

    base = os.environ.get("CRONWATCH_BENCH_DIR") or os.path.expanduser("~")
    samples: dict[str, list[float]] = {s: [] for s in SETTINGS}
    counter = itertools.count()
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    with tempfile.TemporaryDirectory(prefix=".cronwatch-bench-", dir=base) as directory:
        monitors = {}
        for setting in SETTINGS:
            SQLite.SYNCHRONOUS = setting  # read when a connection opens
            url = f"sqlite:///{directory}/record-{setting.lower()}.db"
            monitors[setting] = cronwatch.connect(url, statsd=False)
        SQLite.SYNCHRONOUS = "FULL"
        for _ in range(6):
            for setting, monitor in monitors.items():
                start = time.perf_counter()
                for _ in range(calls // 6):
                    t = t0 + timedelta(seconds=next(counter))
                    monitor.record_success("bench-job", t, t, "host-1")
                samples[setting].append((time.perf_counter() - start) / (calls // 6))
        for monitor in monitors.values():
            monitor.close()
    return {setting: statistics.median(values) for setting, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--loadgen", choices=["wrk", "python"],
                        default="wrk" if shutil.which("wrk") else "python")  # fmt: skip
    parser.add_argument("--target", type=float, default=0.90)
    args = parser.parse_args()
    pings = bench_pings(duration=args.duration, rounds=args.rounds,
                        connections=args.connections, loadgen=args.loadgen)  # fmt: skip
    records = bench_records()
    rates, acknowledged, stored = pings.rates, pings.acknowledged, pings.stored
    ratio = statistics.median(pings.ratios)
    lost = bool(pings.lost)
    ok = ratio >= args.target and not lost
    report(
        f"durable commits on SQLite: cronwatch serve pings/s, synchronous=FULL vs NORMAL "
        f"({args.loadgen}, {args.connections} connections, {args.rounds} x {args.duration:g}s)",
        [
            *((f"pings/s {s}", f"{statistics.median(rates[s]):9.0f}   (rounds: "
               + ", ".join(f"{r:.0f}" for r in rates[s]) + ")") for s in SETTINGS),
            ("FULL / NORMAL", f"{ratio:9.2f}   (median of the rounds' ratios: "
             + ", ".join(f"{r:.2f}" for r in pings.ratios) + f"; target >= {args.target})"),
            *((f"acknowledged / stored {s}", f"{acknowledged[s]:9d} / {stored[s]}")
              for s in SETTINGS),
            ("record_success FULL", f"{records['FULL'] * 1e3:9.2f} ms   (one commit, one fsync)"),
            ("record_success NORMAL", f"{records['NORMAL'] * 1e3:9.2f} ms   (information only)"),
            verdict(ok, "PINGS LOST" if lost else "BELOW TARGET"),
        ],
    )  # fmt: skip
    exit_with_verdicts([ok])


if __name__ == "__main__":
    main()
