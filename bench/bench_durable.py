"""What durable commits cost: pings/s of ``cronwatch serve`` on SQLite as it is (``durable``:
the writer commits at ``NORMAL`` and a thread fdatasyncs the WAL before the batch is answered,
:mod:`cronwatch.storage.commitsync`) against the old ``NORMAL`` (commits survive a killed
process, not a power cut), side by side; and, for information, plain ``FULL`` (SQLite syncs
the WAL inside COMMIT, under its write lock).

Three servers, each on its own scratch SQLite file on the same disk, identical but for that
setting (the others are ``cronwatch serve`` with ``SQLite.SYNCHRONOUS`` and
``SQLite.SYNC_AFTER_COMMIT`` set before it starts), take the same load in turns, round after
round; each round's ratio to NORMAL is taken and their median reported (the machine's load
drifts between rounds, not within one). Every acknowledged ping must be stored on each (each
request has its own run id: see ``bench_ping`` for how they are checked). The server writes
pings in group-committed batches: the target is durable at the same rate as NORMAL within
noise (``--target``, default 0.90).

What a sync costs depends on the machine, so each round also reports what the rest of it did
during that round's loads (:class:`MachineProbe`): the disk's fdatasync latency (a 4 KiB
overwrite and fdatasync of a scratch file in the same directory every 25 ms) and the share of
the time some task waited for a CPU. A FULL commit holds SQLite's write lock until its fsync
returns, so the one writer cannot write the next batch meanwhile: with ``--connections``
closed-loop clients every fsync, and the wake-up after it on a busy CPU, is in the critical
path, and FULL follows the disk's latency and the CPU's load. ``durable`` syncs outside the
lock while the writer writes the next batch. ``--more-connections`` (default 256; 0 skips it)
runs the same rounds with that many clients, for information: batches grow and one sync is
shared by more pings, as when many hosts ping at once. The verdict stays on
``--connections``. Then, for information, the cost where nothing is batched: one
``record_success`` (one commit, one fsync) per call through the library, FULL against NORMAL.

    python -m bench.bench_durable [--duration 6] [--rounds 5] [--connections 64]
                                  [--more-connections 256] [--loadgen wrk|python] [--target 0.9]

Exits 1 when the ratio is below the target or a ping was lost.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bench.bench_ping import account, free_port, python_loadgen, running, wrk
from bench.common import exit_with_verdicts, report, verdict

#: What each server is: ``SQLite.SYNCHRONOUS`` and ``SQLite.SYNC_AFTER_COMMIT``.
SETTINGS: dict[str, tuple[str, bool]] = {
    "durable": ("FULL", True),  # cronwatch's own: NORMAL commits, the WAL synced after them
    "FULL": ("FULL", False),  # SQLite syncs inside COMMIT (information)
    "NORMAL": ("NORMAL", False),  # the old setting, no sync: the baseline
}
BASELINE = "NORMAL"

# `cronwatch serve` with other settings: the class attributes, then the CLI.
_SERVE_WITH = (
    "import sys; from cronwatch.storage.dialect import SQLite; SQLite.SYNCHRONOUS = sys.argv[1];"
    " SQLite.SYNC_AFTER_COMMIT = sys.argv[2] == 'after';"
    " from cronwatch.cli.main import main; sys.exit(main(sys.argv[3:]))"
)


def serve_argv(setting: str, url: str, port: int) -> list[str]:
    synchronous, after = SETTINGS[setting]
    return [sys.executable, "-c", _SERVE_WITH, synchronous, "after" if after else "at",
            "--database-url", url, "serve", "--port", str(port), "--log-level", "warning",
            "--rate-limit", "0", "--no-alerts"]  # fmt: skip


@dataclass
class Machine:
    """What the rest of the machine did during one load: the disk's median fdatasync latency
    (seconds; ``nan`` without samples) and the share of the time some task waited for a CPU
    (Linux's CPU pressure, ``nan`` where the kernel has none)."""

    fsync: float
    cpu_waiting: float


class MachineProbe:
    """Measures :class:`Machine` during a block: a thread overwrites 4 KiB of a scratch file
    in ``directory`` and fdatasyncs it every ``interval`` seconds (what a FULL commit waits for
    at its smallest), and /proc/pressure/cpu is read before and after."""

    def __init__(self, directory: str, interval: float = 0.025) -> None:
        self.path = os.path.join(directory, "sync-probe")
        self.interval = interval
        self._samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sync-probe", daemon=True)

    def __enter__(self) -> MachineProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        os.unlink(self.path)

    @contextmanager
    def measuring(self) -> Iterator[list[Machine]]:
        """Yields a list that holds, after the block, the block's :class:`Machine`."""
        result: list[Machine] = []
        self._samples = []
        start, waited = time.monotonic(), _cpu_waited()
        yield result
        elapsed, waited = time.monotonic() - start, _cpu_waited() - waited
        samples = self._samples
        result.append(
            Machine(statistics.median(samples) if samples else float("nan"), waited / elapsed)
        )

    def _run(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            block = os.urandom(4096)
            while not self._stop.wait(self.interval):
                os.pwrite(fd, block, 0)
                start = time.perf_counter()
                os.fdatasync(fd)
                self._samples.append(time.perf_counter() - start)
        finally:
            os.close(fd)


def _cpu_waited() -> float:
    """Seconds during which some task waited for a CPU since boot (``nan``: not known)."""
    try:
        with open("/proc/pressure/cpu") as pressure:
            some = pressure.readline().split()
    except OSError:
        return float("nan")
    return int(some[-1].removeprefix("total=")) / 1e6


@dataclass
class Pings:
    """Each setting's rates per round, what the machine did during each of those loads, what
    was acknowledged and stored, the rounds' ratios."""

    rates: dict[str, list[float]]
    machine: dict[str, list[Machine]]
    acknowledged: dict[str, int]
    stored: dict[str, int]
    lost: list[str]  # acknowledged run ids not in the database (must stay empty)

    def ratios(self, setting: str) -> list[float]:
        """Each round's rate of ``setting`` over the baseline's."""
        pairs = zip(self.rates[setting], self.rates[BASELINE], strict=True)
        return [rate / baseline for rate, baseline in pairs]


def bench_pings(
    *, duration: float, rounds: int, connections: list[int], loadgen: str
) -> dict[int, Pings]:
    """The same servers take ``rounds`` rounds at each number of ``connections`` in turn
    (the first one's rounds first, as the database grows the same way for every setting)."""
    from cronwatch.storage import open_database
    from cronwatch.storage.keys import KeyStore

    generate = wrk if loadgen == "wrk" else python_loadgen
    results = {
        n: Pings({s: [] for s in SETTINGS}, {s: [] for s in SETTINGS},
                 dict.fromkeys(SETTINGS, 0), dict.fromkeys(SETTINGS, 0), [])
        for n in connections
    }  # fmt: skip
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
        with contextlib.ExitStack() as servers:
            targets = {}
            for setting in SETTINGS:
                base_url = servers.enter_context(
                    running(serve_argv(setting, urls[setting], ports[setting]), ports[setting], env)
                )
                targets[setting] = f"{base_url}/ping/{keys[setting]}/bench-job?host=bench"
            probe = servers.enter_context(MachineProbe(directory))
            for target in targets.values():
                generate(target, connections[0], 1, "warm")  # warm-up
            for count, pings in results.items():
                for round_ in range(rounds):
                    # Rotate which goes first: none always gets the fresher machine.
                    names = list(SETTINGS)
                    order = names[round_ % len(names) :] + names[: round_ % len(names)]
                    for setting in order:
                        prefix = f"c{count}r{round_}"  # every request has its own run id
                        with probe.measuring() as machine:
                            load = generate(targets[setting], count, duration, prefix)
                        time.sleep(0.5)  # let the last batch commit
                        pings.rates[setting].append(load.rate)
                        pings.machine[setting] += machine
                        round_stored, round_lost, _ = account(urls[setting], prefix, load, count)
                        pings.acknowledged[setting] += load.ok
                        pings.stored[setting] += round_stored
                        pings.lost += [f"{setting} {item}" for item in round_lost]
    return results


def bench_records(calls: int = 300) -> dict[str, float]:
    """Seconds per ``record_success`` (one commit each) with each setting, interleaved."""
    import cronwatch
    from cronwatch.storage.dialect import SQLite

    base = os.environ.get("CRONWATCH_BENCH_DIR") or os.path.expanduser("~")
    settings = ("FULL", "NORMAL")
    samples: dict[str, list[float]] = {s: [] for s in settings}
    counter = itertools.count()
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    with tempfile.TemporaryDirectory(prefix=".cronwatch-bench-", dir=base) as directory:
        monitors = {}
        for setting in settings:
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
    parser.add_argument(
        "--more-connections",
        type=int,
        default=256,
        help="also this many connections, for information (0: not)",
    )
    parser.add_argument(
        "--loadgen", choices=["wrk", "python"], default="wrk" if shutil.which("wrk") else "python"
    )
    parser.add_argument("--target", type=float, default=0.90)
    args = parser.parse_args()
    counts = [args.connections] + ([args.more_connections] if args.more_connections else [])
    results = bench_pings(
        duration=args.duration, rounds=args.rounds, connections=counts, loadgen=args.loadgen
    )
    records = bench_records()
    pings = results[args.connections]
    ratio = statistics.median(pings.ratios("durable"))
    lost = any(p.lost for p in results.values())
    ok = ratio >= args.target and not lost
    rows = _ping_rows(pings, f"target >= {args.target}")
    for count in counts[1:]:
        rows += [
            ("", ""),
            (f"{count} connections", "(information: batches of more pings)"),
            *_ping_rows(results[count], "information"),
        ]
    report(
        f"durable commits on SQLite: cronwatch serve pings/s, durable (NORMAL + WAL synced "
        f"before answering) and FULL vs NORMAL "
        f"({args.loadgen}, {args.connections} connections, {args.rounds} x {args.duration:g}s)",
        [
            *rows,
            ("record_success FULL", f"{records['FULL'] * 1e3:9.2f} ms   (one commit, one fsync)"),
            ("record_success NORMAL", f"{records['NORMAL'] * 1e3:9.2f} ms   (information only)"),
            verdict(ok, "PINGS LOST" if lost else "BELOW TARGET"),
        ],
    )  # fmt: skip
    exit_with_verdicts([ok])


def _ping_rows(pings: Pings, target: str) -> list[tuple[str, str]]:
    """A report's rows for one number of connections: rates, ratios to the baseline, what the
    machine did during each round's loads (in the order of :data:`SETTINGS`), what was
    acknowledged and stored."""
    rates, machine = pings.rates, pings.machine
    rounds = list(zip(*(machine[s] for s in SETTINGS), strict=True))
    everything = [m for ms in machine.values() for m in ms]
    order = "/".join(SETTINGS)
    return [
        *((f"pings/s {s}", f"{statistics.median(rates[s]):9.0f}   (rounds: "
           + ", ".join(f"{r:.0f}" for r in rates[s]) + ")") for s in SETTINGS),
        *((f"{s} / {BASELINE}", f"{statistics.median(pings.ratios(s)):9.2f}   (median of the "
           "rounds' ratios: " + ", ".join(f"{r:.2f}" for r in pings.ratios(s))
           + f"; {target if s == 'durable' else 'information'})")
          for s in SETTINGS if s != BASELINE),
        ("disk fdatasync", f"{statistics.median(m.fsync for m in everything) * 1e3:9.2f} ms"
         f"   (median during each round's {order} load: "
         + ", ".join("/".join(f"{m.fsync * 1e3:.2f}" for m in r) for r in rounds) + ")"),
        ("CPU waited for", f"{statistics.median(m.cpu_waiting for m in everything):9.2f}"
         f"      (share of the time some task waited for a CPU, {order}: "
         + ", ".join("/".join(f"{m.cpu_waiting:.2f}" for m in r) for r in rounds) + ")"),
        *((f"acknowledged / stored {s}", f"{pings.acknowledged[s]:9d} / {pings.stored[s]}")
          for s in SETTINGS),
    ]  # fmt: skip


if __name__ == "__main__":
    main()
