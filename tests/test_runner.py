"""Tests of cronwatch.runner with real processes (no mocks).

Most tests run the runner in a separate Python process (tests/runner_helpers/wrap.py, which
behaves like the CLI: run_command, then reraise_exit), so that its stdout/stderr bytes and its
wait status can be compared with what the wrapped command alone would have produced.
"""

from __future__ import annotations

import json
import os
import pty
import resource
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import FrozenInstanceError, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cronwatch.runner import FORWARDED_SIGNALS, CommandResult, reraise_exit, run_command
from tests.support.databases import IN_CI

HELPERS = Path(__file__).parent / "runner_helpers"
WRAP = str(HELPERS / "wrap.py")
TRAP = str(HELPERS / "trap.py")
PY = sys.executable


@dataclass
class Wrapped:
    """What the wrapper process did: its raw wait status, its output, its JSON report."""

    status: int
    stdout: bytes
    stderr: bytes
    report: dict[str, Any] | None

    @property
    def exit_code(self) -> int | None:
        return os.WEXITSTATUS(self.status) if os.WIFEXITED(self.status) else None

    @property
    def term_signal(self) -> int | None:
        return os.WTERMSIG(self.status) if os.WIFSIGNALED(self.status) else None


def _wait_raw(proc: subprocess.Popen[bytes], timeout: float = 60) -> int:
    """Reap ``proc`` ourselves to get the raw wait status (Popen hides the core-dump bit)."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status = os.waitpid(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return status
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"wrapper still running after {timeout} s")
        time.sleep(0.01)


def _read_report(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


def run_wrapped(tmp_path: Path, command: list[str], *opts: str, timeout: float = 60) -> Wrapped:
    """Run ``wrap.py`` to completion with stdout/stderr going to files."""
    report = tmp_path / "report.json"
    out, err = tmp_path / "wrapper.out", tmp_path / "wrapper.err"
    with out.open("wb") as out_f, err.open("wb") as err_f:
        proc = subprocess.Popen(
            [PY, WRAP, str(report), *opts, "--", *command],
            stdin=subprocess.DEVNULL,
            stdout=out_f,
            stderr=err_f,
            cwd=tmp_path,
        )
        status = _wait_raw(proc, timeout)
    return Wrapped(status, out.read_bytes(), err.read_bytes(), _read_report(report))


def start_wrapped(tmp_path: Path, command: list[str], *opts: str) -> subprocess.Popen[bytes]:
    """Start ``wrap.py`` with its stdout on a pipe and wait until the command printed 'ready'."""
    proc = subprocess.Popen(
        [PY, WRAP, str(tmp_path / "report.json"), *opts, "--", *command],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "wrapper.err").open("wb"),
        cwd=tmp_path,
    )
    assert proc.stdout is not None
    line = _readline_with_timeout(proc.stdout.fileno(), 30)
    assert line == b"ready\n", line
    return proc


def finish_wrapped(tmp_path: Path, proc: subprocess.Popen[bytes]) -> Wrapped:
    assert proc.stdout is not None
    rest = proc.stdout.read()
    proc.stdout.close()
    status = _wait_raw(proc)
    stderr = (tmp_path / "wrapper.err").read_bytes()
    return Wrapped(status, b"ready\n" + rest, stderr, _read_report(tmp_path / "report.json"))


def _readline_with_timeout(fd: int, timeout: float) -> bytes:
    line = b""
    deadline = time.monotonic() + timeout
    while not line.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no full line within {timeout} s, got {line!r}"
        readable, _, _ = select.select([fd], [], [], remaining)
        if readable:
            byte = os.read(fd, 1)
            assert byte, f"EOF before a full line, got {line!r}"
            line += byte
    return line


def py_command(code: str) -> list[str]:
    return [PY, "-c", code]


# --- exit codes and output pass-through ---------------------------------------------------


@pytest.mark.parametrize("code", [0, 1, 3, 255])
def test_exit_code_is_passed_through(tmp_path: Path, code: int) -> None:
    w = run_wrapped(tmp_path, ["sh", "-c", f"exit {code}"])

    assert w.exit_code == code
    assert w.term_signal is None
    assert w.report is not None
    assert w.report["exit_code"] == code
    assert w.report["signal"] is None
    # The wrapper adds nothing of its own to the command's (empty) output.
    assert w.stdout == b""
    assert w.stderr == b""
    assert w.report["output_tail"] == ""


def test_output_bytes_are_identical_to_the_commands(tmp_path: Path) -> None:
    # Invalid UTF-8, NUL, CR, a lone continuation byte, and no trailing newline.
    code = (
        "import os, time\n"
        "os.write(1, b'out \\xff\\xfe\\x00 caf\\xc3\\xa9\\r\\n')\n"
        "os.write(2, b'err \\x80 half \\xe2\\x82')\n"
        "time.sleep(0.05)\n"
        "os.write(1, b'end without newline \\xc3')\n"
        "os.write(2, b' more err')\n"
    )
    direct = subprocess.run(py_command(code), capture_output=True, check=True)
    assert direct.stdout == b"out \xff\xfe\x00 caf\xc3\xa9\r\nend without newline \xc3"
    assert direct.stderr == b"err \x80 half \xe2\x82 more err"

    w = run_wrapped(tmp_path, py_command(code))

    assert w.exit_code == 0
    assert w.stdout == direct.stdout
    assert w.stderr == direct.stderr
    assert w.report is not None
    tail = w.report["output_tail"]
    # The tail has both streams, decoded with replacement characters, and no omission marker.
    assert "out \ufffd\ufffd\x00 café\r\n" in tail
    assert "err \ufffd half \ufffd" in tail
    assert not tail.startswith("[...")


def test_no_capture_inherits_our_fds_and_keeps_no_tail(tmp_path: Path) -> None:
    code = "import os; print(os.readlink('/proc/self/fd/1'), end='')"
    w = run_wrapped(tmp_path, py_command(code), "--no-capture")

    assert w.exit_code == 0
    # The command wrote straight into the wrapper's stdout file, not into a pipe of ours.
    assert w.stdout.decode() == str(tmp_path / "wrapper.out")
    assert w.report is not None
    assert w.report["output_tail"] == ""


def test_capture_gives_the_command_a_pipe(tmp_path: Path) -> None:
    # The counterpart of the previous test, so that it cannot pass by accident.
    code = "import os; print(os.readlink('/proc/self/fd/1'), end='')"
    w = run_wrapped(tmp_path, py_command(code))

    assert w.stdout.startswith(b"pipe:")
    assert w.report is not None
    assert w.report["output_tail"] == w.stdout.decode()


# --- the output tail --------------------------------------------------------------------------


def test_tail_keeps_only_the_last_bytes(tmp_path: Path) -> None:
    code = "import sys; sys.stdout.write('x' * 5000 + 'THE END')"
    w = run_wrapped(tmp_path, py_command(code), "--tail", "100")

    assert w.stdout == b"x" * 5000 + b"THE END"  # the pass-through is never truncated
    assert w.report is not None
    assert w.report["output_tail"] == "[... 4907 bytes omitted]\n" + "x" * 93 + "THE END"


def test_tail_is_exact_when_the_output_fits() -> None:
    result = run_command(["printf", "12345"], tail_bytes=5)
    assert result.output_tail == "12345"
    result = run_command(["printf", "123456"], tail_bytes=5)
    assert result.output_tail == "[... 1 bytes omitted]\n23456"


def test_tail_cut_inside_a_multibyte_character_adds_no_replacement_char() -> None:
    # 1000 two-byte characters; 101 bytes start in the middle of one.
    result = run_command([PY, "-c", "import sys; sys.stdout.write('é' * 1000)"], tail_bytes=101)

    assert result.output_tail == "[... 1900 bytes omitted]\n" + "é" * 50
    assert "\ufffd" not in result.output_tail


def test_tail_bytes_zero_keeps_only_the_count() -> None:
    result = run_command(["printf", "abc"], tail_bytes=0)
    assert result.output_tail == "[... 3 bytes omitted]\n"


@pytest.mark.slow
def test_memory_stays_bounded_with_50_mb_of_output(tmp_path: Path) -> None:
    big = tmp_path / "big"
    small = tmp_path / "small"
    big.mkdir()
    small.mkdir()
    code = (
        "import os, sys, time\n"
        "n = int(sys.argv[1])\n"
        "chunk = bytes(range(256)) * 256\n"  # 64 KiB, every byte value
        "for _ in range(n): os.write(1, chunk); os.write(2, b'e' * 100)\n"
        "time.sleep(0.1)\n"  # so that the last stderr chunk surely comes before in the tail
        "os.write(1, b'the error is at the end\\n')\n"
    )
    chunks = 50 * 16  # 800 * 64 KiB = 50 MiB on stdout (plus 80 KB on stderr)
    # A tail larger than one read, so that it grows by appending and must be trimmed.
    tail_bytes = 100_000
    opts = ("--tail", str(tail_bytes))
    w_big = run_wrapped(big, [*py_command(code), str(chunks)], *opts, timeout=120)
    w_small = run_wrapped(small, [*py_command(code), "1"], *opts)

    assert w_big.exit_code == 0
    assert len(w_big.stdout) == chunks * 65536 + len(b"the error is at the end\n")
    assert w_big.stdout[:65536] == bytes(range(256)) * 256
    assert w_big.stdout.endswith(bytes(range(256)) + b"the error is at the end\n")
    assert w_big.stderr == b"e" * 100 * chunks
    assert w_big.report is not None and w_small.report is not None
    tail = w_big.report["output_tail"]
    assert tail.endswith("the error is at the end\n")
    omitted = chunks * (65536 + 100) + len(b"the error is at the end\n") - tail_bytes
    # The cut may land on continuation bytes (0x80-0xBF), which are skipped (at most 3).
    assert any(tail.startswith(f"[... {omitted + skip} bytes omitted]\n") for skip in range(4))
    # Peak memory of the wrapper: 50 MiB went through it, but it held at most a few chunks.
    grown_kb = w_big.report["peak_rss_kb"] - w_small.report["peak_rss_kb"]
    assert grown_kb < 10 * 1024, f"wrapper grew by {grown_kb} KiB for 50 MiB of output"


def test_tail_has_the_end_even_when_our_output_is_slow(tmp_path: Path) -> None:
    """Output still in the pipe when the command exits belongs in the tail."""
    done = tmp_path / "done"
    # ~3 pipe buffers: when the command exits, one 64 KiB buffer sits in the wrapper's stdout
    # (not read yet), one chunk is held by the blocked reader, the rest is still in the pipe.
    code = (
        "import os, sys\n"
        "os.write(1, b'x' * 150_000 + b'END\\n')\n"
        f"open({str(done)!r}, 'w').close()\n"
    )
    proc = subprocess.Popen(
        [PY, WRAP, str(tmp_path / "report.json"), "--", *py_command(code)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while not done.exists():
        assert time.monotonic() < deadline, "the command did not finish"
        time.sleep(0.01)
    time.sleep(0.05)  # the runner reaps the command meanwhile, with the rest still unread
    out = proc.stdout.read()
    proc.stdout.close()
    status = _wait_raw(proc)

    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert out == b"x" * 150_000 + b"END\n"
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["output_tail"] == "[... 140004 bytes omitted]\n" + "x" * 9996 + "END\n"


# --- commands that cannot be started ---------------------------------------------------------


def test_command_not_found_is_127_with_a_message(tmp_path: Path) -> None:
    w = run_wrapped(tmp_path, ["definitely-not-a-command-cw", "arg"])

    message = b"cronwatch: cannot run 'definitely-not-a-command-cw': No such file or directory\n"
    assert w.exit_code == 127
    assert w.stderr == message
    assert w.stdout == b""
    assert w.report is not None
    assert w.report["output_tail"] == message.decode()
    assert w.report["signal"] is None
    assert w.report["on_started_calls"] == 0  # nothing was started
    assert w.report["handlers_restored"] is True
    assert w.report["mask_restored"] is True


def test_command_not_executable_is_126(tmp_path: Path) -> None:
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\necho should not run\n")
    script.chmod(0o644)

    w = run_wrapped(tmp_path, [str(script)])

    assert w.exit_code == 126
    assert w.stderr == f"cronwatch: cannot run '{script}': Permission denied\n".encode()
    assert w.stdout == b""


def test_invalid_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        run_command([])
    with pytest.raises(ValueError, match="tail_bytes"):
        run_command(["true"], tail_bytes=-1)


# --- on_started -------------------------------------------------------------------------------


def test_on_started_is_called_once_while_the_command_runs(tmp_path: Path) -> None:
    flag = tmp_path / "started.flag"
    # The command only succeeds if on_started ran while it was still running.
    code = (
        "import os, sys, time\n"
        f"flag = {str(flag)!r}\n"
        "deadline = time.monotonic() + 10\n"
        "while not os.path.exists(flag) and time.monotonic() < deadline: time.sleep(0.01)\n"
        "sys.exit(0 if os.path.exists(flag) else 5)\n"
    )
    w = run_wrapped(tmp_path, py_command(code), "--started-file", str(flag))

    assert w.exit_code == 0
    assert w.report is not None
    assert w.report["on_started_calls"] == 1


def test_on_started_raising_does_not_break_the_run(tmp_path: Path) -> None:
    w = run_wrapped(tmp_path, ["sh", "-c", "echo hi; exit 3"], "--raise-in-on-started")

    assert w.exit_code == 3
    assert w.stdout == b"hi\n"
    assert w.report is not None
    assert w.report["exit_code"] == 3
    assert w.report["on_started_calls"] == 1
    assert w.report["handlers_restored"] is True
    assert b"on_started callback failed" in w.stderr
    assert b"RuntimeError: on_started blew up" in w.stderr


# --- result values ----------------------------------------------------------------------------


def test_result_has_aware_utc_times_and_is_frozen() -> None:
    before = datetime.now(UTC)
    result = run_command(["sleep", "0.05"])
    after = datetime.now(UTC)

    assert result.started.tzinfo is UTC
    assert result.finished.tzinfo is UTC
    assert before <= result.started <= result.finished <= after  # order, not seconds
    with pytest.raises(FrozenInstanceError):
        result.exit_code = 1  # type: ignore[misc]


def test_reraise_exit_returns_the_exit_code_without_a_signal() -> None:
    result = run_command(["sh", "-c", "exit 7"])
    assert result == CommandResult(7, None, "", result.started, result.finished)
    assert reraise_exit(result) == 7  # and we are still alive


# --- signals ----------------------------------------------------------------------------------


def test_sigterm_to_the_runner_reaches_the_command(tmp_path: Path) -> None:
    proc = start_wrapped(tmp_path, [PY, TRAP, "SIGTERM"])
    os.kill(proc.pid, signal.SIGTERM)
    w = finish_wrapped(tmp_path, proc)

    # The command decided to exit 0 on SIGTERM; the wrapper must not have died of it.
    assert w.term_signal is None
    assert w.exit_code == 0
    assert w.stdout == b"ready\ngot SIGTERM x1\n"
    assert w.report is not None
    assert w.report["exit_code"] == 0
    assert w.report["signal"] is None
    assert w.report["handlers_restored"] is True
    assert w.report["mask_restored"] is True


@pytest.mark.parametrize("name", ["SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"])
def test_other_signals_are_forwarded_exactly_once(tmp_path: Path, name: str) -> None:
    proc = start_wrapped(tmp_path, [PY, TRAP, name])
    os.kill(proc.pid, getattr(signal, name))
    w = finish_wrapped(tmp_path, proc)

    assert w.exit_code == 0
    assert w.stdout == f"ready\ngot {name} x1\n".encode()


def test_signals_are_forwarded_while_on_started_is_busy(tmp_path: Path) -> None:
    """on_started may hang on a database: the command must get its signals meanwhile, and its
    end is noted when it is reaped, not when on_started returns."""
    got = tmp_path / "got-signal"
    # on_started returns only once the command got SIGTERM (it creates `got`) and was reaped:
    # if either waited for on_started, on_started would wait in vain and say so.
    command = [PY, TRAP, "SIGTERM", "0.2", str(got)]
    proc = start_wrapped(tmp_path, command, "--busy-on-started", str(got))
    os.kill(proc.pid, signal.SIGTERM)
    w = finish_wrapped(tmp_path, proc)

    assert w.stdout == b"ready\ngot SIGTERM x1\n"
    assert w.exit_code == 0
    assert w.report is not None
    assert w.report["on_started_calls"] == 1
    busy = w.report["on_started_busy"]
    assert busy["saw_file"] is True, "the signal waited for on_started"
    assert busy["saw_reap"] is True, "reaping the command waited for on_started"
    # finished is when the command was reaped, which happened while on_started still ran.
    finished = datetime.fromisoformat(w.report["finished"])
    assert finished <= datetime.fromisoformat(busy["returned"])


def test_untrapped_sigterm_kills_the_command_and_then_the_wrapper(tmp_path: Path) -> None:
    proc = start_wrapped(tmp_path, ["sh", "-c", "echo ready; exec sleep 30"])
    os.kill(proc.pid, signal.SIGTERM)
    w = finish_wrapped(tmp_path, proc)

    # The sleep did not run its 30 s: it was killed by the forwarded signal.
    assert w.report is not None
    assert w.report["signal"] == signal.SIGTERM
    assert w.report["exit_code"] == 128 + signal.SIGTERM
    assert w.term_signal == signal.SIGTERM
    assert not os.WCOREDUMP(w.status)


@pytest.mark.slow
def test_terminal_ctrl_c_reaches_the_command_once(tmp_path: Path) -> None:
    """^C makes the terminal signal the whole foreground group: the runner must not add one."""
    report = tmp_path / "report.json"
    pid, master = pty.fork()
    if pid == 0:  # pragma: no cover - the child execs at once
        try:
            os.execv(PY, [PY, WRAP, str(report), "--", PY, TRAP, "SIGINT", "1.0"])
        finally:
            os._exit(120)
    output = b""
    try:
        while b"ready" not in output:
            readable, _, _ = select.select([master], [], [], 30)
            assert readable, f"no 'ready' from the command, got {output!r}"
            output += os.read(master, 1024)
        os.write(master, b"\x03")  # VINTR, as if typed
        while True:
            readable, _, _ = select.select([master], [], [], 30)
            assert readable, f"command did not finish, got {output!r}"
            try:
                data = os.read(master, 1024)
            except OSError:  # EIO: the other side was closed
                break
            if not data:
                break
            output += data
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(master)

    assert b"got SIGINT x1" in output, output
    assert b"x2" not in output
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    result = json.loads(report.read_text())
    assert result["exit_code"] == 0
    assert result["handlers_restored"] is True


def test_child_killed_by_sigkill_kills_the_wrapper_by_sigkill(tmp_path: Path) -> None:
    w = run_wrapped(tmp_path, py_command("import os; os.kill(os.getpid(), 9)"))

    assert w.report is not None
    assert w.report["signal"] == 9
    assert w.report["exit_code"] == 137
    assert w.term_signal == signal.SIGKILL
    assert w.exit_code is None


def test_reraised_crash_signal_leaves_no_core_dump_of_the_wrapper(tmp_path: Path) -> None:
    if resource.getrlimit(resource.RLIMIT_CORE)[1] == 0:
        reason = "core dumps are disabled by the hard limit: this test could not fail"
        if IN_CI:
            pytest.fail(reason + " (required under CI=true: allow core dumps, ulimit -Hc)")
        pytest.skip(reason)
    # The command aborts (SIGABRT) without dumping core itself; the wrapper, allowed to dump
    # core, must still die by SIGABRT without a core dump of its own.
    code = (
        "import os, resource\n"
        "hard = resource.getrlimit(resource.RLIMIT_CORE)[1]\n"
        "resource.setrlimit(resource.RLIMIT_CORE, (0, hard))\n"
        "os.abort()\n"
    )
    w = run_wrapped(tmp_path, py_command(code), "--core-dumps")

    assert w.report is not None
    assert w.report["signal"] == signal.SIGABRT
    assert w.term_signal == signal.SIGABRT
    assert not os.WCOREDUMP(w.status)


def test_broken_pipe_downstream_stops_the_command(tmp_path: Path) -> None:
    """``cronwatch run … -- yes | head -c 10`` must end, as ``yes | head -c 10`` does."""
    proc = subprocess.Popen(
        [PY, WRAP, str(tmp_path / "report.json"), "--", "yes"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    assert proc.stdout.read(10) == b"y\ny\ny\ny\ny\n"
    proc.stdout.close()
    status = _wait_raw(proc, timeout=20)

    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGPIPE
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["signal"] == signal.SIGPIPE
    assert report["exit_code"] == 128 + signal.SIGPIPE


def test_background_process_holding_the_pipe_does_not_hold_the_run(tmp_path: Path) -> None:
    go = tmp_path / "go"
    # The background process holds the pipes until the test says go, which it does only once
    # the wrapper has exited: a wrapper waiting for the pipes to close would never exit.
    script = f"(while [ ! -e {go} ]; do sleep 0.02; done) & echo $!; echo done; exit 4"
    try:
        w = run_wrapped(tmp_path, ["sh", "-c", script])
        lines = w.stdout.split()
        assert not go.exists()
        os.kill(int(lines[0]), 0)  # the background process is still there
    finally:
        go.touch()

    assert w.exit_code == 4
    assert lines[1] == b"done"


def test_background_process_outlives_the_wrapper_without_sigpipe(tmp_path: Path) -> None:
    """A process the command leaves behind goes on writing after the wrapper exited, as it
    would bare: its output still arrives, and it is not killed by SIGPIPE."""
    go, finished = tmp_path / "go", tmp_path / "background-finished"
    script = (
        f"(while [ ! -e {go} ]; do sleep 0.02; done; echo late out; echo late err >&2; "
        f"echo yes > {finished}) & echo early"
    )
    proc = subprocess.Popen(
        [PY, WRAP, str(tmp_path / "report.json"), "--", "sh", "-c", script],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    try:
        status = _wait_raw(proc)  # the wrapper exits while the background process waits
        assert not finished.exists()
    finally:
        go.touch()
    # Until EOF: every process holding our pipes (the background one, its relay) closed them.
    out, err = proc.stdout.read(), proc.stderr.read()

    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert out == b"early\nlate out\n"
    assert err == b"late err\n"
    assert finished.read_text() == "yes\n", "the background process died before its end"
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["output_tail"] == "early\n"  # what came after the run is not in its tail


# --- signal dispositions in our process and in the command -----------------------------------


def _sig_bits(status: str, field: str) -> int:
    line = next(x for x in status.splitlines() if x.startswith(field + ":"))
    return int(line.split()[1], 16)


def test_handlers_and_mask_are_restored_in_process() -> None:
    def custom(signum: int, frame: object) -> None:
        raise AssertionError("must not run")

    signals = [getattr(signal, name) for name in FORWARDED_SIGNALS]
    saved = {sig: signal.getsignal(sig) for sig in [*signals, signal.SIGCHLD]}
    try:
        signal.signal(signal.SIGTERM, custom)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGUSR1, signal.SIG_DFL)
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # would make exit statuses vanish
        before = {sig: signal.getsignal(sig) for sig in [*signals, signal.SIGCHLD]}
        mask_before = signal.pthread_sigmask(signal.SIG_BLOCK, [])

        result = run_command(["sh", "-c", "exit 9"])

        assert result.exit_code == 9  # despite SIGCHLD being ignored by the caller
        assert {sig: signal.getsignal(sig) for sig in before} == before
        assert signal.getsignal(signal.SIGTERM) is custom
        assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == mask_before
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def test_command_inherits_ignored_signals_but_not_our_blocked_mask() -> None:
    signals = [getattr(signal, name) for name in FORWARDED_SIGNALS]
    saved = {sig: signal.getsignal(sig) for sig in signals}
    try:
        for sig in signals:  # whatever the test runner inherited: caught, not ignored
            signal.signal(sig, signal.default_int_handler)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
        result = run_command(["grep", "^Sig", "/proc/self/status"])
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)

    ignored = _sig_bits(result.output_tail, "SigIgn")
    blocked = _sig_bits(result.output_tail, "SigBlk")
    assert ignored & (1 << (signal.SIGHUP - 1)), "SIGHUP should stay ignored (nohup)"
    for name in ("SIGTERM", "SIGINT", "SIGQUIT", "SIGUSR1", "SIGUSR2"):
        assert not ignored & (1 << (getattr(signal, name) - 1)), f"{name} must not be ignored"
    assert blocked == 0, "the command must not inherit the runner's blocked signals"


def test_run_from_a_non_main_thread_works_without_forwarding() -> None:
    results: list[CommandResult] = []
    before = signal.getsignal(signal.SIGTERM)
    thread = threading.Thread(target=lambda: results.append(run_command(["sh", "-c", "exit 5"])))
    thread.start()
    thread.join(30)

    assert not thread.is_alive()
    assert [r.exit_code for r in results] == [5]
    assert signal.getsignal(signal.SIGTERM) is before
