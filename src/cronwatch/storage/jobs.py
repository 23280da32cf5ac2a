"""Jobs and what the health evaluation reads about them.

:meth:`JobStore.facts` reads every job in four queries (jobs, per-host summaries, running
runs, baselines) whatever their number; the per-host summaries are kept current by triggers on
``runs`` (migration 0002). Baselines are learned lazily by :meth:`JobStore.refresh_baselines`,
only for jobs with enough new runs since they were last learned.

One module, over the usual size, because it is one table's statements: every read and write
of ``jobs`` (and of the per-host summaries and baselines that hang off it) is here, so a
column added to the table is met in one place.
"""

from __future__ import annotations

import json
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cronwatch.baseline import BASELINE_WINDOW, RuntimeBaseline, learn_interval
from cronwatch.errors import ConfigError, InvalidInput
from cronwatch.health.model import Baseline, HostSummary, JobFacts, RunningRun
from cronwatch.specs import JobSpec, default_grace
from cronwatch.storage.connection import Cursor, Database
from cronwatch.timeutil import EPOCH, FUTURE_TOLERANCE, from_us, to_us, utcnow

#: Names per ``IN (...)`` list when reading the facts of some jobs.
_NAMES_CHUNK = 500

#: A baseline is relearned after this many new finished runs (after every run while young).
RELEARN_AFTER = 5
YOUNG_BASELINE = 20

_HOST_COLUMNS = (
    "name, hostname, first_seen_us, last_started_us, prev_started_us, last_completed_us,"
    " last_outcome, last_exit_code, last_duration_us, last_success_started_us,"
    " last_success_completed_us, consecutive_failures, runs_total, failures_total"
)
# The instants of a _HOST_COLUMNS row: first seen, last and previous start, last completion,
# the latest success's start and completion.
_INSTANTS = (2, 3, 4, 5, 9, 10)
_BASELINE_COLUMNS = (
    "name, samples, runtime_median_us, runtime_mad_us, runtime_low_us, runtime_high_us, interval_us"
)


def auto_spec(name: str) -> JobSpec:
    """The spec of a job nobody declared: no schedule (one is learned), any host."""
    return JobSpec(
        name=name,
        schedule=None,
        timezone="UTC",
        grace=default_grace(None),
        hosts=(),
        min_hosts=None,
        max_runtime=None,
        min_runtime=None,
        tags=(),
        paused=False,
        alerts=(),
        grace_explicit=False,
    )


_RECORD_COLUMNS = "name, source, spec, created_us, updated_us, uuid"


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A row of ``jobs``: ``source`` is ``run``, ``config`` or ``api``; ``spec`` the JSON of an
    API-declared job's fields (``None`` when it has none); ``uuid`` its ping UUID."""

    name: str
    source: str
    spec: str | None
    created: datetime
    updated: datetime
    uuid: str | None = None


