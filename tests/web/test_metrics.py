"""``/metrics``: Prometheus text read from the database at scrape time, per job and host,
with the label ``cronjob`` (never ``job``); the same numbers from any server process."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

import cronwatch
from cronwatch.config import load_config
from cronwatch.specs import Config
from tests.support.server import LiveServer, create_key, serve

T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = httpx.get(url + "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_metrics_per_job_and_host(database_url: str) -> None:
    with cronwatch.connect(database_url, statsd=False) as monitor:
        monitor.record_success("backup", T0, T0 + timedelta(minutes=14), "db1")
        monitor.record_failure("backup", T0 + timedelta(hours=1),
                               T0 + timedelta(hours=1, seconds=31), 2, "db1")  # fmt: skip
        monitor.record_success("backup", T0, T0 + timedelta(minutes=2), "db2")
        monitor.start("backup", "db2")
    with LiveServer(database_url) as live:
        samples = scrape(live.url)
    db1 = (("cronjob", "backup"), ("host", "db1"))
    db2 = (("cronjob", "backup"), ("host", "db2"))
    last_success = (T0 + timedelta(minutes=14)).timestamp()
    assert samples[("cronwatch_job_last_success_timestamp_seconds", db1)] == last_success
    assert samples[("cronwatch_job_last_run_timestamp_seconds", db1)] == (
        T0 + timedelta(hours=1, seconds=31)).timestamp()  # fmt: skip
    assert samples[("cronwatch_job_last_duration_seconds", db1)] == 31.0
    assert samples[("cronwatch_job_runs_total", db1)] == 2
    assert samples[("cronwatch_job_failures_total", db1)] == 1
    assert samples[("cronwatch_job_running", db1)] == 0
    assert samples[("cronwatch_job_running", db2)] == 1
    assert samples[("cronwatch_job_last_duration_seconds", db2)] == 120.0
    assert samples[("cronwatch_health_evaluation_ok", ())] == 1
    statuses = {labels: value for (name, labels), value in samples.items()
                if name == "cronwatch_job_status"}  # fmt: skip
    assert sum(statuses.values()) == 1, "exactly one status is current"
    current = dict(next(labels for labels, value in statuses.items() if value == 1))
    assert current["cronjob"] == "backup"
    host_statuses = [labels for (name, labels), value in samples.items()
                     if name == "cronwatch_job_host_status" and value == 1]  # fmt: skip
    assert sorted(dict(labels)["host"] for labels in host_statuses) == ["db1", "db2"]
    assert not any(label == "job" for _, labels in samples for label, _ in labels)


def test_the_current_status_is_1_and_the_severity_follows_it(
    database_url: str, tmp_path: Path
) -> None:
    """One job in each severity: the status label that is 1 is the job's status, no other
    label is 1, and the severity is 0 OK, 1 warning, 2 critical as the README says."""
    path = tmp_path / "cronwatch.toml"
    path.write_text(
        '[jobs.fine]\nschedule = "every 1h"\n'
        '[jobs.slow]\nschedule = "every 1h"\nmax_runtime = "10m"\n'
        '[jobs.broken]\nschedule = "every 1h"\n'
    )
    now = datetime.now(UTC)
    with cronwatch.connect(database_url, statsd=False) as monitor:
        monitor.record_success("fine", now - timedelta(minutes=5), now - timedelta(minutes=4), "h")
        monitor.record_success("slow", now - timedelta(minutes=25), now - timedelta(minutes=4),
                               "h")  # fmt: skip
        monitor.record_failure("broken", now - timedelta(minutes=5), now - timedelta(minutes=4),
                               1, "h")  # fmt: skip
    with LiveServer(database_url, config=load_config(path)) as live:
        samples = scrape(live.url)
    current = {dict(labels)["cronjob"]: dict(labels)["status"]
               for (name, labels), value in samples.items()
               if name == "cronwatch_job_status" and value == 1}  # fmt: skip
    assert current == {"fine": "ok", "slow": "slow", "broken": "failing"}
    zeros = [labels for (name, labels), value in samples.items()
             if name == "cronwatch_job_status" and value == 0]  # fmt: skip
    assert len(zeros) == 3 * 10, "every other of the 11 statuses is 0"
    severity = {dict(labels)["cronjob"]: value for (name, labels), value in samples.items()
                if name == "cronwatch_job_severity"}  # fmt: skip
    assert severity == {"fine": 0, "slow": 1, "broken": 2}


def test_names_are_escaped_in_the_exposition(database_url: str) -> None:
    name = 'say "hi" \\ now'
    with cronwatch.connect(database_url, statsd=False) as monitor:
        monitor.record_success(name, T0, T0 + timedelta(seconds=1), "h")
    with LiveServer(database_url) as live:
        text = httpx.get(live.url + "/metrics").text
        samples = scrape(live.url)
    assert 'cronjob="say \\"hi\\" \\\\ now"' in text
    assert samples[("cronwatch_job_runs_total", (("cronjob", name), ("host", "h")))] == 1


def test_every_server_process_exports_the_same_numbers(database_url: str) -> None:
    """Counters live in the database, not in the process that took the ping: two real
    ``cronwatch serve`` processes, each taking half of the pings, export the totals of both
    (counters kept in a process's memory would show 3 and 3, not 6)."""
    key = create_key(database_url, "ping")
    with serve(database_url) as (first, _), serve(database_url) as (second, _):
        for index in range(3):
            assert httpx.get(f"{first}/ping/{key}/shared", params={"host": "h"}).status_code == 200
            assert httpx.get(f"{second}/ping/{key}/shared/{index + 1}",
                             params={"host": "h"}).status_code == 200  # fmt: skip
        runs = ("cronwatch_job_runs_total", (("cronjob", "shared"), ("host", "h")))
        failures = ("cronwatch_job_failures_total", (("cronjob", "shared"), ("host", "h")))
        for base in (first, second):
            samples = scrape(base)
            assert (samples[runs], samples[failures]) == (6, 3)


def test_a_scrape_reflects_a_ping_at_once(database_url: str) -> None:
    key = create_key(database_url, "ping")
    with LiveServer(database_url) as live:
        assert not re.search(r"^cronwatch_job_runs_total", httpx.get(live.url + "/metrics").text,
                             re.M)  # fmt: skip
        before = int(time.time() * 1_000_000) / 1_000_000  # stamps are whole microseconds
        httpx.get(f"{live.url}/ping/{key}/fresh", params={"host": "h"})
        samples = scrape(live.url)
        after = time.time()
    stamp = samples[("cronwatch_job_last_success_timestamp_seconds",
                     (("cronjob", "fresh"), ("host", "h")))]  # fmt: skip
    assert before <= stamp <= after, "the ping's own time: taken between sending and scraping"


def write_config(tmp_path: Path, body: str) -> Config:
    path = tmp_path / "cronwatch.toml"
    path.write_text(body)
    return load_config(path)


def test_a_tag_restricts_the_scrape_to_the_jobs_that_have_it(
    database_url: str, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path,
        '[jobs.backup]\nschedule = "0 3 * * *"\ntags = ["db"]\n'
        '[jobs.deploy]\nschedule = "0 4 * * *"\ntags = ["web"]\n',
    )
    with cronwatch.connect(database_url, statsd=False) as monitor:
        for name in ("backup", "deploy", "untagged"):
            monitor.record_success(name, T0, T0 + timedelta(seconds=1), "h")
    with LiveServer(database_url, config=config) as live:
        tagged = httpx.get(live.url + "/metrics", params={"tag": "db"})
        both = httpx.get(live.url + "/metrics", params=[("tag", "db"), ("tag", "web")])
        everything = httpx.get(live.url + "/metrics")
    assert tagged.status_code == 200
    assert set(re.findall(r'cronjob="([^"]*)"', tagged.text)) == {"backup"}
    assert set(re.findall(r'cronjob="([^"]*)"', both.text)) == {"backup", "deploy"}
    assert set(re.findall(r'cronjob="([^"]*)"', everything.text)) == {
        "backup", "deploy", "untagged"}  # fmt: skip
    # the alert loops' own series are not about jobs: always there
    assert "cronwatch_alert_loop_up" in tagged.text


@pytest.mark.parametrize("tag", ["", "x" * 201, "bad\nline"])
def test_a_tag_that_cannot_be_one_is_refused(database_url: str, tag: str) -> None:
    with LiveServer(database_url) as live:
        response = httpx.get(live.url + "/metrics", params={"tag": tag})
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid"
    assert body["message"].startswith("/metrics?tag=: tag"), body
    assert "cronwatch_" not in response.text, "no partial exposition with the refusal"


def test_per_host_false_exports_no_host_label(database_url: str, tmp_path: Path) -> None:
    config = write_config(tmp_path, "[metrics]\nper_host = false\n")
    with cronwatch.connect(database_url, statsd=False) as monitor:
        monitor.record_success("backup", T0, T0 + timedelta(seconds=5), "db1")
        monitor.record_failure("backup", T0, T0 + timedelta(seconds=9), 1, "db2")
    with LiveServer(database_url, config=config) as live:
        samples = scrape(live.url)
    job_series = [labels for (name, labels) in samples if name.startswith("cronwatch_job_")]
    assert job_series, "the job's series are still there"
    assert not any(label == "host" for labels in job_series for label, _ in labels)
    assert samples[("cronwatch_job_runs_total", (("cronjob", "backup"),))] == 2
    assert samples[("cronwatch_job_failures_total", (("cronjob", "backup"),))] == 1


def test_the_exposition_is_streamed(database_url: str) -> None:
    """No Content-Length: the body is sent in pieces as it is read from its spools."""
    with cronwatch.connect(database_url, statsd=False) as monitor:
        monitor.record_success("backup", T0, T0 + timedelta(seconds=5), "db1")
    with LiveServer(database_url) as live, httpx.stream("GET", live.url + "/metrics") as response:
        assert response.status_code == 200
        assert response.headers.get("transfer-encoding") == "chunked"
        assert "content-length" not in response.headers
        body = b"".join(response.iter_bytes()).decode()
    assert body.rstrip().endswith(("1.0", "0.0", "1", "0")), body[-200:]
    assert "# TYPE cronwatch_job_info gauge" in body
