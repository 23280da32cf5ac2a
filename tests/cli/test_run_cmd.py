"""`cronwatch run`: the command runs, its output and exit status pass through, its run is
recorded; and the `run` path imports nothing heavy."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import cronwatch


def run_process(url: str, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, CRONWATCH_DATABASE_URL=url)
    return subprocess.run(
        [sys.executable, "-m", "cronwatch", *args],
        capture_output=True,
        env=env,
        timeout=60,
        **kwargs,
    )


def test_run_passes_output_and_exit_code_through_and_records(database_url: str) -> None:
    script = (
        "import sys; sys.stdout.buffer.write(b'out\\xff\\x00'); "
        "sys.stderr.write('err'); sys.exit(5)"
    )
    result = run_process(
        database_url, "run", "job", "--host", "web1", "--", sys.executable, "-c", script
    )
    assert result.returncode == 5
    assert result.stdout == b"out\xff\x00"
    assert result.stderr == b"err", "cronwatch must add nothing when all is well"
    with cronwatch.connect(database_url, statsd=False) as monitor:
        (run,) = monitor.history("job")
    assert (run.outcome, run.exit_code, run.hostname) == ("failure", 5, "web1")
    assert run.output is not None and "err" in run.output and "out" in run.output
    assert run.duration is not None and run.duration.total_seconds() > 0


def test_run_records_start_while_the_command_runs(database_url: str, tmp_path: Path) -> None:
    marker = tmp_path / "go"
    script = f"import os, time\nwhile not os.path.exists({str(marker)!r}): time.sleep(0.02)"
    env = dict(os.environ, CRONWATCH_DATABASE_URL=database_url)
    proc = subprocess.Popen(
        [sys.executable, "-m", "cronwatch", "run", "long", "--", sys.executable, "-c", script],
        env=env,
    )
    try:
        with cronwatch.connect(database_url, statsd=False) as monitor:
            deadline = time.monotonic() + 30
            while not monitor.history("long") and time.monotonic() < deadline:
                time.sleep(0.05)
            (running,) = monitor.history("long")
            assert (running.outcome, running.date_completed) == ("running", None)
            marker.touch()
            assert proc.wait(30) == 0
            (done,) = monitor.history("long")
        assert done.run_id == running.run_id and done.outcome == "success"
    finally:
        proc.kill()


def test_run_forwards_sigterm_and_dies_the_same_way(database_url: str) -> None:
    script = "import time; print('ready', flush=True); time.sleep(60)"
    env = dict(os.environ, CRONWATCH_DATABASE_URL=database_url)
    proc = subprocess.Popen(
        [sys.executable, "-m", "cronwatch", "run", "term", "--", sys.executable, "-c", script],
        env=env,
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == -signal.SIGTERM, "cronwatch must end by the command's signal"
    with cronwatch.connect(database_url, statsd=False) as monitor:
        (run,) = monitor.history("term")
    assert (run.outcome, run.exit_code) == ("failure", 128 + signal.SIGTERM)


def test_run_no_capture_hands_our_stdout_to_the_command(database_url: str, tmp_path: Path) -> None:
    script = "import os, sys; print(os.readlink('/proc/self/fd/1')); sys.exit(3)"
    out = tmp_path / "out.txt"
    command = ["run", "--no-capture", "nc", "--", sys.executable, "-c", script]
    with out.open("wb") as stdout:
        result = subprocess.run(
            [sys.executable, "-m", "cronwatch", *command],
            stdout=stdout,
            stderr=subprocess.PIPE,
            env=dict(os.environ, CRONWATCH_DATABASE_URL=database_url),
            timeout=60,
        )
    # The command wrote straight into our stdout file, not into a pipe of cronwatch's.
    assert out.read_text() == f"{out}\n"
    assert result.returncode == 3 and result.stderr == b""
    with cronwatch.connect(database_url, statsd=False) as monitor:
        (run,) = monitor.history("nc")
    assert (run.outcome, run.exit_code, run.output) == ("failure", 3, None)

    captured = run_process(database_url, "run", "c", "--", sys.executable, "-c", script)
    assert captured.stdout.startswith(b"pipe:"), "without --no-capture the command gets a pipe"


def test_run_with_a_refused_name_still_runs_the_command(database_url: str) -> None:
    result = run_process(database_url, "run", "bad/name", "--", "echo", "still ran")
    assert result.returncode == 0 and result.stdout == b"still ran\n"
    assert b"will not be recorded" in result.stderr and b"'/'" in result.stderr
    with cronwatch.connect(database_url, statsd=False) as monitor:
        assert monitor.store.count() == 0


def test_run_needs_a_command(database_url: str) -> None:
    result = run_process(database_url, "run", "job")
    assert result.returncode == 2 and b"Missing argument" in result.stderr


def test_cronwatch_run_does_not_import_heavy_modules() -> None:
    code = (
        "import sys\n"
        "sys.argv = ['cronwatch', 'run', '--help']\n"
        "from cronwatch.cli.main import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "import cronwatch.execution\n"
        "heavy = sorted(m for m in ('sqlalchemy', 'alembic', 'psycopg', 'starlette', 'uvicorn')"
        " if m in sys.modules)\n"
        "print(heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"
