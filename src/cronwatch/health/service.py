"""The health of every job in a database: facts read in a fixed number of queries, baselines
relearned where stale, each job evaluated, problems first."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from cronwatch.errors import InvalidInput
from cronwatch.health.evaluate import evaluate
from cronwatch.health.model import PRIORITY, JobFacts, JobStatus
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
    """
    now = require_aware(now, "now") if now is not None else utcnow()
    store = JobStore(db)
    declared = dict(config.jobs) if config is not None else {}
    if declared and record_declared:
        store.sync_declared(declared.values(), now)
    if learn:
        store.refresh_baselines(now, progress=progress)
    wanted = list(names) if names is not None else None
    facts = store.facts(declared, names=wanted, now=now)
    if wanted:
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
