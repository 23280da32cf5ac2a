"""The dashboard in a real browser (Debian's Chromium under Playwright) against a real server
on SQLite: the overview lists a job in every status, filters work, the job page draws its
chart, times show in the viewer's timezone, the overview refreshes itself, a job named like
HTML shows as text and runs nothing, everything works without JavaScript, and no page logs
an error. Screenshots go to test-artifacts/.

``docs/dashboard.png`` (the README's picture) is written by ``scripts/screenshot``, not here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest

import cronwatch
from cronwatch.health.model import PRIORITY
from cronwatch.timeutil import utcnow
from tests.support.fleet import (
    EXPECTED,
    XSS_NAME,
    XSS_OUTPUT,
    Fleet,
    Watched,
    build_fleet,
    chromium,
    screenshot,
)
from tests.support.server import LiveServer, create_key


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[LiveServer, Fleet]]:
    url = f"sqlite:///{tmp_path / 'cronwatch.db'}"
    fleet = build_fleet(url, tmp_path, xss=True)
    with LiveServer(url, config=fleet.config) as live:
        yield live, fleet


@pytest.fixture
def watched(browser: Any) -> Iterator[Watched]:
    """A page in a fresh context, with its errors and dialogs collected; checked after the
    test: no console error, no uncaught exception, no dialog."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = Watched(context.new_page())
    yield page
    context.close()
    page.assert_clean()


def rows(page: Any) -> dict[str, str]:
    """Job name -> status word, as the overview shows them, in order."""
    found = {}
    for row in page.locator("table.jobs tbody tr").all():
        name = row.locator("td.name > a").inner_text()
        found[name] = row.locator(".status").inner_text().lower()
    return found


def test_the_overview_lists_a_job_in_every_status(site: Any, watched: Watched) -> None:
    live, _ = site
    page = watched.page
    page.goto(live.url + "/")
    shown = rows(page)
    for name, status in EXPECTED.items():
        assert shown[name] == status.replace("_", " "), name
    assert set(EXPECTED.values()) == set(PRIORITY)  # every status there is
    # Problems first: severities never rise down the table.
    severities = [
        int(c.split("sev-")[1][0])
        for c in page.locator("table.jobs tbody tr").evaluate_all("rs => rs.map(r => r.className)")
    ]
    assert severities == sorted(severities, reverse=True) and severities[0] == 2
    # Colour and word: each badge has its word and a colour of its own.
    missing = page.locator("tr[data-status=missing] .status")
    ok = page.locator("tr[data-status=ok] .status").first
    colour = "el => getComputedStyle(el).backgroundColor"
    assert missing.inner_text() == "MISSING"  # uppercased by CSS; the text is the word
    assert missing.evaluate(colour) != ok.evaluate(colour)
    assert page.locator("table.jobs svg.spark").count() >= 10  # sparklines drawn
    assert page.locator(".counts .count").count() == 11
    screenshot(page, "overview")


def test_filters_narrow_the_list(site: Any, watched: Watched) -> None:
    live, _ = site
    page = watched.page
    page.goto(live.url + "/")
    page.select_option("select[name=status]", "failing")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"status=failing"))
    assert set(rows(page).values()) == {"failing"}
    assert set(rows(page)) == {"import-orders", XSS_NAME}
    page.select_option("select[name=status]", "problems")
    page.select_option("select[name=tag]", "erp")
    page.click("button[type=submit]")
    assert rows(page) == {"import-orders": "failing", "sync-inventory": "late"}
    page.goto(live.url + "/")
    page.select_option("select[name=host]", "web1")
    page.click("button[type=submit]")
    assert set(rows(page)) == {"rotate-logs", "renew-certs"}
    page.fill("input[name=q]", "ROTATE")
    page.click("button[type=submit]")
    assert set(rows(page)) == {"rotate-logs"}
    page.click(".count.status-missing")  # the summary counts are filters too
    assert rows(page) == {"rotate-logs": "missing"}
    screenshot(page, "overview-filtered")


