"""Healthchecks' API v3 and badges on cronwatch, on SQLite and PostgreSQL: the PyPI
``healthchecks-io`` client's API helpers, the keys (``X-Api-Key``, ``api_key`` in the body,
read-only keys), the error answers, ``unique`` upserts, pings and their bodies, flips, and the
badges; what must not happen: a refused request changes nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from healthchecks_io import Client
from healthchecks_io.schemas.checks import CheckCreate

from tests.support.server import LiveServer, count_jobs, create_key, query


@pytest.fixture
def hc(server: LiveServer) -> Iterator[httpx.Client]:
    """A client of :func:`server` with a write key in ``X-Api-Key``."""
    key = create_key(server.database_url, "write")
    with httpx.Client(base_url=server.url, timeout=30, headers={"X-Api-Key": key}) as http:
        yield http


def create(hc: httpx.Client, **body: object) -> dict[str, object]:
    response = hc.post("/api/v3/checks/", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


def test_the_healthchecks_io_client_drives_the_api(server: LiveServer) -> None:
    key = create_key(server.database_url, "write")
    ping_key = create_key(server.database_url, "ping")
    with Client(api_key=key, ping_key=ping_key, api_url=f"{server.url}/api/",
                ping_url=f"{server.url}/ping/", api_version=3) as client:  # fmt: skip
        check = client.create_check(
            CheckCreate.model_validate(
                {"name": "nightly", "tags": "db prod", "timeout": 3600, "grace": 120}
            )
        )
        assert (check.name, check.slug, check.status, check.timeout, check.grace) == (
            "nightly", "nightly", "new", 3600, 120,
        )  # fmt: skip
        assert check.uuid and check.ping_url == f"{server.url}/ping/{check.uuid}"
        assert client.success_ping(uuid=check.uuid, data="all good") == (True, "OK")
        assert client.get_check(check.uuid).status == "up"
        assert [c.name for c in client.get_checks(tags=["db"])] == ["nightly"]
        assert client.get_checks(tags=["db", "nope"]) == []
        assert client.fail_ping(slug="nightly") == (True, "OK")
        assert client.get_check(check.uuid).status == "down"
        pings = client.get_check_pings(check.uuid)
        assert [p.type for p in pings] == ["fail", "success"]
        assert client.pause_check(check.uuid).status == "paused"
        # (get_check_flips expects a bare list, which no Healthchecks API version answers)
        assert client.get_integrations() == []
        deleted = client.delete_check(check.uuid)
        assert deleted.name == "nightly"
    assert count_jobs(server.database_url) == 0


def test_keys_are_taken_and_refused_as_healthchecks_does(
    server: LiveServer, hc: httpx.Client
) -> None:
    read = create_key(server.database_url, "read")
    ping = create_key(server.database_url, "ping")
    write = create_key(server.database_url, "write")
    check = create(hc, name="a", timeout=600)
    bare = httpx.Client(base_url=server.url, timeout=30)
    assert bare.get("/api/v3/checks/").status_code == 401
    assert bare.get("/api/v3/checks/").json() == {"error": "missing api key"}
    for wrong in ("nope", ping, write[:-1] + "x"):
        answer = bare.get("/api/v3/checks/", headers={"X-Api-Key": wrong})
        assert (answer.status_code, answer.json()) == (401, {"error": "wrong api key"})
    listed = bare.get("/api/v3/checks/", headers={"X-Api-Key": read}).json()["checks"]
    assert "uuid" not in listed[0] and "ping_url" not in listed[0]
    assert len(listed[0]["unique_key"]) == 40
    by_key = bare.get(f"/api/v3/checks/{listed[0]['unique_key']}", headers={"X-Api-Key": read})
    assert by_key.json()["name"] == "a"
    refused = bare.post("/api/v3/checks/", json={"name": "b"}, headers={"X-Api-Key": read})
    assert (refused.status_code, refused.json()) == (401, {"error": "wrong api key"})
    in_body = bare.post("/api/v3/checks/", json={"name": "c", "api_key": write})
    assert in_body.status_code == 201
    assert sorted(r[0] for r in query(server.database_url, "SELECT name FROM jobs")) == ["a", "c"]
    assert bare.get(f"/api/v3/checks/{check['uuid']}/pings/", headers={"X-Api-Key": read}
                    ).status_code == 401  # fmt: skip


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"timeout": 59}, "timeout is too small"),
        ({"timeout": 31536001}, "timeout is too large"),
        ({"grace": "60"}, "grace is not a number"),
        ({"name": 5}, "name is not a string"),
        ({"name": "x" * 101}, "name is too long"),
        ({"slug": "Not A Slug"}, "slug does not match pattern"),
        ({"tags": None}, "tags is not a string"),
        ({"schedule": "not cron"}, "schedule is not a valid cron or OnCalendar expression"),
        ({"tz": "Mars/Olympus"}, "tz is not a valid timezone"),
        ({"methods": "GET"}, "methods has unexpected value"),
        ({"unique": ["desc"]}, "an item in 'unique' has unexpected value"),
        ({"manual_resume": 1}, "manual_resume is not a boolean"),
    ],
)
def test_invalid_fields_are_refused_with_healthchecks_words(
    server: LiveServer, hc: httpx.Client, body: dict[str, object], message: str
) -> None:
    answer = hc.post("/api/v3/checks/", json={"name": "x", **body})
    assert (answer.status_code, answer.json()) == (
        400,
        {"error": f"json validation error: {message}"},
    )
    assert count_jobs(server.database_url) == 0


def test_unique_upserts_and_update_changes_only_what_it_names(
    server: LiveServer, hc: httpx.Client
) -> None:
    first = create(hc, name="etl", tags="a", timeout=600, unique=["name"])
    again = hc.post("/api/v3/checks/", json={"name": "etl", "grace": 300, "unique": ["name"]})
    assert again.status_code == 200, "a matching check is updated, not created"
    assert again.json()["uuid"] == first["uuid"] and again.json()["grace"] == 300
    assert again.json()["timeout"] == 600 and again.json()["tags"] == "a"
    changed = hc.post(f"/api/v3/checks/{first['uuid']}", json={"schedule": "0 3 * * *",
                                                              "tz": "Europe/Riga"})  # fmt: skip
    shown = changed.json()
    assert (shown["schedule"], shown["tz"], "timeout" in shown) == ("0 3 * * *", "Europe/Riga",
                                                                    False)  # fmt: skip
    renamed = hc.post(f"/api/v3/checks/{first['uuid']}", json={"name": "other"})
    assert renamed.status_code == 400
    assert count_jobs(server.database_url) == 1


def test_pause_resume_delete_and_unknown_checks(server: LiveServer, hc: httpx.Client) -> None:
    check = create(hc, name="p", timeout=600)
    code = check["uuid"]
    assert hc.post(f"/api/v3/checks/{code}/pause").json()["status"] == "paused"
    assert hc.post(f"/api/v3/checks/{code}/resume").json()["status"] != "paused"
    again = hc.post(f"/api/v3/checks/{code}/resume")
    assert (again.status_code, again.text) == (409, "check is not paused")
    unknown = "00000000-0000-4000-8000-000000000000"
    for method, path in [("GET", ""), ("POST", ""), ("DELETE", ""), ("POST", "/pause"),
                         ("GET", "/pings/"), ("GET", "/flips/")]:  # fmt: skip
        assert hc.request(method, f"/api/v3/checks/{unknown}{path}").status_code == 404
    assert hc.delete(f"/api/v3/checks/{code}").json()["uuid"] == code
    assert hc.get(f"/api/v3/checks/{code}").status_code == 404
    assert count_jobs(server.database_url) == 0


def test_pings_list_their_bodies_and_durations(server: LiveServer, hc: httpx.Client) -> None:
    code = create(hc, name="timed", timeout=600)["uuid"]
    rid = "1c2d3e4f-0000-4000-8000-000000000001"
    hc.post(f"/ping/{code}/start", params={"rid": rid})
    time.sleep(0.05)
    hc.post(f"/ping/{code}/2", params={"rid": rid}, content=b"exit two")
    hc.post(f"/ping/{code}/log", content=b"a log line")
    hc.get(f"/ping/{code}")
    pings = hc.get(f"/api/v3/checks/{code}/pings/").json()["pings"]
    assert [p["type"] for p in pings] == ["success", "log", "fail", "start"]
    assert len({p["n"] for p in pings}) == 4, "every ping its own n"
    fail, log = pings[2], pings[1]
    assert fail["rid"] == rid and fail["duration"] >= 0.05 and fail["exitstatus"] == 2
    assert pings[0]["body_url"] is None and pings[3]["body_url"] is None
    for ping, text in ((fail, "exit two"), (log, "a log line")):
        body = httpx.get(ping["body_url"], headers=hc.headers, timeout=30)
        assert (body.status_code, body.text) == (200, text)
    for n in (pings[0]["n"], pings[3]["n"], 10**9):
        assert hc.get(f"/api/v3/checks/{code}/pings/{n}/body").status_code == 404
    other = create(hc, name="other", timeout=600)["uuid"]
    assert hc.get(f"/api/v3/checks/{other}/pings/{log['n']}/body").status_code == 404, (
        "a body is only its own check's"
    )
    shown = hc.get(f"/api/v3/checks/{code}").json()
    # Two runs a moment apart on a 10-minute schedule: cronwatch says too_often, which is
    # Healthchecks' "up"; the richer status is in its own field.
    assert (shown["n_pings"], shown["status"], shown["cronwatch_status"]) == (2, "up", "too_often")


def test_status_and_channels(server: LiveServer, hc: httpx.Client) -> None:
    status = httpx.get(f"{server.url}/api/v3/status/", timeout=30)
    assert (status.status_code, status.text) == (200, "OK")
    assert hc.get("/api/v3/channels/").json() == {"channels": []}


def test_badges_show_tags_to_a_badge_key_and_nothing_to_others(
    server: LiveServer, hc: httpx.Client
) -> None:
    badge = create_key(server.database_url, "badge")
    read = create_key(server.database_url, "read")
    up = create(hc, name="up", tags="web", timeout=600)
    down = create(hc, name="down", tags="db", timeout=600)
    hc.get(f"/ping/{up['uuid']}")
    hc.get(f"/ping/{down['uuid']}/fail")
    bare = httpx.Client(base_url=server.url, timeout=30)
    assert bare.get(f"/badge/{badge}/web.json").json() == {
        "status": "up", "total": 1, "grace": 0, "down": 0}  # fmt: skip
    assert bare.get(f"/badge/{badge}/*-2.json").json()["status"] == "down"
    shields = bare.get(f"/badge/{badge}/db.shields").json()
    assert shields == {"schemaVersion": 1, "label": "db", "message": "down", "color": "critical"}
    svg = bare.get(f"/badge/{badge}/web-3.svg")
    assert svg.headers["content-type"] == "image/svg+xml" and ">up</text>" in svg.text
    for wrong in (read, "cwb_" + "x" * 32):
        assert bare.get(f"/badge/{wrong}/web.json").status_code == 404, "a badge key only"
    check_badge = bare.get(str(up["badge_url"]).removeprefix(server.url))
    assert check_badge.status_code == 200 and ">up</text>" in check_badge.text
    assert str(up["uuid"]) not in str(up["badge_url"]), "the badge URL does not reveal the UUID"


def test_the_client_s_default_api_v1_is_served_too(server: LiveServer, hc: httpx.Client) -> None:
    """The healthchecks-io client talks v1 unless told otherwise; v1 says ``started`` as a
    status where v3 says ``"started": true``, and its URLs name v1."""
    key = create_key(server.database_url, "write")
    with Client(api_key=key, api_url=f"{server.url}/api/") as client:
        check = client.create_check(CheckCreate.model_validate({"name": "v1job", "timeout": 600}))
        assert check.update_url == f"{server.url}/api/v1/checks/{check.uuid}"
        hc.get(f"/ping/{check.uuid}/start")
        assert client.get_check(str(check.uuid)).status == "started"
    v3 = hc.get(f"/api/v3/checks/{check.uuid}").json()
    assert v3["status"] in ("new", "up") and v3["started"] is True, "never 'started' in v3"
    assert (
        hc.get("/api/v2/checks/")
        .json()["checks"][0]["update_url"]
        .endswith(f"/api/v2/checks/{check.uuid}")
    )


def test_creating_a_check_beyond_max_jobs_gets_403_as_healthchecks_does(database_url: str) -> None:
    key = create_key(database_url, "write")
    with (
        LiveServer(database_url, max_jobs=1) as live,
        httpx.Client(base_url=live.url, headers={"X-Api-Key": key}) as http,
    ):
        assert http.post("/api/v3/checks/", json={"name": "one"}).status_code == 201
        refused = http.post("/api/v3/checks/", json={"name": "two"})
        assert refused.status_code == 403 and "at most 1 jobs" in refused.text
    assert count_jobs(database_url) == 1


def test_desc_is_the_job_s_description(
    server: LiveServer, hc: httpx.Client, api: httpx.Client
) -> None:
    check = create(hc, name="described", timeout=600, desc="dumps <every> database")
    assert check["desc"] == "dumps <every> database"
    assert api.get("/api/v1/jobs/described").json()["spec"]["description"] == check["desc"]
    assert "dumps &lt;every&gt; database" in api.get("/jobs/described").text
    changed = hc.post(f"/api/v3/checks/{check['uuid']}", json={"desc": ""}).json()
    assert (
        changed["desc"] == ""
        and "description" not in api.get("/api/v1/jobs/described").json()["spec"]
    )
    refused = hc.post(f"/api/v3/checks/{check['uuid']}", json={"desc": "a\x00b"})
    assert refused.status_code == 400
