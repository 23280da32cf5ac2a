"""``cronwatch run``: run a command, record its start and its outcome.

cronwatch never stands between cron and the job: the command runs even when the database is
away or the job name is refused, its output, exit code and signals are passed through untouched,
and a run that cannot be stored waits in the local spool (:mod:`cronwatch.spool`) until a later
run delivers it. The start is recorded in a background thread while the command already runs,
so a slow database does not delay the job.

Whatever fails inside cronwatch (the database, the server, the spool on a full disk, a bug),
:func:`run_and_record` returns the command's result, and says on stderr, in one line per
problem, what could not be kept. Through a server (``$CRONWATCH_URL``) recording takes at most
:data:`SERVER_BUDGET` seconds after the command ended; then the run goes to the spool.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import TextIO

from cronwatch.errors import CronwatchError
from cronwatch.model import Run
from cronwatch.monitor import Monitor, make_run
from cronwatch.paths import recording_target
from cronwatch.runner import CommandResult, run_command
from cronwatch.spool import Spool
from cronwatch.statsd import StatsdClient
from cronwatch.targets import connect
from cronwatch.timeutil import utcnow

#: How long to wait, after the command ended, for the start record still being written to a
#: database (a SQLite lock may legitimately take a while; the run is recorded late, not lost).
START_JOIN_TIMEOUT = 10.0
#: Through a server: seconds after the command ended that recording may take in all (the start
#: still on its way, the outcome, the spool's backlog); what is not sent by then is spooled.
SERVER_BUDGET = 5.0
#: A target that failed this recently (seconds) is not asked again for the outcome: the run
#: goes straight to the spool instead of waiting for a second time-out.
RETRY_AFTER = 30.0
_MIN_REQUEST = 0.5  # seconds: less than this left of the budget is not worth a request


def run_and_record(
    name: str,
    argv: Sequence[str],
    *,
    database_url: str,
    hostname: str | None = None,
    capture: bool = True,
    statsd: StatsdClient | None = None,
    spool: Spool | None = None,
    stderr: TextIO | None = None,
) -> CommandResult:
    """Run ``argv`` as job ``name`` and record the run in ``database_url`` (or, with
    ``$CRONWATCH_URL``, through that cronwatch server: :mod:`cronwatch.remote`); the command's
    result. cronwatch's own problems are reported on ``stderr`` (one ``cronwatch: ...`` line
    each) and never change the result, nor raise."""
    recording = Recording(
        recording_target(database_url),
        statsd=statsd,
        spool=spool,
        say=Say(stderr),
    )
    running = recording.prepare(name, hostname)
    result = run_command(
        argv, capture=capture, on_started=recording.begin if running is not None else None
    )
    if running is not None:
        recording.finish(running, result, capture=capture)
    return result


def open_recorder(target: str, statsd: StatsdClient | None, timeout: float) -> Monitor:
    """The monitor that records into ``target``: a database, or a cronwatch server (``timeout``:
    seconds a request to it may take in all)."""
    if target.startswith(("http://", "https://")):
        from cronwatch.remote import connect as connect_remote  # stdlib only, imported on use

        return connect_remote(target, timeout=timeout)
    return connect(target, statsd=statsd if statsd is not None else False)


class Say:
    """Writes ``cronwatch: <one line>`` to stderr; never raises (stderr may be closed)."""

    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream

    def __call__(self, message: str) -> None:
        line = " ".join(message.split())  # driver errors span lines: one line per problem
        stream = self.stream or sys.stderr
        if stream is None:  # started with fd 2 closed
            return
        with contextlib.suppress(OSError, ValueError):
            stream.write(f"cronwatch: {line}\n")  # one write: not split by other output
            stream.flush()


class Recording:
    """One run's journey: the start while the command runs, then the outcome, the spool.

    ``cronwatch run`` uses :meth:`prepare`, :meth:`begin` and :meth:`finish`; a run recorded
    from two processes (``cronwatch hook``) uses :meth:`start_now` in the first and
    :meth:`complete` in the second."""

    def __init__(
        self,
        target: str,
        *,
        statsd: StatsdClient | None,
        spool: Spool | None,
        say: Callable[[str], None],
    ) -> None:
        self.target = target
        self.remote = target.startswith(("http://", "https://"))
        # Through a server, the server sends the timing when it first stores the run.
        self.statsd = None if self.remote else statsd
        self.spool = spool or Spool.for_target(target)
        self.say = say
        self.running: Run | None = None
        self.monitor: Monitor | None = None
        self.start_error: tuple[Exception, float] | None = None  # and when (monotonic)
        self.starter = threading.Thread(target=self._record_start, name="cronwatch-start")
        self.starter.daemon = True

    # -- before and while the command runs -----------------------------------------------

    def prepare(self, name: str, hostname: str | None) -> Run | None:
        """The running record, or ``None`` (said why) when this run cannot be recorded."""
        try:
            self.running = make_run(
                name, utcnow(), None, outcome="running", hostname=hostname, run_id=uuid.uuid4().hex
            )
        except CronwatchError as exc:
            self.say(f"this run will not be recorded: {exc}")
        except Exception as exc:  # the command runs whatever happens to cronwatch
            self.say(f"this run will not be recorded: internal error: {exc!r}")
        return self.running

    def begin(self) -> None:
        """Called once the command runs: record the start in the background."""
        self.starter.start()

    def _record_start(self) -> None:
        assert self.running is not None
        try:
            self.spool.remove_stale_temporaries()
            self.monitor = open_recorder(self.target, self.statsd, SERVER_BUDGET)
            self.monitor.store.save(self.running)
        except Exception as exc:  # reported after the command, so as not to interleave
            self.start_error = (exc, time.monotonic())

    # -- after the command ---------------------------------------------------------------

    def finish(self, running: Run, result: CommandResult, *, capture: bool) -> None:
        """Record the outcome, or keep it in the spool; say what could not be done."""
        ended = time.monotonic()
        try:
            finished = make_run(
                running.name,
                running.date_started,
                max(result.finished, running.date_started),
                outcome="success" if result.exit_code == 0 else "failure",
                exit_code=result.exit_code or None,
                hostname=running.hostname,
                run_id=running.run_id,
                output=result.output_tail if capture else None,
            )
        except Exception as exc:
            self.say(f"the run of {running.name!r} may not be recorded: internal error: {exc!r}")
            self._close(None)
            return
        self.complete(finished, ended)

    def complete(self, finished: Run, ended: float | None = None) -> None:
        """Store a finished run (or keep it in the spool), then send what the spool holds;
        say what could not be done. ``ended``: when the command ended (monotonic), from which
        the time allowed for a server counts (default: now)."""
        ended = time.monotonic() if ended is None else ended
        monitor = None
        try:
            self._wait_for_start(ended)
            monitor, error = self._deliver(finished, ended)
            if monitor is None:
                self._keep(finished, error)
            else:
                self._flush_spool(monitor, ended)
        except Exception as exc:
            self.say(f"the run of {finished.name!r} may not be recorded: internal error: {exc!r}")
        finally:
            self._close(monitor)

    def start_now(self, running: Run) -> bool:
        """Store a start in this process, waiting for it (or keep it in the spool, to be sent
        by a later run); whether it was stored (False: spooled or lost, and said so)."""
        monitor = None
        try:
            self.spool.remove_stale_temporaries()
            monitor = open_recorder(self.target, self.statsd, SERVER_BUDGET)
            monitor.store.save(running)
            return True
        except Exception as exc:
            self._keep(running, exc)
            return False
        finally:
            self._close(monitor)

    def _wait_for_start(self, ended: float) -> None:
        if self.starter.ident is None:
            return  # the command could not be spawned: no start was recorded
        if self.remote:
            self.starter.join(max(0.0, ended + SERVER_BUDGET - time.monotonic()))
        else:
            self.starter.join(START_JOIN_TIMEOUT)

    def _deliver(self, finished: Run, ended: float) -> tuple[Monitor | None, Exception | None]:
        """Store ``finished``: ``(the monitor it went through, None)``, or ``(None, why not)``."""
        if self.starter.is_alive() and self.remote:
            return None, self._no_answer()
        if self.start_error is not None and time.monotonic() - self.start_error[1] < RETRY_AFTER:
            return None, self.start_error[0]  # it just failed: do not wait a second time
        try:
            reusable = self.monitor if self._reusable() else None
            monitor = reusable or self._open(ended)
            # The base class's record: store (sending the statsd timing) or raise. A
            # RemoteMonitor's own record() would spool by itself and hide the outage.
            Monitor.record(monitor, finished)
        except Exception as exc:
            return None, exc
        return monitor, None

    def _reusable(self) -> bool:
        """Whether the start's database connection can carry the outcome too: not while the
        start is still stuck on it. (A server gets a client with the time left instead.)"""
        return self.monitor is not None and not self.remote and not self.starter.is_alive()

    def _open(self, ended: float) -> Monitor:
        """A monitor of the target; through a server, its requests fit in the time left."""
        if not self.remote:
            return open_recorder(self.target, self.statsd, SERVER_BUDGET)
        left = ended + SERVER_BUDGET - time.monotonic()
        if left < _MIN_REQUEST:
            raise self._no_answer()
        return open_recorder(self.target, None, left)

    def _no_answer(self) -> CronwatchError:
        return CronwatchError(
            f"cronwatch server {self.target} did not answer within {SERVER_BUDGET:g} s"
        )

    def _keep(self, finished: Run, error: Exception | None) -> None:
        """Keep ``finished`` in the spool and say why (or say that it is lost)."""
        reason = _describe(error)
        try:
            self.spool.put(finished)
        except Exception as exc:
            self.say(
                f"the run of {finished.name!r} is LOST: it could not be recorded ({reason}) nor "
                f"kept in the spool at {self.spool.directory} ({_describe(exc)})"
            )
            return
        if self.statsd is not None and finished.outcome == "success" and finished.duration:
            self.statsd.record_activity(finished.name, finished.duration)
        if self.remote and _is_config_error(error):
            self.say(
                f"configuration error: {reason}. The run of {finished.name!r} is kept in the "
                f"spool at {self.spool.directory} and sent by the first run after the fix"
            )
            return
        self.say(
            f"could not record the run of {finished.name!r} ({reason}); kept in the spool at "
            f"{self.spool.directory}, to be sent by a later run"
        )

    def _flush_spool(self, monitor: Monitor, ended: float) -> None:
        """Send what earlier runs left in the spool, within the time left (what is not sent
        waits for the next run: nothing is lost)."""
        budget = 10.0
        if self.remote:
            budget = ended + SERVER_BUDGET - time.monotonic()
            if budget < _MIN_REQUEST:
                return
        try:
            if self.remote:  # a client whose requests fit in the time left
                monitor = open_recorder(self.target, None, budget)
            self.spool.flush(monitor.store.save, time_budget=budget)
        except Exception as exc:
            self.say(f"spooled runs not sent yet: {_describe(exc)}")

    def _close(self, monitor: Monitor | None) -> None:
        """Close the connections, except one a stuck start still uses."""
        opened = [monitor] if self.starter.is_alive() else [monitor, self.monitor]
        for each in {id(m): m for m in opened if m is not None}.values():
            try:
                each.close()
            except Exception as exc:
                self.say(f"closing the connection: {_describe(exc)}")


def _is_config_error(error: Exception | None) -> bool:
    from cronwatch.remote import ClientConfigError

    return isinstance(error, ClientConfigError)


def _describe(error: BaseException | None) -> str:
    if error is None:
        return "unknown error"
    if isinstance(error, CronwatchError | OSError):
        return str(error) or type(error).__name__
    return f"{type(error).__name__}: {error}"
