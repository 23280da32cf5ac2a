"""Who may read the dashboard: anyone when the server listens on loopback; otherwise only with
a read (or write) key, as a Bearer token or through the login form's cookie. A refused
request shows nothing of the jobs."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

import cronwatch
from cronwatch.storage import open_database
from cronwatch.storage.keys import KeyStore
from cronwatch.timeutil import utcnow
from cronwatch.web.dashboard.access import COOKIE
from tests.support.server import LiveServer, create_key, serve

SECRET_JOB = "payroll-export"


def record(database_url: str) -> None:
    with cronwatch.connect(database_url, statsd=False) as monitor:
        now = utcnow()
        monitor.record_success(SECRET_JOB, now - timedelta(minutes=3), now, "hr1")


@pytest.fixture
def closed(database_url: str) -> Iterator[LiveServer]:
    """A server whose dashboard asks for a key (as when it listens on a public address)."""
    record(database_url)
    live = LiveServer(database_url)
    live.settings = dataclasses.replace(live.settings, open_dashboard=False)
    with live:
        yield live


def client(live: LiveServer, **kwargs: object) -> httpx.Client:
    return httpx.Client(base_url=live.url, timeout=30, **kwargs)  # type: ignore[arg-type]


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code in (303, 401, 403), response.status_code
    assert SECRET_JOB not in response.text


def test_on_loopback_the_dashboard_is_open(database_url: str) -> None:
    record(database_url)
    with LiveServer(database_url) as live, client(live) as http:
        assert live.settings.open_dashboard
        assert SECRET_JOB in http.get("/").text
        assert http.get(f"/jobs/{SECRET_JOB}").status_code == 200
        # Reading needs no key here; the form is still there, to sign in with a write key.
        login = http.get("/login?next=/jobs/x")
        assert login.status_code == 200 and "to pause, snooze, acknowledge" in login.text
        assert 'name="next" value="/jobs/x"' in login.text


def test_without_a_key_every_page_sends_to_the_login_form(closed: LiveServer) -> None:
    with client(closed) as http:
        for path, target in (
            ("/", "/"),
            (f"/jobs/{SECRET_JOB}?host=hr1", f"/jobs/{SECRET_JOB}?host=hr1"),
            ("/runs/1/output", "/runs/1/output"),
            ("/jobs/pay%20roll%20%2350%25", "/jobs/pay%20roll%20%2350%25"),
        ):
            response = http.get(path)
            assert_refused(response)
            assert response.status_code == 303
            assert response.headers["location"].startswith("/login?next=")
            assert httpx.URL(response.headers["location"]).params["next"] == target
        form = http.get("/login?next=/jobs/x")
        assert form.status_code == 200 and 'name="next" value="/jobs/x"' in form.text
        # what needs no key still needs none: the files, and the probes
        assert http.get("/static/dashboard.css").status_code == 200
        assert http.get("/healthz").status_code == 200


def test_a_bearer_read_or_write_key_reads_and_others_are_refused(closed: LiveServer) -> None:
    url = closed.database_url
    read, write, ping = (create_key(url, scope) for scope in ("read", "write", "ping"))
    with client(closed) as http:
        for key in (read, write):
            page = http.get("/", headers={"Authorization": f"Bearer {key}"})
            assert page.status_code == 200 and SECRET_JOB in page.text
        refused = http.get("/", headers={"Authorization": f"Bearer {ping}"})
        assert_refused(refused)
        assert refused.status_code == 403 and "use a read key" in refused.json()["message"]
        for header in (f"Bearer cwr_{'x' * 32}", "Bearer nonsense", "Basic dXNlcjpwdw=="):
            response = http.get("/", headers={"Authorization": header})
            assert_refused(response)
            assert response.status_code == 401


def test_signing_in_sets_a_strict_http_only_cookie_that_reads(closed: LiveServer) -> None:
    key = create_key(closed.database_url, "read")
    with client(closed) as http:
        response = http.post("/login", data={"key": key, "next": f"/jobs/{SECRET_JOB}"})
        assert response.status_code == 303
        assert response.headers["location"] == f"/jobs/{SECRET_JOB}"
        cookie = response.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE}={key};")
        attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "samesite", "path", "max-age"} <= attributes
        assert "samesite=strict" in cookie.lower() and "secure" not in attributes  # plain http
        page = http.get(f"/jobs/{SECRET_JOB}")
        assert page.status_code == 200 and SECRET_JOB in page.text
        assert 'action="/logout"' in page.text  # signed in: offers to sign out
        out = http.post("/logout")
        assert (out.status_code, out.headers["location"]) == (303, "/login")
        assert_refused(http.get("/"))


def test_a_revoked_key_ends_the_session(closed: LiveServer) -> None:
    with open_database(closed.database_url) as db:
        stored, key = KeyStore(db).create("read", "laptop")
    with client(closed) as http:
        http.post("/login", data={"key": key})
        assert http.get("/").status_code == 200
        with open_database(closed.database_url) as db:
            KeyStore(db).revoke(stored.id)
        assert_refused(http.get("/"))


def test_a_wrong_key_gets_the_form_again_with_the_reason(closed: LiveServer) -> None:
    ping = create_key(closed.database_url, "ping")
    with client(closed) as http:
        cases = (
            (f"cwr_{'y' * 32}", 401, "unknown key"),
            (ping, 403, "use a read key"),
            ("", 401, "enter a key"),
        )
        for key, status, message in cases:
            response = http.post("/login", data={"key": key})
            assert (response.status_code, message in response.text) == (status, True), key
            assert "set-cookie" not in response.headers
            assert_refused(response)


def test_sign_in_refuses_other_sites_and_redirects_only_here(closed: LiveServer) -> None:
    key = create_key(closed.database_url, "read")
    with client(closed) as http:
        for headers in (
            {"Origin": "https://evil.example"},
            {"Sec-Fetch-Site": "cross-site"},
            {"Origin": "null"},
        ):
            response = http.post("/login", data={"key": key}, headers=headers)
            assert response.status_code == 403 and "set-cookie" not in response.headers
        for target in ("//evil.example/x", "https://evil.example", "/\\evil.example"):
            response = http.post("/login", data={"key": key, "next": target})
            assert response.headers["location"] == "/"


def test_htmx_and_cross_site_requests_without_a_key(closed: LiveServer) -> None:
    with client(closed) as http:
        fragment = http.get("/?status=failing", headers={"HX-Request": "true"})
        assert_refused(fragment)
        assert fragment.status_code == 401
        assert fragment.headers["hx-redirect"] == "/login?next=/%3Fstatus%3Dfailing"
        # From a link on another site the Strict cookie is left out: reload from here.
        linked = http.get(f"/jobs/{SECRET_JOB}", headers={"Sec-Fetch-Site": "cross-site"})
        assert linked.status_code == 200 and SECRET_JOB in linked.text  # only in the URL
        refresh = re.search(r'<meta http-equiv="refresh" content="0; url=([^"]+)">', linked.text)
        assert refresh and refresh[1] == f"/jobs/{SECRET_JOB}"
        assert 'class="job-name"' not in linked.text


def test_serve_requires_a_key_unless_it_listens_on_loopback(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    record(url)
    with serve(url) as (base, _):
        assert SECRET_JOB in httpx.get(base + "/").text
    with serve(url, options=("--require-read-key",)) as (base, _):
        assert_refused(httpx.get(base + "/"))
    with serve(url, options=("--host", "0.0.0.0")) as (base, _):
        assert_refused(httpx.get(base + "/"))
        key = create_key(url, "read")
        page = httpx.get(base + "/", headers={"Authorization": f"Bearer {key}"})
        assert SECRET_JOB in page.text
