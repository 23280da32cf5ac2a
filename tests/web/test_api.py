"""The REST API through a real server, on SQLite and PostgreSQL: jobs (list, create, update,
pause, delete), runs of a job a page at a time, status, recording runs, JSON errors; every
refused request leaves the database as it was."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from cronwatch.config import load_config
from tests.support.server import LiveServer, count_jobs, count_runs, create_key, query


def jobs_table(url: str) -> list[tuple[Any, ...]]:
    return query(url, "SELECT name, source, spec FROM jobs ORDER BY name")


def test_create_get_list_a_job(server: LiveServer, api: httpx.Client) -> None:
    fields = {"schedule": "0 3 * * *", "timezone": "Europe/London", "grace": "30m",
              "hosts": ["db1", "db2"], "tags": ["db"], "max_runtime": 7200}  # fmt: skip
    created = api.post("/api/v1/jobs", json={"name": "backup", **fields})
    assert created.status_code == 201, created.text
    job = created.json()
    assert (job["name"], job["source"], job["paused"], job["spec"]) == (
        "backup", "api", False, fields)  # fmt: skip
    assert job["created"] == job["updated"] and job["created"].endswith("+00:00")
    assert api.get("/api/v1/jobs/backup").json() == job
    assert api.get("/api/v1/jobs").json() == {"jobs": [job], "next": None}
    assert jobs_table(server.database_url) == [("backup", "api", json.dumps(fields))]


def test_creating_an_existing_job_is_a_conflict(server: LiveServer, api: httpx.Client) -> None:
    api.post("/api/v1/jobs", json={"name": "backup", "schedule": "every 1h"})
    before = jobs_table(server.database_url)
    response = api.post("/api/v1/jobs", json={"name": "backup", "schedule": "every 2h"})
    assert response.status_code == 409 and "PATCH" in response.json()["message"]
    assert jobs_table(server.database_url) == before


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"name": "x", "schedule": "61 * * * *"}, "schedule"),
        ({"name": "x", "timezone": "Mars/Olympus"}, "unknown timezone"),
        ({"name": "x", "grace": "-5m"}, "negative"),
        ({"name": "x", "paused": 1}, "paused: expected boolean"),
        ({"name": "x", "grace": True}, "grace: expected a duration"),
        ({"name": "x", "hosts": "db1"}, "hosts: expected a list"),
        ({"name": "x", "min_hosts": 1}, "needs a hosts list"),
        ({"name": "x", "max_runtme": "1h"}, 'unknown job field "max_runtme"'),
        ({"name": "x", "min_runtime": "2h", "max_runtime": "1h"}, "longer than"),
        ({"name": "bad/name"}, "'/'"),
        ({"name": ""}, "empty"),
        ({"name": "n" * 201}, "too long"),
        ({"name": 5}, "name: expected a string"),
        ({"schedule": "every 1h"}, "name: required"),
        ({"name": "backup\u200b"}, "name must not contain invisible format or bidi control"),
        ({"name": "x", "hosts": ["db1\u202e"]}, "hosts[0] must not contain invisible format"),
        ({"name": "x", "tags": ["caf\u00e9", "cafe\u0301"]}, "listed twice"),
        ({"name": "x", "timezone": ""}, "unknown timezone"),
    ],
)
def test_invalid_jobs_are_refused_with_the_field_named_and_nothing_written(
    server: LiveServer, api: httpx.Client, body: dict[str, Any], words: str
) -> None:
    response = api.post("/api/v1/jobs", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid"
    assert words in response.json()["message"]
    assert count_jobs(server.database_url) == 0


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "expected a JSON object"),
        (b"{", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"name": "x", "grace": NaN}', "NaN"),
        (b'{"name": "\\ud800"}', "surrogate"),
        (b"\xff\xfe", "not valid JSON"),
    ],
)
def test_malformed_bodies_get_400(
    server: LiveServer, api: httpx.Client, content: bytes, words: str
) -> None:
    response = api.post("/api/v1/jobs", content=content,
                        headers={"Content-Type": "application/json"})  # fmt: skip
    assert response.status_code == 400 and words in response.json()["message"]
    assert count_jobs(server.database_url) == 0


def test_bodies_over_the_limit_get_413(database_url: str) -> None:
    key = create_key(database_url, "write")
    live = LiveServer(database_url, max_body=200)
    with live, httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {key}"}) as h:
        response = h.post("/api/v1/jobs", json={"name": "x", "tags": ["t" * 50] * 4})
        assert response.status_code == 413 and response.json()["error"] == "too_large"
    assert count_jobs(database_url) == 0


def test_patch_merges_and_null_removes(server: LiveServer, api: httpx.Client) -> None:
    api.post("/api/v1/jobs", json={"name": "sync", "schedule": "every 15m", "grace": "5m"})
    response = api.patch("/api/v1/jobs/sync", json={"grace": None, "tags": ["feeds"]})
    assert response.status_code == 200
    assert response.json()["spec"] == {"schedule": "every 15m", "tags": ["feeds"]}
    refused = api.patch("/api/v1/jobs/sync", json={"schedule": "every now and then"})
    assert refused.status_code == 400
    assert api.get("/api/v1/jobs/sync").json()["spec"] == {"schedule": "every 15m",
                                                           "tags": ["feeds"]}  # fmt: skip
    assert api.patch("/api/v1/jobs/nope", json={}).status_code == 404


def test_a_job_created_by_its_first_run_can_be_given_a_spec_and_paused(
    server: LiveServer, api: httpx.Client
) -> None:
    ping = create_key(server.database_url, "ping")
    api.get(f"/ping/{ping}/adhoc")
    assert api.get("/api/v1/jobs/adhoc").json()["source"] == "run"
    paused = api.post("/api/v1/jobs/adhoc/pause")
    assert paused.status_code == 200 and paused.json()["paused"] is True
    statuses = {s["name"]: s["status"] for s in api.get("/api/v1/status").json()["jobs"]}
    assert statuses["adhoc"] == "paused"
    resumed = api.post("/api/v1/jobs/adhoc/unpause")
    assert resumed.json()["paused"] is False and resumed.json()["spec"] == {}
    assert api.post("/api/v1/jobs/ghost/pause").status_code == 404


def test_delete_forgets_the_job_and_its_runs(server: LiveServer, api: httpx.Client) -> None:
    ping = create_key(server.database_url, "ping")
    for name in ("gone", "kept"):
        api.get(f"/ping/{ping}/{name}")
    assert api.delete("/api/v1/jobs/gone").status_code == 204
    assert api.get("/api/v1/jobs/gone").status_code == 404
    assert [j["name"] for j in api.get("/api/v1/jobs").json()["jobs"]] == ["kept"]
    assert query(server.database_url, "SELECT name FROM runs") == [("kept",)]
    assert query(server.database_url, "SELECT name FROM job_hosts") == [("kept",)]
    assert api.delete("/api/v1/jobs/gone").status_code == 404


def test_config_jobs_are_listed_and_cannot_be_changed_through_the_api(
    database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "cronwatch.toml"
    path.write_text('[jobs.backup]\nschedule = "0 3 * * *"\ngrace = "30m"\ntags = ["db"]\n')
    key = create_key(database_url, "write")
    live = LiveServer(database_url, config=load_config(path))
    with live, httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {key}"}) as h:
        [job] = h.get("/api/v1/jobs").json()["jobs"]
        assert (job["name"], job["source"]) == ("backup", "config")
        assert job["spec"] == {"schedule": "0 3 * * *", "timezone": "UTC", "grace": 1800.0,
                               "tags": ["db"]}  # fmt: skip
        assert job["created"] is not None, "declared jobs get their row at start"
        for response in (
            h.patch("/api/v1/jobs/backup", json={"grace": "1h"}),
            h.post("/api/v1/jobs/backup/pause"),
            h.delete("/api/v1/jobs/backup"),
            h.post("/api/v1/jobs", json={"name": "backup"}),
        ):
            assert response.status_code == 409 and "config" in response.json()["message"]
        [status] = h.get("/api/v1/status").json()["jobs"]
        assert status["name"] == "backup" and status["schedule"] != "none"
    assert query(database_url, "SELECT spec FROM jobs") == [(None,)]


def test_runs_come_a_page_at_a_time_newest_first(server: LiveServer, api: httpx.Client) -> None:
    ping = create_key(server.database_url, "ping")
    for index in range(7):
        api.get(f"/ping/{ping}/etl/{index % 2}", params={"host": f"h{index % 3}"})
    seen: list[str] = []
    pages = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3, **({"before": cursor} if cursor else {})}
        page = api.get("/api/v1/jobs/etl/runs", params=params).json()
        pages.append(len(page["runs"]))
        seen.extend(run["date_started"] for run in page["runs"])
        cursor = page["next"]
        if cursor is None:
            break
    assert pages == [3, 3, 1]
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == 7
    on_h0 = api.get("/api/v1/jobs/etl/runs", params={"host": "h0"}).json()["runs"]
    assert [run["hostname"] for run in on_h0] == ["h0"] * 3
    failed = api.get("/api/v1/jobs/etl/runs", params={"outcome": "failure"}).json()["runs"]
    assert [run["exit_code"] for run in failed] == [1, 1, 1]


@pytest.mark.parametrize(
    ("params", "words"),
    [({"limit": 0}, "between 1 and 500"), ({"limit": 501}, "between 1 and 500"),
     ({"limit": "ten"}, "integer"), ({"before": "yesterday"}, "cursor"),
     ({"outcome": "meh"}, "outcome"), ({"host": " h"}, "whitespace")],
)  # fmt: skip
def test_bad_run_queries_get_400(
    server: LiveServer, api: httpx.Client, params: dict[str, Any], words: str
) -> None:
    ping = create_key(server.database_url, "ping")
    api.get(f"/ping/{ping}/etl")
    response = api.get("/api/v1/jobs/etl/runs", params=params)
    assert response.status_code == 400 and words in response.json()["message"]
    assert api.get("/api/v1/jobs/nope/runs").status_code == 404


def test_recording_a_whole_run_is_idempotent(server: LiveServer, api: httpx.Client) -> None:
    run = {"name": "backup", "hostname": "db1", "run_id": "abc", "outcome": "failure",
           "exit_code": 3, "date_started": "2026-11-28T03:00:00Z",
           "date_completed": "2026-11-28T04:00:00.5+01:00", "output": "boom",
           "duration_seconds": 0.5}  # fmt: skip
    assert api.post("/api/v1/runs", json=run).json() == {"stored": True}
    again = api.post("/api/v1/runs", json=run)
    assert again.status_code == 200 and again.json() == {"stored": False}
    [stored] = api.get("/api/v1/jobs/backup/runs").json()["runs"]
    assert stored["duration_seconds"] == 0.5 and stored["exit_code"] == 3
    assert stored["date_completed"] == "2026-11-28T03:00:00.500000+00:00"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"date_started": "2026-11-28T03:00:00"}, "no UTC offset"),
        ({"date_completed": "2026-11-28T02:00:00Z"}, "before date_started"),
        ({"outcome": "success", "exit_code": 3}, "cannot have exit code"),
        ({"run_id": "a b"}, "run_id"),
        ({"name": "x\ny"}, "control characters"),
        ({"extra": 1}, "unknown field"),
        ({"exit_code": "3"}, "exit_code"),
        ({"date_started": "soon"}, "ISO 8601"),
        ({"date_started": "0001-01-01T00:00:00+01:00"}, "date_started: 0001-01-01T00:00:00+01:00"),
        ({"run_id": "job/1"}, "run_id 'job/1' must be 1-64 characters"),
        ({"name": "backup\u200b"}, "name must not contain invisible format"),
        ({"hostname": "\u202edb1"}, "hostname must not contain invisible format"),
    ],
)
def test_invalid_runs_are_refused_and_write_nothing(
    server: LiveServer, api: httpx.Client, change: dict[str, Any], words: str
) -> None:
    run = {"name": "backup", "hostname": "db1", "run_id": "abc", "outcome": "failure",
           "exit_code": 3, "date_started": "2026-11-28T03:00:00Z",
           "date_completed": "2026-11-28T03:00:01Z", **change}  # fmt: skip
    response = api.post("/api/v1/runs", json=run)
    assert response.status_code == 400 and words in response.json()["message"], response.text
    assert count_runs(server.database_url) == 0


def test_status_reports_every_job(server: LiveServer, api: httpx.Client) -> None:
    ping = create_key(server.database_url, "ping")
    api.get(f"/ping/{ping}/good", params={"host": "h1"})
    api.get(f"/ping/{ping}/bad/2", params={"host": "h2"})
    api.post("/api/v1/jobs", json={"name": "tagged", "tags": ["t"]})
    jobs = api.get("/api/v1/status").json()["jobs"]
    by_name = {job["name"]: job for job in jobs}
    assert by_name["bad"]["status"] == "failing" and by_name["bad"]["severity"] == 2
    assert jobs[0]["name"] == "bad", "worst first"
    assert [j["name"] for j in api.get("/api/v1/status", params={"tag": "t"}).json()["jobs"]] == [
        "tagged"]  # fmt: skip
    on_h1 = api.get("/api/v1/status", params={"host": "h1"}).json()["jobs"]
    assert [j["name"] for j in on_h1] == ["good"]


def test_unknown_endpoints_and_methods_answer_json(server: LiveServer, api: httpx.Client) -> None:
    missing = api.get("/api/v1/nothing")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    wrong = api.put("/api/v1/jobs")
    assert wrong.status_code == 405
    assert set(wrong.headers["allow"].split(", ")) == {"GET", "POST", "HEAD"}
    assert wrong.json()["error"] == "method_not_allowed"


def test_home_page_lists_jobs_escaped(server: LiveServer, api: httpx.Client) -> None:
    ping = create_key(server.database_url, "ping")
    assert api.get(f"/ping/{ping}/<img src=x onerror=alert(1)>").status_code == 200
    page = api.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "&lt;img src=x onerror=alert(1)&gt;</a>" in page.text  # the dashboard's job link
    assert "<img" not in page.text


def test_healthz(server: LiveServer) -> None:
    response = httpx.get(server.url + "/healthz")
    assert response.status_code == 200 and response.json()["status"] == "ok"
    # this test server runs no alert loop: the body says so rather than pretending
    assert response.json()["alerting"]["alive"] is False


def test_runs_dated_in_the_future_are_refused_with_the_servers_time(
    server: LiveServer, api: httpx.Client
) -> None:
    """One run dated 2099 must not silence a job: 400 naming the field and the server's time;
    nothing stored, no job created."""
    run = {"name": "backup", "hostname": "db1", "run_id": "future", "outcome": "success",
           "date_started": "2099-01-01T00:00:00Z",
           "date_completed": "2099-01-01T00:00:01Z"}  # fmt: skip
    response = api.post("/api/v1/runs", json=run)
    message = response.json()["message"]
    assert response.status_code == 400, response.text
    assert message.startswith("date_started: 2099-01-01T00:00:00+00:00 is in the future")
    assert "the server's time is 20" in message and "at most 5m ahead" in message
    late = {**run, "date_started": "2026-11-28T03:00:00Z", "date_completed": "2099-01-01T00:00:00Z"}
    response = api.post("/api/v1/runs", json=late)
    assert response.status_code == 400 and "date_completed: 2099" in response.json()["message"]
    assert count_runs(server.database_url) == 0 and count_jobs(server.database_url) == 0


def test_the_server_lists_the_jobs_of_its_config_file_not_an_earlier_one(
    database_url: str, tmp_path: Path
) -> None:
    # Issue 12: a job removed from the config stayed listed forever. The server, like the CLI
    # and the alert loop, knows the jobs of the file in force (and undeclared jobs with runs).
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text('[jobs.gone]\nschedule = "every 15m"\n[jobs.kept]\nschedule = "every 1h"\n')
    b.write_text('[jobs.kept]\nschedule = "every 1h"\n')
    key = create_key(database_url, "read")
    for path, expected in ((a, ["gone", "kept"]), (b, ["kept"])):
        live = LiveServer(database_url, config=load_config(path))
        headers = {"Authorization": f"Bearer {key}"}
        with live, httpx.Client(base_url=live.url, headers=headers) as h:
            assert [j["name"] for j in h.get("/api/v1/jobs").json()["jobs"]] == expected
            assert [j["name"] for j in h.get("/api/v1/status").json()["jobs"]] == expected
            overview = h.get("/").text
            assert ('href="/jobs/gone"' in overview) == ("gone" in expected)
            metrics = h.get("/metrics").text
            assert ('cronwatch_job_info{cronjob="gone"' in metrics) == ("gone" in expected)
            assert 'cronwatch_job_info{cronjob="kept"' in metrics
            assert h.get("/api/v1/jobs/gone").status_code == (200 if "gone" in expected else 404)
    assert sorted(r[0] for r in query(database_url, "SELECT name FROM jobs")) == ["gone", "kept"]


def test_the_apis_changes_are_actions_with_the_keys_name(server: LiveServer) -> None:
    """Pause, unpause, PATCH and DELETE through the API are in the job's history with who;
    a refused change records nothing."""
    key = create_key(server.database_url, "write", "deploy-bot")
    ping = create_key(server.database_url, "ping")
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=server.url, timeout=30, headers=headers) as http:
        http.get(f"/ping/{ping}/etl")
        http.post("/api/v1/jobs/etl/pause")
        assert http.patch("/api/v1/jobs/etl", json={"schedule": "61 * * * *"}).status_code == 400
        http.patch("/api/v1/jobs/etl", json={"grace": "10m"})
        http.post("/api/v1/jobs/etl/unpause")
        events = http.get("/api/v1/jobs/etl/events").json()["events"]
        http.delete("/api/v1/jobs/etl")
    assert [(e["kind"], e["reason"], e["by"]) for e in events] == [
        ("action", "resume", "deploy-bot"),
        ("action", "edit", "deploy-bot"),
        ("action", "pause", "deploy-bot"),
    ]
    assert events[1]["text"] == "etl edited (grace) by deploy-bot"
    kinds = query(server.database_url, "SELECT reason, actor FROM events ORDER BY id DESC LIMIT 1")
    assert kinds == [("delete", "deploy-bot")]


def test_new_jobs_beyond_max_jobs_get_403_and_existing_jobs_are_still_recorded(
    database_url: str,
) -> None:
    """At the limit, a ping, a recorded run or a declared job with a new name is refused with
    403 naming the limit, and creates nothing; pings of existing jobs (also by plain pings,
    PostgreSQL's fast path) are stored; an unknown key still gets 401, not the limit."""
    key = create_key(database_url, "ping")
    write = {"Authorization": f"Bearer {create_key(database_url, 'write')}"}
    with LiveServer(database_url, max_jobs=3) as live, httpx.Client(base_url=live.url) as http:
        for name in ("a", "b", "c"):
            assert http.get(f"/ping/{key}/{name}").status_code == 200
        refused = http.get(f"/ping/{key}/d")
        assert refused.status_code == 403
        assert "at most 3 jobs" in refused.json()["message"]
        assert "[limits] max_jobs" in refused.json()["message"]
        run = {"name": "e", "hostname": "h", "run_id": "r1", "outcome": "success",
               "date_started": "2026-11-28T03:00:00Z",
               "date_completed": "2026-11-28T03:00:01Z"}  # fmt: skip
        assert http.post("/api/v1/runs", json=run, headers=write).status_code == 403
        created = http.post("/api/v1/jobs", json={"name": "f"}, headers=write)
        assert created.status_code == 403 and "at most 3 jobs" in created.json()["message"]
        unknown = "cwp_" + "x" * 32
        assert http.get(f"/ping/{unknown}/g").status_code == 401
        for name in ("a", "b", "c", "a"):
            assert http.get(f"/ping/{key}/{name}").status_code == 200
        assert (
            http.post("/api/v1/runs", json={**run, "name": "a"}, headers=write).status_code == 201
        )
    assert count_jobs(database_url) == 3
    assert count_runs(database_url) == 8


def test_a_name_an_earlier_config_declared_can_be_created_through_the_api(
    database_url: str, tmp_path: Path
) -> None:
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text('[jobs.gone]\nschedule = "every 15m"\n')
    b.write_text("")
    with LiveServer(database_url, config=load_config(a)):
        pass  # serve records the declared job's row
    key = create_key(database_url, "write")
    live = LiveServer(database_url, config=load_config(b))
    with live, httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {key}"}) as h:
        assert h.get("/api/v1/jobs/gone").status_code == 404  # not a job any more
        created = h.post("/api/v1/jobs", json={"name": "gone", "schedule": "every 1h"})
        assert created.status_code == 201, created.text  # no conflict with an invisible row
        assert created.json()["source"] == "api"


@pytest.mark.parametrize("path", ["/api/v1/jobs", "/api/v1/status"])
def test_pages_list_every_job_exactly_once_while_jobs_are_added(
    server: LiveServer, api: httpx.Client, path: str
) -> None:
    """Keyset pages by name: each job there at the start is on exactly one page, whatever is
    added between two fetches (before or after the cursor); none twice, none skipped; only the
    page's jobs are listed (``limit``), and the last page says so (``next`` null)."""
    first = [f"job-{n:03d}" for n in range(0, 60, 2)]
    for name in first:
        assert api.post("/api/v1/jobs", json={"name": name}).status_code == 201
    seen: list[str] = []
    added: list[str] = []
    params: dict[str, Any] = {"limit": 7}
    pages = 0
    while True:
        page = api.get(path, params=params).json()
        names = [job["name"] for job in page["jobs"]]
        assert len(names) <= 7 and names == sorted(names), "a page is sorted by name"
        seen += names
        pages += 1
        # Between fetches, jobs sorting before the cursor, after it, and at the very end.
        for name in (f"job-{pages * 3:03d}x", f"job-{pages * 11:03d}y", f"zz-{pages}"):
            if api.post("/api/v1/jobs", json={"name": name}).status_code == 201:
                added.append(name)
        if page["next"] is None:
            break
        params = {"limit": 7, "cursor": page["next"]}
        assert pages < 50, "the pages end"
    assert len(seen) == len(set(seen)), "no job twice"
    assert set(first) <= set(seen), "every job there from the start, once"
    assert set(seen) <= set(first) | set(added)
    assert any(name.startswith("zz-") for name in seen), "jobs added after the cursor are seen"
    whole = api.get(path).json()
    assert whole["next"] is None and len(whole["jobs"]) == len(first) + len(added)


def test_a_bad_cursor_or_limit_is_refused(api: httpx.Client) -> None:
    for params in ({"cursor": "!!"}, {"cursor": "AAAA"}, {"limit": "0"}, {"limit": "501"}):
        for path in ("/api/v1/jobs", "/api/v1/status"):
            response = api.get(path, params=params)
            assert response.status_code == 400, (path, params, response.text)


def test_a_filtered_status_page_follows_the_cursor(api: httpx.Client) -> None:
    for n in range(12):
        api.post("/api/v1/jobs", json={"name": f"j{n:02d}", "tags": ["t"] if n % 4 == 0 else []})
    found: list[str] = []
    params: dict[str, Any] = {"limit": 2, "tag": "t"}
    while True:
        page = api.get("/api/v1/status", params=params).json()
        found += [job["name"] for job in page["jobs"]]
        if page["next"] is None:
            break
        params = {**params, "cursor": page["next"]}
    assert found == ["j00", "j04", "j08"], "only the tagged jobs, each once, in name order"
