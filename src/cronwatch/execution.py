"""``cronwatch run``: run a command, record its start and its outcome.

cronwatch never stands between cron and the job: the command runs even when the database is
away or the job name is refused, its output, exit code and signals are passed through untouched,
and a run that cannot be stored waits in the local spool (:mod:`cronwatch.spool`) until a later
run delivers it. The start is recorded in a background thread while the command already runs,
so a slow database does not delay the job.
"""

from __future__ import annotations

import os
import sys
import threading
import uuid
from collections.abc import Sequence
from typing import TextIO

from cronwatch.errors import CronwatchError
from cronwatch.model import Run
from cronwatch.monitor import Monitor, connect, make_run
from cronwatch.runner import CommandResult, run_command
from cronwatch.spool import Spool
from cronwatch.statsd import StatsdClient
from cronwatch.timeutil import utcnow

#: How long to wait, after the command ended, for the start record still being written.
START_JOIN_TIMEOUT = 10.0


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
    result. cronwatch's own problems are reported on ``stderr`` with a ``cronwatch:`` prefix and
    never change the result."""
    err = stderr or sys.stderr
    server_url = os.environ.get("CRONWATCH_URL", "").strip().rstrip("/") or None
    if server_url is not None:
        statsd = None  # the server sends the timing when it first stores the run
    spool = spool or Spool.for_target(server_url or database_url)
    run_id = uuid.uuid4().hex
    started = utcnow()
    try:
        running: Run | None = make_run(
            name, started, None, outcome="running", hostname=hostname, run_id=run_id
        )
    except CronwatchError as exc:
        print(f"cronwatch: this run will not be recorded: {exc}", file=err)
        running = None

    opened: dict[str, Monitor | Exception] = {}

    def record_start() -> None:
        assert running is not None
        try:
            monitor = _open_monitor(server_url or database_url, statsd)
            opened["monitor"] = monitor
            monitor.store.save(running)
        except Exception as exc:  # reported after the command, so as not to interleave
            opened["error"] = exc

    starter = threading.Thread(target=record_start, name="cronwatch-start", daemon=True)
    result = run_command(
        argv,
        capture=capture,
        on_started=starter.start if running is not None else None,
    )
    if running is None:
        return result
    if starter.ident is not None:  # not started when the command could not be spawned
        starter.join(START_JOIN_TIMEOUT)

    finished = make_run(
        running.name,
        started,
        max(result.finished, started),
        outcome="success" if result.exit_code == 0 else "failure",
        exit_code=result.exit_code or None,
        hostname=running.hostname,
        run_id=run_id,
        output=result.output_tail if capture else None,
    )
    monitor = opened.get("monitor") if not starter.is_alive() else None
    try:
        if monitor is None:
            monitor = _open_monitor(server_url or database_url, statsd)
        assert isinstance(monitor, Monitor)
        monitor.record(finished)
    except Exception as exc:
        spool.put(finished)
        if statsd is not None and finished.outcome == "success" and finished.duration:
            statsd.record_activity(finished.name, finished.duration)
        print(
            f"cronwatch: could not record the run of {name!r} ({exc}); kept in the spool at "
            f"{spool.directory}, to be sent by a later run",
            file=err,
        )
        return result
    try:
        spool.flush(monitor.store.save)
    except Exception as exc:
        print(f"cronwatch: spooled runs not sent yet: {exc}", file=err)
    finally:
        monitor.close()
    return result


def _open_monitor(target: str, statsd: StatsdClient | None) -> Monitor:
    if target.startswith(("http://", "https://")):
        from cronwatch.remote import connect as connect_remote  # stdlib only, imported on use

        return connect_remote(target)
    return connect(target, statsd=statsd if statsd is not None else False)
