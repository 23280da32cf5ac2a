"""Input that once made the server answer 500: JSON nested thousands deep, instants a datetime
cannot convert, cursors and durations too large for the database or for the health checks'
arithmetic. Each is a 400 that names the field, on every route that takes it, and writes
nothing; and the statuses of the jobs that are there still answer."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.support.server import LiveServer, count_jobs, count_runs, create_key

RUN: dict[str, str | None] = {
    "name": "nightly",
    "hostname": "h",
    "run_id": "r1",
    "outcome": "success",
    "date_started": "2026-11-28T03:00:00Z",
    "date_completed": "2026-11-28T03:01:00Z",
}


def nested(field: str, depth: int, outer: dict[str, Any]) -> bytes:
    """A JSON object whose ``field`` is a list nested ``depth`` deep (built as text: Python's
    own json module could not write it)."""
    body = json.dumps({**outer, field: None})
    return body.replace("null", "[" * depth + "]" * depth).encode()


def refused(response: httpx.Response, *words: str) -> None:
    assert response.status_code == 400, response.text
    message = response.json()["message"]
    assert all(word in message for word in words), message


@pytest.mark.parametrize("depth", [33, 15_000, 49_000])
def test_json_nested_too_deep_is_400_naming_the_field_on_every_json_route(
    server: LiveServer, api: httpx.Client, depth: int
) -> None:
    api.post("/api/v1/jobs", json={"name": "existing"})
    routes = [
        ("POST", "/api/v1/jobs", nested("tags", depth, {"name": "deep"}), "tags"),
        ("PATCH", "/api/v1/jobs/existing", nested("hosts", depth, {}), "hosts"),
        ("POST", "/api/v1/runs", nested("output", depth, RUN), "output"),
    ]
    for method, path, body, field in routes:
        response = api.request(method, path, content=body,
                               headers={"Content-Type": "application/json"})  # fmt: skip
        refused(response, f"{field}: nested more than 32 levels deep")
    assert count_jobs(server.database_url) == 1 and count_runs(server.database_url) == 0
    assert api.get("/api/v1/jobs/existing").json()["spec"] == {}


def test_nesting_up_to_the_limit_is_read(api: httpx.Client) -> None:
    """32 levels are read (and then refused by the field's own rule, not as unreadable)."""
    response = api.post("/api/v1/jobs", content=nested("tags", 31, {"name": "deep"}),
                        headers={"Content-Type": "application/json"})  # fmt: skip
    refused(response, "tags: expected a list of strings")


@pytest.mark.parametrize(
    "instant",
    [
        "0001-01-01T00:00:00+14:00",  # before year 1 in UTC: OverflowError in Python
        "9999-12-31T23:59:59-14:00",  # after year 9999 in UTC
        "9999-12-31T23:59:59+14:00",  # representable, but no run is dated there
        "0001-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "3000-01-01T00:00:00Z",
    ],
)
@pytest.mark.parametrize("field", ["date_started", "date_completed"])
def test_instants_out_of_range_are_400_naming_the_field(
    server: LiveServer, field: str, instant: str
) -> None:
    key = create_key(server.database_url, "ping")
    body = {**RUN, field: instant}
    if field == "date_started":
        body["date_completed"] = None
        body["outcome"] = "running"
    response = httpx.post(f"{server.url}/api/v1/runs", json=body, timeout=30,
                          headers={"Authorization": f"Bearer {key}"})  # fmt: skip
    refused(response, f"{field}: ", "out of range", "1970-01-01 to 2999-12-31")
    assert count_runs(server.database_url) == 0


def test_instants_in_range_are_taken(server: LiveServer) -> None:
    key = create_key(server.database_url, "ping")
    body = {**RUN, "date_started": "1970-01-01T00:00:00Z",
            "date_completed": "2026-11-28T05:00:00+02:00"}  # fmt: skip
    response = httpx.post(f"{server.url}/api/v1/runs", json=body, timeout=30,
                          headers={"Authorization": f"Bearer {key}"})  # fmt: skip
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("cursor", ["9223372036854775808_1", "-9223372036854775809_1",
                                    "1_9999999999999999999", "garbage"])  # fmt: skip
def test_run_cursors_out_of_range_are_400(api: httpx.Client, cursor: str) -> None:
    api.post("/api/v1/jobs", json={"name": "paged"})
    refused(api.get("/api/v1/jobs/paged/runs", params={"before": cursor}),
            "is not a cursor from a previous page")  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"grace": 99_999_999_999}, "grace"),
        ({"schedule": "every 999999999d"}, "schedule"),
        ({"max_runtime": "106751991d"}, "max_runtime"),
        ({"min_runtime": "200000d"}, "min_runtime"),
    ],
)
def test_job_durations_beyond_a_century_are_400_and_statuses_still_answer(
    server: LiveServer, api: httpx.Client, fields: dict[str, Any], field: str
) -> None:
    refused(api.post("/api/v1/jobs", json={"name": "long", **fields}), f"{field}: ",
            "at most 100 years")  # fmt: skip
    api.post("/api/v1/jobs", json={"name": "patched"})
    refused(api.patch("/api/v1/jobs/patched", json=fields), f"{field}: ")
    assert count_jobs(server.database_url) == 1
    assert api.get("/api/v1/status").status_code == 200
    assert httpx.get(f"{server.url}/", timeout=30).status_code == 200
    century = {"schedule": "every 36525d", "grace": "1d"}
    assert api.post("/api/v1/jobs", json={"name": "centennial", **century}).status_code == 201
    assert api.get("/api/v1/status").status_code == 200
