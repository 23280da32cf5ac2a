"""``POST /act`` over HTTP, on both databases: a session signed in with a write key acts with
its page's token and each action is an event with the key's name; without the token, with
another session's, from another site, with a read key or no sign-in at all nothing happens;
a config-file job says why it cannot be edited; a delete needs its confirmation; and it all
works behind the README's HTTPS reverse proxy."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

import cronwatch
from cronwatch.config import load_config
from cronwatch.monitor import Monitor
from cronwatch.storage.alerts import AlertStore
from cronwatch.storage.connection import Database
from cronwatch.timeutil import utcnow
from cronwatch.web.dashboard.access import COOKIE, SESSION
from cronwatch.web.dashboard.acting import edit_patch
from tests.support.server import LiveServer, create_key

_CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


@contextmanager
def signed_in(live: LiveServer, key: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=30) as http:
        response = http.post("/login", data={"key": key, "next": "/"},
                             headers={"Origin": live.url})  # fmt: skip
        assert response.status_code == 303, response.text
        yield http


def token(http: httpx.Client, page: str = "/jobs/backup", **headers: str) -> str:
    found = _CSRF.search(http.get(page, headers=headers).text)
    assert found, "no action form on the page"
    return found[1]


def act(http: httpx.Client, live: LiveServer, **form: str) -> httpx.Response:
    return http.post("/act", data={"name": "backup", **form}, headers={"Origin": live.url})


def actions(db: Database) -> list[tuple[str, str | None]]:
    rows = db.query("SELECT reason, actor FROM events WHERE kind = 'action' ORDER BY id")
    return [(row[0], row[1]) for row in rows]


@pytest.fixture
def backup(monitor: Monitor) -> None:
    now = utcnow()
    monitor.record_success("backup", now - timedelta(minutes=5), now, hostname="db1")
    monitor.record_success("backup", now - timedelta(minutes=4), now, hostname="db2")


def test_a_write_session_acts_and_each_action_names_its_key(
    server: LiveServer, db: Database, backup: None
) -> None:
    key = create_key(server.database_url, "write", "alice")
    with signed_in(server, key) as http:
        csrf = token(http)
        page = http.get("/jobs/backup").text
        assert "act-pause" in page and "act-edit" in page and "act-delete" in page
        assert '<th scope="col">Act</th>' in http.get("/").text  # the overview's rows too
        done = act(http, server, action="pause", csrf=csrf, note="disk swap")
        assert (done.status_code, done.headers["location"]) == (303, "/jobs/backup")
        done = act(http, server, action="snooze", csrf=csrf, tz="Europe/Paris",
                   next="/?status=paused", **{"for": "4h"})  # fmt: skip
        assert done.headers["location"] == "/?status=paused"
        snooze = AlertStore(db).state("backup").snooze_until  # type: ignore[union-attr]
        assert snooze is not None and timedelta(hours=3.9) < snooze - utcnow() <= timedelta(hours=4)
        act(http, server, action="unsnooze", csrf=csrf)
        edited = act(http, server, action="edit", csrf=csrf, schedule="*/5 * * * *",
                     grace="", hosts="db1, db2", tags="db,nightly", alerts="")  # fmt: skip
        assert edited.status_code == 303
        spec = http.get("/api/v1/jobs/backup",
                        headers={"Authorization": f"Bearer {key}"}).json()["spec"]  # fmt: skip
        assert spec == {"paused": True, "schedule": "*/5 * * * *", "hosts": ["db1", "db2"],
                        "tags": ["db", "nightly"]}  # fmt: skip
        act(http, server, action="resume", csrf=csrf)
        # Runs filtered by host from the page's form.
        runs = http.get("/jobs/backup", params={"host": "db2"}).text
        assert "<option selected>db2</option>" in runs
        kept = act(http, server, action="delete", csrf=csrf, confirm="back")
        assert kept.status_code == 400 and "to confirm" in kept.text
        gone = act(http, server, action="delete", csrf=csrf, confirm="backup")
        assert (gone.status_code, gone.headers["location"]) == (303, "/")
        assert http.get("/jobs/backup").status_code == 404
    assert actions(db) == [(verb, "alice") for verb in
                           ("pause", "snooze", "unsnooze", "edit", "resume", "delete")]  # fmt: skip


def test_without_this_sessions_token_nothing_happens(
    server: LiveServer, db: Database, backup: None
) -> None:
    key = create_key(server.database_url, "write", "alice")
    with signed_in(server, key) as http, signed_in(server, key) as other:
        csrf, others = token(http), token(other)
        assert csrf != others  # one token per session, even for the same key
        assert act(http, server, action="pause").status_code == 403
        assert act(http, server, action="pause", csrf=others).status_code == 403
        assert act(http, server, action="pause", csrf="0" * 64).status_code == 403
        assert act(http, server, action="pause", csrf="é" * 64).status_code == 403  # not a 500
        # The right token from another site: refused on the origin alone.
        for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
                        {"Origin": "null"}):  # fmt: skip
            refused = http.post("/act", data={"name": "backup", "action": "pause",
                                              "csrf": csrf}, headers=headers)  # fmt: skip
            assert refused.status_code == 403
        # Signing out ends the session: its token with it.
        http.post("/logout", headers={"Origin": server.url})
        assert act(http, server, action="pause", csrf=csrf).status_code == 401
    with httpx.Client(base_url=server.url, timeout=30) as anonymous:
        # Reading is open here; acting is not, and no form is offered.
        assert 'action="/act"' not in anonymous.get("/jobs/backup").text
        assert act(anonymous, server, action="pause", csrf=csrf).status_code == 401
    assert actions(db) == []
    assert db.query("SELECT spec FROM jobs WHERE name = 'backup'") == [(None,)]


def test_a_read_key_sees_no_action_and_cannot_act(
    server: LiveServer, db: Database, backup: None
) -> None:
    key = create_key(server.database_url, "read", "viewer")
    with signed_in(server, key) as http:
        assert http.cookies.get(SESSION) is not None
        page = http.get("/jobs/backup").text
        assert 'action="/act"' not in page and "sign in with one" in page
        assert "row-actions" not in http.get("/").text
        refused = act(http, server, action="pause", csrf="0" * 64)
        assert refused.status_code == 403 and "cannot change anything" in refused.text
    assert actions(db) == []


def test_a_config_file_job_says_why_it_cannot_be_edited(
    database_url: str, db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "cronwatch.toml"
    path.write_text('[jobs.backup]\nschedule = "0 3 * * *"\n')
    with LiveServer(database_url, config=load_config(path)) as live:
        key = create_key(database_url, "write", "alice")
        with signed_in(live, key) as http:
            page = http.get("/jobs/backup").text
            assert "is declared in the config file" in page and str(path) in page
            assert "act-edit" not in page and "act-pause" not in page and "act-delete" not in page
            assert "act-snooze" in page  # a snooze is not the spec: it works here
            row = http.get("/").text  # the overview's row: no pause offered either
            assert "row-actions" in row and "act-snooze" in row and "act-pause" not in row
            csrf = token(http)
            refused = act(http, live, action="edit", csrf=csrf, schedule="0 4 * * *")
            assert refused.status_code == 409 and "config file" in refused.text
            assert act(http, live, action="pause", csrf=csrf).status_code == 409
    assert actions(db) == []


def test_htmx_gets_the_error_in_place_of_the_page(
    server: LiveServer, db: Database, backup: None
) -> None:
    key = create_key(server.database_url, "write", "alice")
    with signed_in(server, key) as http:
        csrf = token(http)
        response = http.post("/act", data={"name": "backup", "action": "ack", "csrf": csrf},
                             headers={"Origin": server.url, "HX-Request": "true"})  # fmt: skip
    assert response.status_code == 200 and response.headers["X-Cronwatch-Status"] == "409"
    assert response.headers["HX-Retarget"] == "main" and "no open incident" in response.text


def test_behind_the_https_proxy(tmp_path: Path) -> None:
    """The README's nginx setup: the browser is at https://cron.example.com."""
    site = "cron.example.com"
    nginx = {"Host": site, "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7",
             "X-Forwarded-Host": site}  # fmt: skip
    browser = {"Origin": f"https://{site}", "Sec-Fetch-Site": "same-origin"}
    url = f"sqlite:///{tmp_path / 'cronwatch.db'}"
    with cronwatch.connect(url, statsd=False) as monitor:
        now = utcnow()
        monitor.record_success("backup", now - timedelta(minutes=3), now, "db1")
    key = create_key(url, "write", "alice")
    with (
        LiveServer(url, open_dashboard=False, proxy_headers=True) as live,
        httpx.Client(base_url=live.url, timeout=30) as http,
    ):
        login = http.post("/login", data={"key": key, "next": "/"}, headers={**nginx, **browser})
        cookies = login.headers.get_list("set-cookie")
        assert len(cookies) == 2 and all("; secure" in c.lower() for c in cookies)
        # httpx keeps Secure cookies for https: hand them over as the browser would.
        http.cookies.set(COOKIE, key)
        http.cookies.set(SESSION, login.cookies[SESSION])
        csrf = token(http, **nginx)
        done = http.post("/act", data={"name": "backup", "action": "pause", "csrf": csrf},
                         headers={**nginx, **browser})  # fmt: skip
        assert done.status_code == 303, done.text
        # The same request claiming the server's own http:// origin is another origin here.
        other = http.post("/act", data={"name": "backup", "action": "resume", "csrf": csrf},
                          headers={**nginx, "Origin": live.url})  # fmt: skip
        assert other.status_code == 403


def test_the_edit_form_sends_only_what_changed() -> None:
    spec = {"schedule": "0 3 * * *", "grace": 1800, "tags": ["db", "nightly"], "paused": True}
    form = {"schedule": "0 3 * * *", "grace": "1800", "tags": "db, nightly", "hosts": "",
            "min_runtime": "", "max_runtime": "2h", "alerts": ""}  # fmt: skip
    assert edit_patch(spec, form) == {"max_runtime": "2h"}
    assert edit_patch(spec, {**form, "tags": "", "grace": "5m", "hosts": "a,, b "}) == {
        "tags": None, "grace": "5m", "hosts": ["a", "b"], "max_runtime": "2h"}  # fmt: skip
