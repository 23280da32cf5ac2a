"""The memory a ``cronwatch serve`` process spends on a 100 MB request header, and what three
clients streaming 96 MB headers at once do to pings meanwhile.

A real ``cronwatch serve`` (SQLite, no alert loop) is started and warmed up with pings; then a
raw socket sends ``GET /healthz`` with one header of 100 MB, as fast as the server takes it,
until the server closes. The server's resident memory (``VmRSS``) and its peak (``VmHWM``) are
read from ``/proc`` before and after. Then three clients each stream a 96 MB header while a
fourth sends pings one after the other: the slowest ping and the failed ones are shown.

Target (issue "Hardening", item 2): RSS, and its peak, grow by less than 20 MB. Before the
header limit a 256 MB header was taken whole (RSS 298 MB) and the three streams stalled pings
for up to 19 s.

    python -m bench.bench_header_rss [--size-mb 100] [--target-mb 20]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from bench.common import exit_with_verdicts, report, scratch_database, verdict

TARGET_MB = 20.0


def memory_kb(pid: int) -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` (peak) of ``pid``, in kB."""
    values = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0])
    return values


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(url: str, *options: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A ``cronwatch serve`` process (no alert loop, with ``options``) on a free port, ready."""
    port = free_port()
    argv = [sys.executable, "-m", "cronwatch.cli", "--database-url", url, "serve", "--port",
            str(port), "--no-alerts", "--log-level", "warning", *options]  # fmt: skip
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("cronwatch serve did not start")
            time.sleep(0.1)
        yield base, process
    finally:
        process.terminate()
        process.wait(30)


def send_header(port: int, size: int) -> tuple[int, str]:
    """Stream one header of ``size`` bytes; (bytes the server took, how it ended)."""
    chunk = b"a" * 65536
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\nX-Big: ")
            while sent < size:
                sock.sendall(chunk)
                sent += len(chunk)
            sock.sendall(b"\r\n\r\n")
            answer = sock.recv(64).split(b"\r\n")[0].decode(errors="replace")
            return sent, f"answered {answer!r}"
        except OSError as exc:
            return sent, f"closed by the server ({type(exc).__name__})"


def pings_during_streams(base: str, key: str, port: int, size: int) -> tuple[int, int, float]:
    """(pings answered 200, pings failed, slowest ping in seconds) while three clients each
    stream a ``size``-byte header."""
    streams = [threading.Thread(target=send_header, args=(port, size)) for _ in range(3)]
    for stream in streams:
        stream.start()
    ok = failed = 0
    slowest = 0.0
    with httpx.Client(base_url=base, timeout=30) as http:
        while any(stream.is_alive() for stream in streams) or ok + failed < 20:
            started = time.monotonic()
            try:
                answered = http.get(f"/ping/{key}/bench-victim?host=bench").status_code == 200
            except httpx.HTTPError:
                answered = False
            slowest = max(slowest, time.monotonic() - started)
            ok, failed = (ok + 1, failed) if answered else (ok, failed + 1)
            time.sleep(0.05)
    for stream in streams:
        stream.join()
    return ok, failed, slowest


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=float, default=100.0)
    parser.add_argument("--target-mb", type=float, default=TARGET_MB)
    args = parser.parse_args()
    size = int(args.size_mb * 2**20)
    from cronwatch.storage import open_database
    from cronwatch.storage.keys import KeyStore

    with scratch_database("sqlite") as url:
        with open_database(url) as db:
            key = KeyStore(db).create("ping", "bench")[1]
        with serving(url) as (base, process), httpx.Client(base_url=base, timeout=30) as http:
            port = int(base.rpartition(":")[2])
            for _ in range(300):  # warm-up: the steady state a ping server runs in
                http.get(f"/ping/{key}/bench-warmup?host=bench")
            before = memory_kb(process.pid)
            took, ending = send_header(port, size)
            time.sleep(0.5)
            after = memory_kb(process.pid)
            still = http.get("/healthz").status_code
            ok, failed, slowest = pings_during_streams(base, key, port, 96 * 2**20)
    grown = (after["VmRSS"] - before["VmRSS"]) / 1024
    peak = (after["VmHWM"] - before["VmHWM"]) / 1024
    good = grown < args.target_mb and peak < args.target_mb and still == 200
    report(
        f"cronwatch serve and a {args.size_mb:g} MB request header",
        [
            ("RSS before", f"{before['VmRSS'] / 1024:.1f} MB"),
            (
                "RSS after",
                f"{after['VmRSS'] / 1024:.1f} MB   (grew {grown:+.1f} MB; "
                f"target < {args.target_mb:g} MB)",
            ),
            ("peak RSS grew", f"{peak:+.1f} MB"),
            ("header sent", f"{took / 2**20:.1f} MB of {args.size_mb:g} MB, {ending}"),
            ("/healthz after", str(still)),
            (
                "3 x 96 MB headers",
                f"pings meanwhile: {ok} ok, {failed} failed, slowest {slowest:.2f}s",
            ),
            verdict(good, "FALLS SHORT"),
        ],
    )
    exit_with_verdicts([good])


if __name__ == "__main__":
    main()
