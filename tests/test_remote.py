"""Recording through a server (``$CRONWATCH_URL``): ``cronwatch run`` and the library record
over HTTP; with the server away runs wait in the spool, and arrive once when it is back. On
SQLite and PostgreSQL behind a real server."""

from __future__ import annotations

import contextlib
import dataclasses
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from cronwatch import remote
from cronwatch.errors import CronwatchError, InvalidInput, StorageUnavailable
from cronwatch.model import Run
from cronwatch.monitor import make_run
from cronwatch.spool import Spool
from cronwatch.statsd import StatsdClient
from tests.support.receivers import StatsdReceiver
from tests.support.server import LiveServer, create_key, query

T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def cronwatch(
    server_url: str, key: str, *args: str, database_url: str | None = None
) -> subprocess.CompletedProcess[bytes]:
    """``cronwatch ARGS...`` in a process of its own, recording through ``server_url``."""
    env = dict(os.environ, CRONWATCH_URL=server_url, CRONWATCH_PING_KEY=key)
    if database_url is not None:
        env["CRONWATCH_DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "cronwatch.cli", *args], capture_output=True, env=env, timeout=120
    )


def cronwatch_run(
    server_url: str, key: str, name: str, *command: str, database_url: str | None = None
) -> subprocess.CompletedProcess[bytes]:
    return cronwatch(server_url, key, "run", name, "--", *command, database_url=database_url)


def stored(url: str, name: str) -> list[tuple[str, str, int | None, str | None]]:
    sql = "SELECT run_id, outcome, exit_code, output FROM runs WHERE name = ? ORDER BY started_us"
    return query(url, sql, (name,))


def test_cronwatch_run_records_through_the_server(database_url: str, tmp_path: Path) -> None:
    key = create_key(database_url, "ping")
    elsewhere = f"sqlite:///{tmp_path / 'not-used.db'}"
    with LiveServer(database_url) as live:
        command = ("sh", "-c", "echo made it; exit 3")
        result = cronwatch_run(live.url, key, "report", *command, database_url=elsewhere)
    assert result.returncode == 3 and result.stdout == b"made it\n"
    assert result.stderr == b""
    [(run_id, outcome, exit_code, output)] = stored(database_url, "report")
    assert (outcome, exit_code, output) == ("failure", 3, "made it\n")
    assert len(run_id) == 32
    assert not (tmp_path / "not-used.db").exists(), "the database is not touched"


def test_server_away_then_back_delivers_every_run_once(database_url: str) -> None:
    key = create_key(database_url, "ping")
    live = LiveServer(database_url).start()
    port, url = live.port, live.url
    live.stop()  # the server goes away
    results = [
        cronwatch_run(url, key, "nightly", "sh", "-c", f"echo run {i}; exit {i}") for i in range(2)
    ]
    for i, result in enumerate(results):
        assert result.returncode == i, "the command's exit code passes through"
        assert result.stdout == f"run {i}\n".encode()
        assert b"kept in the spool" in result.stderr and b"unreachable" in result.stderr
    spool = Spool.for_target(url)
    assert len(spool.pending()) == 2
    assert stored(database_url, "nightly") == []

    with LiveServer(database_url, port=port):  # back, on the same address
        result = cronwatch_run(url, key, "nightly", "true")
        assert result.returncode == 0 and result.stderr == b"", result.stderr
        rows = stored(database_url, "nightly")
        assert [(outcome, code, out) for _, outcome, code, out in rows] == [
            ("success", 0, "run 0\n"),
            ("failure", 1, "run 1\n"),
            ("success", 0, ""),
        ]
        assert spool.pending() == []
        cronwatch_run(url, key, "other", "true")  # a later run sends nothing twice
        assert len(stored(database_url, "nightly")) == 3


def test_a_refused_key_is_a_configuration_error_and_the_run_is_kept(database_url: str) -> None:
    read_key = create_key(database_url, "read")  # cannot record
    with LiveServer(database_url) as live:
        spool = Spool.for_target(live.url)
        for key, status in ((read_key, b"403"), ("cwp_" + "C" * 32, b"401"), ("", b"no key")):
            result = cronwatch_run(live.url, key, "job", "sh", "-c", "echo hi; exit 3")
            assert result.returncode == 3 and result.stdout == b"hi\n"
            (line,) = result.stderr.splitlines()  # one line, naming the fix
            assert line.startswith(b"cronwatch: configuration error: ") and status in line
            assert b"cronwatch key create --scope ping" in line and b"$CRONWATCH_PING_KEY" in line
            assert b"kept in the spool" in line
            assert b"unreachable" not in line and b"away" not in line, "not an outage"
        assert len(spool.pending()) == 3
        assert stored(database_url, "job") == []

        fixed = cronwatch_run(live.url, create_key(database_url, "ping"), "job", "true")
        assert fixed.returncode == 0 and fixed.stderr == b""
        assert len(stored(database_url, "job")) == 4, "the kept runs arrive once it is fixed"
        assert spool.pending() == []


