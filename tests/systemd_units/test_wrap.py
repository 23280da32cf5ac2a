"""The drop-in of ``cronwatch import-systemd --wrap`` end to end: written for a real Debian
service (logrotate 3.21.0-1's, hardened with ProtectSystem=, PrivateTmp=...), checked by
``systemd-analyze verify``, and its ExecStartPre=/ExecStopPost= lines run the way systemd runs
them (their own environment: $INVOCATION_ID, then $SERVICE_RESULT, $EXIT_CODE, $EXIT_STATUS
as systemd.exec(5) documents), around the service's command; the run, its outcome and its
duration are then in the database, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

import cronwatch
from cronwatch.cli.main import cli
from cronwatch.systemd_units.wrap import exec_argument

SAMPLES = Path(__file__).parent / "samples"
CI = os.environ.get("CI") == "true"


def wrap_into(units: Path, database_url: str, *args: str) -> Path:
    result = CliRunner().invoke(
        cli, ["--database-url", database_url, "import-systemd", "--wrap-into", str(units),
              str(units / "logrotate.timer"), *args])  # fmt: skip
    assert result.exit_code == 0, result.output
    dropin = units / "logrotate.service.d" / "cronwatch.conf"
    assert f"wrote {dropin}" in result.output
    return dropin


@pytest.fixture
def units(tmp_path: Path) -> Path:
    directory = tmp_path / "units"
    directory.mkdir()
    for name in ("logrotate.timer", "logrotate.service"):
        shutil.copy(SAMPLES / "logrotate_3.21.0-1" / name, directory / name)
    return directory


def exec_lines(dropin: Path, key: str) -> list[str]:
    """The argv of a drop-in's ``key=`` line, as systemd splits it (prefixes removed,
    ``%%`` and ``$$`` undone; our lines use double quotes only, as shlex reads them)."""
    (line,) = [each for each in dropin.read_text().splitlines() if each.startswith(f"{key}=")]
    value = line.split("=", 1)[1]
    assert value.startswith("-+")  # a failing hook never fails the service; not sandboxed
    return [arg.replace("%%", "%").replace("$$", "$") for arg in shlex.split(value[2:])]


def as_systemd(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # systemd gives Exec*= commands a clean environment of its own, not the caller's.
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_the_dropin_records_each_run_of_the_service(
    units: Path, database_url: str, tmp_path: Path
) -> None:
    dropin = wrap_into(units, database_url)
    start, stop = exec_lines(dropin, "ExecStartPre"), exec_lines(dropin, "ExecStopPost")
    assert start[0] == os.path.abspath(sys.argv[0]) or start[1:3] == ["-m", "cronwatch"]
    assert start[-4:] == ["hook", "start", "--", "logrotate"]
    assert stop[-4:] == ["hook", "stop", "--", "logrotate"]
    assert "ExecStart=" not in dropin.read_text()  # the service's own command is left alone
    base = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8",
            "CRONWATCH_SPOOL_DIR": str(tmp_path / "spool")}  # fmt: skip
    runs = [
        # (the service's command, what systemd then says)
        ("sleep 1; exit 3", {"SERVICE_RESULT": "exit-code", "EXIT_CODE": "exited",
                             "EXIT_STATUS": "3"}),
        ("sleep 1", {"SERVICE_RESULT": "success", "EXIT_CODE": "exited", "EXIT_STATUS": "0"}),
        ("kill -TERM $$", {"SERVICE_RESULT": "signal", "EXIT_CODE": "killed",
                           "EXIT_STATUS": "TERM"}),
    ]  # fmt: skip
    invocations = []
    for command, result in runs:
        invocation = uuid.uuid4().hex  # a new one for each start of the unit, as systemd does
        invocations.append(invocation)
        env = {**base, "INVOCATION_ID": invocation}
        pre = as_systemd(start, env)
        assert (pre.returncode, pre.stderr) == (0, "")
        service = subprocess.run(["/bin/sh", "-c", command], env=env, check=False)
        assert service.returncode == {"3": 3, "0": 0, "TERM": -15}[result["EXIT_STATUS"]]
        post = as_systemd(stop, {**env, **result})
        assert (post.returncode, post.stderr) == (0, "")

    with cronwatch.connect(database_url, statsd=False) as monitor:
        recorded = {run.run_id: run for run in monitor.history("logrotate")}
    assert set(recorded) == {f"systemd-{i}" for i in invocations}
    failed, succeeded, killed = (recorded[f"systemd-{i}"] for i in invocations)
    assert (failed.outcome, failed.exit_code) == ("failure", 3)
    assert failed.output == "systemd: SERVICE_RESULT=exit-code EXIT_CODE=exited EXIT_STATUS=3"
    assert (succeeded.outcome, succeeded.exit_code) == ("success", 0)
    assert (killed.outcome, killed.exit_code) == ("failure", 143)
    # The duration spans the service's command, from the start hook to the stop hook.
    for run in (failed, succeeded):
        assert run.duration is not None and run.duration.total_seconds() >= 1
    assert len({run.hostname for run in recorded.values()}) == 1


def verify(unit: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SYSTEMD_UNIT_PATH": f"{unit.parent}:"}
    return subprocess.run(["systemd-analyze", "verify", str(unit)], env=env, cwd=unit.parent,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip


def test_systemd_analyze_verifies_the_dropin(units: Path, tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        if CI:
            pytest.fail("systemd-analyze is missing (Debian's systemd package)")
        pytest.skip("systemd-analyze is not installed")
    dropin = wrap_into(units, f"sqlite:///{tmp_path}/cronwatch db %i.db")
    text = dropin.read_text()
    assert '"--database-url" ' not in text and "%%i" in text  # a specifier, escaped
    program = exec_lines(dropin, "ExecStartPre")[0]
    checked = verify(units / "logrotate.service")
    assert (checked.returncode, checked.stderr) == (0, ""), checked.stderr
    # verify reads the drop-in: a wrong key in it is reported, naming the file ...
    dropin.write_text(text + "NoSuchKey=1\n")
    assert "cronwatch.conf:8: Unknown key 'NoSuchKey'" in verify(units / "logrotate.service").stderr
    # ... and, without the '-' prefix, checks that the hooks' program exists.
    dropin.write_text(text.replace("=-+", "=+"))
    assert verify(units / "logrotate.service").returncode == 0
    dropin.write_text(text.replace("=-+", "=+").replace(program, "/nonexistent/cronwatch"))
    missing = verify(units / "logrotate.service")
    assert missing.returncode != 0 and "/nonexistent/cronwatch is not executable" in missing.stderr


def test_exec_arguments_are_quoted_as_systemd_reads_them() -> None:
    assert exec_argument("backup") == "backup"
    assert exec_argument("nightly report") == '"nightly report"'
    assert exec_argument('a"b\\c') == '"a\\"b\\\\c"'
    assert exec_argument("50%$HOME") == '"50%%$$HOME"'
    with pytest.raises(Exception, match="control characters"):
        exec_argument("a\nb")
