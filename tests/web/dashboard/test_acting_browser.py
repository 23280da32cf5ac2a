"""Acting from the dashboard in a real browser (Debian's Chromium under Playwright) against a
real server: a session signed in with a write key pauses, snoozes, acknowledges and resumes a
job from its page, and ``cronwatch status --json`` agrees after each; a read-key session sees
no action and a POST forged with its cookie is refused; a form on another site posting to the
server is refused and changes nothing; without JavaScript the same forms work.

Set ``CRONWATCH_UPDATE_SCREENSHOT=1`` to also write ``docs/job-actions.png`` (the README's).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import cronwatch
from cronwatch.alerts.cycle import run_alert_cycle
from cronwatch.storage import open_database
from cronwatch.timeutil import utcnow
from tests.support.cli import invoke
from tests.support.fleet import Watched, chromium, screenshot
from tests.support.paths import DOCS
from tests.support.server import LiveServer, create_key

VIEWER_ZONE = "America/New_York"
# Read at import: the tests' isolated environment drops CRONWATCH_* variables.
UPDATE_SCREENSHOT = bool(os.environ.get("CRONWATCH_UPDATE_SCREENSHOT"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@dataclasses.dataclass
class Site:
    live: LiveServer
    url: str  # the database's
    writer: str
    reader: str


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """backup: a week of nightly runs on db1 and db2, then a failure whose problem is
    announced (an open incident); a closed dashboard (a key needed, as in production)."""
    url = f"sqlite:///{tmp_path / 'cronwatch.db'}"
    now = utcnow().replace(microsecond=0)
    with cronwatch.connect(url, statsd=False) as monitor:
        for day in range(7, 0, -1):
            for host, took in (("db1", 300 + day * 7), ("db2", 340 - day * 5)):
                start = now - timedelta(days=day, minutes=30)
                monitor.record_success("backup", start, start + timedelta(seconds=took),
                                       hostname=host)  # fmt: skip
        failed = now - timedelta(minutes=3)
        monitor.record_failure("backup", failed, failed + timedelta(minutes=1), 2,
                               hostname="db1", output="pg_dump: connection refused\n")  # fmt: skip
    with open_database(url) as db:
        run_alert_cycle(db, None, now)
    writer = create_key(url, "write", "alice")
    reader = create_key(url, "read", "viewer")
    live = LiveServer(url, open_dashboard=False)
    with live:
        yield Site(live, url, writer, reader)


def status(site: Site) -> dict[str, Any]:
    """backup as `cronwatch status --json` shows it."""
    result = invoke("status", "--json", url=site.url)
    assert result.exit_code == 0, result.output
    (job,) = [j for j in json.loads(result.output) if j["name"] == "backup"]
    return dict(job)


def sign_in(page: Any, site: Site, key: str, target: str = "/jobs/backup") -> None:
    page.goto(f"{site.live.url}/login?next={target}")
    page.fill("input[name=key]", key)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(f"**{target}")


def tomorrow_nine(zone: str) -> datetime:
    local = utcnow().astimezone(ZoneInfo(zone))
    wall = datetime.combine(local.date() + timedelta(days=1), datetime.min.time()).replace(hour=9)
    return wall.replace(tzinfo=ZoneInfo(zone))


def test_a_write_key_pauses_snoozes_acknowledges_and_resumes(browser: Any, site: Site) -> None:
    context = browser.new_context(viewport={"width": 1360, "height": 1000},
                                  timezone_id=VIEWER_ZONE)  # fmt: skip
    watched = Watched(context.new_page())
    page = watched.page
    sign_in(page, site, site.writer)
    before = status(site)
    assert before["status"] == "failing" and before["alerts"]["incident"]["acknowledged_by"] is None
    panel = page.locator("#actions")
    assert panel.locator("form.act-pause button").is_visible()

    # Pause: htmx swaps the job's state in place, no page load.
    page.evaluate("window.cwMarker = 1")
    panel.locator("form.act-pause button").click()
    page.locator("#actions form.act-resume button").wait_for()
    assert page.evaluate("window.cwMarker") == 1  # the same document: not reloaded
    assert status(site)["status"] == "paused"
    # The hosts' rows and the history follow in place: no host left FAILING beside PAUSED.
    hosts = page.locator("#hosts .hosts-table tbody").inner_text()
    assert "paused" in hosts.lower() and "failing" not in hosts.lower(), hosts
    assert "paused by alice" in page.locator("#history").inner_text()

    # Snooze until tomorrow 09:00 on the viewer's clock (New York), not the server's (UTC).
    page.locator("#actions form.act-snooze button[value=tomorrow]").click()
    page.locator("#actions .snoozed").wait_for()
    snoozed = status(site)["alerts"]["snoozed_until"]
    assert datetime.fromisoformat(snoozed) == tomorrow_nine(VIEWER_ZONE)
    assert page.locator("#actions form.act-unsnooze button").is_visible()

    # Acknowledge the open incident with a note.
    page.fill("#incident form.act-ack input[name=note]", "restoring the replica")
    page.locator("#incident form.act-ack button").click()
    page.locator("#incident .acked").wait_for()
    incident = status(site)["alerts"]["incident"]
    assert (incident["acknowledged_by"], incident["note"]) == ("alice", "restoring the replica")
    assert page.locator("#incident form.act-ack").count() == 0

    # Resume.
    page.locator("#actions form.act-resume button").click()
    page.locator("#actions form.act-pause button").wait_for()
    assert status(site)["status"] != "paused"
    assert page.evaluate("window.cwMarker") == 1

    # Who did what: the page's history (after a reload), `alerts history` and the API.
    page.reload()
    history = page.locator("#history").inner_text()
    for verb in ("pause", "snooze", "ack", "resume"):
        assert verb in history
    assert "restoring the replica" in history and "alice" in history
    log = invoke("alerts", "history", "backup", url=site.url).output
    assert "backup paused by alice" in log and "backup acknowledged by alice" in log
    reader = {"Authorization": f"Bearer {site.reader}"}
    events = context.request.get(f"{site.live.url}/api/v1/jobs/backup/events", headers=reader)
    events = events.json()
    assert [e["by"] for e in events["events"][:4]] == ["alice"] * 4
    page.locator("#actions details.edit summary").click()
    shot = screenshot(page, "job-actions")
    if UPDATE_SCREENSHOT:
        page.screenshot(path=str(DOCS / "job-actions.png"), full_page=False)
    assert shot.exists()
    context.close()
    watched.assert_clean()


def test_the_overview_row_acts_in_place(browser: Any, site: Site) -> None:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    watched = Watched(context.new_page())
    page = watched.page
    sign_in(page, site, site.writer, "/")
    row = page.locator("table.jobs tr.job", has_text="backup")
    row.locator("details.row-actions summary").click()
    page.evaluate("window.cwMarker = 1")
    row.locator("form.act-pause button").click()
    page.locator("table.jobs tr.job[data-status=paused]").wait_for()
    assert page.evaluate("window.cwMarker") == 1
    assert status(site)["status"] == "paused"
    screenshot(page, "overview-actions")
    context.close()
    watched.assert_clean()


def test_a_read_key_sees_no_action_and_its_cookie_cannot_forge_one(
    browser: Any, site: Site
) -> None:
    context = browser.new_context()
    watched = Watched(context.new_page())
    page = watched.page
    sign_in(page, site, site.reader)
    assert page.locator("#job-state").is_visible()
    assert page.locator("form[action='/act']").count() == 0  # nothing to click
    assert page.locator("a[href^='/login']").count() >= 1  # but how to get there
    page.goto(site.live.url + "/")
    assert page.locator("details.row-actions").count() == 0
    # A POST made by hand, with the read session's cookie, from this very origin.
    forged = context.request.post(
        site.live.url + "/act",
        form={"name": "backup", "action": "pause", "next": "/jobs/backup"},
        headers={"Origin": site.live.url},
        max_redirects=0,
    )
    assert forged.status in (401, 403), forged.status
    assert status(site)["status"] == "failing"
    context.close()
    watched.assert_clean()


def test_a_form_on_another_site_changes_nothing(browser: Any, site: Site) -> None:
    """The write session is signed in; a page of another origin posts a form to /act."""
    context = browser.new_context()
    watched = Watched(context.new_page())
    page = watched.page
    sign_in(page, site, site.writer)
    evil = (
        "<!doctype html><form method=post action='" + site.live.url + "/act'>"
        "<input type=hidden name=name value=backup><input type=hidden name=action value=pause>"
        "<input type=hidden name=next value=/jobs/backup><button>win a prize</button></form>"
    )
    page.route("http://evil.example/**", lambda route: route.fulfill(
        status=200, content_type="text/html", body=evil))  # fmt: skip
    page.goto("http://evil.example/")
    with page.expect_navigation() as navigation:
        page.click("button")
    response = navigation.value
    assert response is not None and response.status in (401, 403), response
    assert status(site)["status"] == "failing"
    with open_database(site.url) as db:
        assert db.query("SELECT COUNT(*) FROM events WHERE kind = 'action'") == [(0,)]
    context.close()


def test_without_javascript_the_forms_still_act(browser: Any, site: Site) -> None:
    context = browser.new_context(java_script_enabled=False)
    watched = Watched(context.new_page())
    page = watched.page
    sign_in(page, site, site.writer)
    assert page.locator("html.no-js").count() == 1
    with page.expect_navigation():
        page.locator("#actions form.act-pause button").click()
    assert status(site)["status"] == "paused"
    chosen = (utcnow() + timedelta(days=30)).replace(second=0, microsecond=0)
    page.fill("#actions form.act-snooze-until input[name=until]", chosen.strftime("%Y-%m-%dT%H:%M"))
    with page.expect_navigation():
        page.locator("#actions form.act-snooze-until button").click()
    # Without JavaScript the chosen time is UTC (the form says so).
    assert status(site)["alerts"]["snoozed_until"] == chosen.isoformat()
    page.fill("#incident form.act-ack input[name=note]", "no js needed")
    with page.expect_navigation():
        page.locator("#incident form.act-ack button").click()
    assert status(site)["alerts"]["incident"]["note"] == "no js needed"
    with page.expect_navigation():
        page.locator("#actions form.act-unsnooze button").click()
    with page.expect_navigation():
        page.locator("#actions form.act-resume button").click()
    now = status(site)
    assert now["status"] != "paused" and now["alerts"]["snoozed_until"] is None
    screenshot(page, "job-actions-nojs")
    context.close()
    watched.assert_clean()
