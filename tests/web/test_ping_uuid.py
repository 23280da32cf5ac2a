"""Healthchecks-style ping URLs through a real server, on SQLite and PostgreSQL: ``/ping/<uuid>``
with every action, ``/log`` in both forms, the answers Healthchecks gives (``OK``,
``Ping-Body-Limit``), the UUID as the one job's credential (unknown or regenerated: 404,
nothing written), and the PyPI ``healthchecks-io`` client, sync and async, for every ping
kind with UUIDs and with slugs."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from healthchecks_io import AsyncClient, CheckNotFoundError, Client

from cronwatch.storage.alerts.events import EventStore
from cronwatch.storage.connection import open_database
from tests.support.cli import invoke
from tests.support.server import LiveServer, count_jobs, count_runs, create_key, query


def uuid_of(server: LiveServer, name: str) -> str:
    (row,) = query(server.database_url, "SELECT uuid FROM jobs WHERE name = ?", (name,))
    assert isinstance(row[0], str)
    return row[0]


def outcomes(server: LiveServer, name: str) -> list[tuple[object, ...]]:
    return query(
        server.database_url,
        "SELECT outcome, exit_code, output, run_id FROM runs WHERE name = ? ORDER BY id",
        (name,),
    )


def log_events(server: LiveServer, name: str) -> list[tuple[str, str]]:
    with open_database(server.database_url) as db:
        return [(e.kind, e.text) for e in reversed(EventStore(db).events(name))]


@pytest.fixture
def key(server: LiveServer) -> str:
    return create_key(server.database_url, "ping")


@pytest.fixture
def job_uuid(server: LiveServer, client: httpx.Client, key: str) -> str:
    """The UUID of job ``backup``, created by a first slug ping (one success run)."""
    assert client.get(f"/ping/{key}/backup", params={"host": "db1"}).status_code == 200
    return uuid_of(server, "backup")


def test_every_job_gets_a_distinct_random_uuid_however_it_was_created(
    server: LiveServer, api: httpx.Client, client: httpx.Client, key: str
) -> None:
    client.get(f"/ping/{key}/by-run")
    assert api.post("/api/v1/jobs", json={"name": "by-api"}).status_code == 201
    uuids = {uuid_of(server, "by-run"), uuid_of(server, "by-api")}
    assert len(uuids) == 2, "two jobs must never share a UUID"
    for value in uuids:
        assert value[14] == "4" and value[19] in "89ab", "a version 4 UUID, RFC 4122 variant"
    listed = {job["name"]: job["uuid"] for job in api.get("/api/v1/jobs").json()["jobs"]}
    assert set(listed.values()) == uuids
    assert api.get("/api/v1/jobs/by-api").json()["uuid"] == uuid_of(server, "by-api")


@pytest.mark.parametrize("method", ["GET", "POST", "HEAD"])
def test_a_uuid_ping_is_a_success_of_that_job_with_healthchecks_answer(
    server: LiveServer, client: httpx.Client, job_uuid: str, method: str
) -> None:
    response = client.request(method, f"/ping/{job_uuid}", params={"host": "db2"})
    assert response.status_code == 200
    assert response.text == ("" if method == "HEAD" else "OK")
    assert response.headers["ping-body-limit"] == str(server.settings.max_body)
    assert response.headers["access-control-allow-origin"] == "*"
    rows = query(server.database_url, "SELECT hostname, outcome FROM runs WHERE name = 'backup'")
    assert sorted(rows) == [("db1", "success"), ("db2", "success")]
    assert count_jobs(server.database_url) == 1, "no job named after the UUID"


@pytest.mark.parametrize(
    ("suffix", "outcome", "exit_code"),
    [("/fail", "failure", None), ("/0", "success", 0), ("/3", "failure", 3), ("/", "success", 0)],
)
def test_uuid_start_and_finish_pair_by_rid(
    server: LiveServer, client: httpx.Client, job_uuid: str, suffix: str, outcome: str,
    exit_code: int | None,
) -> None:  # fmt: skip
    params = {"rid": "5f3c1a4e-9d7b-4c2a-8e1f-0a9b8c7d6e5f"}
    assert client.post(f"/ping/{job_uuid}/start", params=params).status_code == 200
    time.sleep(0.02)
    assert (
        client.post(f"/ping/{job_uuid}{suffix}", params=params, content=b"out").status_code == 200
    )
    last = outcomes(server, "backup")[-1]
    assert last == (outcome, exit_code, "out", params["rid"])
    assert count_runs(server.database_url) == 2, "the start and its finish are one run"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/ping/00000000-0000-4000-8000-000000000000", 404),  # no job has it
        ("/ping/00000000-0000-4000-8000-000000000000/start", 404),
        ("/ping/00000000-0000-4000-8000-000000000000/log", 404),
        ("/ping/{uuid}/256", 400),  # exit codes are 0-255
        ("/ping/{uuid}/nope", 404),
        ("/ping/{uuid}/start/extra", 404),
        ("/ping/{upper}", 404),  # Healthchecks' URLs take lowercase UUIDs only
    ],
)
def test_refused_uuid_pings_write_nothing(
    server: LiveServer, client: httpx.Client, job_uuid: str, path: str, status: int
) -> None:
    before = (count_runs(server.database_url), count_jobs(server.database_url))
    response = client.post(path.format(uuid=job_uuid, upper=job_uuid.upper()), content=b"x")
    assert response.status_code == status
    assert (count_runs(server.database_url), count_jobs(server.database_url)) == before
    assert log_events(server, "backup") == []


def test_the_uuid_is_the_only_credential_it_needs(
    server: LiveServer, client: httpx.Client, job_uuid: str, key: str
) -> None:
    """A UUID ping needs no key; a revoked ping key does not stop it (nor does it open
    anything but that one job)."""
    invoke("key", "revoke", key[:12], url=server.database_url)
    assert client.get(f"/ping/{key}/backup").status_code == 401
    assert client.get(f"/ping/{job_uuid}").status_code == 200
    assert [row[0] for row in outcomes(server, "backup")] == ["success", "success"]


def test_a_regenerated_uuid_replaces_the_old_one_at_once(
    server: LiveServer, api: httpx.Client, client: httpx.Client, job_uuid: str
) -> None:
    response = api.post("/api/v1/jobs/backup/uuid")
    assert response.status_code == 200
    new = response.json()["uuid"]
    assert new != job_uuid and new == uuid_of(server, "backup")
    assert client.get(f"/ping/{job_uuid}").status_code == 404, "the old UUID is refused"
    assert client.get(f"/ping/{new}").status_code == 200
    result = invoke("uuid", "backup", "--regenerate", url=server.database_url)
    newest = result.stdout.strip()
    assert newest not in (new, job_uuid) and newest == uuid_of(server, "backup")
    assert client.get(f"/ping/{new}").status_code == 404
    shown = invoke("uuid", "backup", url=server.database_url).stdout.strip()
    assert shown == newest, "without --regenerate it only shows the UUID"
    assert api.post("/api/v1/jobs/nosuch/uuid").status_code == 404


@pytest.mark.parametrize("form", ["uuid", "slug"])
def test_log_adds_an_event_with_its_body_and_changes_no_status(
    server: LiveServer, api: httpx.Client, client: httpx.Client, job_uuid: str, key: str,
    form: str,
) -> None:  # fmt: skip
    url = f"/ping/{job_uuid}/log" if form == "uuid" else f"/ping/{key}/backup/log"
    summary = "SELECT runs_total, last_outcome, last_completed_us FROM job_hosts"

    def statuses() -> list[tuple[str, str]]:
        return [(job["name"], job["status"]) for job in api.get("/api/v1/status").json()["jobs"]]

    before = (query(server.database_url, summary), statuses())
    response = client.post(url, content=b"disk 91% full")
    assert (response.status_code, response.text) == (200, "OK")
    assert log_events(server, "backup") == [("log", "disk 91% full")]
    events = api.get("/api/v1/jobs/backup/events").json()["events"]
    assert [(e["kind"], e["text"]) for e in events] == [("log", "disk 91% full")]
    assert count_runs(server.database_url) == 1, "a log line is no run"
    assert (query(server.database_url, summary), statuses()) == before
    assert client.get(url).status_code == 200, "a log without a body is an empty line"
    assert log_events(server, "backup")[-1] == ("log", "")


def test_a_log_line_for_an_unknown_slug_creates_no_job(
    server: LiveServer, client: httpx.Client, key: str
) -> None:
    assert client.post(f"/ping/{key}/ghost/log", content=b"hello").status_code == 404
    assert count_jobs(server.database_url) == 0
    assert client.post("/ping/cwp_notakey/ghost/log").status_code == 401


def test_the_status_command_lists_uuids(server: LiveServer, job_uuid: str) -> None:
    table = invoke("status", "--uuid", url=server.database_url).output
    assert job_uuid in table and "UUID" in table.splitlines()[0]
    plain = invoke("status", url=server.database_url).output
    assert job_uuid not in plain, "the UUID column only when asked"
    as_json = invoke("status", "--json", url=server.database_url).output
    assert f'"uuid": "{job_uuid}"' in as_json


def test_the_job_page_shows_the_ping_url_and_the_log_lines(
    server: LiveServer, client: httpx.Client, job_uuid: str
) -> None:
    before = client.get("/jobs/backup").text
    assert f"/ping/{job_uuid}" in before
    assert "No log lines" in before
    client.post(f"/ping/{job_uuid}/log", content=b"<b>disk 91% full</b>")
    page = client.get("/jobs/backup").text
    assert "&lt;b&gt;disk 91% full&lt;/b&gt;" in page, "shown, as text"
    assert "<b>disk" not in page


# -- the PyPI healthchecks-io client ------------------------------------------------------------


def _client_pings(server: LiveServer, key: str, job_uuid: str) -> None:
    with Client(ping_key=key, ping_url=f"{server.url}/ping/") as hc:
        for target in ({"uuid": job_uuid}, {"slug": "backup"}):
            assert hc.start_ping(**target) == (True, "OK")
            assert hc.success_ping(**target, data="fine") == (True, "OK")
            assert hc.start_ping(**target) == (True, "OK")
            assert hc.fail_ping(**target, data="broken") == (True, "OK")
            assert hc.exit_code_ping(4, **target, data="exit 4") == (True, "OK")
            assert hc.exit_code_ping(0, **target) == (True, "OK")
        with pytest.raises(CheckNotFoundError):
            hc.success_ping(uuid="00000000-0000-4000-8000-000000000000")


async def _async_client_pings(server: LiveServer, key: str, job_uuid: str) -> None:
    # Our own httpx client, closed before the loop ends (the library's finalizer would close
    # its own after asyncio.run returned).
    async with httpx.AsyncClient() as http:
        hc = AsyncClient(ping_key=key, ping_url=f"{server.url}/ping/", client=http)
        for target in ({"uuid": job_uuid}, {"slug": "backup"}):
            assert await hc.start_ping(**target) == (True, "OK")
            assert await hc.success_ping(**target, data="fine") == (True, "OK")
            assert await hc.start_ping(**target) == (True, "OK")
            assert await hc.fail_ping(**target, data="broken") == (True, "OK")
            assert await hc.exit_code_ping(4, **target, data="exit 4") == (True, "OK")
            assert await hc.exit_code_ping(0, **target) == (True, "OK")
        with pytest.raises(CheckNotFoundError):
            await hc.success_ping(uuid="00000000-0000-4000-8000-000000000000")


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_the_healthchecks_io_client_pings_by_uuid_and_slug(
    server: LiveServer, key: str, job_uuid: str, flavour: str
) -> None:
    if flavour == "sync":
        _client_pings(server, key, job_uuid)
    else:
        asyncio.run(_async_client_pings(server, key, job_uuid))
    expected = [
        ("success", 0, None),  # the fixture's first ping
        *[
            ("success", 0, "fine"),  # start + success: one run
            ("failure", None, "broken"),  # start + fail: one run
            ("failure", 4, "exit 4"),  # a lone exit code
            ("success", 0, None),
        ]
        * 2,  # by UUID, then by slug
    ]
    assert [row[:3] for row in outcomes(server, "backup")] == expected
    assert count_jobs(server.database_url) == 1


def test_create_1_is_answered_201_created_when_the_ping_made_the_job(
    server: LiveServer, client: httpx.Client, key: str
) -> None:
    first = client.get(f"/ping/{key}/provisioned", params={"create": "1"})
    assert (first.status_code, first.text) == (201, "Created")
    assert first.headers["ping-body-limit"] == str(server.settings.max_body)
    again = client.get(f"/ping/{key}/provisioned", params={"create": "1"})
    assert (again.status_code, again.text) == (200, "OK"), "only the ping that made it"
    plain = client.get(f"/ping/{key}/unprovisioned")
    assert (plain.status_code, plain.text) == (200, "OK"), "without create=1: OK, as before"
    assert client.get(f"/ping/cwp_{'x' * 32}/other", params={"create": "1"}).status_code == 401
    assert count_runs(server.database_url) == 3 and count_jobs(server.database_url) == 2
