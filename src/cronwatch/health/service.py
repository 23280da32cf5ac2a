"""The health of every job in a database: facts read in a fixed number of queries, baselines
relearned where stale, each job evaluated, problems first."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, overload

from cronwatch.errors import InvalidInput
from cronwatch.health.evaluate import evaluate
from cronwatch.health.model import PRIORITY, JobFacts, JobStatus, SettledStatus, Status
from cronwatch.specs import Config
from cronwatch.storage.connection import Database
from cronwatch.storage.jobs import JobStore
from cronwatch.timeutil import require_aware, utcnow

_RANK = {status: index for index, status in enumerate(PRIORITY)}


def job_statuses(
    db: Database,
    config: Config | None = None,
    *,
    now: datetime | None = None,
    names: Iterable[str] | None = None,
    tags: Iterable[str] = (),
    hosts: Iterable[str] = (),
    learn: bool = True,
    record_declared: bool = False,
    skip_unknown: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> list[JobStatus]:
    """The status of every known job (declared in ``config``, or seen running), worst first.

    ``names`` picks jobs by name (an unknown name is an :class:`InvalidInput`), ``tags`` keeps
    jobs with any of those tags, ``hosts`` jobs declared on or seen on any of those hosts.
    ``learn`` relearns the baselines of jobs with enough new runs first (``progress(done,
    total)`` reports on it).

    Declared jobs are those of ``config``, the file in force. Looking writes nothing about
    them: a declared job without a row is judged from ``now`` (waiting for its first run).
    ``record_declared`` (the server at start, the alert loop, ``cronwatch check``) gives
    them their row, so that one that never runs turns missing once its first slot after
    that is past grace. Rows of jobs an earlier config declared are not shown unless the
    job has runs (:meth:`JobStore.facts`).
    ``skip_unknown`` leaves out names no longer known (a page of jobs, one deleted since).
    """
    now = require_aware(now, "now") if now is not None else utcnow()
    store = JobStore(db)
    declared = dict(config.jobs) if config is not None else {}
    if declared and record_declared:
        store.sync_declared(declared.values(), now)
    wanted = list(names) if names is not None else None
    if learn:
        stale = store.stale_baselines(wanted)
        store.refresh_baselines(now, names=stale, progress=progress)
    facts = store.facts(declared, names=wanted, now=now)
    if wanted and not skip_unknown:
        unknown = sorted(set(wanted) - {f.spec.name for f in facts})
        if unknown:
            raise InvalidInput(f"no job named {', '.join(repr(n) for n in unknown)} is known")
    tag_set, host_set = set(tags), set(hosts)
    selected = [f for f in facts if _matches(f, tag_set, host_set)]
    statuses = [evaluate(f, now) for f in selected]
    statuses.sort(key=lambda s: (_RANK[s.status], s.name))
    return statuses


def _matches(facts: JobFacts, tags: set[str], hosts: set[str]) -> bool:
    if tags and not tags.intersection(facts.spec.tags):
        return False
    if hosts:
        involved = set(facts.spec.hosts) | {h.hostname for h in facts.hosts}
        if not hosts & involved:
            return False
    return True


def loop_alive(db: Database, config: Config | None, now: datetime) -> bool:
    """Whether an alert loop beat within ``[alerts] outage_after`` of ``now``: only then are
    the statuses it stored (:meth:`~cronwatch.storage.alerts.AlertStore.settled_statuses`)
    current for the jobs whose deadline is ahead."""
    from cronwatch.specs import AlertSettings
    from cronwatch.storage.alerts import AlertStore

    settings = config.alerts if config is not None else AlertSettings()
    beat = AlertStore(db).last_heartbeat()
    return beat is not None and now - beat <= settings.outage_after


def settled_statuses(
    db: Database,
    config: Config | None = None,
    *,
    now: datetime | None = None,
    learn: bool = True,
    record_declared: bool = False,
) -> list[JobStatus | SettledStatus] | None:
    """Every job's status, worst first, at the cost of the jobs that can have changed: the
    status the alert loop stored for each job whose next deadline is still ahead (it cannot
    have changed since: see :mod:`cronwatch.alerts.deadline`), and the evaluation of the
    others. The settled ones are :class:`~cronwatch.health.model.SettledStatus` (name, status,
    reason).

    ``None`` when no alert loop beat within ``[alerts] outage_after``: the stored statuses
    may then be old; use :func:`job_statuses`. ``learn`` and ``record_declared`` as there
    (among the jobs evaluated).
    """
    from cronwatch.storage.alerts import AlertStore

    now = require_aware(now, "now") if now is not None else utcnow()
    if not loop_alive(db, config, now):
        return None
    store = AlertStore(db)
    declared = dict(config.jobs) if config is not None else {}
    settled, due = store.settled_statuses(now)
    # Declared jobs the loop never saw (a config newer than the loop's) are evaluated too.
    due += [name for name in declared if name not in settled and name not in due]
    statuses: list[JobStatus | SettledStatus] = []
    if due:
        statuses += job_statuses(
            db,
            config,
            now=now,
            names=due,
            skip_unknown=True,
            learn=learn,
            record_declared=record_declared,
        )
    statuses += [
        SettledStatus(name, status, reason)
        for name, (status, reason) in settled.items()
        if status in _RANK
    ]
    statuses.sort(key=lambda s: (_RANK[s.status], s.name))
    return statuses


@dataclass(frozen=True, slots=True)
class Settled:
    """What the alert loop settled at an instant, counted, and every other job evaluated."""

    #: The settled jobs (deadline ahead, a stored status) per stored status.
    counts: dict[str, int]
    #: Every job that can have changed (deadline passed, no stored status, declared in a
    #: config newer than the loop's), evaluated (``learn=False``).
    evaluated: list[JobStatus]


def settled_rest(db: Database, config: Config | None, now: datetime) -> Settled | None:
    """The counts of the settled jobs and the evaluation of the others, at the cost of the
    jobs that can have changed: the counts kept per stored status (migration 0014) less the
    due jobs'. ``None`` when no alert loop beat within ``[alerts] outage_after``."""
    from cronwatch.storage.alerts import AlertStore

    if not loop_alive(db, config, now):
        return None
    store = AlertStore(db)
    counts, due, stateless = store.settled_counts(now)
    # Declared jobs the loop never saw (a config newer than the loop's) are evaluated too;
    # the counts are of rows of ``jobs``, so theirs are not in them.
    declared = list(config.jobs) if config is not None else []
    known = store.existing(declared) if declared else set()
    absent = [name for name in declared if name not in known]
    due += [*stateless, *absent]
    evaluated = (
        job_statuses(db, config, now=now, names=due, skip_unknown=True, learn=False) if due else []
    )
    return Settled(counts, evaluated)


