"""A victim's ping throughput while another key sends paired pings to one job, against its
throughput alone, on PostgreSQL; and PostgreSQL's count of deadlocks meanwhile.

A real ``cronwatch serve`` (no alert loop, no rate limit) on a scratch PostgreSQL database.
The victim: 8 connections sending plain pings of their own jobs as fast as answered. The other
key: 16 connections, 8 pairs, each sending a run's ``/start?rid=R`` in the background as its
finish ``?rid=R`` goes (a script's ``curl .../start &``), all for one job and host, paced at
35 requests/s in all as in the issue (far under the rate limit: what is measured is what their
locks cost others, not the server's capacity shared with a second busy client). Each load
generator is a process of its own (no shared GIL); rounds alternate alone / beside the pairs,
so both sides see the same machine load. ``pg_stat_database.deadlocks`` is read before and
after the server stopped (its backends report on exit).

Target (issue "Hardening", item 3): the victim keeps at least half its throughput, and no
deadlock. Before the writers took their locks in one order (an advisory lock per job and host,
``PostgreSQL.lock_job_hosts``), these pairs deadlocked several times a second, and every other
client's pings fell from 11,980 to 108 per 10 s.

    python -m bench.bench_deadlock [--seconds 5] [--rounds 2]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event

import httpx
import psycopg

from bench.bench_header_rss import serving
from bench.common import exit_with_verdicts, report, scratch_database, verdict

TARGET_RATIO = 0.5


def victim(base: str, key: str, seconds: float, out: Queue[int], go: Event) -> None:
    """Plain pings on 8 connections for ``seconds`` from ``go``; puts how many were answered
    200."""
    counts = [0] * 8

    def loop(index: int) -> None:
        with httpx.Client(base_url=base, timeout=30) as http:
            http.get("/healthz")  # connected before the clock starts
            go.wait()
            stop = time.monotonic() + seconds
            while time.monotonic() < stop:
                response = http.get(f"/ping/{key}/victim-{index}", params={"host": "v"})
                counts[index] += response.status_code == 200

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put(sum(counts))


#: Requests per second of the paired pings, all clients together (the issue's load).
PAIRED_RATE = 35.0


def pairs(base: str, key: str, seconds: float, out: Queue[int], go: Event) -> None:
    """8 clients, each a start in the background and its finish, for one job and host, at
    :data:`PAIRED_RATE` requests per second in all, for ``seconds`` from ``go``."""
    counts = [0] * 8
    period = 8 * 2 / PAIRED_RATE  # each client's time per pair

    def loop(index: int) -> None:
        with (
            httpx.Client(base_url=base, timeout=30) as starts,
            httpx.Client(base_url=base, timeout=30) as finishes,
            ThreadPoolExecutor(max_workers=1) as background,
        ):
            starts.get("/healthz")  # connected before the clock starts
            finishes.get("/healthz")
            go.wait()
            stop = time.monotonic() + seconds
            n = 0
            next_pair = time.monotonic() + index * period / 8
            while time.monotonic() < stop:
                time.sleep(max(0.0, next_pair - time.monotonic()))
                next_pair += period
                params = {"rid": f"p{index}-{n}-{time.monotonic_ns()}", "host": "db1"}
                start = background.submit(starts.get, f"/ping/{key}/paired/start", params=params)
                finishes.get(f"/ping/{key}/paired", params=params)
                start.result()
                counts[index] += 1
                n += 1

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put(sum(counts))


def deadlocks(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    return int(row[0]) if row else 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    from cronwatch.storage import open_database
    from cronwatch.storage.keys import KeyStore

    spawn = multiprocessing.get_context("spawn")
    alone: list[float] = []
    beside: list[float] = []
    paired: list[float] = []
    with scratch_database("postgresql") as url:
        with open_database(url) as db:
            victim_key = KeyStore(db).create("ping", "victim")[1]
            pair_key = KeyStore(db).create("ping", "pairs")[1]
        before = deadlocks(url)
        with serving(url, "--rate-limit", "0") as (base, _):
            for _ in range(args.rounds):
                for with_pairs in (False, True):
                    jobs = [(victim, victim_key)] + ([(pairs, pair_key)] if with_pairs else [])
                    queues: list[Queue[int]] = [spawn.Queue() for _ in jobs]
                    go = spawn.Event()  # the processes' start-up (imports) is not measured
                    loads = [
                        spawn.Process(target=target, args=(base, key, args.seconds, queue, go))
                        for (target, key), queue in zip(jobs, queues, strict=True)
                    ]
                    for load in loads:
                        load.start()
                    time.sleep(3)
                    go.set()
                    counts = [queue.get(timeout=args.seconds + 120) for queue in queues]
                    for load in loads:
                        load.join()
                    (beside if with_pairs else alone).append(counts[0] / args.seconds)
                    if with_pairs:
                        paired.append(counts[1] / args.seconds)
        after = deadlocks(url)
    ratio = statistics.median(beside) / statistics.median(alone)
    good = ratio >= TARGET_RATIO and after == before
    report(
        "PostgreSQL: a victim's pings beside paired pings of one job and host",
        [
            ("victim alone", f"{statistics.median(alone):,.0f} pings/s"),
            ("victim beside the pairs", f"{statistics.median(beside):,.0f} pings/s"),
            ("pairs meanwhile", f"{statistics.median(paired):,.1f} runs/s (start + finish)"),
            ("ratio", f"{ratio:.2f} (target >= {TARGET_RATIO})"),
            ("deadlocks", f"{after - before} (target 0)"),
            verdict(good, "FALLS SHORT"),
        ],
    )
    exit_with_verdicts([good])


if __name__ == "__main__":
    main()
