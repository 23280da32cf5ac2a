"""The server's write path: writer threads, group commit, no blocking of the event loop.

Requests (pings, ``POST /api/v1/runs``) put a :class:`WriteOp` on a queue and await its result.
A writer thread takes everything queued (up to ``max_batch``) and writes it in ONE
transaction, then answers every request of the batch. While one batch commits the next one
fills up, so under load a commit (an fsync on PostgreSQL, a WAL append on SQLite) is shared by
many pings, and the event loop never waits on the database. A request is answered only after
its batch committed and is durable (:mod:`cronwatch.storage.commitsync`: on SQLite the WAL is
synced by a thread of its own while the writer writes the next batch): an acknowledged ping is
stored, and survives a power cut.

The ping key is checked inside the same transaction (one query per batch for all its keys), so
a key revoked by ``cronwatch key revoke`` in another process is refused from the next batch on,
with no cache to expire.

The SQL is storage's: the statements of a write in :mod:`cronwatch.storage.writes`, what
differs per database in :mod:`cronwatch.storage.dialect` (on PostgreSQL the plain pings of a
batch go in first through one statement of their own, :meth:`RunStore.insert_unpaired
<cronwatch.storage.runs.RunStore.insert_unpaired>`). A batch that fails as a whole is retried
one write at a time, so that a single bad record cannot refuse the others.

One concept, hence its length (a little over 500 lines): the group-commit writer and the
batch it commits. Queueing and answering requests, the threads and their connections,
planning a batch (key refusals, lock order: :func:`plan`), its transaction and the job limit,
the retry one write at a time and the results (:func:`conclude`) are one contract, that an
acknowledged write is stored and a refused one left no trace; split, each half would state
only half of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import queue
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from cronwatch.errors import StorageUnavailable
from cronwatch.model import Run
from cronwatch.specs.limits import job_limit_message
from cronwatch.statsd import StatsdClient
from cronwatch.storage.alerts.events import EventStore, LogLine
from cronwatch.storage.connection import Cursor, Database, open_database
from cronwatch.storage.dialect import dialect_for
from cronwatch.storage.jobs import JobStore, count_jobs, existing_names
from cronwatch.storage.keys import (
    PERMISSIONS,
    KeyFacts,
    lookup_keys,
    names_allow,
    names_refusal,
)
from cronwatch.storage.runs import RunStore
from cronwatch.storage.url import parse_database_url
from cronwatch.storage.writes import Unpaired, Written
from cronwatch.web.errors import ApiError, forbidden, not_found, unauthorized, unavailable
from cronwatch.web.outage import MESSAGE, DatabaseHealth

log = logging.getLogger("cronwatch.web.ingest")


@dataclass(frozen=True, slots=True)
class Stored:
    """The outcome of a write: ``new`` is false when the database already had it (a replay)."""

    new: bool


@dataclass(slots=True)
class WriteOp:
    """One run to store. ``key_hash`` is the digest of the key the request came with, checked
    for ``permission`` in the write's transaction; ``None`` when the caller already checked.

    ``uuid``: a ping to ``/ping/<uuid>``, where the UUID is the credential: the run is the
    job's whose UUID it is (``run.name`` is a stand-in until then), a 404 when no job has it.
    ``log``: a ``/log`` ping: an event of kind ``log`` carrying ``run.output``, no run, no
    change of status; a 404 when the job does not exist."""

    run: Run
    pair_latest: bool = False
    key_hash: str | None = None
    permission: str = "ping"
    uuid: str | None = None
    log: bool = False
    create: bool = False  # ``?create=1``: only the ping handler's answer reads it


Result = Stored | ApiError


_Item = tuple[WriteOp, "asyncio.Future[Result]"]
#: ``early(indexes, results)``: answers for the writes of a batch committed before the rest.
_Early = Callable[[Sequence[int], Sequence[Result]], None]
_STOP = object()


class Writer:
    """The writer threads of one server process. :meth:`start` it on the event loop that will
    :meth:`submit`, :meth:`close` it at shutdown (pending writes are finished first).

    ``threads`` writer threads share the queue, each with its own connection (default: 1 on
    SQLite, which has one write lock anyway; 2 on PostgreSQL, so that one batch can be written
    while another commits).
    """

    def __init__(
        self,
        database_url: str,
        *,
        statsd: StatsdClient | None = None,
        threads: int | None = None,
        max_batch: int = 256,
        max_pending: int = 10_000,
        health: DatabaseHealth | None = None,
        timeout: float | None = None,
        max_jobs: int | None = None,
    ) -> None:
        self.database_url = database_url
        #: Writes that would create a job beyond this many get 403; ``None``: no limit.
        self.max_jobs = max_jobs
        self._known: set[str] = set()  # names known to be jobs (the limit's check skipped)
        self.timeout = timeout  # connect and statement deadline of the writers' connections
        self.statsd = statsd
        self.health = health or DatabaseHealth()  # outages: logged once, 503 without details
        self.dialect = dialect_for(parse_database_url(database_url))
        self.threads = threads or self.dialect.writer_threads
        #: How a committed batch is made durable before it is answered.
        self.commit_sync = self.dialect.commit_sync()
        self.max_batch = max_batch
        self.max_pending = max_pending
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._pending = 0  # touched on the event loop only
        self._dbs: list[Database | None] = [None] * self.threads  # one per thread
        self._workers: list[threading.Thread] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self.batches = 0  # transactions committed (for tests and the bench)

    # -- the event loop's side ----------------------------------------------------------------

    def start(self) -> None:
        """Open the connections and start the threads; must be called from the event loop."""
        self._loop = asyncio.get_running_loop()
        self._dbs = [db or self._open() for db in self._dbs]
        for index in range(self.threads):
            worker = threading.Thread(
                target=self._run, args=(index,), name=f"cronwatch-writer-{index}", daemon=True
            )
            worker.start()
            self._workers.append(worker)

    async def open(self) -> None:
        """:meth:`start`, with the connections opened off the event loop."""
        loop = asyncio.get_running_loop()
        self._dbs = await loop.run_in_executor(
            None, lambda: [self._open() for _ in range(self.threads)]
        )
        self.start()

    async def aclose(self) -> None:
        """:meth:`close`, off the event loop."""
        await asyncio.get_running_loop().run_in_executor(None, self.close)

    async def submit(self, op: WriteOp) -> Result:
        """Store ``op`` and wait for its transaction to commit; a refusal comes back as an
        :class:`ApiError` (401/403 for the key, 503 when the database is away or the queue full).
        """
        if not self._workers or self._loop is None:
            return unavailable("the server is not accepting writes (starting or stopping)")
        if self._pending >= self.max_pending:
            return unavailable(
                f"too many writes waiting for the database ({self._pending}); retry shortly",
                retry_after=1,
            )
        future: asyncio.Future[Result] = self._loop.create_future()
        self._pending += 1
        self._queue.put((op, future))
        try:
            return await future
        finally:
            self._pending -= 1

    def connections(self) -> list[Database]:
        """The writer threads' open connections (to read their settings)."""
        return [db for db in self._dbs if db is not None]

    def close(self, timeout: float = 30.0) -> None:
        """Finish what is queued (written, synced, answered), stop the threads and close the
        connections."""
        workers, self._workers = self._workers, []
        for _ in workers:
            self._queue.put(_STOP)  # queued after every write: those are finished first
        for worker in workers:
            worker.join(timeout)
        self.commit_sync.close()
        for index, db in enumerate(self._dbs):
            if db is not None:
                db.close()
            self._dbs[index] = None

    @staticmethod
    def _settle(items: Sequence[_Item], results: Sequence[Result]) -> None:
        for (_, future), result in zip(items, results, strict=True):
            if not future.done():  # the request may have been cancelled (client gone)
                future.set_result(result)

    # -- the writer threads -------------------------------------------------------------------

    def _run(self, index: int) -> None:
        assert self._loop is not None
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                break
            batch: list[_Item] = [first]
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)
            try:
                results = self._write_all(
                    index,
                    [op for op, _ in batch],
                    functools.partial(self._early, batch),
                )
            except Exception:  # a bug must not kill the writer and hang every request
                log.exception("writing a batch of %d failed", len(batch))
                results = [ApiError(500, "internal", "internal error while storing")] * len(batch)
            if self._loop.is_closed():  # nobody is waiting any more
                break
            self.commit_sync.after_commit(functools.partial(self._answer, batch, results))

    def _early(self, batch: Sequence[_Item], done: Sequence[int], stored: Sequence[Result]) -> None:
        """Answer the writes ``done`` of ``batch`` (committed) before the rest of it, once
        they are durable."""
        items = [batch[i] for i in done]
        self.commit_sync.after_commit(functools.partial(self._answer, items, stored))

    def _answer(
        self, items: Sequence[_Item], results: Sequence[Result], error: Exception | None
    ) -> None:
        """Answer ``items``, committed, once :attr:`commit_sync` made them durable (``error``
        ``None``). When it could not, a write that was stored is answered 503 like an outage:
        it is in the database but may not survive a power cut, and a client that retries
        with the same run id replays it harmlessly."""
        assert self._loop is not None
        if error is not None:
            self.health.failed(StorageUnavailable(f"the commit could not be synced: {error}"))
            results = [unavailable(MESSAGE) if isinstance(r, Stored) else r for r in results]
        elif any(isinstance(result, Stored) for result in results):
            self.health.recovered()
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
            self._loop.call_soon_threadsafe(self._settle, items, results)

    def _write_all(
        self, index: int, ops: Sequence[WriteOp], early: _Early | None = None
    ) -> list[Result]:
        """Store a batch: its UUID pings resolved to their jobs first (one query), then on
        PostgreSQL its plain pings, in one statement of their own
        (:meth:`RunStore.insert_unpaired`), then the rest of it in one transaction. The plain
        pings are answered as soon as they are committed (``early(indexes, results)``): they
        need not wait for the rest, which may wait for another writer of its job and host."""
        if not any(op.uuid is not None for op in ops):
            return self._write_resolved(index, ops, early)
        try:
            names = JobStore(self._connection(index)).names_by_uuid(
                op.uuid for op in ops if op.uuid is not None
            )
        except StorageUnavailable as exc:
            return self._refuse_all(index, ops, exc)
        results: list[Result | None] = [None] * len(ops)
        found: list[int] = []
        for i, op in enumerate(ops):
            if op.uuid is None:
                found.append(i)
            elif op.uuid in names:
                # A job renamed or re-UUIDed between this read and the write keeps this ping:
                # the same as if the ping had come a moment earlier.
                op.run = replace(op.run, name=names[op.uuid])
                found.append(i)
            else:
                results[i] = not_found("no job has this ping UUID")

        def early_found(done: Sequence[int], stored: Sequence[Result]) -> None:
            if early is not None:
                early([found[i] for i in done], stored)

        written = self._write_resolved(index, [ops[i] for i in found], early_found) if found else []
        for i, result in zip(found, written, strict=True):
            results[i] = result
        return [result for result in results if result is not None]

    def _write_resolved(
        self, index: int, ops: Sequence[WriteOp], early: _Early | None = None
    ) -> list[Result]:
        try:
            fast = self._write_unpaired(index, ops)
        except StorageUnavailable as exc:
            return self._refuse_all(index, ops, exc)
        results: list[Result | None] = [None] * len(ops)
        if fast:
            # Committed already: whatever happens to the rest, these are acknowledged as stored,
            # or a client retrying them would store them twice.
            stored, timings = conclude(
                [ops[i] for i in fast], [None] * len(fast), range(len(fast)), list(fast.values())
            )
            for i, result in zip(fast, stored, strict=True):
                results[i] = result
            if early is not None:
                early(list(fast), stored)
            self._send_timings(timings)
        rest = [i for i in range(len(ops)) if i not in fast]
        if rest:
            written = self._write_batch(index, [ops[i] for i in rest])
            for i, result in zip(rest, written, strict=True):
                results[i] = result
        return [result for result in results if result is not None]

    def _write_unpaired(self, index: int, ops: Sequence[WriteOp]) -> dict[int, Written]:
        """``{index in ops: Written}`` of the plain pings stored by
        :meth:`RunStore.insert_unpaired` (PostgreSQL only; nothing on SQLite, where the
        transaction costs no round trips)."""
        offered = _unpaired(ops) if self.dialect.bulk_plain_pings else []
        if self.max_jobs is not None:  # a new job's first ping goes the checked way
            offered = [(i, item) for i, item in offered if item.run.name in self._known]
        if not offered:
            return {}
        try:
            # (A statement PostgreSQL aborts to end a deadlock is written again by autocommit.)
            store = RunStore(self._connection(index))
            stored = store.insert_unpaired([item for _, item in offered])
        except StorageUnavailable:  # an outage: the batch is refused by the caller
            raise
        except Exception:  # a bug here must not refuse the batch: the general way remains
            log.exception("storing %d plain ping(s) in one statement failed", len(offered))
            return {}
        return {offered[position][0]: written for position, written in stored.items()}

    def _write_batch(self, index: int, ops: Sequence[WriteOp], attempt: int = 1) -> list[Result]:
        try:
            results, timings = self._transaction(self._connection(index), ops)
        except StorageUnavailable as exc:
            if self.dialect.rolled_back(exc.__cause__) and attempt < 3:
                # A deadlock or serialization failure chosen by PostgreSQL: nothing was written,
                # and the same batch can simply be written again.
                return self._write_batch(index, ops, attempt + 1)
            return self._refuse_all(index, ops, exc)
        except Exception:
            if len(ops) == 1:
                log.exception("storing %r failed", ops[0].run)
                return [ApiError(500, "internal", "internal error while storing the run")]
            # Isolate the write that fails so that it does not take the others down with it.
            return [self._write_batch(index, [op])[0] for op in ops]
        self.batches += 1
        self._send_timings(timings)
        return results

    def _refuse_all(self, index: int, ops: Sequence[WriteOp], exc: Exception) -> list[Result]:
        self.health.failed(exc)  # logged once per outage, with the details
        self._drop_connection(index)
        return [unavailable(MESSAGE)] * len(ops)

    def _transaction(
        self, db: Database, ops: Sequence[WriteOp]
    ) -> tuple[list[Result], list[tuple[str, int]]]:
        with db.transaction() as cur:
            keys = lookup_keys(db, cur, (op.key_hash for op in ops if op.key_hash is not None))
            results, accepted = plan(ops, keys)
            if self.max_jobs is not None:
                accepted = self._within_job_limit(db, cur, ops, results, accepted)
            logs = [i for i in accepted if ops[i].log]
            if logs:
                accepted = [i for i in accepted if not ops[i].log]
                logged = EventStore(db).insert_logs(cur, [_log_line(ops[i].run) for i in logs])
                for i, stored in zip(logs, logged, strict=True):
                    results[i] = Stored(True) if stored else not_found("no such job")
            written = RunStore(db).write(cur, [(ops[i].run, ops[i].pair_latest) for i in accepted])
        return conclude(ops, results, accepted, written)

    def _within_job_limit(
        self,
        db: Database,
        cur: Cursor,
        ops: Sequence[WriteOp],
        results: list[Result | None],
        accepted: list[int],
    ) -> list[int]:
        """``accepted`` without the writes that would create a job beyond :attr:`max_jobs`
        (refused with 403 in ``results``). Names known to be jobs cost nothing; others are
        looked up (and the jobs counted) in the write's transaction. Several server processes
        creating jobs at the same instant may go a batch beyond the limit, not more."""
        assert self.max_jobs is not None
        unknown = {ops[i].run.name for i in accepted if not ops[i].log} - self._known
        if not unknown:
            return accepted
        self._known.update(existing_names(db, cur, unknown))
        new = sorted(unknown - self._known)
        if not new:
            return accepted
        room = max(0, self.max_jobs - count_jobs(db, cur))
        allowed, refused = set(new[:room]), set(new[room:])
        self._known.update(allowed)  # a batch rolled back leaves them here: only a check skipped
        kept = []
        for i in accepted:
            if ops[i].run.name in refused and not ops[i].log:
                results[i] = forbidden(job_limit_message(self.max_jobs))
            else:
                kept.append(i)
        return kept

    def _connection(self, index: int) -> Database:
        db = self._dbs[index]
        if db is None:
            db = self._dbs[index] = self._open(upgrade=False)
        return db

    def _open(self, *, upgrade: bool = True) -> Database:
        deadlines = {} if self.timeout is None else {
            "connect_timeout": self.timeout, "statement_timeout": self.timeout
        }  # fmt: skip
        db = open_database(self.database_url, upgrade=upgrade, **deadlines)
        try:
            self.commit_sync.prepare(db)
        except BaseException:
            db.close()
            raise
        return db

    def _drop_connection(self, index: int) -> None:
        # After an outage the connection may be dead; the next batch opens a new one.
        db, self._dbs[index] = self._dbs[index], None
        if db is not None:
            with contextlib.suppress(Exception):
                db.close()

    def _send_timings(self, timings: Sequence[tuple[str, int]]) -> None:
        if self.statsd is not None:
            for name, duration_us in timings:
                self.statsd.record_activity(name, timedelta(microseconds=duration_us))