def test_remote_store_save_is_idempotent_and_errors_are_classified(database_url: str) -> None:
    key = create_key(database_url, "ping")
    end = T0 + timedelta(minutes=1)
    run = make_run("lib", T0, end, outcome="success", hostname="h", run_id="lib-1")
    with LiveServer(database_url) as live:
        store = remote.RemoteStore(live.url, key)
        assert store.save(run) is True
        assert store.save(run) is False
        # The library refuses this run id too (one rule): built around make_run, it shows
        # that the server refuses what it is sent, whatever the client checked.
        bad = dataclasses.replace(run, run_id="run#1")
        with pytest.raises(InvalidInput, match="400"):
            store.save(bad)
        with pytest.raises(remote.ClientConfigError, match="401"):
            remote.RemoteStore(live.url, "cwp_" + "C" * 32).save(run)
        with pytest.raises(remote.ClientConfigError, match=r"404.*CRONWATCH_URL"):
            remote.RemoteStore(live.url + "/wrong/prefix", key).save(run)
    with pytest.raises(StorageUnavailable, match="unreachable") as away:
        remote.RemoteStore(live.url, key).save(run)
    assert not isinstance(away.value, remote.ClientConfigError)
    assert len(query(database_url, "SELECT 1 FROM runs")) == 1


@pytest.mark.parametrize("status", [429, 500, 503])
def test_busy_or_failing_server_is_an_outage_and_runs_are_spooled(status: int) -> None:
    with AnsweringServer(status) as server:
        with pytest.raises(StorageUnavailable, match=str(status)) as busy:
            remote.RemoteStore(server.url, "cwp_" + "E" * 32).save(_a_run())
        assert not isinstance(busy.value, remote.ClientConfigError)
        result = cronwatch_run(server.url, "cwp_" + "E" * 32, "busy", "sh", "-c", "exit 2")
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert b"could not record" in line and str(status).encode() in line
    assert b"kept in the spool" in line
    assert len(Spool.for_target(server.url).pending()) == 1


def test_a_server_that_never_answers_costs_the_deadline_not_more(tmp_path: Path) -> None:
    with SilentServer() as silent:
        store = remote.RemoteStore(silent.url, "cwp_" + "F" * 32, timeout=1.0)
        with pytest.raises(StorageUnavailable, match="did not answer within 1 s"):
            store.save(_a_run())
        assert silent.requests_received() >= 1, "the request went out: the answer never came"


def test_a_server_that_answers_a_byte_at_a_time_is_cut_at_the_deadline() -> None:
    # Each read gets a byte well within the read timeout: only the total deadline ends it.
    with SilentServer(drip=b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000) as drip:
        store = remote.RemoteStore(drip.url, "cwp_" + "F" * 32, timeout=1.5)
        with pytest.raises(StorageUnavailable, match=r"did not answer within 1\.5 s"):
            store.save(_a_run())
        assert drip.dripped >= 2


def test_cronwatch_run_against_a_silent_server_spools_the_run(tmp_path: Path) -> None:
    """The server accepts the connection and never answers: `run` gives up after its 5 s
    budget (the issue saw 30 s), keeps the run, and exits as the command did."""
    with SilentServer() as silent:
        result = cronwatch_run(silent.url, "cwp_" + "G" * 32, "quiet", "sh", "-c", "exit 3")
        assert silent.requests_received() >= 1
    assert result.returncode == 3
    (line,) = result.stderr.splitlines()
    assert b"did not answer within 5 s" in line and b"kept in the spool" in line
    (path,) = Spool.for_target(silent.url).pending()
    assert json.loads(path.read_text())["exit_code"] == 3