def test_the_job_page_draws_its_chart(site: Any, watched: Watched) -> None:
    live, fleet = site
    page = watched.page
    page.goto(live.url + "/jobs/backup")
    canvas = page.locator("#chart canvas").first
    canvas.wait_for()
    box = canvas.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 200
    painted = canvas.evaluate(
        """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                  let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
                  return n; }"""
    )
    assert painted > 2000, f"only {painted} painted pixels"
    legend = page.locator(".u-legend").inner_text().lower()
    for label in ("run", "failed", "missed slot", "normal low", "max runtime", "min runtime"):
        assert label in legend, label
    missed = 2 * len(fleet.missed_backups)  # on each of its two declared hosts
    assert f"{missed} missed slots marked" in page.locator(".caption").inner_text()
    hosts = page.locator("table.hosts-table tbody tr")
    assert hosts.count() == 2 and "db2" in hosts.nth(1).inner_text()
    assert "at 03:00 every day (Europe/London)" in page.locator(".facts").inner_text()
    assert page.locator("table.runs tbody tr").count() == 30
    screenshot(page, "job-backup")


def test_next_runs_show_in_the_jobs_and_the_viewers_timezone(site: Any, browser: Any) -> None:
    live, _ = site
    context = browser.new_context(timezone_id="Asia/Tokyo", locale="en-GB")
    page = Watched(context.new_page())
    page.page.goto(live.url + "/jobs/backup")
    first = page.page.locator("table.upcoming tbody tr").first
    cells = first.locator("td").all_inner_texts()
    job_time, utc_time, local_time = cells[0], cells[1], cells[2]
    assert job_time.endswith(("GMT", "BST"))  # Europe/London's wall clock
    assert utc_time.endswith("UTC")
    stamp = first.locator("time").get_attribute("datetime")
    assert stamp is not None
    from datetime import datetime

    tokyo = datetime.fromisoformat(stamp).astimezone(ZoneInfo("Asia/Tokyo"))
    assert tokyo.strftime("%H:%M") in local_time and local_time != utc_time
    assert first.locator("time").get_attribute("data-zone") == "Asia/Tokyo"
    assert "Asia/Tokyo" in page.page.locator("#tz-note").inner_text()
    context.close()
    page.assert_clean()


def test_the_overview_refreshes_itself_without_reloading(site: Any, watched: Watched) -> None:
    live, _ = site
    page = watched.page
    page.goto(live.url + "/?status=ok")
    page.evaluate("window.notReloaded = true")
    assert "late-arrival" not in rows(page)
    with cronwatch.connect(live.database_url, statsd=False) as monitor:
        now = utcnow()
        monitor.record_success("late-arrival", now - timedelta(seconds=30), now, "app9")
    page.locator("td.name a", has_text="late-arrival").wait_for(timeout=25_000)
    assert page.evaluate("window.notReloaded") is True  # swapped in place, no reload
    assert rows(page)["late-arrival"] == "ok"
    assert page.url.endswith("/?status=ok")


def test_a_job_named_like_html_is_text_and_runs_nothing(site: Any, watched: Watched) -> None:
    live, _ = site
    page = watched.page
    page.goto(live.url + "/")
    link = page.get_by_text(XSS_NAME, exact=True)
    assert link.is_visible()
    assert page.locator("img[src=x]").count() == 0
    assert page.locator("b", has_text="host").count() == 0
    link.click()
    page.wait_for_url("**/jobs/" + quote(XSS_NAME, safe=""))
    assert page.locator("h1 .job-name").inner_text() == XSS_NAME
    page.locator("table.runs summary").first.click()  # load the output (htmx)
    output = page.locator("pre.output-text")
    output.wait_for()
    assert output.inner_text() == XSS_OUTPUT
    assert page.locator("img[src=x]").count() == 0
    assert page.evaluate("document.querySelectorAll('script:not([src])').length") == 1  # JSON
    screenshot(page, "job-xss")
    # assert_clean (the fixture) fails the test had any alert() opened


