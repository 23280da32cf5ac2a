"""A real Prometheus (Debian's ``prometheus``) scrapes ``/metrics`` with the shipped alert rules
(``prometheus/cronwatch.rules.yml``) loaded: its query API returns the recorded job's
last-success timestamp, the info series and a failing job's alert; ``promtool`` accepts the
rules and runs their unit tests. Under CI=true a missing binary fails; locally it skips
(``apt-get install prometheus``)."""

from __future__ import annotations

import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

import cronwatch
from tests.support.databases import IN_CI
from tests.support.ports import free_port
from tests.support.server import LiveServer

COMPLETED = datetime(2026, 11, 28, 3, 14, 15, 500_000, tzinfo=UTC)
RULES = Path(__file__).resolve().parents[2] / "prometheus" / "cronwatch.rules.yml"
RULE_TESTS = RULES.with_name("cronwatch.rules.test.yml")


def _binary(name: str) -> str:
    binary = shutil.which(name) or (
        f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None
    )
    if binary is None:
        message = f"{name} not installed (apt-get install prometheus)"
        if IN_CI:
            pytest.fail(message + "; required under CI=true")
        pytest.skip(message)
    return binary


@pytest.fixture
def prometheus_binary() -> str:
    return _binary("prometheus")


@pytest.fixture
def promtool() -> str:
    return _binary("promtool")


def test_promtool_accepts_the_rules_and_their_unit_tests_pass(promtool: str) -> None:
    """The rules file is valid, and each rule fires (and only) where its unit tests say:
    a failing job after its minute pending, a job overdue past 15 minutes, never a paused one."""
    checked = subprocess.run([promtool, "check", "rules", str(RULES)],
                             capture_output=True, text=True)  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 2 rules found" in checked.stdout
    tested = subprocess.run([promtool, "test", "rules", RULE_TESTS.name], cwd=RULES.parent,
                            capture_output=True, text=True)  # fmt: skip
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def start_prometheus(binary: str, config: Path, url: str, data: Path) -> subprocess.Popen[bytes]:
    port = url.rsplit(":", 1)[1]
    return subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={data}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def query_until(url: str, promql: str, timeout: float = 60) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            response = httpx.get(f"{url}/api/v1/query", params={"query": promql}, timeout=5)
            if response.status_code == 200:
                result: list[dict[str, Any]] = response.json()["data"]["result"]
                if result:
                    return result
        except httpx.TransportError:
            pass  # not listening yet
        time.sleep(0.5)
    raise AssertionError(f"Prometheus returned nothing for {promql} within {timeout}s")


def test_prometheus_scrapes_the_last_success_timestamp(
    database_url: str, prometheus_binary: str, tmp_path: Path
) -> None:
    with cronwatch.connect(database_url, statsd=False) as monitor:
        monitor.record_success("backup", COMPLETED - timedelta(minutes=14), COMPLETED, "db1")
        now = datetime.now(UTC)
        monitor.record_failure("nightly", now - timedelta(minutes=1), now, 2, "db1")
    prometheus_url = f"http://127.0.0.1:{free_port()}"
    with LiveServer(database_url) as live:
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            f"rule_files: ['{RULES}']\n"
            "scrape_configs:\n  - job_name: cronwatch\n"
            f"    static_configs:\n      - targets: ['127.0.0.1:{live.port}']\n"
        )
        process = start_prometheus(prometheus_binary, config, prometheus_url, tmp_path / "data")
        try:
            result = query_until(
                prometheus_url, 'cronwatch_job_last_success_timestamp_seconds{cronjob="backup"}'
            )
            up = query_until(prometheus_url, 'up{job="cronwatch"}')
            info = query_until(prometheus_url, 'cronwatch_job_info{cronjob="backup"}')
            failures = query_until(
                prometheus_url, 'cronwatch_job_failures_total{cronjob="nightly"}'
            )
            # the shipped rule sees the failing job at once (pending for its `for: 1m`)
            alert = query_until(prometheus_url, 'ALERTS{alertname="CronJobFailing"}')
        finally:
            process.terminate()
            try:
                _, stderr = process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                _, stderr = process.communicate()
    assert up[0]["value"][1] == "1", stderr.decode(errors="replace")[-2000:]
    [series] = result
    assert series["metric"] == {
        "__name__": "cronwatch_job_last_success_timestamp_seconds",
        "cronjob": "backup",
        "host": "db1",
        "instance": f"127.0.0.1:{live.port}",
        "job": "cronwatch",  # Prometheus's own label, untouched: we never export `job`
    }
    assert float(series["value"][1]) == COMPLETED.timestamp()
    # an empty label value (no schedule, no tags) is no label at all in Prometheus
    assert {k: v for k, v in info[0]["metric"].items() if k not in ("instance", "job")} == {
        "__name__": "cronwatch_job_info", "cronjob": "backup", "timezone": "UTC",
        "paused": "false"}  # fmt: skip
    assert info[0]["value"][1] == "1"
    assert [float(f["value"][1]) for f in failures] == [1.0]
    assert [a["metric"]["cronjob"] for a in alert] == ["nightly"], "and not the healthy backup"
    assert alert[0]["metric"]["status"] == "failing"