def test_spool_commands_work_on_the_server_target(database_url: str, tmp_path: Path) -> None:
    """`spool list` and `spool flush` use the target `run` uses: with $CRONWATCH_URL, the
    server's spool, and never a database of their own."""
    key = create_key(database_url, "ping")
    live = LiveServer(database_url).start()
    port, url = live.port, live.url
    live.stop()
    for i in range(2):
        assert cronwatch_run(url, key, "away", "sh", "-c", f"exit {i}").returncode == i
    local_db = f"sqlite:///{tmp_path / 'local.db'}"
    Spool.for_target(local_db).put(_a_run())  # another target's spool, for --all

    listed = cronwatch(url, key, "spool", "list")
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == 2
    assert listed.stderr == f"2 run(s) waiting for {url}\n".encode()
    every = cronwatch(url, key, "spool", "list", "--all")
    assert len(every.stdout.splitlines()) == 3
    assert f"2 run(s) waiting for {url}".encode() in every.stderr
    assert f"1 run(s) waiting for {local_db}".encode() in every.stderr

    refused = cronwatch(url, key, "spool", "flush")  # still away: an error, nothing lost
    assert refused.returncode == 2 and b"2 run(s) still waiting" in refused.stderr
    with LiveServer(database_url, port=port):
        flushed = cronwatch(url, key, "spool", "flush")
    assert flushed.returncode == 0, flushed.stderr
    assert flushed.stdout == b"sent 2 run(s); 0 still waiting\n"
    assert [row[1] for row in stored(database_url, "away")] == ["success", "failure"]
    data_dir = Path(os.environ["XDG_DATA_HOME"]) / "cronwatch"
    assert not list(data_dir.glob("*.db")), "no stray SQLite file on a host without a database"
    assert not (tmp_path / "local.db").exists()
    assert len(Spool.for_target(local_db).pending()) == 1, "another target's spool is left alone"


def _a_run() -> Run:
    return make_run("lib", T0, T0 + timedelta(seconds=1), outcome="success", hostname="h")


class AnsweringServer:
    """A real HTTP server on loopback that answers every request with one status."""

    def __init__(self, status: int) -> None:
        answer = status

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = json.dumps({"message": f"status {answer}"}).encode()
                self.send_response(answer)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> AnsweringServer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class SilentServer:
    """Accepts TCP connections, reads what comes, and never answers (or, with ``drip``,
    sends those bytes one at a time, 0.2 s apart)."""

    def __init__(self, drip: bytes = b"") -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.drip = drip
        self.dripped = 0
        self.received = bytearray()
        self.connections: list[socket.socket] = []
        self.stopped = threading.Event()

    def requests_received(self) -> int:
        return bytes(self.received).count(b"POST /api/v1/runs")

    def __enter__(self) -> SilentServer:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.listener.close()
        for connection in self.connections:
            connection.close()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections.append(connection)
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        connection.settimeout(0.2)
        try:
            while not self.stopped.is_set():
                with contextlib.suppress(TimeoutError):
                    data = connection.recv(65536)
                    if not data:
                        return  # the client gave up
                    self.received += data
                if self.dripped < len(self.drip):
                    connection.sendall(self.drip[self.dripped : self.dripped + 1])
                    self.dripped += 1
        except OSError:
            return


def test_the_library_records_and_reads_through_the_server(database_url: str) -> None:
    key = create_key(database_url, "write")
    with LiveServer(database_url) as live, remote.connect(live.url, key=key) as monitor:
        run = monitor.record_success("lib-job", T0, T0 + timedelta(seconds=90), hostname="h1")
        later = T0 + timedelta(hours=1)
        monitor.record_failure("lib-job", later, later + timedelta(seconds=5), 2, hostname="h1")
        with monitor.track("tracked", hostname="h2"):
            pass
        last = monitor.last_activity("lib-job")
        assert last == run
        assert [r.outcome for r in monitor.history("lib-job")] == ["failure", "success"]
        assert monitor.last_activity("never") is None
        with pytest.raises(CronwatchError, match="/api/v1/status"):
            monitor.status()
    assert [row[1] for row in stored(database_url, "tracked")] == ["success"]


def test_the_server_url_and_key_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CRONWATCH_URL", "https://cron.example.com/base/")
    monkeypatch.setenv("CRONWATCH_PING_KEY", "cwp_" + "D" * 32)
    assert remote.url_from_env() == "https://cron.example.com/base"
    monitor = remote.connect()
    assert monitor.remote.url == "https://cron.example.com/base"
    assert monitor.remote.key == "cwp_" + "D" * 32
    with pytest.raises(InvalidInput, match="http"):
        remote.RemoteStore("ftp://x", None)