class JobStore:
    """Jobs in one database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- the jobs table, as the REST API changes it ----------------------------------------------

    def records(self) -> list[JobRecord]:
        """Every row of ``jobs``."""
        rows = self.db.query(f"SELECT {_RECORD_COLUMNS} FROM jobs")
        return [_record(row) for row in rows]

    def records_after(self, after: str | None, limit: int) -> list[JobRecord]:
        """Up to ``limit`` rows of ``jobs`` whose names follow ``after``, by name: keyset
        pagination (a job added between two pages is on the later page if its name sorts after
        the first page, never twice; none is skipped)."""
        where, params = ("WHERE name > ? ", (after, limit)) if after is not None else ("", (limit,))
        rows = self.db.query(
            f"SELECT {_RECORD_COLUMNS} FROM jobs {where}ORDER BY name LIMIT ?", params
        )
        return [_record(row) for row in rows]

    def record(self, name: str) -> JobRecord | None:
        """The row of job ``name``, or ``None``."""
        rows = self.db.query(f"SELECT {_RECORD_COLUMNS} FROM jobs WHERE name = ?", (name,))
        return _record(rows[0]) if rows else None

    def by_uuid(self, uuid: str) -> JobRecord | None:
        """The row of the job whose ping UUID is ``uuid``, or ``None``."""
        rows = self.db.query(f"SELECT {_RECORD_COLUMNS} FROM jobs WHERE uuid = ?", (uuid,))
        return _record(rows[0]) if rows else None

    def names_by_uuid(self, uuids: Iterable[str]) -> dict[str, str]:
        """``{uuid: job name}`` of the jobs among ``uuids`` (one query for a batch of pings)."""
        wanted = sorted(set(uuids))
        if not wanted:
            return {}
        marks = ", ".join("?" * len(wanted))
        rows = self.db.query(f"SELECT uuid, name FROM jobs WHERE uuid IN ({marks})", wanted)
        return {uuid: name for uuid, name in rows}

    def set_uuid(self, name: str, uuid: str, now: datetime) -> bool:
        """Give job ``name`` the ping UUID ``uuid`` (a regenerated one, or one kept from
        Healthchecks); ``False`` if there is no such job. The old UUID stops working at once.
        :class:`InvalidInput` if another job has ``uuid``."""
        taken = self.db.query("SELECT name FROM jobs WHERE uuid = ? AND name <> ?", (uuid, name))
        if taken:
            raise InvalidInput(f"the UUID {uuid} belongs to job {taken[0][0]!r} already")
        return bool(
            self.db.execute(
                "UPDATE jobs SET uuid = ?, updated_us = ? WHERE name = ?",
                (uuid, to_us(now), name),
            )
        )

    def create(self, name: str, spec: str, now: datetime) -> bool:
        """Add job ``name`` declared through the API with ``spec`` (JSON); ``False`` (and
        nothing changed) if a job of that name exists."""
        stamp = to_us(now)
        return bool(
            self.db.execute(
                "INSERT INTO jobs (name, source, spec, created_us, updated_us)"
                " VALUES (?, 'api', ?, ?, ?) ON CONFLICT (name) DO NOTHING",
                (name, spec, stamp, stamp),
            )
        )

    def replace_spec(self, name: str, was: str | None, spec: str | None, now: datetime) -> bool:
        """Set job ``name``'s ``spec`` if it is still ``was``: two concurrent changes cannot
        silently drop one. ``False`` (nothing changed) if it was changed or deleted meanwhile."""
        same = self.db.dialect.NULL_SAFE_EQUAL
        # Due at the next alert cycle: a new spec can change the job's status at once.
        changed = self.db.execute(
            f"UPDATE jobs SET spec = ?, updated_us = ?, check_due_us = 0, changes = changes + 1"
            f" WHERE name = ? AND spec {same} ?",
            (spec, to_us(now), name, was),
        )
        return bool(changed)

    def delete(self, name: str) -> None:
        """Forget job ``name``: its runs, summaries, baseline and alerting state too (a later
        run recreates it, as a new job: its first problem is announced as one). The history
        (``events``) and notifications already queued stay. (Its alerting state stayed
        behind before: migration 0016 deleted what was left.)"""
        with self.db.transaction() as cur:
            # The stored status before the job, so that the status counts' triggers see the
            # job while its status goes (migration 0014).
            for table in ("runs", "job_hosts", "job_baselines", "job_states", "jobs"):
                cur.execute(self.db.sql(f"DELETE FROM {table} WHERE name = ?"), (name,))

    # -- declared jobs ------------------------------------------------------------------------

    def sync_declared(self, specs: Iterable[JobSpec], now: datetime) -> int:
        """Make sure every declared job has a row (its ``created`` time is when cronwatch first
        knew of it, so a declared job that never runs becomes missing); the number added."""
        names = [spec.name for spec in specs]
        if not names:
            return 0
        existing = {row[0] for row in self.db.query("SELECT name FROM jobs")}
        # In name order, the order the count triggers of concurrent inserters wait in.
        new = sorted(name for name in names if name not in existing)
        if new:
            stamp = to_us(now)
            with self.db.transaction() as cur:
                cur.executemany(  # type: ignore[attr-defined]
                    self.db.sql(
                        "INSERT INTO jobs (name, source, created_us, updated_us) "
                        "VALUES (?, 'config', ?, ?) ON CONFLICT (name) DO NOTHING"
                    ),
                    [(name, stamp, stamp) for name in new],
                )
        return len(new)

    def mentioning(self, text: str) -> set[str]:
        """The jobs whose stored spec (API-declared or edited jobs) holds ``text`` as a JSON
        string: a superset of those with it as a tag or a declared host, found without parsing
        every spec (the caller checks the spec itself). A spec is stored as the request sent
        it: ``text`` is looked for in both JSON spellings (escaped, ``json.dumps``' default,
        and plain) and both Unicode normalizations that a request may use (NFC and NFD)."""
        forms = {
            json.dumps(unicodedata.normalize(form, text), ensure_ascii=ascii_only)
            for form in ("NFC", "NFD")
            for ascii_only in (True, False)
        }
        patterns = ["%" + _like_escaped(form) + "%" for form in sorted(forms)]
        where = " OR ".join("spec LIKE ? ESCAPE '\\'" for _ in patterns)
        return {row[0] for row in self.db.query(f"SELECT name FROM jobs WHERE {where}", patterns)}

    def named_like(self, text: str) -> set[str]:
        """The jobs whose name may contain ``text`` ignoring case: a superset of those whose
        ``casefold()`` contains ``text.casefold()`` (the caller checks), read in one pass of
        the database over the names: the names that contain it ignoring ASCII case (which is
        exact for an ASCII name) and every name with another character."""
        pattern = "%" + _like_escaped(text.casefold()) + "%"
        rows = self.db.query(
            "SELECT name FROM jobs WHERE lower(name) LIKE ? ESCAPE '\\'"
            f" OR {self.db.dialect.NOT_ASCII_NAME}",
            (pattern,),
        )
        return {row[0] for row in rows}

    def seen_on(self, hostname: str) -> set[str]:
        """The jobs with a run recorded (or running) on ``hostname``."""
        rows = self.db.query("SELECT name FROM job_hosts WHERE hostname = ?", (hostname,))
        rows += self.db.query(
            "SELECT DISTINCT name FROM runs WHERE hostname = ? AND outcome = 'running'",
            (hostname,),
        )
        return {row[0] for row in rows}

    def count(self) -> int:
        """How many jobs there are."""
        return int(self.db.query("SELECT COUNT(*) FROM jobs")[0][0])

    def names(self) -> list[str]:
        return [row[0] for row in self.db.query("SELECT name FROM jobs ORDER BY name")]

    # -- facts for the health evaluation ------------------------------------------------------

    def facts(
        self,
        declared: dict[str, JobSpec] | None = None,
        *,
        names: Iterable[str] | None = None,
        now: datetime | None = None,
    ) -> list[JobFacts]:
        """The facts of every known job (or of ``names``), in four queries.

        ``declared`` specs (the config file in force) win over what the database holds; a
        declared job without a row yet (no server or alert loop recorded it) is included with
        ``created`` = ``now``. A row that an earlier config file declared (``source =
        'config'``) but this one does not is a job only while it has runs: without any, it is
        left out (a job removed from the config is not listed forever); with runs, it is an
        undeclared job like any seen running.

        Runs dated more than :data:`~cronwatch.timeutil.FUTURE_TOLERANCE` after ``now`` (or
        after the clock, whichever is later) are not facts: a summary one of them reached is
        read again from the runs up to then (:meth:`_summary_until`), and a running run that
        starts then is left out. A run dated 2099 written past the checks (an old version, a
        hand-made row) cannot stay the job's latest news and hide the real outcomes after it.
        """
        declared = declared or {}
        horizon = to_us(max(now or utcnow(), utcnow()) + FUTURE_TOLERANCE)
        wanted: set[str] | None = None
        if names is not None:
            # A few jobs (an incremental alert cycle, a page): read only theirs, by key.
            wanted = set(names)
            ordered = sorted(wanted)
            facts: list[JobFacts] = []
            for start in range(0, len(ordered), _NAMES_CHUNK):
                chunk = ordered[start : start + _NAMES_CHUNK]
                marks = ", ".join("?" * len(chunk))
                facts += self._facts(declared, horizon, f" WHERE name IN ({marks})", chunk)
        else:
            facts = self._facts(declared, horizon, "", ())
        # Declared jobs without a row yet are judged from now (waiting for their first run).
        seen = {f.spec.name for f in facts}
        first_known = now or utcnow()
        for name, spec in declared.items():
            if name not in seen and (wanted is None or name in wanted):
                facts.append(JobFacts(spec=spec, created=first_known))
        return facts

    def _facts(
        self, declared: dict[str, JobSpec], horizon: int, where: str, params: Sequence[str]
    ) -> list[JobFacts]:
        running_where = f"{where} AND" if where else " WHERE"
        hosts: dict[str, list[HostSummary]] = defaultdict(list)
        for found in self.db.query(f"SELECT {_HOST_COLUMNS} FROM job_hosts{where}", params):
            row = self.host_row(found, horizon)
            if row is not None:  # else nothing but future runs on that host
                hosts[row[0]].append(_host_summary(row))
        running: dict[str, list[RunningRun]] = defaultdict(list)
        for name, hostname, run_id, started in self.db.query(
            "SELECT name, hostname, run_id, started_us FROM runs"
            f"{running_where} outcome = 'running'",
            params,
        ):
            if started <= horizon:
                running[name].append(RunningRun(hostname, run_id, from_us(started)))
        baselines = {
            row[0]: _baseline(row)
            for row in self.db.query(
                f"SELECT {_BASELINE_COLUMNS} FROM job_baselines{where}", params
            )
        }
        facts = []
        for name, spec_json, created, uuid, source in self.db.query(
            f"SELECT name, spec, created_us, uuid, source FROM jobs{where}", params
        ):
            if source == "config" and name not in declared and not (hosts[name] or running[name]):
                continue  # declared by a config file no longer in force, and never ran
            spec = declared.get(name) or (_spec_from_json(name, spec_json) if spec_json else None)
            facts.append(
                JobFacts(
                    spec=spec or auto_spec(name),
                    created=from_us(created),
                    hosts=tuple(hosts.get(name, ())),
                    running=tuple(running.get(name, ())),
                    baseline=baselines.get(name),
                    uuid=uuid,
                )
            )
        return facts

    def host_row(self, row: tuple[Any, ...], horizon: int) -> tuple[Any, ...] | None:
        """A ``_HOST_COLUMNS`` row as :meth:`facts` reads it: as of ``horizon`` (microseconds)
        when a future-dated run reached it, ``None`` when only future runs did."""
        if any(row[i] is not None and row[i] > horizon for i in _INSTANTS):
            return self._summary_until(row, horizon)
        return row

    def forgotten_config_jobs(self, declared: Iterable[str]) -> set[str]:
        """Rows an earlier config file declared that ``declared`` (the config in force) does
        not, of jobs that never ran: not jobs any more (see :meth:`facts`)."""
        rows = self.db.query(
            "SELECT name FROM jobs j WHERE source = 'config'"
            " AND NOT EXISTS (SELECT 1 FROM job_hosts h WHERE h.name = j.name)"
            " AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.name = j.name)"
        )
        return {row[0] for row in rows} - set(declared)

    def _summary_until(self, row: tuple[Any, ...], horizon: int) -> tuple[Any, ...] | None:
        """The summary ``row`` of ``job_hosts`` as if no run had started or completed after
        ``horizon``, read from the job's runs on that host (the counters stay: they count runs,
        not instants); ``None`` when no run started by then. Rare (a future-dated run), so a
        few plain queries."""
        name, hostname, first_seen = row[0], row[1], row[2]
        where = "name = ? AND hostname = ? AND started_us <= ?"
        finished = f"{where} AND completed_us IS NOT NULL AND completed_us <= ?"
        params = (name, hostname, horizon)
        starts = [
            r[0]
            for r in self.db.query(
                f"SELECT started_us FROM runs WHERE {where} ORDER BY started_us DESC LIMIT 2",
                params,
            )
        ]
        latest = self.db.query(
            "SELECT completed_us, outcome, exit_code, duration_us FROM runs"
            f" WHERE {finished} ORDER BY completed_us DESC, id DESC LIMIT 1",
            (*params, horizon),
        )
        success = self.db.query(
            f"SELECT started_us, completed_us FROM runs WHERE {finished} AND outcome = 'success'"
            " ORDER BY started_us DESC, id DESC LIMIT 1",
            (*params, horizon),
        )
        recent = self.db.query(
            f"SELECT outcome FROM runs WHERE {finished} ORDER BY completed_us DESC, id DESC"
            " LIMIT 1000",
            (*params, horizon),
        )
        if not starts:
            return None
        failures = 0
        for (outcome,) in recent:
            if outcome != "failure":
                break
            failures += 1
        completed, outcome, exit_code, duration = latest[0] if latest else (None,) * 4
        return (
            name,
            hostname,
            min(first_seen, starts[-1]),
            starts[0],
            starts[1] if len(starts) > 1 else None,
            completed,
            outcome,
            exit_code,
            duration,
            success[0][0] if success else None,
            success[0][1] if success else None,
            failures,
            *row[12:],
        )

    # -- learning -----------------------------------------------------------------------------

    def stale_baselines(self, among: Sequence[str] | None = None) -> list[str]:
        """Jobs (``among`` those given) whose baseline should be (re)learned: enough new
        finished runs since."""
        select = (
            "SELECT h.name, SUM(h.runs_total), b.runs_total_at FROM job_hosts h "
            "LEFT JOIN job_baselines b ON b.name = h.name{where}"
            " GROUP BY h.name, b.runs_total_at"
        )
        if among is None:
            totals = self.db.query(select.format(where=""))
        else:
            totals = []
            for start in range(0, len(among), _NAMES_CHUNK):
                chunk = list(among[start : start + _NAMES_CHUNK])
                marks = ", ".join("?" * len(chunk))
                where = f" WHERE h.name IN ({marks})"
                totals += self.db.query(select.format(where=where), chunk)
        stale = []
        for name, total, learned_at in totals:
            total = int(total or 0)
            if total == 0:
                continue
            if learned_at is None:
                stale.append(name)
                continue
            grown = total - int(learned_at)
            if grown >= RELEARN_AFTER or (int(learned_at) < YOUNG_BASELINE and grown > 0):
                stale.append(name)
        return stale

    def refresh_baselines(
        self,
        now: datetime,
        *,
        names: Iterable[str] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Relearn the baselines of stale jobs (or of ``names``) from their latest
        :data:`BASELINE_WINDOW` finished runs; the number relearned. ``progress(done, total)``
        is called along the way for long runs."""
        todo = list(names) if names is not None else self.stale_baselines()
        if not todo:
            return 0
        totals: dict[str, Any] = {}
        for start in range(0, len(todo), _NAMES_CHUNK):
            chunk = todo[start : start + _NAMES_CHUNK]
            marks = ", ".join("?" * len(chunk))
            totals.update(
                self.db.query(
                    "SELECT name, SUM(runs_total) FROM job_hosts"
                    f" WHERE name IN ({marks}) GROUP BY name",
                    chunk,
                )
            )
        rows = []
        for index, name in enumerate(todo, 1):
            runs = self.db.query(
                "SELECT hostname, outcome, started_us, duration_us FROM runs "
                "WHERE name = ? AND outcome <> 'running' ORDER BY started_us DESC LIMIT ?",
                (name, BASELINE_WINDOW),
            )
            rows.append(_learn(name, runs, int(totals.get(name) or 0), now))
            if progress is not None and (index % 500 == 0 or index == len(todo)):
                progress(index, len(todo))
        if rows:
            # In name order, as every writer: two loops relearning overlapping sets of jobs
            # (a full cycle racing an incremental one) in different orders deadlocked.
            rows.sort(key=lambda row: row[0])
            with self.db.transaction() as cur:
                cur.executemany(  # type: ignore[attr-defined]
                    self.db.sql(
                        "INSERT INTO job_baselines (name, samples, runtime_median_us,"
                        " runtime_mad_us, runtime_low_us, runtime_high_us, interval_us,"
                        " runs_total_at, computed_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                        " ON CONFLICT (name) DO UPDATE SET samples = excluded.samples,"
                        " runtime_median_us = excluded.runtime_median_us,"
                        " runtime_mad_us = excluded.runtime_mad_us,"
                        " runtime_low_us = excluded.runtime_low_us,"
                        " runtime_high_us = excluded.runtime_high_us,"
                        " interval_us = excluded.interval_us,"
                        " runs_total_at = excluded.runs_total_at,"
                        " computed_us = excluded.computed_us"
                    ),
                    rows,
                )
        return len(rows)


