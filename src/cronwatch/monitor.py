"""The library's front door: record runs, ask for the last one.

    >>> monitor = cronwatch.connect()                      # doctest: +SKIP
    >>> monitor.record_success("backup", started, completed)  # doctest: +SKIP

Every public method validates its input before touching the database: a refused call raises
:class:`~cronwatch.errors.InvalidInput` and writes nothing.
"""

from __future__ import annotations

import functools
import inspect
import os
import socket
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar, cast

from cronwatch.errors import InvalidInput
from cronwatch.model import Outcome, Run
from cronwatch.names import MAX_HOST_LENGTH, validate_name, validate_run_id
from cronwatch.statsd import StatsdClient
from cronwatch.storage.runs import RunStore
from cronwatch.timeutil import FUTURE_TOLERANCE, refuse_future, require_aware, utcnow

#: The end of a run's output that is kept (the end is where the error is).
MAX_OUTPUT_CHARS = 10_000

if TYPE_CHECKING:
    from cronwatch.health.model import JobStatus
    from cronwatch.retention import Progress, PruneReport
    from cronwatch.specs import Config

F = TypeVar("F", bound=Callable[..., Any])


def make_run(
    name: str,
    date_started: datetime,
    date_completed: datetime | None,
    *,
    outcome: Outcome,
    exit_code: int | None = None,
    hostname: str | None = None,
    run_id: str | None = None,
    output: str | None = None,
    future_tolerance: timedelta = FUTURE_TOLERANCE,
    clock: str = "this machine's",
    timed: bool = True,
) -> Run:
    """A validated :class:`Run`, instants normalised to UTC microseconds.

    Raises :class:`InvalidInput` naming the problem: naive or non-datetime instants, completion
    before start, a start or completion more than ``future_tolerance`` ahead of the current
    time (``clock`` names whose clock that is in the message), a bad name, hostname or run id,
    an exit code that contradicts the outcome.
    """
    name = validate_name(name, "name")
    hostname = validate_name(
        socket.gethostname() if hostname is None else hostname,
        "hostname",
        max_length=MAX_HOST_LENGTH,
    )
    started, completed = _checked_instants(
        date_started, date_completed, future_tolerance=future_tolerance, clock=clock
    )
    if (completed is None) != (outcome == "running"):
        raise InvalidInput("a running run has no date_completed; a finished one needs one")
    _check_exit_code(outcome, exit_code)
    run_id = uuid.uuid4().hex if run_id is None else validate_run_id(run_id, "run_id")
    output = None if output is None else _stored_output(output)
    # require_aware gave UTC datetimes, exactly what a later read returns (a datetime holds
    # microseconds, the stored precision).
    return Run(
        name=name,
        hostname=hostname,
        date_started=started,
        date_completed=completed,
        outcome=outcome,
        exit_code=0 if outcome == "success" else exit_code,
        run_id=run_id,
        output=output,
        timed=timed,
    )


def _checked_instants(
    date_started: datetime,
    date_completed: datetime | None,
    *,
    future_tolerance: timedelta,
    clock: str,
) -> tuple[datetime, datetime | None]:
    """Start and completion in UTC; refused when naive, in the future or out of order."""
    started = require_aware(date_started, "date_started")
    completed = None if date_completed is None else require_aware(date_completed, "date_completed")
    now = utcnow()
    refuse_future(started, "date_started", now=now, tolerance=future_tolerance, clock=clock)
    if completed is not None:
        refuse_future(completed, "date_completed", now=now, tolerance=future_tolerance, clock=clock)
        if completed < started:
            raise InvalidInput(
                f"date_completed {completed.isoformat()} is before date_started "
                f"{started.isoformat()}"
            )
    return started, completed


def _check_exit_code(outcome: Outcome, exit_code: int | None) -> None:
    """Refuse an exit code that contradicts the outcome (0 or none for a success, 1-255 or
    none for a failure)."""
    if outcome == "success" and exit_code not in (None, 0):
        raise InvalidInput(f"a successful run cannot have exit code {exit_code}")
    if outcome == "failure" and exit_code is not None:
        if isinstance(exit_code, bool) or not isinstance(exit_code, int):
            raise InvalidInput(f"exit_code must be an integer, not {exit_code!r}")
        if not 1 <= exit_code <= 255:
            raise InvalidInput(f"a failed run's exit code must be 1-255, not {exit_code}")


