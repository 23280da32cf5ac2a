"""The jobs as the REST API reads and changes them, without HTTP: :class:`JobsService`, over
a database and the server's config file. It raises the library's errors
(:class:`~cronwatch.errors.InvalidInput`, :class:`~cronwatch.errors.NotFound`,
:class:`~cronwatch.errors.Conflict`); the server answers them (400, 404, 409) in one handler
(``cronwatch.web.app``).

A job as the API shows it::

    {"name": "backup", "uuid": "5b6f1c1e-...", "source": "api", "paused": false,
     "spec": {"schedule": "0 3 * * *", "grace": "30m"},
     "created": "2026-11-28T03:00:00+00:00", "updated": "2026-11-28T03:00:00+00:00"}

``uuid`` is the job's ping UUID (``/ping/<uuid>``, Healthchecks' form: the UUID alone is
the credential for pinging that job); :meth:`JobsService.regenerate_uuid` replaces it.
``source`` says where the job's expectations come from: ``config`` (the config file given to
``cronwatch serve``; the file wins, and the API cannot change or delete such a job), ``api``
(declared through the API) or ``run`` (created by its first run; it can still be given a spec
or paused through the API). ``spec`` holds the job's fields exactly as in a ``[jobs.NAME]``
table of the config file (durations of a config job as seconds): the fields of
:data:`cronwatch.specs.fields.JOB_FIELDS` that the API takes.

Every change is validated by :func:`cronwatch.config.parse_job_table` before it is written;
a refused change writes nothing.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from cronwatch.config import parse_job_table
from cronwatch.errors import (
    ConfigError,
    Conflict,
    CronwatchError,
    InvalidInput,
    LimitReached,
    NotFound,
)
from cronwatch.names import new_uuid, validate_name, validate_uuid
from cronwatch.specs import Config, JobSpec
from cronwatch.specs.fields import check_json_types, spec_json
from cronwatch.specs.limits import job_limit_message
from cronwatch.storage.connection import Database
from cronwatch.storage.jobs import JobRecord, JobStore
from cronwatch.storage.runs import RunStore
from cronwatch.timeutil import to_us, utcnow

MAX_PAGE = 500
DEFAULT_PAGE = 50
#: A filtered page of statuses looks at most this many times its size of jobs.
SCAN_FACTOR = 20
_CURSOR = re.compile(r"(-?[0-9]{1,19})_([0-9]{1,19})")


class JobsService:
    """The REST API's jobs and runs over one database, with the server's config file."""

    def __init__(
        self, db: Database, config: Config | None = None, *, max_jobs: int | None = None
    ) -> None:
        self.db = db
        self.store = JobStore(db)
        self.config = config
        self.max_jobs = max_jobs  # creating a job beyond this many: LimitReached
        self.declared: dict[str, JobSpec] = dict(config.jobs) if config else {}

    # -- reading ------------------------------------------------------------------------------

    def jobs(self) -> list[dict[str, Any]]:
        """Every job: declared in the config, through the API, or seen running; by name."""
        forgotten = self.store.forgotten_config_jobs(self.declared)
        rows = {r.name: r for r in self.store.records() if r.name not in forgotten}
        names = sorted(set(rows) | set(self.declared))
        return [self._job_json(name, rows.get(name)) for name in names]

    def get(self, name: str) -> dict[str, Any]:
        return self._job_json(name, self._row(name, required=True))

    def runs(
        self,
        name: str,
        *,
        limit: int = DEFAULT_PAGE,
        before: str | None = None,
        host: str | None = None,
        outcome: str | None = None,
    ) -> dict[str, Any]:
        """One page of ``name``'s runs, newest first, and the cursor of the next page (or
        ``None`` on the last one). Keyset pagination: pages stay stable while runs arrive."""
        self._row(name, required=True)
        cursor = None
        if before is not None:
            match = _CURSOR.fullmatch(before)
            cursor = (int(match[1]), int(match[2])) if match else None
            # Both parts are 64-bit integers in the database: anything larger is no cursor.
            if cursor is None or not all(-(2**63) <= part < 2**63 for part in cursor):
                raise InvalidInput(f"before {before[:40]!r} is not a cursor from a previous page")
        page, more = RunStore(self.db).page(
            name, limit=limit, host=host, outcome=outcome, before=cursor
        )
        following = f"{to_us(page[-1][1].date_started)}_{page[-1][0]}" if more else None
        return {"runs": [run.to_json() for _, run in page], "next": following}

    def jobs_page(self, *, limit: int, cursor: str | None = None) -> dict[str, Any]:
        """One page of jobs by name, after ``cursor`` (``next`` of the previous page), and the
        cursor of the next page (``None`` on the last one)."""
        records = self.store.records_after(_after(cursor), limit + 1)
        page, more = records[:limit], len(records) > limit
        return {
            "jobs": [self._job_json(r.name, r) for r in page],
            "next": _cursor(page[-1].name) if more else None,
        }

    def statuses(self, *, tags: Iterable[str] = (), hosts: Iterable[str] = ()) -> list[Any]:
        """The health of every job with any of ``tags`` on any of ``hosts``, worst first (see
        :func:`cronwatch.health.service.job_statuses`): with a tag or host and an alert loop
        beating, only the filter's candidates are read and evaluated
        (:func:`~cronwatch.health.service.filtered_statuses`)."""
        from cronwatch.health.service import filtered_statuses

        statuses = filtered_statuses(
            self.db, self.config, tags=list(tags), hosts=list(hosts), in_full=True
        )
        return [s.to_json() for s in statuses]

    def statuses_page(
        self,
        *,
        limit: int,
        cursor: str | None = None,
        tags: Iterable[str] = (),
        hosts: Iterable[str] = (),
    ) -> dict[str, Any]:
        """One page of job statuses by name, after ``cursor``: only the jobs of the page are
        read and evaluated. With ``tags`` or ``hosts`` a page may hold fewer than ``limit``
        jobs (at most :data:`SCAN_FACTOR` times ``limit`` jobs are looked at per page); follow
        ``next`` until it is ``None``."""
        from cronwatch.health.service import job_statuses

        after = _after(cursor)
        tags, hosts = list(tags), list(hosts)
        budget = limit * SCAN_FACTOR if tags or hosts else limit
        found: list[Any] = []
        while len(found) < limit and budget > 0:
            records = self.store.records_after(after, min(limit, budget))
            if not records:
                break
            statuses = job_statuses(
                self.db,
                self.config,
                names=[r.name for r in records],
                tags=tags,
                hosts=hosts,
                learn=False,
                skip_unknown=True,
            )
            by_name = {s.name: s for s in statuses}
            for record in records:
                after, budget = record.name, budget - 1
                if record.name in by_name:
                    found.append(by_name[record.name].to_json())
                    if len(found) == limit:
                        break
        more = after is not None and bool(self.store.records_after(after, 1))
        return {"jobs": found, "next": _cursor(after) if more and after is not None else None}

    # -- changing -----------------------------------------------------------------------------

    def create(self, name: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Declare a new job; :class:`Conflict` if a job of that name exists (change it with
        update). Fields of the wrong JSON type are refused before their meaning is read
        (``"paused": 1`` is refused, not coerced: see ``specs.fields.check_json_types``)."""
        name = _valid_name(name)
        check_json_types(fields)
        self._validate(name, fields)
        if name in self.declared:
            raise Conflict(f"job {name!r} is declared in the config file; change it there")
        if self._forgotten(name):
            self.store.delete(name)  # an earlier config's row, never run: not a job any more
        if (
            self.max_jobs is not None
            and self.store.count() >= self.max_jobs
            and self.store.record(name) is None  # an existing name is a conflict, below
        ):
            raise LimitReached(job_limit_message(self.max_jobs))
        if not self.store.create(name, json.dumps(dict(fields)), utcnow()):
            raise Conflict(
                f"job {name!r} already exists; change it with PATCH /api/v1/jobs/{{name}}"
            )
        return self.get(name)

    def update(self, name: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        """Merge ``patch`` into the job's spec (a ``null`` removes a field), as JSON Merge
        Patch (RFC 7386) does."""
        check_json_types(patch, nullable=True)
        row = self._changeable(name)
        fields = json.loads(row.spec) if row.spec else {}
        for field, value in patch.items():
            if value is None:
                fields.pop(field, None)
            else:
                fields[field] = value
        self._validate(name, fields)
        self._write_spec(name, row, fields)
        return self.get(name)

    def set_paused(self, name: str, paused: bool) -> dict[str, Any]:
        """Pause (no alerts, status ``paused``) or resume a job."""
        row = self._changeable(name)
        fields = json.loads(row.spec) if row.spec else {}
        if paused:
            fields["paused"] = True
        else:
            fields.pop("paused", None)
        self._validate(name, fields)
        self._write_spec(name, row, fields)
        return self.get(name)

    def regenerate_uuid(self, name: str, uuid: str | None = None) -> dict[str, Any]:
        """Give job ``name`` a new random ping UUID (or ``uuid``): the old ``/ping/<uuid>``
        URL is refused from now on. Config jobs too (their UUID is no field of the file)."""
        row = self._row(name, required=True)
        now = utcnow()
        if row is None:  # declared in the config file, not stored yet
            self.store.sync_declared([self.declared[name]], now)
        if not self.store.set_uuid(name, validate_uuid(uuid) if uuid else new_uuid(), now):
            raise NotFound(f"no job named {name[:200]!r}")
        return self.get(name)

    def delete(self, name: str) -> None:
        """Forget a job: its runs, summaries and baseline too. A later run recreates it."""
        self._changeable(name)
        self.store.delete(name)

    # -- helpers ------------------------------------------------------------------------------

    def _forgotten(self, name: str) -> bool:
        """Whether ``name`` is only the row of an earlier config file's job that never ran
        (not a job: see :meth:`JobStore.facts`)."""
        return name not in self.declared and name in self.store.forgotten_config_jobs(self.declared)

    def _row(self, name: str, *, required: bool) -> JobRecord | None:
        record = self.store.record(name)
        if record is not None and not (record.source == "config" and self._forgotten(name)):
            return record
        if required and name not in self.declared:
            raise NotFound(f"no job named {name[:200]!r}")
        return None

    def _changeable(self, name: str) -> JobRecord:
        row = self._row(name, required=True)
        if name in self.declared:
            raise Conflict(
                f"job {name!r} is declared in the config file, which wins; change it there"
            )
        assert row is not None
        return row

    def _validate(self, name: str, fields: Mapping[str, Any]) -> None:
        channels = self.config.channels if self.config is not None else None
        try:
            parse_job_table(name, fields, source="request", channels=channels)
        except ConfigError as exc:  # a request, not a file: the caller's input is invalid
            raise InvalidInput(str(exc)) from None
        except OverflowError:
            # parse_duration lets a float too large for a timedelta through as OverflowError.
            raise InvalidInput("a duration is too large") from None

    def _write_spec(self, name: str, row: JobRecord, fields: dict[str, Any]) -> None:
        # Conditional on the spec read: two concurrent changes cannot silently drop one.
        spec = json.dumps(fields) if fields else None
        if not self.store.replace_spec(name, row.spec, spec, utcnow()):
            raise Conflict(f"job {name!r} was changed or deleted meanwhile; read it and retry")

    def _job_json(self, name: str, row: JobRecord | None) -> dict[str, Any]:
        declared = self.declared.get(name)
        if declared is not None:
            spec, source = spec_json(declared), "config"
        else:
            assert row is not None
            spec, source = (json.loads(row.spec) if row.spec else {}), row.source
            if source == "config":
                source = "run"  # an earlier config declared it; its runs keep it known
        return {
            "name": name,
            "uuid": row.uuid if row else None,
            "source": source,
            "paused": bool(spec.get("paused", False)),
            "spec": spec,
            "created": row.created.isoformat() if row else None,
            "updated": row.updated.isoformat() if row else None,
        }


def _cursor(name: str) -> str:
    """The opaque cursor of a page ending at job ``name``."""
    return base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")


def _after(cursor: str | None) -> str | None:
    """The job name a cursor from :func:`_cursor` stands for; :class:`InvalidInput` for
    anything else."""
    if cursor is None:
        return None
    try:
        name = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return validate_name(name, "cursor")
    except (ValueError, CronwatchError):
        raise InvalidInput(f"cursor {cursor[:40]!r} is not a cursor from a previous page") from None


def _valid_name(name: object) -> str:
    if not isinstance(name, str):
        raise InvalidInput("name: expected a string")
    return validate_name(name, "name")
