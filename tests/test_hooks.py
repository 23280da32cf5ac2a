"""cronwatch.hooks: a run recorded from two processes, as systemd's ExecStartPre= and
ExecStopPost= run them; the outcome read from systemd's variables, the run id from
$INVOCATION_ID, the spool when the database is away. (End to end through a generated drop-in:
tests/systemd_units/test_wrap.py.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import cronwatch
from cronwatch.errors import InvalidInput
from cronwatch.hooks import hook_run_id, read_env_file, service_outcome

INVOCATION = "5f2c1e0b8a9d4c7e9f1a2b3c4d5e6f70"


@pytest.mark.parametrize(
    ("env", "outcome", "exit_code"),
    [
        ({"SERVICE_RESULT": "success", "EXIT_CODE": "exited", "EXIT_STATUS": "0"}, "success", None),
        ({"SERVICE_RESULT": "exit-code", "EXIT_CODE": "exited", "EXIT_STATUS": "3"}, "failure", 3),
        (
            {"SERVICE_RESULT": "signal", "EXIT_CODE": "killed", "EXIT_STATUS": "TERM"},
            "failure",
            143,
        ),
        (
            {"SERVICE_RESULT": "core-dump", "EXIT_CODE": "dumped", "EXIT_STATUS": "SEGV"},
            "failure",
            139,
        ),
        (
            {"SERVICE_RESULT": "timeout", "EXIT_CODE": "killed", "EXIT_STATUS": "KILL"},
            "failure",
            137,
        ),
        ({"SERVICE_RESULT": "start-limit-hit"}, "failure", None),  # never ran: no status
        (
            {"SERVICE_RESULT": "resources", "EXIT_CODE": "exited", "EXIT_STATUS": "0"},
            "failure",
            None,
        ),
        # A daemon stopped by `systemctl stop` exits by SIGTERM, and systemd calls it a success.
        (
            {"SERVICE_RESULT": "success", "EXIT_CODE": "killed", "EXIT_STATUS": "TERM"},
            "success",
            None,
        ),
    ],
)
def test_the_outcome_systemd_describes(
    env: dict[str, str], outcome: str, exit_code: int | None
) -> None:
    ended = service_outcome(env)
    assert (ended.outcome, ended.exit_code) == (outcome, exit_code)
    assert ended.words == "systemd: " + " ".join(f"{k}={v}" for k, v in env.items())


def test_without_systemd_variables_the_hooks_refuse() -> None:
    with pytest.raises(InvalidInput, match=r"\$SERVICE_RESULT is not set"):
        service_outcome({"EXIT_CODE": "exited"})
    with pytest.raises(InvalidInput, match=r"\$INVOCATION_ID is not set"):
        hook_run_id({})
    assert hook_run_id({"INVOCATION_ID": INVOCATION}) == f"systemd-{INVOCATION}"
    assert hook_run_id({"INVOCATION_ID": INVOCATION}, "mine-1") == "mine-1"
    with pytest.raises(InvalidInput, match="--run-id"):
        hook_run_id({}, "no spaces allowed")


def test_env_file_gives_cronwatch_settings_only(tmp_path: Path) -> None:
    path = tmp_path / "hook.env"
    path.write_text(
        "# comment\n; comment\nCRONWATCH_URL=http://cw.example:8000\n"
        "export CRONWATCH_PING_KEY='cwp_abc'\nPATH=/evil\nCRONWATCH_SPOOL_DIR=\"/var/spool/cw\"\n"
    )
    assert read_env_file(str(path)) == {
        "CRONWATCH_URL": "http://cw.example:8000",
        "CRONWATCH_PING_KEY": "cwp_abc",
        "CRONWATCH_SPOOL_DIR": "/var/spool/cw",
    }
    with pytest.raises(InvalidInput, match=r"--env-file .*: cannot read it"):
        read_env_file(str(tmp_path / "missing.env"))


def hook(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cronwatch", *args], env=env, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip


def test_a_start_kept_in_the_spool_lends_its_time_to_the_stop(tmp_path: Path) -> None:
    # The database's directory does not exist yet: the start waits in the spool; by the stop
    # it is there, and the run gets the start's time, not a zero length.
    url = f"sqlite:///{tmp_path}/later/cw.db"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "INVOCATION_ID": INVOCATION,
           "CRONWATCH_SPOOL_DIR": str(tmp_path / "spool")}  # fmt: skip
    started = hook(["--database-url", url, "hook", "start", "nightly"], env)
    assert started.returncode == 0
    assert "could not record the run of 'nightly'" in started.stderr
    assert "kept in the spool" in started.stderr
    (tmp_path / "later").mkdir()
    with cronwatch.connect(url, statsd=False) as monitor:
        assert monitor.history("nightly") == []  # nothing stored yet
    stopped = hook(["--database-url", url, "hook", "stop", "nightly"],
                   {**env, "SERVICE_RESULT": "success", "EXIT_CODE": "exited",
                    "EXIT_STATUS": "0"})  # fmt: skip
    assert stopped.returncode == 0 and stopped.stderr == ""
    with cronwatch.connect(url, statsd=False) as monitor:
        (run,) = monitor.history("nightly")
    assert (run.outcome, run.run_id) == ("success", f"systemd-{INVOCATION}")
    spooled = [p for p in (tmp_path / "spool").rglob("*.json")]
    assert spooled == []  # the start was sent after the stop, and is gone from the spool
    assert run.duration is not None and run.duration.total_seconds() > 0


def test_a_stop_without_its_start_is_a_run_of_no_length(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cw.db"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "INVOCATION_ID": INVOCATION,
           "SERVICE_RESULT": "exit-code", "EXIT_CODE": "exited", "EXIT_STATUS": "2"}  # fmt: skip
    assert hook(["--database-url", url, "hook", "stop", "nightly"], env).returncode == 0
    # Called twice (systemd never does; a person may): stored once.
    assert hook(["--database-url", url, "hook", "stop", "nightly"], env).returncode == 0
    with cronwatch.connect(url, statsd=False) as monitor:
        (run,) = monitor.history("nightly")
    assert (run.outcome, run.exit_code) == ("failure", 2)
    assert run.date_started == run.date_completed


def test_bad_calls_exit_2_and_record_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cw.db"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    no_id = hook(["--database-url", url, "hook", "start", "nightly"], env)
    assert no_id.returncode == 2 and "$INVOCATION_ID is not set" in no_id.stderr
    env["INVOCATION_ID"] = INVOCATION
    no_result = hook(["--database-url", url, "hook", "stop", "nightly"], env)
    assert no_result.returncode == 2 and "$SERVICE_RESULT is not set" in no_result.stderr
    bad_name = hook(["--database-url", url, "hook", "start", "a/b"], env)
    assert bad_name.returncode == 2 and "'/'" in bad_name.stderr
    with cronwatch.connect(url, statsd=False) as monitor:
        assert monitor.history("nightly") == [] and monitor.history("a") == []


def test_the_env_file_names_the_database(tmp_path: Path) -> None:
    # The settings come from the file alone: the hook's own environment has none of them.
    url = f"sqlite:///{tmp_path}/from-file.db"
    env_file = tmp_path / "hook.env"
    env_file.write_text(f"CRONWATCH_DATABASE_URL={url}\nCRONWATCH_SPOOL_DIR={tmp_path}/spool\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "INVOCATION_ID": INVOCATION}
    options = ["--env-file", str(env_file), "--", "nightly"]
    assert hook(["hook", "start", *options], env).returncode == 0
    assert hook(["hook", "stop", *options], {**env, "SERVICE_RESULT": "success"}).returncode == 0
    with cronwatch.connect(url, statsd=False) as monitor:
        (run,) = monitor.history("nightly")
    assert run.outcome == "success"
    assert not (tmp_path / ".local").exists()  # nothing went to the default database