# Run ids for runs whose client gave none: a random per-process prefix and a counter. Unique
# like uuid4 for this purpose, and without a read of os.urandom per ping (slow on some kernels).
_RUN_ID_PREFIX = secrets.token_hex(8)
_RUN_ID_COUNTER = itertools.count()


def new_run_id() -> str:
    """A fresh run id (32 hex digits at most) for a run whose client gave none."""
    return f"{_RUN_ID_PREFIX}{next(_RUN_ID_COUNTER):x}"


def plan(
    ops: Sequence[WriteOp], keys: dict[str, KeyFacts]
) -> tuple[list[Result | None], list[int]]:
    """The refusals of a batch (by key), and the indexes of the writes to make, in the order to
    make them: by (job, host), so that every writer (threads, tasks, other server processes)
    takes the row locks of the job summaries in the same order and two batches cannot
    deadlock. The sort is stable: a start stays before its finish."""
    results: list[Result | None] = [_refusal(op, keys) for op in ops]
    accepted = [index for index, result in enumerate(results) if result is None]
    accepted.sort(key=lambda i: (ops[i].run.name, ops[i].run.hostname))
    return results, accepted


def conclude(
    ops: Sequence[WriteOp],
    results: list[Result | None],
    accepted: Sequence[int],
    written: Sequence[Written],
) -> tuple[list[Result], list[tuple[str, int]]]:
    """Every op's result once the batch committed, and the statsd timings to send: one per
    successful run stored now (a replay sends none)."""
    timings: list[tuple[str, int]] = []
    for index, outcome in zip(accepted, written, strict=True):
        results[index] = Stored(outcome.new)
        run = ops[index].run
        if outcome.new and run.outcome == "success" and outcome.duration_us is not None:
            timings.append((run.name, outcome.duration_us))
    return [result for result in results if result is not None], timings


