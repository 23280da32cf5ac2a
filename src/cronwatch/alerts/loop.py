"""The alert loop: :func:`~cronwatch.alerts.cycle.run_alert_cycle` every ``interval``.

A cycle evaluates only the jobs whose next deadline passed or that received runs since they
were last evaluated (see :mod:`cronwatch.alerts.deadline`); the loop's first cycle, and one
every :data:`FULL_EVERY` after it, evaluates every job, as a safety net (and to sync the
jobs declared in the config).

Loops sharing a database compare the fingerprints of their configs
(:mod:`cronwatch.alerts.fingerprint`): while another loop with another config beats, every
cycle evaluates every job (the deadlines that loop writes follow its config), and one more
after it stopped; the loop warns once when that starts, naming the loops and what differs,
and says when it ends.

Every :data:`PRUNE_EVERY` the loops sharing a database also delete the history the
``[retention]`` settings no longer keep (:func:`cronwatch.retention.prune`), so a server that
runs for years keeps a database of a steady size. One loop does it each time: the loop whose
time to prune came claims the prune in the database (:meth:`WorkerStore.claim_task`); a loop
that finds it claimed less than :data:`PRUNE_EVERY` ago leaves it and asks again when that
claim is :data:`PRUNE_EVERY` old. A loop that stops is relieved within the hour.

Runs in its own thread (:meth:`AlertLoop.start` / :meth:`AlertLoop.stop`, as inside
``cronwatch serve``) or in the caller's (:meth:`AlertLoop.run`, as ``cronwatch alerts``), with
its own database connection, so that a long cycle never holds up the server's requests. A
cycle that fails (database away, a bug) is logged and the loop carries on at the next interval:
a monitor must not die of what it monitors. Its connection has a statement deadline of its
own (:data:`~cronwatch.specs.alerting.LOOP_DATABASE_TIMEOUT` unless told otherwise): a
database gone silent (packets dropped, nothing reset) fails the cycle as an outage instead of
hanging the loop for ever, and no statement the loop runs (a full cycle's read of every job,
a prune's batch, a ``VACUUM``) comes near it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from cronwatch.alerts.channels import Channel
from cronwatch.alerts.cycle import CycleSummary, build_channels, run_alert_cycle
from cronwatch.alerts.deliver import RetryPolicy
from cronwatch.alerts.fingerprint import config_fingerprint, describe
from cronwatch.errors import StorageUnavailable
from cronwatch.retention import PruneReport, prune
from cronwatch.specs import AlertSettings, Config, Retention
from cronwatch.specs.alerting import LOOP_DATABASE_TIMEOUT
from cronwatch.storage.alerts.workers import WorkerStore, default_worker_name
from cronwatch.storage.connection import Database, open_database
from cronwatch.timeutil import utcnow

log = logging.getLogger("cronwatch.alerts")

#: How often the loops sharing a database prune old runs and events (one of them each time).
PRUNE_EVERY = timedelta(hours=1)
#: The name of the prune's claim (:data:`~cronwatch.storage.alerts.workers.TASK_WORKER` row).
PRUNE_TASK = "prune"
#: A claim is taken when the last one is PRUNE_EVERY less this old: the loop that pruned last,
#: back an hour later by its own monotonic clock, finds its claim due even if the wall clock
#: was slewed meanwhile.
PRUNE_CLAIM_SLACK = timedelta(minutes=1)
#: How often a cycle evaluates every job, not only those due.
FULL_EVERY = timedelta(hours=1)


class AlertLoop:
    """Alert cycles every ``interval`` (default: the config's ``[alerts] interval``, 30 s)
    until :meth:`stop`. ``on_cycle`` is called with each cycle's summary (in the loop's
    thread); ``last_summary`` and ``last_error`` tell how the latest cycle went.
    ``database_timeout``: the connection's statement deadline in seconds (``None``: none)."""

    def __init__(
        self,
        database_url: str,
        config: Config | None = None,
        *,
        interval: timedelta | None = None,
        name: str | None = None,
        retry: RetryPolicy | None = None,
        on_cycle: Callable[[CycleSummary], None] | None = None,
        database_timeout: float | None = LOOP_DATABASE_TIMEOUT,
    ) -> None:
        settings = config.alerts if config is not None else AlertSettings()
        self.database_url = database_url
        self.config = config
        self.interval = interval or settings.interval
        if self.interval <= timedelta(0):
            raise ValueError("the alert loop's interval must be positive")
        self.name = name or default_worker_name()
        self.retry = retry
        self.on_cycle = on_cycle
        self.database_timeout = database_timeout
        self.cycles = 0
        self.last_summary: CycleSummary | None = None
        self.last_error: str | None = None
        self._outage = False
        self.last_prune: PruneReport | None = None
        self._next_prune = 0.0  # time.monotonic() of the next prune: the first cycle prunes
        self._next_full = 0.0  # time.monotonic() of the next full cycle: the first is one
        self._channels: dict[str, Channel] = build_channels(config)
        self.fingerprint = config_fingerprint(config)
        self._differing: dict[str, tuple[str, ...]] = {}  # as the latest cycle found them
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._db: Database | None = None

    # -- in a thread --------------------------------------------------------------------------

    def start(self) -> None:
        """Run the loop in a daemon thread; returns at once."""
        if self._thread is not None:
            raise RuntimeError("the alert loop is already running")
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="cronwatch-alerts", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Ask the loop to stop after the cycle in progress, and wait for it (``timeout``)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- in the caller's thread ---------------------------------------------------------------

    def run(self) -> None:
        """Cycle until :meth:`stop` is called (from another thread or a signal handler)."""
        try:
            while not self._stop.is_set():
                started = time.monotonic()
                self.run_once()
                elapsed = time.monotonic() - started
                self._stop.wait(max(0.0, self.interval.total_seconds() - elapsed))
        finally:
            self._close()

    def run_once(self, now: datetime | None = None) -> CycleSummary | None:
        """One cycle at ``now`` (default: the current time); its summary, or ``None`` if it
        failed (see ``last_error``)."""
        try:
            db = self._open()
            full = time.monotonic() >= self._next_full
            summary = run_alert_cycle(
                db,
                self.config,
                now,
                worker=self.name,
                channels=self._channels,
                retry=self.retry,
                full=full,
                fingerprint=self.fingerprint,
            )
            if full:
                self._next_full = time.monotonic() + FULL_EVERY.total_seconds()
            self._compare_configs(summary)
        except StorageUnavailable as exc:
            # An outage (database away, disk full): one line when it starts, not a traceback
            # every cycle; the connection is reopened next time.
            if not self._outage:
                log.error("alert cycle failed, database unavailable: %s", exc)
            self._outage = True
            self.last_error = f"{type(exc).__name__}: {exc}"
            self._close()
            return None
        except Exception as exc:
            # Anything else is logged and retried.
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("alert cycle failed")
            self._close()
            return None
        if self._outage:
            self._outage = False
            log.warning("alert loop: database available again")
        self.cycles += 1
        self.last_summary, self.last_error = summary, None
        if self.on_cycle is not None:
            self.on_cycle(summary)
        if time.monotonic() >= self._next_prune:
            self._prune_if_claimed()
        return summary

    def _compare_configs(self, summary: CycleSummary) -> None:
        """Warn when loops with another config appear (or change), say when none is left, and
        make the cycle after the last one full: deadlines it wrote just before it stopped
        follow its config."""
        differing = summary.differing
        if differing:
            self._next_full = 0.0
        if differing and differing != self._differing:
            loops = "; ".join(
                f"{name} ({describe(kinds)})" for name, kinds in sorted(differing.items())
            )
            log.warning(
                "alert loop %s: other alert loops on this database have another config: %s."
                " Their decisions and this loop's follow different settings, so every cycle"
                " evaluates every job until they agree; give every loop the same config file",
                self.name,
                loops,
            )
        elif self._differing and not differing:
            log.warning(
                "alert loop %s: every alert loop on this database has the same config again"
                " (one more full cycle, then only the jobs due)",
                self.name,
            )
        self._differing = dict(differing)

    def _prune_if_claimed(self) -> None:
        """Prune if this loop claims the prune; else ask again when the other loop's claim is
        :data:`PRUNE_EVERY` old."""
        now = utcnow()
        try:
            last = WorkerStore(self._open()).claim_task(
                PRUNE_TASK, now, PRUNE_EVERY - PRUNE_CLAIM_SLACK
            )
        except Exception:
            self._next_prune = time.monotonic() + PRUNE_EVERY.total_seconds()
            log.exception("claiming the prune failed")
            self._close()
            return
        if last is None:
            self.prune_now()
            return
        wait = max(last + PRUNE_EVERY - now, self.interval)
        self._next_prune = time.monotonic() + wait.total_seconds()
        log.debug("another alert loop pruned at %s; asking again in %s", last, wait)

    def prune_now(self) -> PruneReport | None:
        """Delete the runs and events the retention no longer keeps; the report, or ``None``
        if it failed (logged: the alerts go on)."""
        self._next_prune = time.monotonic() + PRUNE_EVERY.total_seconds()
        retention = self.config.retention if self.config is not None else Retention()
        try:
            db = self._open()
            report = prune(db, retention, utcnow())
        except Exception:
            log.exception("pruning old runs failed")
            self._close()
            return None
        if report.runs or report.events:
            log.info("pruned %d run(s) and %d event(s)", report.runs, report.events)
        self.last_prune = report
        return report

    def _open(self) -> Database:
        """The loop's connection, opened (with its statement deadline) if it is not."""
        if self._db is None:
            self._db = open_database(self.database_url, statement_timeout=self.database_timeout)
        return self._db

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