def _stored_output(output: str) -> str:
    """The end of ``output`` that is kept, storable in both databases."""
    if not isinstance(output, str):
        raise InvalidInput(f"output must be text, not {type(output).__name__}")
    # PostgreSQL text cannot hold NUL; a binary-ish tail must not make a run unstorable.
    return output[-MAX_OUTPUT_CHARS:].replace("\x00", "\ufffd")


class Monitor:
    """Records runs in one database and sends their statsd timings.

    Get one from :func:`cronwatch.connect` (or :func:`connect_database`). Safe to share
    between threads. Close it (or use it as a context manager) to release the database
    connection.
    """

    def __init__(self, store: RunStore, *, statsd: StatsdClient | None = None) -> None:
        self.store = store
        self.statsd = statsd

    # -- recording --------------------------------------------------------------------------

    def record_success(
        self,
        name: str,
        date_started: datetime,
        date_completed: datetime,
        hostname: str | None = None,
        *,
        output: str | None = None,
    ) -> Run:
        """Store one successful run and send its statsd timing; the stored run.

        ``hostname`` defaults to ``socket.gethostname()``.
        """
        run = make_run(
            name, date_started, date_completed, outcome="success", hostname=hostname, output=output
        )
        return self.record(run)

    def record_failure(
        self,
        name: str,
        date_started: datetime,
        date_completed: datetime,
        exit_code: int,
        hostname: str | None = None,
        *,
        output: str | None = None,
    ) -> Run:
        """Store one failed run (``exit_code`` 1-255); the stored run."""
        if exit_code is None:
            raise InvalidInput("record_failure needs the exit code (1-255)")
        run = make_run(
            name,
            date_started,
            date_completed,
            outcome="failure",
            exit_code=exit_code,
            hostname=hostname,
            output=output,
        )
        return self.record(run)

    def record(self, run: Run) -> Run:
        """Store a run built by :func:`make_run` (idempotent on its run id); successful runs
        send their statsd timing once, when first stored."""
        stored_now = self.store.save(run)
        if stored_now and run.outcome == "success" and self.statsd is not None:
            duration = run.duration
            if duration is not None:  # a run of unknown duration sends no timing (not 0 ms)
                self.statsd.record_activity(run.name, duration)
        return run

    def start(
        self,
        name: str,
        hostname: str | None = None,
        *,
        date_started: datetime | None = None,
        run_id: str | None = None,
    ) -> Run:
        """Record that a run has started (it shows as running until :meth:`finish`)."""
        run = make_run(
            name,
            date_started or utcnow(),
            None,
            outcome="running",
            hostname=hostname,
            run_id=run_id,
        )
        self.store.save(run)
        return run

    def finish(
        self,
        run: Run,
        *,
        exit_code: int = 0,
        date_completed: datetime | None = None,
        output: str | None = None,
    ) -> Run:
        """Record the end of a run returned by :meth:`start`: success for exit code 0,
        failure otherwise."""
        finished = make_run(
            run.name,
            run.date_started,
            date_completed or utcnow(),
            outcome="success" if exit_code == 0 else "failure",
            exit_code=exit_code,
            hostname=run.hostname,
            run_id=run.run_id,
            output=output,
        )
        return self.record(finished)

    @contextmanager
    def track(self, name: str, hostname: str | None = None) -> Iterator[Run]:
        """Record a run around a block: started on entry, success on a normal exit, failure
        (with the traceback's end as output) when the block raises. The exception propagates.
        ``SystemExit(0)`` counts as success, ``SystemExit(n)`` as a failure with exit code n.
        """
        run = self.start(name, hostname)
        try:
            yield run
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            self.finish(run, exit_code=min(max(code, 0), 255) or 0)
            raise
        except BaseException:
            self.finish(run, exit_code=1, output=traceback.format_exc())
            raise
        else:
            self.finish(run)

    def job(self, name: str | None = None, hostname: str | None = None) -> Callable[[F], F]:
        """Decorator form of :meth:`track`; the job name defaults to the function's name.
        Works on plain and ``async`` functions."""

        def decorate(func: F) -> F:
            job_name = name or func.__name__
            if inspect.iscoroutinefunction(func):

                @functools.wraps(func)
                async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                    with self.track(job_name, hostname):
                        return await func(*args, **kwargs)

                return cast(F, async_wrapper)

            @functools.wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                with self.track(job_name, hostname):
                    return func(*args, **kwargs)

            return cast(F, wrapper)

        return decorate

    # -- reading ----------------------------------------------------------------------------

    def last_activity(self, name: str) -> Run | None:
        """The latest successful run of ``name`` on any host (latest start), or ``None``."""
        return self.store.last_success(validate_name(name, "name"))

    def history(self, name: str, *, limit: int = 20, hostname: str | None = None) -> list[Run]:
        """The latest ``limit`` runs of ``name``, newest first, any outcome."""
        if not isinstance(limit, int) or limit < 1:
            raise InvalidInput(f"limit must be a positive integer, not {limit!r}")
        return self.store.history(validate_name(name, "name"), limit=limit, hostname=hostname)

    def status(
        self,
        names: Iterable[str] | None = None,
        *,
        config: Config | str | os.PathLike[str] | None = None,
        tags: Iterable[str] = (),
        hosts: Iterable[str] = (),
        now: datetime | None = None,
    ) -> list[JobStatus]:
        """The health of every known job (or of ``names``), worst first: is it running as often
        as it should, has it run recently, is its runtime sensible.

        ``config`` is a loaded :class:`~cronwatch.specs.Config` or the path of a TOML file
        declaring jobs; jobs only seen running get a schedule and runtime band learned from
        their history. See :class:`~cronwatch.health.model.JobStatus`.
        """
        from cronwatch.config import load_config
        from cronwatch.health.service import job_statuses
        from cronwatch.specs import Config

        if config is not None and not isinstance(config, Config):
            config = load_config(config)
        return job_statuses(self.store.db, config, names=names, tags=tags, hosts=hosts, now=now)

    def prune(
        self,
        older_than: timedelta | None = None,
        *,
        keep_last: int | None = None,
        dry_run: bool = False,
        now: datetime | None = None,
        progress: Progress | None = None,
    ) -> PruneReport:
        """Delete runs started more than ``older_than`` ago (default 90 days), except each
        job's latest ``keep_last`` (default 50), and events older than 90 days; with
        ``dry_run`` only count them. The job summaries a status is computed from are kept: the
        status is the same after. ``progress(jobs done, jobs, runs deleted)`` is called along
        the way. See :mod:`cronwatch.retention`.
        """
        from cronwatch.retention import prune
        from cronwatch.specs.retention import DEFAULT_KEEP_RUNS, KEEP_LAST_RUNS, Retention

        if older_than is not None and not isinstance(older_than, timedelta):
            raise InvalidInput(f"older_than must be a timedelta, not {older_than!r}")
        retention = Retention(
            runs=DEFAULT_KEEP_RUNS if older_than is None else older_than,
            keep_last=KEEP_LAST_RUNS if keep_last is None else keep_last,
        )
        when = utcnow() if now is None else require_aware(now, "now")
        return prune(self.store.db, retention, when, dry_run=dry_run, progress=progress)

    # -- lifecycle --------------------------------------------------------------------------

    def close(self) -> None:
        self.store.db.close()

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect_database(
    url: str | None = None,
    *,
    statsd: StatsdClient | bool | None = None,
) -> Monitor:
    """A :class:`Monitor` over the database at ``url`` (SQLAlchemy-style: ``sqlite:///file.db``,
    ``postgresql://user@host/db``); ``None`` means ``$CRONWATCH_DATABASE_URL``, else the default
    SQLite file in the user's data directory (created if missing). The schema is migrated on
    connect. :func:`cronwatch.connect` also takes a server's URL.

    ``statsd``: a :class:`StatsdClient`; ``None`` reads ``CRONWATCH_STATSD_*`` from the
    environment (nothing is sent when no host is set); ``False`` disables timings.
    """
    from cronwatch import paths
    from cronwatch.storage.connection import open_database

    resolved = paths.database_url(url)
    if resolved == paths.default_database_url():
        paths.data_dir().mkdir(parents=True, exist_ok=True)
    client: StatsdClient | None
    if statsd is None or statsd is True:
        client = StatsdClient.from_env()
    elif statsd is False:
        client = None
    else:
        client = statsd
    return Monitor(RunStore(open_database(resolved)), statsd=client)
