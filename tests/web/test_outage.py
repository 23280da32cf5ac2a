"""A database outage as the server's clients and its log see it: a full disk under SQLite and
a PostgreSQL that went away are 503 with ``Retry-After`` and "database unavailable", never a
500 nor the database's user, host, port or name; ``/healthz`` says so; the log has one line
when it starts and one when it ends, not one per request; and it all recovers by itself."""

from __future__ import annotations

import errno
import logging
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from cronwatch.alerts.loop import AlertLoop
from cronwatch.web.outage import MESSAGE
from tests.support.databases import PostgresServer
from tests.support.proxy import TcpProxy
from tests.support.server import LiveServer, count_runs, create_key, serve

UNAVAILABLE = {"error": "unavailable", "message": MESSAGE}


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 8 MB filesystem (tmpfs), mounted for the test: it fills up for real."""
    mount = tmp_path / "disk"
    mount.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
                             capture_output=True, text=True, check=False)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (root or CAP_SYS_ADMIN is needed): "
                    f"{mounted.stderr.strip()}")  # fmt: skip
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(directory: Path) -> Path:
    """Write a file in ``directory`` until the filesystem is full."""
    ballast = directory / "ballast"
    with ballast.open("wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return ballast


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"].isdigit()
    assert response.json() == UNAVAILABLE


def test_a_full_disk_is_an_outage_logged_once_and_recovered(small_disk: Path) -> None:
    """The real ``cronwatch serve`` with its SQLite database on a disk that fills up."""
    url = f"sqlite:///{small_disk / 'cronwatch.db'}"
    key = create_key(url, "ping")
    acknowledged = 0
    with serve(url, options=("--no-alerts",)) as (base, process), \
            httpx.Client(base_url=base, timeout=30) as http:  # fmt: skip
        assert http.get(f"/ping/{key}/before?host=h").status_code == 200
        acknowledged += 1
        ballast = fill(small_disk)
        statuses = []
        for i in range(300):  # the WAL may take a few more pages before the disk says no
            response = http.post(f"/ping/{key}/job-{i}?host=h", content=b"x" * 4000)
            statuses.append(response.status_code)
            if response.status_code == 503:
                break
            acknowledged += 1
        assert set(statuses) <= {200, 503} and statuses[-1] == 503, statuses
        for i in range(30):
            assert_unavailable(http.post(f"/ping/{key}/during-{i}?host=h", content=b"y" * 4000))
        assert_unavailable(http.get("/healthz"))
        run = {"name": "api-run", "hostname": "h", "run_id": "r1", "outcome": "success",
               "date_started": "2026-11-28T03:00:00Z",
               "date_completed": "2026-11-28T03:01:00Z"}  # fmt: skip
        assert_unavailable(http.post("/api/v1/runs", json=run,
                                     headers={"Authorization": f"Bearer {key}"}))  # fmt: skip
        assert_unavailable(http.get("/healthz"))

        ballast.unlink()  # room again: the server notices by itself
        assert http.get("/healthz").status_code == 200
        assert http.get(f"/ping/{key}/after?host=h").status_code == 200
        acknowledged += 1
    log = process.stdout.read()  # type: ignore[union-attr]
    assert "Traceback" not in log and " 500" not in log, log
    assert log.count("database unavailable:") == 1, log
    assert "database or disk is full" in log  # the details are in the log ...
    assert log.count("database available again") == 1, log
    assert count_runs(url) == acknowledged  # ... and every acknowledged ping is stored, no more


@pytest.fixture
def away(postgres: PostgresServer) -> Iterator[tuple[str, TcpProxy, str]]:
    """A PostgreSQL database behind a TCP proxy that the test stops and starts: its URL (through
    the proxy), the proxy, and the database's name."""
    real = postgres.create_database()
    parts = urlsplit(real)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    proxy.start()
    url = real.replace(parts.netloc, f"{parts.username}@127.0.0.1:{proxy.port}")
    try:
        yield url, proxy, parts.path.lstrip("/")
    finally:
        proxy.stop()


