"""Every ping form through a real server, on SQLite and PostgreSQL: what is stored, how starts
and finishes pair, and that a refused ping writes nothing."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from cronwatch.statsd import StatsdClient
from cronwatch.storage import open_database
from cronwatch.storage.keys import KeyStore
from tests.support.databases import PostgresServer
from tests.support.receivers import StatsdReceiver
from tests.support.server import LiveServer, count_jobs, count_runs, create_key, query, serve

RUN_COLUMNS = (
    "name, hostname, run_id, outcome, exit_code, started_us, completed_us, output, duration_us"
)


def now_us() -> int:
    """This machine's clock (the server's too) in the stored runs' unit."""
    return time.time_ns() // 1000


def runs(url: str, name: str) -> list[dict[str, Any]]:
    rows = query(url, f"SELECT {RUN_COLUMNS} FROM runs WHERE name = ? ORDER BY id", (name,))
    keys = RUN_COLUMNS.split(", ")
    return [dict(zip(keys, row, strict=True)) for row in rows]


@pytest.fixture
def key(server: LiveServer) -> str:
    return create_key(server.database_url, "ping")


@pytest.mark.parametrize("method", ["GET", "POST", "HEAD"])
def test_success_ping_stores_a_run_and_creates_the_job(
    server: LiveServer, client: httpx.Client, key: str, method: str
) -> None:
    response = client.request(method, f"/ping/{key}/backup", params={"host": "db1"})
    assert response.status_code == 200
    assert response.text == ("" if method == "HEAD" else "OK")
    [run] = runs(server.database_url, "backup")
    assert (run["hostname"], run["outcome"], run["exit_code"]) == ("db1", "success", 0)
    assert run["started_us"] == run["completed_us"], "a lone finish is dated by its arrival"
    assert run["duration_us"] is None, "its duration is unknown, not 0"
    assert query(server.database_url, "SELECT name, source FROM jobs") == [("backup", "run")]


def test_host_defaults_to_the_client_address(
    server: LiveServer, client: httpx.Client, key: str
) -> None:
    assert client.get(f"/ping/{key}/nightly").status_code == 200
    assert runs(server.database_url, "nightly")[0]["hostname"] == "127.0.0.1"


@pytest.mark.parametrize(
    ("suffix", "outcome", "exit_code"),
    [("fail", "failure", None), ("0", "success", 0), ("1", "failure", 1), ("255", "failure", 255)],
)
def test_start_then_finish_with_a_run_id_is_one_timed_run(
    server: LiveServer, client: httpx.Client, key: str, suffix: str,
    outcome: str, exit_code: int | None,
) -> None:  # fmt: skip
    params = {"host": "db1", "rid": "run-1"}
    assert client.post(f"/ping/{key}/etl/start", params=params).status_code == 200
    [running] = runs(server.database_url, "etl")
    assert (running["outcome"], running["completed_us"]) == ("running", None)
    between = now_us()
    assert (
        client.post(f"/ping/{key}/etl/{suffix}", params=params, content=b"done").status_code == 200
    )
    [run] = runs(server.database_url, "etl")
    assert (run["run_id"], run["outcome"], run["exit_code"]) == ("run-1", outcome, exit_code)
    # Timed from the stored start: the start ping came before `between`, the finish after.
    assert run["started_us"] <= between <= run["completed_us"], "timed from the stored start"
    assert run["output"] == "done"


def test_overlapping_runs_are_each_paired_by_run_id(
    server: LiveServer, client: httpx.Client, key: str
) -> None:
    url = server.database_url
    marks = []  # the clock between the pings: each run's ends fall on the right sides
    client.get(f"/ping/{key}/sync/start", params={"host": "h", "rid": "a"})
    marks.append(now_us())
    client.get(f"/ping/{key}/sync/start", params={"host": "h", "rid": "b"})
    marks.append(now_us())
    client.get(f"/ping/{key}/sync/0", params={"host": "h", "rid": "b"})
    marks.append(now_us())
    client.get(f"/ping/{key}/sync/fail", params={"host": "h", "rid": "a"})
    by_id = {run["run_id"]: run for run in runs(url, "sync")}
    assert set(by_id) == {"a", "b"}
    a, b = by_id["a"], by_id["b"]
    assert (a["outcome"], b["outcome"]) == ("failure", "success")
    assert a["started_us"] <= marks[0] <= b["started_us"] <= marks[1] <= b["completed_us"]
    assert b["completed_us"] <= marks[2] <= a["completed_us"]