def existing_names(db: Database, cur: Cursor, names: Iterable[str]) -> set[str]:
    """Those of ``names`` that are jobs, read with ``cur`` (inside a write's transaction)."""
    wanted = sorted(set(names))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        cur.execute(
            db.sql(f"SELECT name FROM jobs WHERE name IN ({', '.join('?' * len(chunk))})"), chunk
        )
        found.update(row[0] for row in cur.fetchall())
    return found


def count_jobs(db: Database, cur: Cursor) -> int:
    """How many jobs there are, read with ``cur``."""
    cur.execute(db.sql("SELECT COUNT(*) FROM jobs"))
    return int(cur.fetchone()[0])


def _learn(name: str, runs: list[tuple[Any, ...]], total: int, now: datetime) -> tuple[Any, ...]:
    # A run can end before it started when two clocks stamped it: its start and its finish
    # pinged to two servers (each stamps a ping on arrival) within their clocks' difference.
    # Such a duration is no sample, and must not fail the alert cycle that learns from it.
    durations = [
        d / 1e6 for _, outcome, _, d in runs if outcome == "success" and d is not None and d >= 0
    ]
    runtime = RuntimeBaseline.from_durations(durations)
    # The interval is learned on one host (the busiest recently): several hosts' runs
    # interleave into gaps that are no host's interval.
    by_host: dict[str, list[datetime]] = defaultdict(list)
    for hostname, _, started, _ in runs:
        by_host[hostname].append(from_us(started))
    busiest = max(by_host.values(), key=len) if by_host else []
    interval = learn_interval(busiest)

    def us(seconds: float | None) -> int | None:
        return None if seconds is None else round(seconds * 1e6)

    return (
        name,
        len(runs),
        us(runtime.median) if runtime else None,
        us(runtime.mad) if runtime else None,
        us(runtime.low) if runtime else None,
        us(runtime.high) if runtime else None,
        interval // timedelta(microseconds=1) if interval else None,
        total,
        to_us(now),
    )