def test_postgresql_away_shows_no_database_details_to_anyone(
    away: tuple[str, TcpProxy, str], caplog: pytest.LogCaptureFixture
) -> None:
    url, proxy, dbname = away
    key = create_key(url, "ping")
    fake = f"cwp_{secrets.token_urlsafe(24)}"  # well-shaped, unknown: no key needed to see it
    caplog.set_level(logging.INFO, logger="cronwatch")
    with LiveServer(url) as live, httpx.Client(base_url=live.url, timeout=30) as http:
        proxy.stop()
        answers = [
            http.get(f"/ping/{fake}/job"),
            http.get(f"/ping/{key}/job"),
            http.get("/healthz"),
            http.get("/api/v1/jobs", headers={"Authorization": f"Bearer {fake}"}),
            http.get("/"),  # the dashboard, open on loopback
            http.get("/metrics"),
        ]
        for answer in answers:
            assert answer.status_code == 503, (answer.request.url, answer.text)
            assert answer.headers["retry-after"].isdigit()
            assert "database unavailable" in answer.text
            for secret in ("postgres", "127.0.0.1", str(proxy.port), dbname):
                assert secret not in answer.text, (answer.request.url, secret)
        proxy.start()
        assert http.get("/healthz").status_code == 200
        assert http.get(f"/ping/{key}/job").status_code == 200
    outage = [r for r in caplog.records if r.name == "cronwatch.web.outage"]
    assert [r.levelname for r in outage] == ["ERROR", "WARNING"], [r.message for r in outage]
    assert str(proxy.port) in outage[0].getMessage()  # the details, for the operator
    assert "available again" in outage[1].getMessage()
    assert not [r for r in caplog.records if r.exc_info], "no traceback for an outage"


def test_the_alert_loop_logs_an_outage_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    home = tmp_path / "not-yet"
    loop = AlertLoop(f"sqlite:///{home / 'cronwatch.db'}", None)
    caplog.set_level(logging.INFO, logger="cronwatch")
    assert [loop.run_once() for _ in range(3)] == [None] * 3
    home.mkdir()
    assert loop.run_once() is not None
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "cronwatch.alerts"]
    assert [level for level, _ in lines] == ["ERROR", "WARNING"], lines
    assert "database unavailable" in lines[0][1] and "available again" in lines[1][1]
    assert not [r for r in caplog.records if r.exc_info]


def test_a_silent_postgresql_gets_503_and_unhealthy_and_everything_recovers(
    away: tuple[str, TcpProxy, str],
) -> None:
    """Packets dropped, nothing reset (the proxy stops forwarding and keeps every connection
    open): pings, the API and /healthz are answered 503 by the server's database deadline
    (here 2 s) instead of hanging (120 s and more before; the client's 30 s timeout would
    fail this test), nothing is stored; when the database answers again, everything works
    with no restart and the acknowledged pings are stored."""
    url, proxy, _ = away
    key = create_key(url, "ping")
    write_key = create_key(url, "write")
    with (
        LiveServer(url, database_timeout=2) as live,
        httpx.Client(base_url=live.url, timeout=30) as http,
    ):
        assert http.get(f"/ping/{key}/job").status_code == 200
        proxy.pause()
        try:
            silent = [
                http.get(f"/ping/{key}/job"),
                http.get(f"/ping/{key}/job/start", params={"rid": "r1"}),
                http.get("/healthz"),
                http.get("/api/v1/jobs", headers={"Authorization": f"Bearer {write_key}"}),
                http.get(f"/ping/{key}/job"),  # the writer's new connection: connect deadline
                http.get("/healthz"),
            ]
        finally:
            proxy.resume()
        for answer in silent:
            assert answer.status_code == 503, (answer.request.url, answer.text)
            assert "database unavailable" in answer.text and answer.headers["retry-after"]
        deadline = time.monotonic() + 30
        while http.get("/healthz").status_code != 200:
            assert time.monotonic() < deadline, "/healthz did not recover"
            time.sleep(0.2)
        assert http.get(f"/ping/{key}/job").status_code == 200
        jobs = http.get("/api/v1/jobs", headers={"Authorization": f"Bearer {write_key}"})
        assert jobs.status_code == 200
    # The two acknowledged pings are stored. A refused one may be too: its statement, held by
    # the network, can still reach the database when it answers again (as with lost packets
    # that TCP retransmits), and a client retrying it then has it once (pings are idempotent
    # only with a rid; a plain ping twice is two runs, as on any timeout).
    assert count_runs(url) >= 2
