"""The overview's data: every job's status, filtered, with its sparkline; no HTTP here.

Cost: :func:`load_overview` makes the fixed number of queries of
:func:`~cronwatch.health.service.job_statuses` plus one (:func:`queries.recent_runs`),
whatever the number of jobs. It reads only: baselines are used as last learned (by the alert
loop, ``/metrics``, the API or ``cronwatch check``), never relearned by a page view.

Filters (query parameters of ``/``, so that a plain GET form works without JavaScript):

- ``status``: one or more statuses, or ``problems`` (every status of severity WARNING or
  CRITICAL); none means all.
- ``tag``: jobs with that tag. ``host``: jobs whose status lists that host (its declared
  hosts; for a job any host may run, the hosts seen running it). ``q``: jobs whose name
  contains the text, ignoring case.

Jobs come worst first (the order of :data:`~cronwatch.health.model.PRIORITY`), then by name.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlencode

from markupsafe import Markup
from starlette.datastructures import QueryParams

from cronwatch.health.model import PRIORITY, SEVERITY, HostStatus, JobStatus, Status
from cronwatch.health.service import job_statuses
from cronwatch.specs import Config
from cronwatch.storage import dashboard as queries
from cronwatch.storage.connection import Database
from cronwatch.web.dashboard import svg

PROBLEMS = "problems"
#: Hosts listed in a row; the rest are counted ("+3 more").
HOSTS_SHOWN = 6
_MAX_PARAM = 255


class BadFilter(ValueError):
    """A filter parameter that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Filters:
    """What the overview shows; every field empty shows every job."""

    statuses: tuple[str, ...] = ()
    tag: str = ""
    host: str = ""
    q: str = ""

    @classmethod
    def parse(cls, params: QueryParams) -> Filters:
        """The filters of a request's query; :class:`BadFilter` for an unknown status or an
        oversized value. Empty values (an untouched form field) mean no filter."""
        statuses = tuple(dict.fromkeys(s for s in params.getlist("status") if s))
        for status in statuses:
            if status != PROBLEMS and status not in SEVERITY:
                known = ", ".join((PROBLEMS, *PRIORITY))
                raise BadFilter(f"unknown status {status[:40]!r}; use one of: {known}")
        values = {}
        for key in ("tag", "host", "q"):
            value = params.get(key, "").strip()
            if len(value) > _MAX_PARAM:
                raise BadFilter(f"{key}: at most {_MAX_PARAM} characters")
            values[key] = value
        return cls(statuses, values["tag"], values["host"], values["q"])

    @property
    def active(self) -> bool:
        return bool(self.statuses or self.tag or self.host or self.q)

    def query(self, **changes: object) -> str:
        """The query string of these filters with ``changes`` (``status=None`` drops it)."""
        current: dict[str, object] = {
            "status": list(self.statuses),
            "tag": self.tag,
            "host": self.host,
            "q": self.q,
        }
        current.update(changes)
        pairs: list[tuple[str, str]] = []
        for key, value in current.items():
            for item in value if isinstance(value, list | tuple) else [value]:
                if item:
                    pairs.append((key, str(item)))
        return urlencode(pairs)

    def in_scope(self, status: JobStatus) -> bool:
        """Whether ``status`` passes the tag, host and name filters (not the status one)."""
        if self.tag and self.tag not in status.tags:
            return False
        if self.host and all(h.hostname != self.host for h in status.hosts):
            return False
        return not self.q or self.q.casefold() in status.name.casefold()

    def shows(self, status: JobStatus) -> bool:
        """Whether ``status`` passes the status filter."""
        if not self.statuses:
            return True
        if PROBLEMS in self.statuses and status.severity > 0:
            return True
        return status.status in self.statuses


@dataclass(frozen=True)
class Row:
    """One job on the overview."""

    status: JobStatus
    spark: Markup
    hosts: tuple[HostStatus, ...]
    more_hosts: int


@dataclass(frozen=True)
class Overview:
    """The overview of every job at ``now``."""

    now: datetime
    filters: Filters
    rows: list[Row]
    total: int  # jobs known
    in_scope: int  # jobs passing the tag/host/name filters
    counts: dict[Status, int]  # per status, among those in scope, worst first
    tags: list[str] = field(default_factory=list)  # every tag, for the filter form
    hosts: list[str] = field(default_factory=list)  # every host, for the filter form

    @property
    def problems(self) -> int:
        return sum(n for status, n in self.counts.items() if SEVERITY[status] > 0)


def load_overview(db: Database, config: Config | None, filters: Filters, now: datetime) -> Overview:
    """Every job's status at ``now``, filtered by ``filters``, worst first."""
    statuses = job_statuses(db, config, now=now, learn=False)
    scoped = [s for s in statuses if filters.in_scope(s)]
    counter = Counter(s.status for s in scoped)
    counts = {status: counter[status] for status in PRIORITY if counter[status]}
    shown = [s for s in scoped if filters.shows(s)]
    # Every job's sparklines when every job is shown (the cheapest form of the query).
    names = None if len(shown) == len(statuses) else [s.name for s in shown]
    recent = queries.recent_runs(db, names)
    rows = [
        Row(
            status=s,
            spark=svg.sparkline(recent.get(s.name, ())),
            hosts=s.hosts[:HOSTS_SHOWN],
            more_hosts=max(0, len(s.hosts) - HOSTS_SHOWN),
        )
        for s in shown
    ]
    return Overview(
        now=now,
        filters=filters,
        rows=rows,
        total=len(statuses),
        in_scope=len(scoped),
        counts=counts,
        tags=sorted({tag for s in statuses for tag in s.tags}),
        hosts=sorted({h.hostname for s in statuses for h in s.hosts}),
    )
