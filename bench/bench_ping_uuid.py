"""UUID pings (``/ping/<uuid>``) against slug pings (``/ping/<key>/<name>``) on one
``cronwatch serve``, side by side.

Each round measures both forms in turn, under the same load, on the same server and the same
job: a UUID ping costs one more lookup (the batch's UUIDs resolved to their jobs in one query)
and no key check. Every request has its own run id and every acknowledged ping must be stored
(each id looked up with ``--loadgen python``; counted with wrk, see ``bench_ping``). Target
(issue 15): UUID pings at least 90% of the slug pings' rate, as the median of the rounds'
ratios.

    python -m bench.bench_ping_uuid [--dialect sqlite|postgresql|both] [--duration 3]
                                    [--rounds 3] [--connections 64] [--loadgen wrk|python]
"""

from __future__ import annotations

import os
import statistics
import sys
import time

from bench.bench_ping import (
    _median_ratio,
    account,
    free_port,
    python_loadgen,
    run_from_command_line,
    running,
    wrk,
)
from bench.common import report, scratch_database, verdict

TARGET_RATIO = 0.90


def bench(dialect: str, *, duration: float, rounds: int, connections: int, loadgen: str) -> bool:
    from cronwatch.storage import open_database
    from cronwatch.storage.jobs import JobStore
    from cronwatch.storage.keys import KeyStore
    from cronwatch.timeutil import utcnow

    generate = wrk if loadgen == "wrk" else python_loadgen
    rates: dict[str, list[float]] = {"slug pings": [], "UUID pings": []}
    acknowledged = stored = 0
    lost: list[str] = []  # acknowledged run ids not in the database (must stay empty)
    with scratch_database(dialect) as url:
        with open_database(url) as db:
            key = KeyStore(db).create("ping", "bench")[1]
            store = JobStore(db)
            store.create("bench-job", "{}", utcnow())
            record = store.record("bench-job")
            assert record is not None and record.uuid is not None
            uuid = record.uuid
        port = free_port()
        serve = [sys.executable, "-m", "cronwatch.cli", "--database-url", url, "serve",
                 "--port", str(port), "--log-level", "warning",
                 "--rate-limit", "1000000"]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith("CRONWATCH_STATSD")}
        with running(serve, port, env) as cw:
            urls = {
                "slug pings": f"{cw}/ping/{key}/bench-job?host=bench",
                "UUID pings": f"{cw}/ping/{uuid}?host=bench",
            }
            generate(urls["UUID pings"], connections, 1, "warm")  # warm-up
            for number in range(rounds):
                for index, (name, target) in enumerate(urls.items()):
                    prefix = f"r{number}-{index}"  # every request has its own run id
                    load = generate(target, connections, duration, prefix)
                    rates[name].append(load.rate)
                    time.sleep(0.5)  # let the last batch commit
                    round_stored, round_lost, _ = account(url, prefix, load, connections)
                    acknowledged += load.ok
                    stored += round_stored
                    lost += round_lost
    ratio = _median_ratio(rates["UUID pings"], rates["slug pings"])
    ok = ratio >= TARGET_RATIO and not lost
    report(
        f"UUID vs slug pings/s on one cronwatch serve ({dialect}, {loadgen}, "
        f"{connections} connections, {rounds} x {duration:g}s each, median)",
        [
            *((name, f"{statistics.median(values):9.0f} /s") for name, values in rates.items()),
            ("UUID / slug", f"{ratio:9.2f}   (median of the rounds' ratios; target >= 0.90)"),
            ("acknowledged (2xx)", f"{acknowledged:9d}"),
            (
                "stored in the database",
                f"{stored:9d}   (every acknowledged run id stored: {'no' if lost else 'yes'})",
            ),
            *((("lost", ", ".join(lost[:5])),) if lost else ()),
            verdict(ok),
        ],
    )
    return ok


def main() -> None:
    run_from_command_line(bench, duration=3.0, rounds=3)


if __name__ == "__main__":
    main()