def test_library_connect_records_through_the_server_and_spools_while_away(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cronwatch

    key = create_key(database_url, "ping")
    live = LiveServer(database_url).start()
    port, url = live.port, live.url
    monkeypatch.setenv("CRONWATCH_URL", url)
    monkeypatch.setenv("CRONWATCH_PING_KEY", key)
    t0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
    monitor = cronwatch.connect()  # $CRONWATCH_URL wins: no database credentials needed
    assert isinstance(monitor, remote.RemoteMonitor)
    monitor.record_success("lib-job", t0, t0 + timedelta(minutes=1), "h")
    assert len(stored(database_url, "lib-job")) == 1

    live.stop()  # away: the library call still returns, the run waits in the spool
    later = t0 + timedelta(hours=1)
    run = monitor.record_failure("lib-job", later, later + timedelta(minutes=1), 3, "h")
    assert run.exit_code == 3
    assert len(Spool.for_target(url).pending()) == 1
    assert len(stored(database_url, "lib-job")) == 1

    with LiveServer(database_url, port=port):  # back: the next call delivers both, once
        monitor.record_success("lib-job", t0 + timedelta(hours=2), t0 + timedelta(hours=2), "h")
        outcomes = sorted(o for _, o, _, _ in stored(database_url, "lib-job"))
        assert outcomes == ["failure", "success", "success"]
        assert Spool.for_target(url).pending() == []
    with pytest.raises(InvalidInput):  # invalid input is still an error, never spooled
        monitor.record_success("bad/name", t0, t0, "h")
    assert Spool.for_target(url).pending() == []


VALID_RUN_IDS = ("r1", "job-1", "host:1234", "a.b_c~d", "0" * 64, "2026-11-28T03.00")
INVALID_RUN_IDS = ("job/1", "a b", "run#1", "a?b", "é", "r" * 65, "tab\t", "%41", "")


def _accepted(call: Callable[[], object]) -> bool:
    try:
        call()
    except InvalidInput:
        return False
    return True


@pytest.mark.parametrize("run_id", VALID_RUN_IDS + INVALID_RUN_IDS)
def test_the_run_id_rule_is_the_same_locally_and_through_a_server(
    server: LiveServer, database_url: str, monkeypatch: pytest.MonkeyPatch, run_id: str
) -> None:
    """A run id the library takes is taken through a server ($CRONWATCH_URL), by POST
    /api/v1/runs and by a ping's ?rid=, and one it refuses is refused by each of them, writing
    nothing."""
    import cronwatch

    key = create_key(database_url, "ping")
    monkeypatch.setenv("CRONWATCH_URL", server.url)
    monkeypatch.setenv("CRONWATCH_PING_KEY", key)
    valid = make_run("api", T0, T0, outcome="success", hostname="h", run_id="placeholder")
    with (
        cronwatch.connect(database_url, statsd=False) as local,
        cronwatch.connect() as through_server,
        httpx.Client(base_url=server.url) as http,
    ):
        assert isinstance(through_server, remote.RemoteMonitor)
        verdicts = {
            "local monitor": _accepted(lambda: local.start("local", "h", run_id=run_id)),
            "remote monitor": _accepted(lambda: through_server.start("remote", "h", run_id=run_id)),
            # The server's own check, whatever the client checked before sending.
            "POST /api/v1/runs": _accepted(
                lambda: remote.RemoteStore(server.url, key).save(
                    dataclasses.replace(valid, run_id=run_id)
                )
            ),
            "ping ?rid=": http.get(
                f"/ping/{key}/ping/start", params={"host": "h", "rid": run_id}
            ).status_code
            == 200,
        }
    expected = run_id in VALID_RUN_IDS
    assert verdicts == dict.fromkeys(verdicts, expected)
    stored_ids = {row[0] for row in query(database_url, "SELECT run_id FROM runs")}
    assert stored_ids == ({run_id} if expected else set())
    assert not Spool.for_target(server.url).pending(), "nothing set aside for later"


def test_with_cronwatch_url_the_server_sends_the_statsd_timing_not_the_host(
    database_url: str, statsd_receiver: StatsdReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The host has ``$CRONWATCH_STATSD_*`` set (its own receiver) and records through the
    server (``$CRONWATCH_URL``), by ``cronwatch run`` and by the library: the server's receiver
    gets one timing per successful run, the host's gets none (no timing twice)."""
    import cronwatch

    key = create_key(database_url, "ping")
    server_side = StatsdReceiver()
    statsd = StatsdClient("127.0.0.1", server_side.port, environment="server")
    monkeypatch.setenv("CRONWATCH_STATSD_HOST", "127.0.0.1")
    monkeypatch.setenv("CRONWATCH_STATSD_PORT", str(statsd_receiver.port))
    monkeypatch.setenv("CRONWATCH_STATSD_ENV", "host")
    try:
        with LiveServer(database_url, statsd=statsd) as live:
            assert cronwatch_run(live.url, key, "by-run", "true").returncode == 0
            monkeypatch.setenv("CRONWATCH_URL", live.url)
            monkeypatch.setenv("CRONWATCH_PING_KEY", key)
            with cronwatch.connect() as monitor:
                monitor.record_success("by-library", T0, T0 + timedelta(seconds=2), "h")
            from_server = server_side.receive()
    finally:
        server_side.close()
    names = sorted(line.partition(":")[0] for line in from_server)
    assert names == ["script_activity,env=server,name=by-library",
                     "script_activity,env=server,name=by-run"]  # fmt: skip
    # Both recordings were acknowledged (the server's timings came) before this is read: a
    # datagram the host had sent would be waiting in the socket already.
    assert statsd_receiver.receive(timeout=0.5) == []
