"""The unit ``cronwatch serve --systemd-unit`` prints, checked by systemd's own
``systemd-analyze verify`` (Debian's systemd; under ``CI=true`` its absence is a failure)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from cronwatch.web.unit import hidden_from_service, service_unit
from tests.support.databases import IN_CI


@pytest.fixture(scope="module")
def systemd_analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        problem = "systemd-analyze is not installed (Debian package systemd)"
        if IN_CI:
            pytest.fail(problem + " (required under CI=true)")
        pytest.skip(problem)
    return path


def printed_unit(*options: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    glob = ["--config", str(config)] if config else []
    return subprocess.run(
        [sys.executable, "-m", "cronwatch.cli", *glob, "serve", "--systemd-unit", *options],
        capture_output=True, text=True, timeout=60, env=dict(os.environ),
    )  # fmt: skip


def verify(tool: str, directory: Path, text: str) -> subprocess.CompletedProcess[str]:
    unit = directory / "cronwatch.service"
    unit.write_text(text)
    return subprocess.run([tool, "verify", str(unit)], capture_output=True, text=True, timeout=60)


def test_the_printed_unit_is_accepted_by_systemd_analyze(
    systemd_analyze: str, tmp_path: Path
) -> None:
    config = tmp_path / "cronwatch.toml"
    config.write_text('[jobs.backup]\nschedule = "0 3 * * *"\n')
    result = printed_unit(
        "--host", "0.0.0.0", "--port", "8080", "--proxy-headers", "--no-alerts", config=config
    )
    assert result.returncode == 0, result.stderr
    text = result.stdout
    exec_start = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    program = exec_start.removeprefix("ExecStart=").split()[0]
    assert os.path.isabs(program) and os.access(program, os.X_OK)
    assert f"--config {config} serve --host 0.0.0.0 --port 8080 --no-alerts --proxy-headers" in (
        exec_start
    )
    for line in ("Type=notify", "Restart=on-failure", "DynamicUser=yes", "ProtectSystem=strict",
                 "StateDirectory=cronwatch", "NoNewPrivileges=yes",
                 "Environment=XDG_DATA_HOME=%S PYTHONUNBUFFERED=1",
                 "EnvironmentFile=-/etc/cronwatch/cronwatch.env"):  # fmt: skip
        assert line in text.splitlines()
    # Not serving, and nothing of the command line's own flag in the unit.
    assert "--systemd-unit" not in exec_start and "Uvicorn running" not in result.stderr
    checked = verify(systemd_analyze, tmp_path, text)
    # verify exits 0 on settings it ignores: it must have nothing to say at all.
    assert checked.returncode == 0 and checked.stderr == "" and checked.stdout == "", checked


def test_systemd_analyze_would_refuse_a_broken_unit(systemd_analyze: str, tmp_path: Path) -> None:
    """The check above can fail: a program that does not exist, a setting systemd ignores."""
    missing = service_unit(["/nonexistent/cronwatch", "serve"], port=8000)
    assert verify(systemd_analyze, tmp_path, missing).returncode != 0
    good = service_unit([sys.executable, "-m", "cronwatch", "serve"], port=8000)
    assert verify(systemd_analyze, tmp_path, good).stderr == ""
    ignored = good.replace("Type=notify", "Type=ready-ish")
    assert "ignoring" in verify(systemd_analyze, tmp_path, ignored).stderr


def test_a_privileged_port_gets_just_the_capability_to_bind_it() -> None:
    low = service_unit(["/usr/bin/cronwatch", "serve", "--port", "80"], port=80)
    assert "AmbientCapabilities=CAP_NET_BIND_SERVICE" in low
    high = service_unit(["/usr/bin/cronwatch", "serve"], port=8000)
    assert "AmbientCapabilities" not in high and "CapabilityBoundingSet=\n" in high


def test_a_database_url_stays_out_of_the_unit(tmp_path: Path) -> None:
    secret = "postgresql://cw:hunter2@db/cronwatch"
    result = subprocess.run(
        [sys.executable, "-m", "cronwatch.cli", "--database-url", secret, "serve",
         "--systemd-unit"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0
    assert "hunter2" not in result.stdout and "CRONWATCH_DATABASE_URL" in result.stderr


def test_a_config_file_or_cronwatch_under_tmp_is_warned_about(tmp_path: Path) -> None:
    """PrivateTmp=yes gives the service an empty /tmp of its own: a config file (or a
    cronwatch) there now is not there for it. The unit is still printed; the warning says why
    it would not start. Paths outside /tmp and /var/tmp get no warning."""
    assert hidden_from_service("/tmp/u/venv/bin/cronwatch") == "/tmp"
    assert hidden_from_service("/var/tmp/cronwatch.toml") == "/var/tmp"
    for fine in ("/opt/cronwatch/bin/cronwatch", "/etc/cronwatch/cronwatch.toml", "/tmpx/a"):
        assert hidden_from_service(fine) is None, fine
    with tempfile.TemporaryDirectory(dir="/tmp") as directory:
        config = Path(directory) / "cronwatch.toml"
        config.write_text('[jobs.backup]\nschedule = "0 3 * * *"\n')
        result = printed_unit(config=config)
        assert result.returncode == 0 and "ExecStart=" in result.stdout
        assert f"warning: the config file {config} is under /tmp" in result.stderr
        assert "PrivateTmp=yes" in result.stderr and "warning" not in result.stdout
    # This test's cronwatch (``python -m cronwatch`` of the project's venv) is warned about
    # exactly when that venv lies under /tmp (a CI clone may), and only then.
    warned = "status=203/EXEC" in printed_unit().stderr
    assert warned == (hidden_from_service(os.path.abspath(sys.executable)) is not None)