#: ``covers(name, tags, hosts)``: whether a job is in a selection, from its name, its tags and
#: the names of the hosts its status lists.
Covers = Callable[[str, Sequence[str], Sequence[str]], bool]


def settled_among(
    db: Database,
    config: Config | None,
    *,
    now: datetime,
    names: Sequence[str],
    covers: Covers | None = None,
) -> list[SettledStatus]:
    """Those of ``names`` that the alert loop settled at ``now`` (deadline ahead, a stored
    status), as it stored them, by key: at the cost of ``names``, whatever the number of jobs.
    With ``covers``, only those it holds for, their tags and hosts read from their facts
    (:meth:`~cronwatch.storage.jobs.JobStore.facts`, by key; not evaluated)."""
    from cronwatch.health.evaluate import listed_hosts
    from cronwatch.storage.alerts import AlertStore

    stored = AlertStore(db).settled_of(now, names)
    if covers is None:
        return _settled(stored)
    holds = covers
    return _settled_where(
        db,
        config,
        now,
        stored,
        lambda f: holds(f.spec.name, f.spec.tags, listed_hosts(f)),
    )


def _settled(stored: dict[str, tuple[str, str]]) -> list[SettledStatus]:
    """``stored`` (``name: (status, reason)`` as the loop stored them) as settled statuses."""
    return [
        SettledStatus(name, status, reason)
        for name, (status, reason) in stored.items()
        if status in _RANK
    ]