def _log_line(run: Run) -> LogLine:
    return LogLine(run.name, run.hostname, run.output or "", run.date_started)


def _unpaired(ops: Sequence[WriteOp]) -> list[tuple[int, Unpaired]]:
    """The finishes without run id of a batch that :meth:`RunStore.insert_unpaired` may take:
    not those of a job and host with a start in the same batch (they may pair with it)."""
    starting = {(op.run.name, op.run.hostname) for op in ops if op.run.date_completed is None}
    return [
        (index, Unpaired(op.run, op.key_hash, _SCOPES_ALLOWING[op.permission]))
        for index, op in enumerate(ops)
        if op.pair_latest
        and op.run.date_completed is not None
        and (op.run.name, op.run.hostname) not in starting
        and op.permission in _SCOPES_ALLOWING
    ]


_SCOPES_ALLOWING: dict[str, tuple[str, ...]] = {
    permission: tuple(sorted(s for s, granted in PERMISSIONS.items() if permission in granted))
    for permission in set().union(*PERMISSIONS.values())
}


def _refusal(op: WriteOp, keys: dict[str, KeyFacts]) -> ApiError | None:
    if op.key_hash is None:
        return None
    found = keys.get(op.key_hash)
    if found is None:
        return unauthorized("unknown ping key; create one with `cronwatch key create --scope ping`")
    scope, revoked, names = found
    if revoked is not None:
        return unauthorized("this key has been revoked")
    if op.permission not in PERMISSIONS.get(scope, frozenset()):  # type: ignore[call-overload]
        return forbidden(f"a {scope} key cannot record runs; use a ping or write key")
    if names is not None and not names_allow(names, op.run.name):
        return forbidden(names_refusal(names, op.run.name))
    return None
