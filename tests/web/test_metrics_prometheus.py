"""A real Prometheus (Debian's ``prometheus``) scrapes ``/metrics`` and its query API returns the
recorded job's last-success timestamp. Under CI=true a missing binary fails; locally it skips
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


@pytest.fixture
def prometheus_binary() -> str:
    binary = shutil.which("prometheus") or (
        "/usr/bin/prometheus" if Path("/usr/bin/prometheus").exists() else None
    )
    if binary is None:
        message = "prometheus not installed (apt-get install prometheus)"
        if IN_CI:
            pytest.fail(message + "; required under CI=true")
        pytest.skip(message)
    return binary


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
    prometheus_url = f"http://127.0.0.1:{free_port()}"
    with LiveServer(database_url) as live:
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: cronwatch\n"
            f"    static_configs:\n      - targets: ['127.0.0.1:{live.port}']\n"
        )
        process = start_prometheus(prometheus_binary, config, prometheus_url, tmp_path / "data")
        try:
            result = query_until(
                prometheus_url, 'cronwatch_job_last_success_timestamp_seconds{cronjob="backup"}'
            )
            up = query_until(prometheus_url, 'up{job="cronwatch"}')
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
