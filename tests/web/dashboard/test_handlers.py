"""The dashboard's pages over HTTP from a real server, on SQLite and PostgreSQL: what they
escape, their headers, their URLs, their errors, the refresh fragment, the runs table's pages
and the output on demand. (What a browser makes of them: test_dashboard_browser.py.)"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

import cronwatch
from cronwatch.monitor import make_run
from cronwatch.timeutil import utcnow
from cronwatch.web.dashboard.render import CONTENT_SECURITY_POLICY
from tests.support.fleet import XSS_NAME, XSS_OUTPUT, Fleet, build_fleet
from tests.support.server import LiveServer, create_key, query


@pytest.fixture
def fleet(database_url: str, tmp_path: Path) -> Fleet:
    return build_fleet(database_url, tmp_path, xss=True)


@pytest.fixture
def http(database_url: str, fleet: Fleet) -> Iterator[httpx.Client]:
    with (
        LiveServer(database_url, config=fleet.config) as live,
        httpx.Client(base_url=live.url, timeout=30) as client,
    ):
        yield client


def chart_json(page: str) -> str:
    match = re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', page, re.S)
    assert match, "no chart data block"
    return match[1]


def test_pages_carry_the_security_headers(http: httpx.Client) -> None:
    for path in ("/", "/jobs/backup", "/?status=nope"):
        response = http.get(path)
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
        assert "script-src 'self'" in CONTENT_SECURITY_POLICY
        assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["content-type"].startswith("text/html")


def test_a_name_and_an_output_made_of_html_are_text_everywhere(http: httpx.Client) -> None:
    escaped = html.escape(XSS_NAME, quote=False)
    overview = http.get("/").text
    assert escaped in overview and XSS_NAME not in overview
    assert "<img" not in overview and "<b>host" not in overview
    href = "/jobs/%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E"
    assert f'href="{href}"' in overview
    page = http.get(href).text
    assert escaped in page and "<img" not in page and "<b>host" not in page
    data = chart_json(page)
    assert "<" not in data and ">" not in data  # no way to end the block early
    assert json.loads(data)["runs"][0][3] == "<b>host<i>"  # and the script still reads it
    (run_id,) = re.findall(r'href="/runs/(\d+)/output"', page)
    for headers in ({}, {"HX-Request": "true"}):
        output = http.get(f"/runs/{run_id}/output", headers=headers).text
        assert html.escape(XSS_OUTPUT, quote=False) in output
        assert "<script>alert" not in output and "<img" not in output


def test_the_chart_caption_counts_its_runs_in_words(http: httpx.Client) -> None:
    """One run is "the one run so far", never "the last 1 runs"; more are counted."""
    single = http.get("/jobs/%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E").text
    assert "The one run so far." in single and "The last 1 runs" not in single
    many = http.get("/jobs/cleanup-tmp").text
    assert re.search(r"The last (\d+) runs by start time\.", many)
    assert "The one run so far." not in many


def test_names_with_url_characters_link_to_their_own_page(
    database_url: str, http: httpx.Client
) -> None:
    names = ["nightly report #1 ?x=%&y", "ünïcode ✓ job", "..", ".", "a+b;c"]
    with cronwatch.connect(database_url, statsd=False) as monitor:
        now = utcnow()
        for name in names:
            monitor.record_success(name, now - timedelta(minutes=2), now, "h1")
    overview = http.get("/").text
    for name in names:
        link = re.search(r'<a href="([^"]+)">' + re.escape(html.escape(name)) + "</a>", overview)
        assert link, name
        page = http.get(html.unescape(link[1]))
        assert page.status_code == 200, (name, link[1])
        assert f'<span class="job-name">{html.escape(name)}</span>' in page.text


def test_bad_requests_get_html_errors(http: httpx.Client) -> None:
    cases = {
        "/jobs/no-such-job": (404, "no job named"),
        "/?status=exploded": (400, "unknown status"),
        "/?tag=" + "x" * 300: (400, "at most 255"),
        "/jobs/backup?before=yesterday": (400, "not a cursor"),
        "/jobs/backup?before=99999999999999999999_1": (400, "not a cursor"),
        "/runs/987654/output": (404, "no run has the id"),
        "/runs/99999999999999999999999/output": (404, "no run has the id"),
    }
    for path, (status, text) in cases.items():
        response = http.get(path)
        assert response.status_code == status, path
        assert response.headers["content-type"].startswith("text/html"), path
        assert text in response.text, path
    assert http.get("/jobs").headers["location"] == "/"


def test_the_refresh_gets_only_the_jobs_part_with_the_same_filters(http: httpx.Client) -> None:
    whole = http.get("/?status=problems&tag=erp")
    part = http.get("/?status=problems&tag=erp", headers={"HX-Request": "true"})
    assert whole.text.startswith("<!doctype html>")
    assert part.text.lstrip().startswith('<section id="jobs"') and "<html" not in part.text
    assert 'hx-get="/?status=problems&amp;tag=erp"' in part.text  # keeps polling the same
    assert "HX-Request" in part.headers["vary"]
    rows = re.findall(r'data-status="([a-z_]+)"', part.text)
    assert rows == ["failing", "late"]  # import-orders, sync-inventory: erp problems, worst first


def test_the_runs_table_pages_back_without_gaps_or_repeats(
    database_url: str, http: httpx.Client
) -> None:
    with cronwatch.connect(database_url, statsd=False) as monitor:
        start = utcnow() - timedelta(hours=80)
        for i in range(70):
            t = start + timedelta(hours=i)
            monitor.record(
                make_run(
                    "paged",
                    t,
                    t + timedelta(seconds=i + 1),
                    outcome="success",
                    hostname=f"h{i % 2}",
                    run_id=f"r{i}",
                )
            )
    seen: list[str] = []
    url: str | None = "/jobs/paged"
    while url:
        page = http.get(url).text
        seen += re.findall(
            r'<tr class="run-\w+">\s*<td class="when"><time datetime="([^"]+)"', page
        )
        older = re.search(r'<a href="([^"]+)">Older runs', page)
        url = html.unescape(older[1]).split("#")[0] if older else None
    assert len(seen) == 70 and len(set(seen)) == 70 and seen == sorted(seen, reverse=True)
    on_h1 = http.get("/jobs/paged?host=h1").text
    assert on_h1.count('<tr class="run-success">') == 30
    cells = re.findall(r"<td>(h[01])</td>", on_h1)
    assert set(cells) == {"h1"}


def test_the_chart_data_has_the_bounds_band_failures_and_missed_slots(
    http: httpx.Client, fleet: Fleet, database_url: str
) -> None:
    data = json.loads(chart_json(http.get("/jobs/backup").text))
    assert (data["min"], data["max"]) == (60.0, 2100.0)
    low, high = data["band"]
    assert 0 < low < 1380 < high
    outcomes = [run[2] for run in data["runs"]]
    assert outcomes.count("failure") == 1
    assert [run[0] for run in data["runs"]] == sorted(run[0] for run in data["runs"])
    # backup declares db1 and db2, neither ran those slots: each host's miss is drawn.
    expected = sorted(
        (t.timestamp(), host) for t in fleet.missed_backups for host in ("db1", "db2")
    )
    assert list(zip(data["missed"], data["missedOn"], strict=True)) == expected
    stored = query(database_url, "SELECT COUNT(*) FROM runs WHERE name = 'backup'")[0][0]
    assert len(data["runs"]) == stored


def test_the_output_of_a_run_is_loaded_on_demand(http: httpx.Client) -> None:
    page = http.get("/jobs/import-orders").text
    assert "ConnectionError" not in page  # not in the table itself
    run_id = re.findall(r'hx-get="/runs/(\d+)/output"', page)[0]
    fragment = http.get(f"/runs/{run_id}/output", headers={"HX-Request": "true"}).text
    assert fragment.startswith('<pre class="output-text">') and "ConnectionError" in fragment
    whole = http.get(f"/runs/{run_id}/output").text
    assert whole.startswith("<!doctype html>") and "ConnectionError" in whole


def test_overview_api_and_job_page_tell_one_story_of_a_missing_job(
    database_url: str, tmp_path: Path
) -> None:
    # Issue 12: the overview showed a "vm FAILING" chip on a MISSING job, and views computed
    # their own "next due". Every view shows the health layer's one computation.
    from cronwatch.config import load_config

    path = tmp_path / "cronwatch.toml"
    path.write_text('[jobs.nightly]\nschedule = "every 5m"\ngrace = "1m"\n')
    config = load_config(path)
    now = utcnow()
    start = now - timedelta(minutes=30)
    with cronwatch.connect(database_url, statsd=False) as monitor:
        monitor.record_failure("nightly", start, start + timedelta(seconds=5), 2, "vm")
    key = create_key(database_url, "read")
    with (
        LiveServer(database_url, config=config) as live,
        httpx.Client(base_url=live.url, timeout=30) as http,
    ):
        http.headers["Authorization"] = f"Bearer {key}"
        (job,) = http.get("/api/v1/status").json()["jobs"]
        overview = http.get("/").text
        page = http.get("/jobs/nightly").text
    assert job["status"] == "missing"
    assert [(h["hostname"], h["status"]) for h in job["hosts"]] == [("vm", "missing")]
    overdue = job["overdue_since"]
    assert overdue is not None and overdue == job["hosts"][0]["overdue_since"]
    assert job["next_due"] > now.isoformat()  # never in the past
    row = re.search(r'<tr class="job[^"]*" data-status="missing">.*?</tr>', overview, re.S)
    assert row, "no missing row"
    assert 'class="host host-missing"' in row[0]
    assert "host-failing" not in row[0] and "failing</small>" not in row[0]
    assert 'class="overdue"' in row[0] and "overdue, due 2" in row[0]  # "overdue, due 25m ago"
    assert "Overdue: a run was due 2" in page
    assert page.count('class="overdue"') >= 1