def _baseline(row: tuple[Any, ...]) -> Baseline:
    _, samples, median, mad, low, high, interval = row
    runtime = None
    if median is not None:
        runtime = RuntimeBaseline(
            median=median / 1e6, mad=mad / 1e6, low=low / 1e6, high=high / 1e6, samples=samples
        )
    return Baseline(
        samples=samples,
        runtime=runtime,
        interval=timedelta(microseconds=interval) if interval else None,
    )


def _host_summary(row: tuple[Any, ...]) -> HostSummary:
    # Positional, conversions inline: called once per job and host of every check and scrape.
    (
        _,
        hostname,
        first_seen,
        last_started,
        prev_started,
        last_completed,
        last_outcome,
        last_exit_code,
        last_duration,
        last_success_started,
        last_success_completed,
        consecutive_failures,
        runs_total,
        failures_total,
    ) = row
    return HostSummary(
        hostname,
        EPOCH + timedelta(0, 0, first_seen),
        None if last_started is None else EPOCH + timedelta(0, 0, last_started),
        None if prev_started is None else EPOCH + timedelta(0, 0, prev_started),
        None if last_completed is None else EPOCH + timedelta(0, 0, last_completed),
        last_outcome,
        last_exit_code,
        None if last_duration is None else timedelta(0, 0, last_duration),
        None if last_success_started is None else EPOCH + timedelta(0, 0, last_success_started),
        None if last_success_completed is None else EPOCH + timedelta(0, 0, last_success_completed),
        int(consecutive_failures),
        int(runs_total),
        int(failures_total),
    )