def test_without_javascript_everything_but_the_refresh_works(site: Any, browser: Any) -> None:
    live, _ = site
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1440, "height": 900}
    )
    page = Watched(context.new_page())
    p = page.page
    p.goto(live.url + "/")
    assert set(EXPECTED) <= set(rows(p))
    assert p.locator("html.no-js").count() == 1
    p.select_option("select[name=status]", "missing")
    p.click("button[type=submit]")
    assert rows(p) == {"rotate-logs": "missing"}
    p.goto(live.url + "/jobs/backup")
    static_chart = p.locator("svg.chart-static")
    assert static_chart.is_visible()  # the <noscript> stand-in for the uPlot chart
    assert static_chart.locator("line.missed").count() == 4  # 2 slots, on each of 2 hosts
    assert static_chart.locator("circle.run-fail").count() == 1
    assert p.locator("#chart").is_hidden()
    assert "UTC" in p.locator("table.upcoming").inner_text()
    screenshot(p, "job-backup-nojs")
    p.locator("table.runs summary").first.click()
    p.locator("table.runs .output a").first.click()  # no htmx: the link opens the output
    p.wait_for_url(re.compile(r"/runs/\d+/output$"))
    assert "GB" in p.locator("pre.output-text").inner_text()
    screenshot(p, "output-nojs")
    context.close()
    page.assert_clean()


def test_signing_in_with_a_read_key(tmp_path: Path, browser: Any) -> None:
    import dataclasses

    url = f"sqlite:///{tmp_path / 'cronwatch.db'}"
    fleet = build_fleet(url, tmp_path)
    key = create_key(url, "read")
    live = LiveServer(url, config=fleet.config)
    live.settings = dataclasses.replace(live.settings, open_dashboard=False)
    with live:
        context = browser.new_context()
        page = Watched(context.new_page())
        p = page.page
        p.goto(live.url + "/jobs/backup")
        p.wait_for_url("**/login?next=**")
        assert p.locator("table.jobs").count() == 0
        p.fill("input[name=key]", key)
        p.click("button[type=submit]")
        p.wait_for_url("**/jobs/backup")
        p.locator("#chart canvas").first.wait_for()
        cookies = {c["name"]: c for c in context.cookies()}
        assert (
            cookies["cronwatch_key"]["httpOnly"]
            and cookies["cronwatch_key"]["sameSite"] == "Strict"
        )
        assert p.evaluate("document.cookie") == ""  # out of reach of scripts
        p.click("text=Sign out")
        p.wait_for_url("**/login")
        context.close()
        page.assert_clean()


def test_the_chart_fits_the_runs_draws_each_hosts_misses_and_reads_cleanly(
    tmp_path: Path, watched: Watched
) -> None:
    # Issue 12: a max_runtime of 2h squashed 14-minute runs against the axis; per-host missed
    # slots were not drawn; "not learned yet" sat beside typical runtimes; the y-axis label
    # was clipped; ticks at 2h 13m; the legend showed dashes with nothing hovered.
    from cronwatch.config import load_config

    url = f"sqlite:///{tmp_path / 'chart.db'}"
    path = tmp_path / "cronwatch.toml"
    path.write_text(
        '[jobs.etl]\nschedule = "0 * * * *"\ngrace = "10m"\nhosts = ["db1", "db2"]\n'
        'max_runtime = "2h"\n'
    )
    # The server reads the real clock: the latest slot must be past its 10 minutes' grace
    # whatever minute of the hour the test runs at (the next one is then not due yet).
    latest = (utcnow() - timedelta(minutes=11)).replace(minute=0, second=0, microsecond=0)
    with cronwatch.connect(url, statsd=False) as monitor:
        for hours in range(12, 0, -1):
            slot = latest - timedelta(hours=hours)
            took = timedelta(minutes=14, seconds=hours * 7)
            monitor.record_success("etl", slot, slot + took, "db1")
            if hours % 3:  # db2 misses every third slot
                monitor.record_success("etl", slot, slot + took, "db2")
    with LiveServer(url, config=load_config(path)) as live:
        page = watched.page
        page.goto(live.url + "/jobs/etl")
        page.locator("#chart canvas").first.wait_for()
        chart = page.locator("#chart")
        legend = page.locator(".u-legend").inner_text()
        assert "—" not in legend and "--" not in legend  # nothing hovered: no dashes
        assert "2h (above the chart)" in legend  # the bound is told, not drawn to scale
        # uPlot paints its ticks on a canvas; the page states them on the chart too.
        ticks = (chart.get_attribute("data-y-ticks") or "").split(",")
        assert ticks[0] == "0" and len(ticks) <= 7, ticks
        assert all(re.fullmatch(r"\d+m", t) for t in ticks[1:]), ticks  # 5m, 10m, 15m: round
        facts = page.locator(".facts").inner_text()
        assert "not learned yet" not in facts and "typically 14m" in facts
        block = page.locator("#chart-data").text_content() or ""
        shot = screenshot(page, "job-chart-scaled")
    data = json.loads(block)
    # db2 missed every third slot, and neither host ran the latest slot (past grace).
    assert sorted(data["missedOn"]) == ["db1"] + ["db2"] * 4  # from the first run charted
    assert shot.exists()