def _settled_where(
    db: Database,
    config: Config | None,
    now: datetime,
    stored: dict[str, tuple[str, str]],
    keep: Callable[[JobFacts], bool],
) -> list[SettledStatus]:
    """Those of ``stored`` (settled jobs: ``name: (status, reason)``) whose facts, read by key
    (not evaluated), ``keep`` holds for; a job that is no longer known is left out."""
    declared = dict(config.jobs) if config is not None else {}
    facts = JobStore(db).facts(declared, names=list(stored), now=now) if stored else []
    kept = {f.spec.name for f in facts if keep(f)}
    return _settled({name: value for name, value in stored.items() if name in kept})


def candidates(
    db: Database, config: Config | None, *, tag: str = "", host: str = "", q: str = ""
) -> set[str]:
    """The jobs that may have tag ``tag``, list host ``host`` and have a name containing
    ``q`` (ignoring case) (each when given; at least one must be): a superset, found without
    reading every job's facts (the names like ``q``, the stored specs that mention the tag
    or host, the summaries of the host; the config's specs). The name condition is exact;
    check the tag and the host on the facts (:func:`settled_among`'s ``covers``)."""
    store = JobStore(db)
    declared = config.jobs if config is not None else {}
    found: list[set[str]] = []
    if tag:
        found.append(
            store.mentioning(tag) | {name for name, spec in declared.items() if tag in spec.tags}
        )
    if host:
        found.append(
            store.seen_on(host)
            | store.mentioning(host)
            | {name for name, spec in declared.items() if host in spec.hosts}
        )
    if q:
        wanted = q.casefold()
        found.append(
            {name for name in [*store.named_like(q), *declared] if wanted in name.casefold()}
        )
    if not found:
        raise ValueError("candidates: no tag, host or name given")
    return set.intersection(*found)


@overload
def filtered_statuses(
    db: Database,
    config: Config | None,
    *,
    tags: Sequence[str] = (),
    hosts: Sequence[str] = (),
    in_full: Literal[True],
    now: datetime | None = None,
    learn: bool = True,
    record_declared: bool = False,
) -> Sequence[JobStatus]: ...


@overload
def filtered_statuses(
    db: Database,
    config: Config | None,
    *,
    tags: Sequence[str] = (),
    hosts: Sequence[str] = (),
    in_full: bool = False,
    now: datetime | None = None,
    learn: bool = True,
    record_declared: bool = False,
) -> Sequence[JobStatus | SettledStatus]: ...