def _record(row: tuple[Any, ...]) -> JobRecord:
    name, source, spec, created, updated, uuid = row
    return JobRecord(name, source, spec, from_us(created), from_us(updated), uuid)


def _instant(value: int | None) -> datetime | None:
    return None if value is None else from_us(value)


def _spec_from_json(name: str, text: str) -> JobSpec | None:
    """An API-declared job's spec (stored as the config file's fields, as JSON), or ``None``
    when it no longer validates: that job then reads as undeclared instead of failing every
    view. Tags stored before a comma or whitespace was refused in one are read split on them,
    as ``/metrics`` always showed them."""
    from cronwatch.config import parse_job_table
    from cronwatch.specs.values import TAG_SEPARATORS

    try:
        fields = json.loads(text)
        return parse_job_table(name, fields, source="database")
    except (ConfigError, InvalidInput, ValueError):
        pass
    tags = fields.get("tags") if isinstance(fields, dict) else None
    if not (isinstance(tags, list) and all(isinstance(tag, str) for tag in tags)):
        return None
    split = dict.fromkeys(part for tag in tags for part in TAG_SEPARATORS.split(tag) if part)
    try:
        return parse_job_table(name, {**fields, "tags": list(split)}, source="database")
    except (ConfigError, InvalidInput, ValueError):
        return None


def _like_escaped(text: str) -> str:
    """``text`` matched literally by ``LIKE ... ESCAPE '\\'``."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