def test_a_chart_of_millisecond_runs_is_scaled_in_milliseconds(
    tmp_path: Path, watched: Watched
) -> None:
    """A job whose runs take 4 ms is drawn on a scale of a few milliseconds, with ticks in
    ms: not on a scale of 2 s (the old floor of 1 s), where its runs lie flat on the axis."""
    url = f"sqlite:///{tmp_path / 'fast.db'}"
    ended = utcnow() - timedelta(minutes=5)
    with cronwatch.connect(url, statsd=False) as monitor:
        monitor.record_success("quick", ended - timedelta(milliseconds=4), ended, "h1")
    with LiveServer(url) as live:
        page = watched.page
        page.goto(live.url + "/jobs/quick")
        page.locator("#chart canvas").first.wait_for()
        ticks = (page.locator("#chart").get_attribute("data-y-ticks") or "").split(",")
        screenshot(page, "job-chart-milliseconds")
    assert ticks[0] == "0" and 2 <= len(ticks) <= 7, ticks
    assert all(t.endswith("ms") for t in ticks[1:]), ticks
    top = int(ticks[-1].removesuffix("ms"))
    assert 4 < top <= 10, f"the scale's top is {top} ms for a 4 ms run"


def test_at_phone_width_each_job_is_a_card_with_its_reason_across_the_width(
    site: Any, browser: Any
) -> None:
    """At 390 px the REASON column wrapped one word per line and the table scrolled sideways:
    each job is now a card, its reason as wide as the card, its times labelled."""
    live, _ = site
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = Watched(context.new_page())
    page.page.goto(live.url + "/")
    row = page.page.locator("tr[data-status=hung]")
    row_box, reason_box = row.bounding_box(), row.locator("td.reason").bounding_box()
    assert row_box and reason_box
    assert reason_box["width"] > 0.8 * row_box["width"], (reason_box, row_box)
    wrap = page.page.locator(".table-wrap")
    assert wrap.evaluate("el => el.scrollWidth <= el.clientWidth"), "no sideways scrolling"
    labels = row.locator("td.when").first.evaluate("el => getComputedStyle(el, '::before').content")
    assert labels == '"Last run"'
    assert not row.locator("td.spark-cell").is_visible()
    screenshot(page.page, "overview-phone")
    context.close()
    page.assert_clean()


def test_at_desktop_width_the_overview_stays_a_table(site: Any, watched: Watched) -> None:
    live, _ = site
    watched.page.goto(live.url + "/")
    row = watched.page.locator("tr[data-status=hung]")
    assert row.evaluate("el => getComputedStyle(el).display") == "table-row"
    assert watched.page.locator("table.jobs thead th").first.is_visible()
    assert row.locator("td.spark-cell").is_visible()