def test_finish_without_run_id_pairs_with_the_latest_running_run_of_that_host(
    server: LiveServer, client: httpx.Client, key: str
) -> None:
    url = server.database_url
    client.get(f"/ping/{key}/job/start", params={"host": "h1"})
    time.sleep(0.02)
    client.get(f"/ping/{key}/job/start", params={"host": "h1"})
    time.sleep(0.02)
    client.get(f"/ping/{key}/job/start", params={"host": "h2"})
    client.get(f"/ping/{key}/job", params={"host": "h1"})
    stored = runs(url, "job")
    assert [(r["hostname"], r["outcome"]) for r in stored] == [
        ("h1", "running"), ("h1", "success"), ("h2", "running"),
    ]  # fmt: skip
    client.get(f"/ping/{key}/job/2", params={"host": "h1"})
    assert [r["outcome"] for r in runs(url, "job")] == ["failure", "success", "running"]
    # Nothing left running on h1: the next finish is a run of its own, of zero length.
    client.get(f"/ping/{key}/job", params={"host": "h1"})
    stored = runs(url, "job")
    assert len(stored) == 4 and stored[3]["started_us"] == stored[3]["completed_us"]
    assert stored[2]["outcome"] == "running", "h2's run is not touched by h1's finishes"


def test_a_finish_sent_twice_is_stored_once(
    server: LiveServer, client: httpx.Client, key: str
) -> None:
    params = {"host": "h", "rid": "r-7"}
    client.get(f"/ping/{key}/twice/start", params=params)
    for _ in range(2):
        assert client.get(f"/ping/{key}/twice/3", params=params).status_code == 200
    client.get(f"/ping/{key}/twice/0", params=params)  # too late: the run is finished
    [run] = runs(server.database_url, "twice")
    assert (run["outcome"], run["exit_code"]) == ("failure", 3)


def test_output_keeps_the_end_and_names_may_be_unicode_with_spaces(
    server: LiveServer, client: httpx.Client, key: str
) -> None:
    body = ("x" * 5_000 + "y" * 10_000).encode() + b"\xff\x00end"
    response = client.post(f"/ping/{key}/nightly%20r%C3%A9sum%C3%A9/fail", content=body)
    assert response.status_code == 200
    [run] = runs(server.database_url, "nightly résumé")
    assert len(run["output"]) == 10_000
    assert run["output"].endswith("y\ufffd\ufffdend") and "x" not in run["output"]


def test_a_body_over_the_limit_is_refused_and_nothing_is_written(database_url: str) -> None:
    key = create_key(database_url, "ping")
    with LiveServer(database_url, max_body=1000) as live, httpx.Client(base_url=live.url) as http:
        response = http.post(f"/ping/{key}/big", content=b"x" * 1001)
        assert response.status_code == 413
        assert response.json()["error"] == "too_large" and "1000" in response.json()["message"]

        def chunks() -> Iterator[bytes]:
            for _ in range(11):
                yield b"y" * 100

        assert http.post(f"/ping/{key}/big", content=chunks()).status_code == 413  # chunked
        assert http.post(f"/ping/{key}/big", content=b"x" * 1000).status_code == 200
    assert count_runs(database_url) == 1


