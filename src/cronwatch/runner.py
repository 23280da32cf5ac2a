"""Run the command that ``cronwatch run NAME -- COMMAND [ARGS...]`` wraps.

The wrapper must be invisible: whatever ran the job (cron, a shell, systemd) has to see the same
output, the same exit status and the same reaction to signals as if the command had run alone.
:func:`run_command` runs the command and reports how it ended, :func:`reraise_exit` then ends
cronwatch the same way.

What is and is not preserved
----------------------------
* Output: stdout and stderr bytes go through unchanged (no decoding, no buffering: each chunk
  is written to our fd 1 / fd 2 as soon as it is read), so the order in time within each stream
  is kept. The two streams are separate pipes, so their relative order is only as exact as
  scheduling allows. If our own stdout (or stderr) is a closed pipe, we close the command's pipe
  too, so it gets SIGPIPE/EPIPE as it would have without us (``cronwatch run … -- yes | head``
  ends). Any other write error stops the pass-through of that stream but keeps draining it,
  so the command is never blocked by us.
* Signals: SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to cronwatch while the
  command runs are forwarded to it; the command decides what to do. A signal that cronwatch
  itself ignores on entry (e.g. SIGHUP under ``nohup``) is left ignored, so the command
  inherits the ignore exactly as it would have. A SIGINT or SIGQUIT typed at the terminal goes
  to the whole foreground process group, the command included, so it is not forwarded a
  second time (Linux tells it apart by ``si_code == SI_KERNEL``). Trade-off: a signal that
  another *process* sends to our whole process group (``kill -TERM -PGID``, a shell's SIGHUP
  to its jobs) cannot be told apart from one sent to our pid, so the command gets it twice
  (most programs stop at the first); so does the kernel's SIGHUP to the foreground group when
  a terminal's session ends, which is forwarded too. Signals that arrive after the command
  has been reaped are dropped: its pid may already belong to another process.
* File descriptors: the command inherits exactly the descriptors that an ``exec`` would pass
  (everything not close-on-exec), like a shell running it directly; Python's own descriptors
  (database connections, …) are all close-on-exec, so they do not leak.
* Exit status: :attr:`CommandResult.exit_code` follows the shell convention (128+N for death
  by signal N, 127 not found, 126 not executable), and :func:`reraise_exit` makes cronwatch
  die by the same signal, so e.g. a shell script stops on Ctrl-C as it should.

Background processes the command leaves behind holding its stdout/stderr are not waited for
forever: after the command exits we drain its pipes until they close, or until no output came
for half a second (five seconds at most); the pass-through of what such processes print goes on
while cronwatch lives, and when cronwatch ends (:func:`reraise_exit`) each pipe still open is
handed to a ``cat`` of its own that goes on copying it to where our output went, until the last
process holding it closes it. So a background process outlives ``cronwatch run`` as it would
outlive the command run bare: its writes never meet a closed pipe (no SIGPIPE), and whatever
waits for the end of our output (cron, a shell's ``$(...)``) waits for it as it would bare.
What such processes print after the command exited is passed through but not in the tail.

POSIX only; the double-SIGINT avoidance needs Linux (elsewhere every signal is forwarded).

The output's way through is :mod:`cronwatch.passthrough`. The rest (spawning, forwarding
signals, reaping, the exit) is one concept kept in one module, because each step relies on the
others' order: the signal mask is set before the reader threads start, so that they inherit it,
and reaping and forwarding share one lock, so that no signal reaches a reused pid.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cronwatch.passthrough import LEFTOVER, Drain, Pump, Tail, hand_over_leftover_output, write_all
from cronwatch.timeutil import utcnow

if TYPE_CHECKING:
    import signal
    import subprocess
    import threading
    from collections.abc import Callable, Sequence
    from datetime import datetime
    from types import FrameType

    # What signal.getsignal() returns and signal.signal() accepts.
    _Handler = Callable[[int, FrameType | None], object] | int | signal.Handlers | None

__all__ = ["FORWARDED_SIGNALS", "CommandResult", "reraise_exit", "run_command"]

# Names rather than numbers so that importing this module does not need the ``signal`` module
# (it is imported lazily, with ``subprocess``, when a command actually runs).
FORWARDED_SIGNALS = ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")
"""Names of the signals that are forwarded to the command while it runs."""

_DRAIN_IDLE = 0.5  # seconds without output after the command exited before we stop draining
_DRAIN_MAX = 5.0  # and at most this long after it exited, even if output keeps coming
_WAIT_POLL = 0.25  # safety net only: SIGCHLD normally wakes the wait loop at once
_SI_KERNEL = 0x80  # Linux si_code of signals the kernel sends, e.g. the tty's SIGINT/SIGQUIT


@dataclass(frozen=True, slots=True)
class CommandResult:
    """How the wrapped command ended.

    ``exit_code`` follows the shell convention: the command's exit status, 128+N if it was
    killed by signal N, 127 if it was not found, 126 if it could not be executed.
    ``signal`` is N when the command was killed by signal N, else ``None``.
    ``output_tail`` is the end of the combined stdout+stderr output: at most the last
    ``tail_bytes`` bytes, decoded as UTF-8 with ``errors="replace"``; when earlier output was
    dropped it starts with a line ``[... N bytes omitted]`` (so the tail may be that marker
    longer than ``tail_bytes``). Empty when the output was not captured.
    ``started`` and ``finished`` are timezone-aware UTC datetimes taken just before the spawn
    and just after the command was reaped.
    """

    exit_code: int
    signal: int | None
    output_tail: str
    started: datetime
    finished: datetime


def run_command(
    argv: Sequence[str],
    *,
    tail_bytes: int = 10_000,
    capture: bool = True,
    on_started: Callable[[], None] | None = None,
) -> CommandResult:
    """Run ``argv`` (looked up on ``PATH`` like a shell does) and return how it ended.

    The command's stdout/stderr are passed through to ours byte for byte, while the last
    ``tail_bytes`` bytes of the combined output are kept for :attr:`CommandResult.output_tail`;
    memory stays bounded (about ``2 * tail_bytes`` plus 64 KiB per stream) whatever the
    command prints. With ``capture=False`` the command inherits our stdout/stderr directly and
    no tail is kept. stdin is always inherited.

    While the command runs, the signals in :data:`FORWARDED_SIGNALS` are forwarded to it (see
    the module docstring for the details), and our previous handlers and signal mask are
    restored before returning. Forwarding needs our handlers, so it only happens when called
    from the main thread; from another thread the command simply runs.

    ``on_started`` is called once, in the calling thread, right after the command was spawned
    and while it runs (so the caller can record the start in a database without delaying the
    command). Signals are forwarded and the command's end is noted (``finished``) by a thread
    of ours meanwhile, so a slow ``on_started`` delays neither. It must not raise: the caller
    handles its own errors. If it raises anyway, the exception is logged on the
    ``cronwatch.runner`` logger and the run goes on. It is not called when the command could
    not be started (the caller can record start and end from the result then).

    A command that cannot be started gives exit code 127 (not found) or 126 (any other reason,
    e.g. not executable), and ``cronwatch: cannot run 'NAME': REASON`` is written to our stderr
    and is the output tail. Raises :class:`ValueError` for an empty ``argv`` or a negative
    ``tail_bytes``.
    """
    args = _checked_args(argv, tail_bytes)
    tail = Tail(tail_bytes)
    # Whatever the caller printed before must come out before the command's output.
    _flush_std_streams()

    forwarder = _SignalForwarder()
    try:
        forwarder.install()
        spawned = _spawn(args, capture)
        if isinstance(spawned, OSError):  # exec failed (or fork, pipes): like a shell, 126/127
            return _not_started(args[0], spawned, tail, utcnow())
        proc, pipes, started = spawned
        # From here on, signals go to the command, even while on_started runs; the reader
        # threads are started after the signal mask is set so they inherit it (see attach()).
        forwarder.attach(proc)
        drain, pumps = _start_pumps(pipes, tail)
        _call_on_started(on_started)
        returncode, finished = forwarder.wait()
    finally:
        forwarder.uninstall()

    drain.wait(_DRAIN_IDLE, _DRAIN_MAX)
    LEFTOVER.extend(pump for pump in pumps if pump.running())
    if returncode < 0:
        return CommandResult(128 - returncode, -returncode, tail.text(), started, finished)
    return CommandResult(returncode, None, tail.text(), started, finished)


def _start_pumps(pipes: list[tuple[int, int]], tail: Tail) -> tuple[Drain, list[Pump]]:
    """One started reader thread per captured stream, all feeding ``tail`` and one drain."""
    drain = Drain(len(pipes))
    pumps = [Pump(read_end, our_fd, tail, drain) for read_end, our_fd in pipes]
    for pump in pumps:
        pump.start()
    return drain, pumps


def _checked_args(argv: Sequence[str], tail_bytes: int) -> list[str]:
    args = list(argv)
    if not args:
        raise ValueError("run_command needs a command to run (argv is empty)")
    if tail_bytes < 0:
        raise ValueError(f"tail_bytes must be >= 0, not {tail_bytes}")
    return args


def _spawn(
    args: list[str], capture: bool
) -> tuple[subprocess.Popen[bytes], list[tuple[int, int]], datetime] | OSError:
    """Start the command: ``(process, [(read end, our fd it goes to)...], when)``, or the
    OSError that kept it from starting."""
    import subprocess  # lazy: ``cronwatch`` commands that never run a job do not pay for it

    pipes: list[tuple[int, int]] = []  # (read end, our fd it is passed through to)
    child_fds: list[int] = []
    if capture:
        # Our own pipes (rather than subprocess.PIPE) so the reader threads own plain fds.
        # os.pipe() fds are close-on-exec: the command gets only the write ends, as 1 and 2.
        for our_fd in (1, 2):
            read_end, write_end = os.pipe()
            pipes.append((read_end, our_fd))
            child_fds.append(write_end)
    started = utcnow()
    try:
        proc = subprocess.Popen(
            args,
            stdout=child_fds[0] if capture else None,
            stderr=child_fds[1] if capture else None,
            # close_fds=False: let exec decide, like a shell does. Descriptors our parent
            # meant the job to have (``3>file``, a make jobserver) reach it; ours don't,
            # because Python creates every descriptor close-on-exec.
            close_fds=False,
        )
    except BaseException as exc:
        for read_end, _ in pipes:
            os.close(read_end)
        if isinstance(exc, OSError):
            return exc
        raise
    finally:
        # The command has its copies; ours must go, or the readers would never see EOF.
        for fd in child_fds:
            os.close(fd)
    return proc, pipes, started


def _call_on_started(on_started: Callable[[], None] | None) -> None:
    if on_started is None:
        return
    try:
        on_started()
    except Exception:
        import logging

        logging.getLogger(__name__).exception("on_started callback failed")


def reraise_exit(result: CommandResult) -> int:
    """End cronwatch the way the command ended; the CLI's last call: ``sys.exit(reraise_exit(r))``.

    If the command was killed by signal N, reset N to its default action and send it to
    ourselves, so that our parent (cron, a shell) sees the very same termination: this does
    not return. Core dumps of cronwatch itself are disabled first (RLIMIT_CORE=0): a command
    that crashed with SIGSEGV or SIGQUIT must not make cronwatch leave a core file too; the
    parent still sees death by signal N. sys.stdout/sys.stderr are flushed before, but nothing
    else is cleaned up (no atexit handlers), so finish all other work before calling this.

    Output pipes that background processes of the command still hold are handed over first
    (see the module docstring), so those processes survive cronwatch's exit.

    Otherwise (or if somehow still alive after the signal) return the exit code to exit with.
    """
    hand_over_leftover_output()
    if result.signal is None:
        return result.exit_code

    import resource
    import signal

    sig = result.signal
    _flush_std_streams()
    with contextlib.suppress(OSError, ValueError):
        resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
    if sig not in (signal.SIGKILL, signal.SIGSTOP):  # their action cannot be changed anyway
        # ValueError outside the main thread: then the default may well apply already.
        with contextlib.suppress(OSError, ValueError):
            signal.signal(sig, signal.SIG_DFL)
    with contextlib.suppress(OSError, ValueError):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
    os.kill(os.getpid(), sig)
    return result.exit_code


def _flush_std_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            # Closed or broken: nothing we could do about it.
            with contextlib.suppress(OSError, ValueError):
                stream.flush()


def _not_started(name: str, exc: OSError, tail: Tail, started: datetime) -> CommandResult:
    """The result (and stderr message) for a command that could not be started, like a shell."""
    import errno

    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    message = f"cronwatch: cannot run {name!r}: {reason}\n".encode(errors="surrogateescape")
    with contextlib.suppress(OSError):
        write_all(2, message)
    tail.add(message)
    exit_code = 127 if exc.errno == errno.ENOENT else 126
    return CommandResult(exit_code, None, tail.text(), started, utcnow())


class _SignalForwarder:
    """Owns the forwarded signals' dispositions while the command runs, and reaps it.

    Two ways a signal reaches the command:

    * From ``install()`` to ``attach()`` (while spawning) our Python handler catches it; it is
      queued until the pid is known, then forwarded.
    * From ``attach()`` on, the signals (and SIGCHLD) are blocked in the caller's thread and a
      waiter thread fetches them with ``sigtimedwait``, which, unlike a handler, tells who
      sent them: that is how a SIGINT typed at the terminal (which the command got too) is
      recognised. The command was spawned before the block, so it does not inherit the
      blocked mask; the waiter and reader threads are started after it, so they inherit it
      and the kernel cannot deliver the signals to them. Being a thread of its own, the
      waiter forwards signals at once even while ``on_started`` is stuck, e.g. on a database.
      A thread of the caller's own that does not block the signals may still receive one:
      the handler then forwards it, without the terminal check.

    The waiter thread also reaps the command, and reaping and sending are serialised by a
    lock, so a signal is never sent to a pid that was already reaped (and maybe reused).
    """

    def __init__(self) -> None:
        import signal
        import threading

        self._signal = signal
        self._threading = threading
        # Reentrant: the handler may interrupt the main thread inside _send().
        self._lock = threading.RLock()
        self._pid: int | None = None
        self._reaped = False
        self._queued: list[int] = []
        self._saved: dict[int, _Handler] = {}
        self._saved_sigchld: _Handler = None
        self._waitset: set[int] = set()
        self._saved_mask: set[signal.Signals] | None = None
        self._waiter: threading.Thread | None = None
        self._outcome: tuple[int, datetime] | None = None
        self._error: BaseException | None = None

    def install(self) -> None:
        signal = self._signal
        if self._threading.current_thread() is not self._threading.main_thread():
            return  # only the main thread may set handlers; the caller keeps its own
        for name in FORWARDED_SIGNALS:
            sig = getattr(signal, name)
            old = signal.getsignal(sig)
            # SIG_IGN stays: the command must inherit it (nohup). None: set outside Python,
            # we could not restore it, so leave it alone.
            if old is None or old == signal.SIG_IGN:
                continue
            self._saved[sig] = old
            signal.signal(sig, self._handle)
        if signal.getsignal(signal.SIGCHLD) == signal.SIG_IGN:
            # An ignored SIGCHLD makes the kernel reap children itself: the exit status would
            # be lost. (The command then starts with SIGCHLD at its default, not ignored.)
            self._saved_sigchld = signal.SIG_IGN
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)

    def attach(self, proc: subprocess.Popen[bytes]) -> None:
        """Start forwarding to (and waiting for) the freshly spawned ``proc``."""
        signal = self._signal
        with self._lock:
            self._pid = proc.pid
            queued, self._queued = self._queued, []
        sigwait = bool(self._saved) and hasattr(signal, "sigtimedwait")
        if sigwait:
            self._waitset = {*self._saved, signal.SIGCHLD}
            self._saved_mask = signal.pthread_sigmask(signal.SIG_BLOCK, self._waitset)
        self._waiter = self._threading.Thread(
            target=self._wait_loop,
            args=(proc, sigwait),
            name="cronwatch-runner-wait",
            daemon=True,
        )
        self._waiter.start()
        for sig in queued:
            self._send(sig)

    def wait(self) -> tuple[int, datetime]:
        """Wait until the command ended; return its Popen returncode and when it was reaped."""
        assert self._waiter is not None
        # A plain join: it is interrupted by signals for the fallback handler when needed.
        self._waiter.join()
        if self._error is not None:
            raise self._error
        assert self._outcome is not None
        return self._outcome

    def uninstall(self) -> None:
        signal = self._signal
        with self._lock:
            self._reaped = True  # from now on the handler drops signals: the pid may be reused
        if self._saved_mask is not None:
            # Signals still pending are delivered right here, to our handler, which drops them.
            signal.pthread_sigmask(signal.SIG_SETMASK, self._saved_mask)
            self._saved_mask = None
        for sig, old in self._saved.items():
            signal.signal(sig, old)
        self._saved.clear()
        if self._saved_sigchld is not None:
            signal.signal(signal.SIGCHLD, self._saved_sigchld)
            self._saved_sigchld = None

    def _wait_loop(self, proc: subprocess.Popen[bytes], sigwait: bool) -> None:
        """The waiter thread: forward signals until the command ends, then reap it."""
        signal = self._signal
        try:
            if not sigwait:
                # No signal fetching here (handlers forward, if any). Wait for the exit
                # without reaping, so that reaping can happen under the lock.
                if hasattr(os, "waitid"):
                    with contextlib.suppress(ChildProcessError):  # reaped by someone else
                        os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
                else:
                    proc.wait()  # no waitid: a tiny window for pid reuse remains there
                self._reap(proc, block=True)
                return
            while not self._reap(proc, block=False):
                info = signal.sigtimedwait(self._waitset, _WAIT_POLL)
                if info is None or info.si_signo == signal.SIGCHLD:
                    continue
                if not self._got_it_from_tty(info):
                    self._send(info.si_signo)
        except BaseException as exc:  # handed to the caller's thread by wait()
            self._error = exc

    def _reap(self, proc: subprocess.Popen[bytes], *, block: bool) -> bool:
        with self._lock:
            returncode = proc.wait() if block else proc.poll()
            if returncode is None:
                return False
            self._reaped = True
            self._outcome = (returncode, utcnow())
            return True

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        with self._lock:
            if self._reaped:
                return
            if self._pid is None:
                self._queued.append(signum)  # still spawning: forwarded by attach()
                return
        self._send(signum)

    def _send(self, signum: int) -> None:
        with self._lock:
            if self._pid is None or self._reaped:
                return
            # Cannot fail in principle (a zombie still accepts signals), but never crash on it.
            with contextlib.suppress(OSError):
                os.kill(self._pid, signum)

    def _got_it_from_tty(self, info: signal.struct_siginfo) -> bool:
        """True if ``info`` is a terminal's SIGINT/SIGQUIT that the command received as well.

        The terminal signals the whole foreground process group, and the kernel marks such
        signals with SI_KERNEL; the command got it too if it is still in our process group.
        """
        signal = self._signal
        if not sys.platform.startswith("linux"):
            return False
        if info.si_code != _SI_KERNEL or info.si_signo not in (signal.SIGINT, signal.SIGQUIT):
            return False
        assert self._pid is not None
        try:
            return os.getpgid(self._pid) == os.getpgrp()
        except OSError:
            return False
