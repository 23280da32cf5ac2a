"""The overview's data: a page of jobs' statuses, filtered, with their sparklines; no HTTP here.

Pages: :data:`PAGE_SIZE` jobs, worst first then by name, keyset-paged by (status, name) with
the ``after`` cursor of the page before; the counts per status cover every job in scope.

Cost: with an alert loop beating and no tag, host or name filter, what the page costs, not what
the number of jobs costs (:func:`~cronwatch.health.service.settled_page`): the counts per
status from the counts kept per stored status (migration 0014), the page's jobs from a range
of the ``job_states (hostname, status, name)`` index per status (migration 0012), and the
evaluation of the jobs that can have changed and of the page's jobs. With a tag, host or name
filter and a loop beating, what the filter's candidates cost (:func:`_select_scoped`): the
jobs that can have changed evaluated, and of the others only those that may pass the filter
(found by the text of their specs, their hosts' summaries, their names) read by key, with
their stored status, their tags and hosts checked on their facts. Without a loop, the fixed
number of queries of :func:`~cronwatch.health.service.job_statuses` (every job evaluated).
Plus one (:func:`queries.recent_runs`). It reads only: baselines are used as last learned (by
the alert loop, ``/metrics``, the API or ``cronwatch check``), never relearned by a page view.

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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlencode

from markupsafe import Markup
from starlette.datastructures import QueryParams

from cronwatch.health.model import (
    PRIORITY,
    SEVERITY,
    HostStatus,
    JobStatus,
    SettledStatus,
    Status,
)
from cronwatch.health.service import (
    candidates,
    job_statuses,
    settled_among,
    settled_page,
    settled_rest,
)
from cronwatch.specs import Config
from cronwatch.storage import dashboard as queries
from cronwatch.storage.connection import Database
from cronwatch.web.dashboard import svg

PROBLEMS = "problems"
#: Jobs per page of the overview.
PAGE_SIZE = 100
_RANK = {status: index for index, status in enumerate(PRIORITY)}
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
        return self.covers(status.name, status.tags, [h.hostname for h in status.hosts])

    def covers(self, name: str, tags: Sequence[str], hosts: Sequence[str]) -> bool:
        """Whether a job named ``name`` with ``tags`` whose status lists ``hosts`` passes the
        tag, host and name filters (not the status one)."""
        if self.tag and self.tag not in tags:
            return False
        if self.host and self.host not in hosts:
            return False
        return not self.q or self.q.casefold() in name.casefold()

    def shows(self, status: JobStatus | SettledStatus) -> bool:
        """Whether ``status`` passes the status filter."""
        return self.shows_status(status.status)

    def shows_status(self, status: Status) -> bool:
        """Whether a job of status ``status`` passes the status filter."""
        if not self.statuses:
            return True
        if PROBLEMS in self.statuses and SEVERITY[status] > 0:
            return True
        return status in self.statuses


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
    tags: list[str] = field(default_factory=list)  # tags known, for the filter form
    hosts: list[str] = field(default_factory=list)  # hosts known, for the filter form
    shown: int = 0  # jobs passing every filter (on every page)
    first: bool = True  # this is the first page
    next: str | None = None  # ``after`` of the next page; None on the last one
    after: str | None = None  # the cursor this page follows (None: the first page)
    page_size: int = PAGE_SIZE

    @property
    def problems(self) -> int:
        return sum(n for status, n in self.counts.items() if SEVERITY[status] > 0)


def load_overview(
    db: Database,
    config: Config | None,
    filters: Filters,
    now: datetime,
    *,
    after: str | None = None,
    page_size: int = PAGE_SIZE,
) -> Overview:
    """One page of the jobs' statuses at ``now``, filtered by ``filters``, worst first: the
    ``page_size`` jobs that follow ``after`` (a :attr:`Overview.next` cursor) in (status,
    name) order, and the counts per status of every job in scope.

    With an alert loop beating and no tag, host or name filter, the order, the page and the
    counts come from the statuses the loop stored, read by index
    (:func:`~cronwatch.health.service.settled_page`), and only the page's jobs (and those that
    can have changed) are evaluated; with a tag, host or name filter, the stored statuses of
    the filter's candidates are read (:func:`_select_scoped`); without a loop, every job is
    evaluated.
    """
    start = _position(after)
    selection = _select(db, config, filters, now, start, page_size)
    page = selection.shown[:page_size]
    more = len(selection.shown) > page_size
    shown_page = _in_full(db, config, page, now)
    rows = _rows(db, shown_page, selection.total)
    listed = selection.evaluated if selection.evaluated is not None else shown_page
    declared = config.jobs.values() if config is not None else ()
    return Overview(
        now=now,
        filters=filters,
        rows=rows,
        total=selection.total,
        in_scope=selection.in_scope,
        counts=selection.counts,
        tags=sorted(
            {tag for s in listed for tag in s.tags} | {t for j in declared for t in j.tags}
        ),
        hosts=sorted({h.hostname for s in listed for h in s.hosts}),
        shown=selection.matching,
        first=start is None,
        next=_cursor(page[-1]) if more and page else None,
        after=after if start is not None else None,
        page_size=page_size,
    )


@dataclass
class _Selection:
    """The jobs an overview page is cut from, and the figures of every job in scope."""

    counts: dict[Status, int]  # per status, among those in scope, worst first
    total: int  # jobs known
    in_scope: int  # jobs passing the tag/host/name filters
    matching: int  # jobs passing every filter
    #: Jobs passing every filter from the cursor on, in page order (at least the page's).
    shown: list[JobStatus | SettledStatus]
    #: Every job, evaluated in full, when they all were (the tags and hosts of the filter form
    #: are then read from them); ``None`` when only the page's jobs will be.
    evaluated: list[JobStatus | SettledStatus] | None = None


def _select(
    db: Database,
    config: Config | None,
    filters: Filters,
    now: datetime,
    start: tuple[int, str] | None,
    page_size: int,
) -> _Selection:
    """The jobs after ``start`` that pass ``filters``, and the counts: with an alert loop
    beating, from the stored statuses (by index without a tag, host or name filter,
    :func:`~cronwatch.health.service.settled_page`, at most ``page_size`` jobs; else those of
    the filter's candidates, :func:`_select_scoped`), else from every job's evaluated status
    (:func:`_select_all`)."""
    if not (filters.tag or filters.host or filters.q):
        wanted = [status for status in PRIORITY if filters.shows_status(status)]
        paged = settled_page(db, config, now=now, statuses=wanted, after=start, limit=page_size)
        if paged is not None:
            counts = paged.counts
            total = sum(counts.values())
            matching = sum(n for status, n in counts.items() if status in wanted)
            return _Selection(counts, total, total, matching, list(paged.statuses))
    else:
        scoped = _select_scoped(db, config, filters, now, start)
        if scoped is not None:
            return scoped
    return _select_all(db, config, filters, now, start)


def _select_scoped(
    db: Database,
    config: Config | None,
    filters: Filters,
    now: datetime,
    start: tuple[int, str] | None,
) -> _Selection | None:
    """The jobs after ``start`` that pass ``filters`` (a tag, host or name filter), with an
    alert loop beating (else ``None``), at the cost of the jobs that can have changed and of
    the filter's candidates, not of every job: the jobs that can have changed evaluated, and
    of the others only the candidates (:func:`~cronwatch.health.service.candidates`) read,
    with the status the loop stored, their tags and hosts checked on their facts
    (:func:`~cronwatch.health.service.settled_among`). The total is the kept counts'."""
    settled = settled_rest(db, config, now)
    if settled is None:
        return None
    evaluated = {s.name for s in settled.evaluated}
    names = sorted(candidates(db, config, tag=filters.tag, host=filters.host, q=filters.q))
    scoped: list[JobStatus | SettledStatus] = [s for s in settled.evaluated if filters.in_scope(s)]
    # A name filter alone is exact on the candidates: no facts to read.
    covers = filters.covers if filters.tag or filters.host else None
    scoped += settled_among(
        db,
        config,
        now=now,
        names=[name for name in names if name not in evaluated],
        covers=covers,
    )
    scoped.sort(key=lambda s: (_RANK[s.status], s.name))
    total = sum(n for status, n in settled.counts.items() if status in _RANK)
    return _counted(scoped, filters, start, total + len(settled.evaluated), None)


def _select_all(
    db: Database,
    config: Config | None,
    filters: Filters,
    now: datetime,
    start: tuple[int, str] | None,
) -> _Selection:
    """The jobs after ``start`` that pass ``filters``, from every job evaluated
    (:func:`~cronwatch.health.service.job_statuses`, which :attr:`_Selection.evaluated` then
    holds). Never relearns a baseline."""
    statuses = job_statuses(db, config, now=now, learn=False)
    scoped: list[JobStatus | SettledStatus] = [s for s in statuses if filters.in_scope(s)]
    return _counted(scoped, filters, start, len(statuses), list(statuses))


def _counted(
    scoped: list[JobStatus | SettledStatus],
    filters: Filters,
    start: tuple[int, str] | None,
    total: int,
    evaluated: list[JobStatus | SettledStatus] | None,
) -> _Selection:
    """The selection of ``scoped`` (the jobs in scope, in page order; ``total`` jobs known):
    their counts per status, and those the status filter shows after ``start``."""
    counter = Counter(s.status for s in scoped)
    counts = {status: counter[status] for status in PRIORITY if counter[status]}
    shown = [s for s in scoped if filters.shows(s)]
    selection = _Selection(counts, total, len(scoped), len(shown), shown, evaluated)
    if start is not None:
        selection.shown = [s for s in shown if (_RANK[s.status], s.name) > start]
    return selection


def _in_full(
    db: Database,
    config: Config | None,
    page: list[JobStatus | SettledStatus],
    now: datetime,
) -> list[JobStatus]:
    """``page`` with every settled status replaced by its job's full status (one
    :func:`~cronwatch.health.service.job_statuses` query for them all, none when there is no
    settled one), in the same order; a job deleted since is left out."""
    # A settled status is a name, a status and a reason: read the page's jobs in full (a job
    # deleted since is left out).
    settled_names = [s.name for s in page if isinstance(s, SettledStatus)]
    full = (
        {
            s.name: s
            for s in job_statuses(
                db,
                config,
                now=now,
                names=settled_names,
                learn=False,
                skip_unknown=True,
            )
        }
        if settled_names
        else {}
    )
    return [
        s if isinstance(s, JobStatus) else full[s.name]
        for s in page
        if isinstance(s, JobStatus) or s.name in full
    ]


def _rows(db: Database, page: list[JobStatus], total: int) -> list[Row]:
    """The overview rows of ``page`` with their sparklines (one
    :func:`queries.recent_runs` query: for every job when the page holds all ``total``)."""
    # Every job's sparklines when every job is shown (the cheapest form of the query).
    names = None if len(page) == total else [s.name for s in page]
    recent = queries.recent_runs(db, names)
    return [
        Row(
            status=s,
            spark=svg.sparkline(recent.get(s.name, ())),
            hosts=s.hosts[:HOSTS_SHOWN],
            more_hosts=max(0, len(s.hosts) - HOSTS_SHOWN),
        )
        for s in page
    ]


def _cursor(status: JobStatus | SettledStatus) -> str:
    """The ``after`` of the page that follows ``status``."""
    return f"{status.status}:{status.name}"


def _position(after: str | None) -> tuple[int, str] | None:
    """(rank, name) of an ``after`` cursor; ``None`` (the first page) for none or a bad one."""
    if not after:
        return None
    status, sep, name = after.partition(":")
    if not sep or status not in _RANK:
        return None
    return _RANK[status], name
