"""Keys and scopes through a real server, on SQLite and PostgreSQL: no write without a key of
the right scope, a revoked key is refused at once, and every refusal writes nothing."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from tests.support.server import LiveServer, count_jobs, count_runs, create_key

RUN = {
    "name": "backup", "hostname": "db1", "run_id": "r1", "outcome": "success",
    "date_started": "2026-11-28T03:00:00+00:00", "date_completed": "2026-11-28T03:10:00+00:00",
}  # fmt: skip


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def nothing_written(url: str) -> bool:
    return count_runs(url) == 0 and count_jobs(url) == 0


def test_a_read_key_can_read_but_cannot_write_or_ping(
    server: LiveServer, client: httpx.Client
) -> None:
    key = create_key(server.database_url, "read")
    assert client.get("/api/v1/jobs", headers=bearer(key)).status_code == 200
    assert client.get("/api/v1/status", headers=bearer(key)).status_code == 200
    refused = [
        client.post("/api/v1/jobs", headers=bearer(key), json={"name": "x"}),
        client.post("/api/v1/runs", headers=bearer(key), json=RUN),
        client.get(f"/ping/{key}/backup"),
    ]
    for response in refused:
        assert response.status_code == 403, response.text
        assert response.json()["error"] == "forbidden"
        assert "read key cannot" in response.json()["message"]
    assert nothing_written(server.database_url)


def test_a_ping_key_can_record_runs_only(server: LiveServer, client: httpx.Client) -> None:
    key = create_key(server.database_url, "ping")
    assert client.get("/api/v1/jobs", headers=bearer(key)).status_code == 403
    assert client.post("/api/v1/jobs", headers=bearer(key), json={"name": "x"}).status_code == 403
    assert count_jobs(server.database_url) == 0
    assert client.get(f"/ping/{key}/backup").status_code == 200
    assert client.post("/api/v1/runs", headers=bearer(key), json=RUN).status_code == 201
    assert count_runs(server.database_url) == 2


def test_a_write_key_can_do_everything(server: LiveServer, client: httpx.Client) -> None:
    key = create_key(server.database_url, "write")
    assert client.post("/api/v1/jobs", headers=bearer(key), json={"name": "x"}).status_code == 201
    assert client.get("/api/v1/jobs/x", headers=bearer(key)).status_code == 200
    assert client.get(f"/ping/{key}/x").status_code == 200
    assert client.post("/api/v1/runs", headers=bearer(key), json=RUN).status_code == 201


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer not-a-key"},
        {"Authorization": "Bearer cww_" + "A" * 32},  # well formed, never issued
    ],
)
def test_missing_or_unknown_keys_get_401_with_a_challenge(
    server: LiveServer, client: httpx.Client, headers: dict[str, str]
) -> None:
    for response in (
        client.get("/api/v1/jobs", headers=headers),
        client.post("/api/v1/jobs", headers=headers, json={"name": "x"}),
        client.post("/api/v1/runs", headers=headers, json=RUN),
    ):
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["error"] == "unauthorized"
    assert nothing_written(server.database_url)


def test_unknown_ping_keys_are_refused_and_write_nothing(
    server: LiveServer, client: httpx.Client
) -> None:
    for key in ("cwp_" + "B" * 32, "short", "cwp_" + "B" * 31 + "!"):
        response = client.get(f"/ping/{key}/backup")
        assert response.status_code == 401 and "unknown ping key" in response.json()["message"]
    assert nothing_written(server.database_url)


def test_a_revoked_key_is_refused_from_the_next_request_on(
    server: LiveServer, client: httpx.Client
) -> None:
    """Revoked by `cronwatch key revoke` in another process, with no delay or cache."""
    ping = create_key(server.database_url, "ping")
    write = create_key(server.database_url, "write")
    assert client.get(f"/ping/{ping}/backup").status_code == 200
    assert client.get("/api/v1/jobs", headers=bearer(write)).status_code == 200
    for key in (ping, write):
        revoke = subprocess.run(
            [sys.executable, "-m", "cronwatch.cli", "--database-url", server.database_url,
             "key", "revoke", key[:12]],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert revoke.returncode == 0, revoke.stderr
    refused = [
        client.get(f"/ping/{ping}/backup"),
        client.get(f"/ping/{write}/backup"),
        client.get("/api/v1/jobs", headers=bearer(write)),
        client.post("/api/v1/runs", headers=bearer(write), json=RUN),
    ]
    for response in refused:
        assert response.status_code == 401
        assert "revoked" in response.json()["message"]
    assert count_runs(server.database_url) == 1, "only the ping before the revocation"


def test_the_rate_limit_refuses_with_429_and_retry_after(database_url: str) -> None:
    key = create_key(database_url, "ping")
    other = create_key(database_url, "ping")
    live = LiveServer(database_url, rate_limit=0.5, rate_burst=2)
    with live, httpx.Client(base_url=live.url) as http:
        statuses = [http.get(f"/ping/{key}/job").status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        limited = http.get(f"/ping/{key}/job")
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert "too many requests" in limited.json()["message"]
        assert http.get(f"/ping/{other}/job").status_code == 200, "the limit is per key"
        assert http.get("/api/v1/jobs", headers=bearer(key)).status_code == 429
    assert count_runs(database_url) == 3