def filtered_statuses(
    db: Database,
    config: Config | None,
    *,
    tags: Sequence[str] = (),
    hosts: Sequence[str] = (),
    in_full: bool = False,
    now: datetime | None = None,
    learn: bool = True,
    record_declared: bool = False,
) -> Sequence[JobStatus | SettledStatus]:
    """The statuses of the jobs with any of ``tags`` that run on any of ``hosts`` (declared
    there or seen running there), worst first: the jobs and statuses :func:`job_statuses`
    with ``tags`` and ``hosts`` gives, at the cost of the filter's candidates when an alert
    loop beats, not of every job.

    With a tag or a host and an alert loop that beat within ``[alerts] outage_after``, only
    the filter's candidates are read (:func:`candidates`, for each tag and each host: jobs
    found by the text of their specs, their hosts' summaries and running runs, the config):
    those the loop settled (deadline ahead, a stored status) as it stored them (a
    :class:`~cronwatch.health.model.SettledStatus`: the reason is the one recorded when the
    status last changed), their tags and hosts checked on their facts read by key, not
    evaluated; the others (deadline passed, no stored status, declared in a newer config)
    evaluated (``learn`` as :func:`job_statuses`). With ``in_full`` every candidate is
    evaluated (a :class:`~cronwatch.health.model.JobStatus` each, for the outputs that show
    more than a status and a reason). Without a tag or host, or without a loop beating,
    every job is evaluated (:func:`job_statuses`), as a filter always was before.

    ``record_declared`` gives every declared job its row first, as :func:`job_statuses`.
    With a loop beating, a job that is not a candidate is neither evaluated nor are its
    facts read, whether it is due or not."""
    now = require_aware(now, "now") if now is not None else utcnow()
    tag_list, host_list = list(dict.fromkeys(tags)), list(dict.fromkeys(hosts))
    if not (tag_list or host_list) or not loop_alive(db, config, now):
        return job_statuses(
            db,
            config,
            now=now,
            tags=tag_list,
            hosts=host_list,
            learn=learn,
            record_declared=record_declared,
        )
    declared = list(config.jobs.values()) if config is not None else []
    if record_declared and declared:
        JobStore(db).sync_declared(declared, now)
    # Any of the tags, and any of the hosts: a union per option, intersected.
    found: list[set[str]] = []
    if tag_list:
        found.append(set[str]().union(*(candidates(db, config, tag=tag) for tag in tag_list)))
    if host_list:
        found.append(set[str]().union(*(candidates(db, config, host=h) for h in host_list)))
    names = sorted(set.intersection(*found))
    if in_full:
        return job_statuses(
            db,
            config,
            now=now,
            names=names,
            tags=tag_list,
            hosts=host_list,
            learn=learn,
            skip_unknown=True,
        )
    from cronwatch.storage.alerts import AlertStore

    # One read of which candidates are settled: a job is then either read as stored or
    # evaluated, never neither (a run recorded meanwhile leaves it to be evaluated).
    stored = AlertStore(db).settled_of(now, names)
    changed = [name for name in names if name not in stored]
    statuses: list[JobStatus | SettledStatus] = []
    if changed:
        statuses += job_statuses(
            db,
            config,
            now=now,
            names=changed,
            tags=tag_list,
            hosts=host_list,
            learn=learn,
            skip_unknown=True,
        )
    tag_set, host_set = set(tag_list), set(host_list)
    statuses += _settled_where(db, config, now, stored, lambda f: _matches(f, tag_set, host_set))
    statuses.sort(key=lambda s: (_RANK[s.status], s.name))
    return statuses


@dataclass(frozen=True, slots=True)
class SettledPage:
    """A page of statuses in (:data:`PRIORITY`, name) order, from the alert loop's stored
    statuses, and the counts per status of every job."""

    counts: dict[Status, int]
    statuses: list[JobStatus | SettledStatus]  # up to ``limit + 1``: one more says "more"


def settled_page(
    db: Database,
    config: Config | None,
    *,
    now: datetime,
    statuses: Sequence[Status],
    after: tuple[int, str] | None,
    limit: int,
) -> SettledPage | None:
    """The ``limit + 1`` first jobs with a status in ``statuses`` that follow ``after`` (rank in
    :data:`PRIORITY`, name), and every job's count per status, at the cost of the page and the
    jobs that can have changed, not of the number of jobs: the counts of the settled jobs from
    the counts kept per stored status (migration 0014) less the due jobs', the page's settled
    jobs from a range of an index per status, and the evaluation (``learn=False``) of the due
    ones (as :func:`settled_statuses`).

    ``None`` when no alert loop beat within ``[alerts] outage_after`` (use
    :func:`job_statuses`)."""
    from cronwatch.storage.alerts import AlertStore

    settled = settled_rest(db, config, now)
    if settled is None:
        return None
    store = AlertStore(db)
    evaluated = settled.evaluated
    # A job is either evaluated (due) or settled: the two never list the same job.
    totals = Counter(settled.counts)
    totals.update(s.status for s in evaluated)
    wanted = set(statuses)
    start = after if after is not None else (-1, "")
    page: list[JobStatus | SettledStatus] = [
        s for s in evaluated if s.status in wanted and (_RANK[s.status], s.name) > start
    ]
    for rank, status in enumerate(PRIORITY):
        if status not in wanted or rank < start[0]:
            continue
        if sum(1 for s in page if _RANK[s.status] < rank) > limit:
            break  # the page is full with worse statuses
        following = start[1] if rank == start[0] else ""
        page += [
            SettledStatus(name, status, reason)
            for name, reason in store.settled_by_status(now, status, following, limit + 1)
        ]
    page.sort(key=lambda s: (_RANK[s.status], s.name))
    return SettledPage(
        counts={status: totals[status] for status in PRIORITY if totals[status]},
        statuses=page[: limit + 1],
    )