@pytest.mark.parametrize(
    ("path", "params", "status", "words"),
    [
        ("/ping/{key}/job/restart", {}, 404, "unknown ping action"),
        ("/ping/{key}/job/256", {}, 400, "0-255"),
        ("/ping/{key}/job/start/extra", {}, 404, "not a ping URL"),
        ("/ping/{key}", {}, 404, "not a ping URL"),
        ("/ping/{key}/" + "n" * 201, {}, 400, "too long"),
        ("/ping/{key}/bad%01name", {}, 400, "control characters"),
        ("/ping/{key}/a%2Fb", {}, 400, "'/'"),
        ("/ping/{key}/%20padded", {}, 400, "whitespace"),
        ("/ping/{key}/%ff", {}, 400, "UTF-8"),
        ("/ping/{key}/job", {"rid": "has space"}, 400, "rid"),
        ("/ping/{key}/job", {"rid": "r" * 65}, 400, "rid"),
        ("/ping/{key}/job", {"host": "h" * 256}, 400, "too long"),
        ("/ping/{key}/job", {"host": ""}, 400, "hostname must not be empty"),
        # Look-alikes: "backup" + U+200B, a right-to-left override in a host.
        ("/ping/{key}/backup%E2%80%8B", {}, 400, "name must not contain invisible format"),
        ("/ping/{key}/job", {"host": "db1\u202e"}, 400, "hostname must not contain invisible"),
        ("/ping/{key}/job", {"rid": "job/1"}, 400, "rid 'job/1' must be 1-64 characters"),
    ],
)
def test_invalid_pings_are_refused_with_a_clear_message_and_write_nothing(
    server: LiveServer, client: httpx.Client, key: str, path: str,
    params: dict[str, str], status: int, words: str,
) -> None:  # fmt: skip
    response = client.get(path.format(key=key), params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert words in response.json()["message"]
    assert (count_runs(server.database_url), count_jobs(server.database_url)) == (0, 0)


def test_a_name_typed_either_way_in_unicode_is_one_job(
    server: LiveServer, client: httpx.Client, key: str
) -> None:
    assert client.get(f"/ping/{key}/cafe%CC%81", params={"host": "ho\u0302te"}).status_code == 200
    assert client.get(f"/ping/{key}/caf%C3%A9", params={"host": "h\u00f4te"}).status_code == 200
    assert query(server.database_url, "SELECT name FROM jobs") == [("caf\u00e9",)]
    stored = [(run["name"], run["hostname"]) for run in runs(server.database_url, "caf\u00e9")]
    assert stored == [("caf\u00e9", "h\u00f4te")] * 2


def test_other_methods_are_refused_with_405_and_allow(
    server: LiveServer, client: httpx.Client, key: str
) -> None:
    response = client.put(f"/ping/{key}/job")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST, HEAD"
    assert count_runs(server.database_url) == 0


def test_each_successful_finish_sends_one_statsd_timing(
    database_url: str, statsd_receiver: StatsdReceiver
) -> None:
    key = create_key(database_url, "ping")
    statsd = StatsdClient("127.0.0.1", statsd_receiver.port, environment="prod")
    with LiveServer(database_url, statsd=statsd) as live, httpx.Client(base_url=live.url) as http:
        http.get(f"/ping/{key}/backup/start", params={"rid": "r1"})
        between = now_us()
        http.get(f"/ping/{key}/backup", params={"rid": "r1"})
        http.get(f"/ping/{key}/backup", params={"rid": "r1"})  # a replay: no second timing
        http.get(f"/ping/{key}/backup/fail", params={"rid": "r2"})  # failures: no timing
        lines = statsd_receiver.receive()
    assert len(lines) == 1, lines
    name, _, value = lines[0].partition(":")
    assert name == "script_activity,env=prod,name=backup"
    milliseconds = float(value.removesuffix("|ms"))
    sql = "SELECT started_us, completed_us FROM runs WHERE run_id = 'r1'"
    [(started, completed)] = query(database_url, sql)
    assert milliseconds == pytest.approx((completed - started) / 1000)
    assert started <= between <= completed, "the timing is of the run from its start ping"


def test_concurrent_pings_through_two_servers_are_all_stored(database_url: str) -> None:
    """Many clients, many jobs and hosts, two server processes' worth of writers on one
    database: every acknowledged ping is stored, none is refused (no deadlock between
    batches that touch the same job summaries in different orders)."""
    key = create_key(database_url, "ping")
    pings = [(f"job-{i % 7}", f"host-{i % 5}", i % 3) for i in range(600)]
    random.Random(4).shuffle(pings)
    with LiveServer(database_url) as first, LiveServer(database_url) as second:
        clients = [httpx.Client(base_url=live.url, timeout=60) for live in (first, second)]

        def ping(index: int) -> int:
            name, host, code = pings[index]
            http = clients[index % 2]
            return http.get(f"/ping/{key}/{name}/{code}", params={"host": host}).status_code

        with ThreadPoolExecutor(max_workers=24) as pool:
            statuses = list(pool.map(ping, range(len(pings))))
        for http in clients:
            http.close()
    assert statuses == [200] * len(pings)
    assert count_runs(database_url) == len(pings)
    totals = query(database_url, "SELECT SUM(runs_total), SUM(failures_total) FROM job_hosts")
    assert [tuple(int(v) for v in row) for row in totals] == [(600, 400)]


def _deadlocks(database_url: str) -> int:
    dbname = database_url.rpartition("/")[2]
    rows = query(
        database_url, "SELECT deadlocks FROM pg_stat_database WHERE datname = ?", (dbname,)
    )
    return int(rows[0][0])


def test_paired_pings_of_one_job_and_host_never_deadlock(postgres: PostgresServer) -> None:
    """Starts and finishes with rid for one job and host over 16 connections, each start sent
    in the background as the finish goes (a script's `curl .../start &`), against a real
    `cronwatch serve` on PostgreSQL: no deadlock in PostgreSQL's own count (read after the
    server stopped, when its backends have reported), every run stored once and finished.
    Before the writers took their locks in one order, a few seconds of this made several."""
    url = postgres.create_database()
    pairs_per_client, clients = 25, 8
    with serve(url) as (base, _):
        key = create_key(url, "ping")
        before = _deadlocks(url)

        def client(index: int) -> list[int]:
            statuses = []
            with (
                httpx.Client(base_url=base, timeout=60) as starts,
                httpx.Client(base_url=base, timeout=60) as finishes,
                ThreadPoolExecutor(max_workers=1) as background,
            ):
                for n in range(pairs_per_client):
                    params = {"rid": f"c{index}-{n}", "host": "db1"}
                    start = background.submit(
                        starts.get, f"/ping/{key}/paired/start", params=params
                    )
                    statuses.append(finishes.get(f"/ping/{key}/paired", params=params).status_code)
                    statuses.append(start.result().status_code)
            return statuses

        with ThreadPoolExecutor(max_workers=clients) as pool:
            statuses = [s for result in pool.map(client, range(clients)) for s in result]
    assert statuses == [200] * (2 * pairs_per_client * clients)
    assert _deadlocks(url) == before, "PostgreSQL broke deadlocks between cronwatch's writers"
    outcomes = query(url, "SELECT outcome, COUNT(*) FROM runs GROUP BY outcome")
    assert outcomes == [("success", pairs_per_client * clients)], "each run once, finished"


def test_a_ping_key_restricted_to_names_records_only_those(database_url: str) -> None:
    """`--names 'backup-*' --names nightly`: pings and recorded runs of those names are stored
    (plain pings, pairs); any other name gets 403 naming the patterns and writes nothing."""
    with open_database(database_url) as db:
        _, key = KeyStore(db).create("ping", names=["backup-*", "nightly"])
    with LiveServer(database_url) as live, httpx.Client(base_url=live.url) as http:
        assert http.get(f"/ping/{key}/backup-db").status_code == 200
        assert http.get(f"/ping/{key}/nightly/start", params={"rid": "r1"}).status_code == 200
        assert http.get(f"/ping/{key}/nightly", params={"rid": "r1"}).status_code == 200
        for path in (f"/ping/{key}/other", f"/ping/{key}/backup/fail", f"/ping/{key}/Backup-x"):
            refused = http.get(path)
            assert refused.status_code == 403, path
            assert "may only record jobs named backup-*, nightly" in refused.json()["message"]
        run = {"name": "other", "hostname": "h", "run_id": "r2", "outcome": "success",
               "date_started": "2026-11-28T03:00:00Z",
               "date_completed": "2026-11-28T03:00:01Z"}  # fmt: skip
        headers = {"Authorization": f"Bearer {key}"}
        assert http.post("/api/v1/runs", json=run, headers=headers).status_code == 403
        run["name"] = "backup-web"
        assert http.post("/api/v1/runs", json=run, headers=headers).status_code == 201
    names = query(database_url, "SELECT name, outcome FROM runs ORDER BY name")
    assert names == [("backup-db", "success"), ("backup-web", "success"), ("nightly", "success")]
    assert count_jobs(database_url) == 3


def test_a_plain_ping_without_a_start_sends_no_timing_and_shows_an_unknown_duration(
    database_url: str, statsd_receiver: StatsdReceiver
) -> None:
    # Issue 12: a plain ping sent a 0 ms timing, pulling every mean and percentile down.
    key = create_key(database_url, "ping")
    read = create_key(database_url, "read")
    statsd = StatsdClient("127.0.0.1", statsd_receiver.port, environment="prod")
    with LiveServer(database_url, statsd=statsd) as live, httpx.Client(base_url=live.url) as http:
        assert http.get(f"/ping/{key}/plain", params={"host": "db1"}).status_code == 200
        assert http.get(f"/ping/{key}/plain/0", params={"rid": "lone"}).status_code == 200
        http.get(f"/ping/{key}/timed/start", params={"rid": "t1"})
        http.get(f"/ping/{key}/timed", params={"rid": "t1"})
        lines = statsd_receiver.receive()
        headers = {"Authorization": f"Bearer {read}"}
        api = http.get("/api/v1/jobs/plain/runs", headers=headers).json()
        status = http.get("/api/v1/status", headers=headers).json()["jobs"]
        page = http.get("/jobs/plain").text
    assert [line.split(":")[0] for line in lines] == ["script_activity,env=prod,name=timed"]
    durations = query(database_url, "SELECT duration_us FROM runs WHERE name = 'plain'")
    assert durations == [(None,), (None,)]
    assert {run["duration_seconds"] for run in api["runs"]} == {None}
    plain = next(job for job in status if job["name"] == "plain")
    assert plain["last_duration_seconds"] is None and "took" not in plain["reason"]
    assert 'title="a ping without a start: its duration is unknown">unknown<' in page
    assert " so far</td>" not in page  # not taken for a run still going
