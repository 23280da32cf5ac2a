"""What one server process holds: its settings, its database connections, the writer.

Nothing here has to be shared between processes: every fact lives in the database, so several
``cronwatch serve`` processes can run side by side on one PostgreSQL. The only per-process
state is the rate limiter's buckets (see :mod:`cronwatch.web.ratelimit`).

Connections per process: the writer threads' (pings and recorded runs, group-committed,
:mod:`cronwatch.web.ingest`; one on SQLite, two on PostgreSQL) and one for everything else (API
reads and job changes, metrics), used from Starlette's thread pool so that the event loop never
waits on the database.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from cronwatch.specs import Config
from cronwatch.specs.alerting import LOOP_DATABASE_TIMEOUT
from cronwatch.specs.limits import DEFAULT_MAX_JOBS

if TYPE_CHECKING:
    from cronwatch.alerts.loop import AlertLoop
from cronwatch.actions import JobActions
from cronwatch.jobs import JobsService
from cronwatch.statsd import StatsdClient
from cronwatch.storage.connection import DEFAULT_CONNECT_TIMEOUT, Database, open_database
from cronwatch.storage.jobs import JobStore
from cronwatch.storage.keys import ApiKey, KeyStore, hash_token, is_well_formed
from cronwatch.storage.serverlock import holding_server_lock
from cronwatch.timeutil import FUTURE_TOLERANCE, utcnow
from cronwatch.web.connections import ConnectionLimits
from cronwatch.web.errors import bad_request, forbidden, rate_limited, too_large, unauthorized
from cronwatch.web.ingest import Writer
from cronwatch.web.outage import DatabaseHealth
from cronwatch.web.ratelimit import RateLimiter

log = logging.getLogger("cronwatch.web.state")

#: Request bodies (ping output, API JSON) larger than this are refused with 413.
DEFAULT_MAX_BODY = 100_000
#: Requests per second per key, per process, sustained; bursts of twice that pass.
DEFAULT_RATE_LIMIT = 1000.0
#: The server's database deadline (``serve --database-timeout``).
DEFAULT_DATABASE_TIMEOUT = 5.0
#: JSON bodies nested deeper than this are refused with 400 (a job's fields need 2 levels).
MAX_JSON_DEPTH = 32


@dataclass(frozen=True)
class ServerSettings:
    """How ``cronwatch serve`` was configured.

    ``rate_limit`` 0 turns the per-key limit off; ``rate_burst`` defaults to twice the rate.
    ``max_pending`` bounds the writes waiting for the database (beyond it: 503, retry).
    """

    database_url: str
    config: Config | None = None
    max_body: int = DEFAULT_MAX_BODY
    rate_limit: float = DEFAULT_RATE_LIMIT
    rate_burst: float | None = None
    statsd: StatsdClient | None = None
    max_pending: int = 10_000
    #: Run the alert loop in this process (``cronwatch serve`` does by default). Several
    #: processes may: they coordinate through the database and deliver each event once.
    alerts: bool = False
    #: The dashboard's pages (``/``, ``/jobs/...``) can be read without a key. ``cronwatch
    #: serve`` keeps this only when it listens on a loopback address; otherwise the dashboard
    #: asks for a read (or write) key (:mod:`cronwatch.web.dashboard.access`).
    open_dashboard: bool = True
    #: Head size, head and body timeouts, open connections (:mod:`cronwatch.web.connections`).
    limits: ConnectionLimits = field(default_factory=ConnectionLimits)
    #: Honour ``X-Forwarded-Proto``/``-For``/``-Host`` from the addresses of
    #: ``forwarded_allow_ips`` (:mod:`cronwatch.web.forwarded`).
    proxy_headers: bool = False
    forwarded_allow_ips: str = "127.0.0.1"
    #: Seconds to connect to the database, and for a statement (or a write's transaction) to
    #: be answered, before the request gets 503 (a database gone silent); SQLite: how long a
    #: write waits for another's lock. ``None``: the library's (no statement deadline).
    database_timeout: float | None = DEFAULT_DATABASE_TIMEOUT
    #: The alert loop's statement deadline (seconds; ``serve --alerts-database-timeout``):
    #: its own connection's, generous. ``None``: none.
    alerts_database_timeout: float | None = LOOP_DATABASE_TIMEOUT
    #: A ping or API call that would create a job beyond this many gets 403 (``[limits]``);
    #: ``None``: no limit.
    max_jobs: int | None = DEFAULT_MAX_JOBS
    #: Runs dated further ahead of this server's clock are refused with 400 (``[limits]``).
    future_tolerance: timedelta = FUTURE_TOLERANCE


class ServerState:
    """The server's resources, opened by :meth:`startup` and released by :meth:`shutdown`."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.config = settings.config
        self.limiter = RateLimiter(settings.rate_limit, settings.rate_burst)
        self.health = DatabaseHealth()
        self.writer = Writer(
            settings.database_url,
            statsd=settings.statsd,
            max_pending=settings.max_pending,
            health=self.health,
            timeout=settings.database_timeout,
            max_jobs=settings.max_jobs,
        )
        self._db: Database | None = None
        self.alert_loop: AlertLoop | None = None
        self._held = contextlib.ExitStack()  # the server lock, while the server runs

    @property
    def db(self) -> Database:
        if self._db is None:
            raise RuntimeError("the server has not started")
        return self._db

    @property
    def jobs(self) -> JobsService:
        return JobsService(self.db, self.config, max_jobs=self.settings.max_jobs)

    @property
    def actions(self) -> JobActions:
        """People's actions on jobs, each recorded with who (:mod:`cronwatch.actions`)."""
        return JobActions(self.db, self.config)

    @property
    def keys(self) -> KeyStore:
        return KeyStore(self.db)

    async def startup(self) -> None:
        """Take the server lock (``cronwatch restore`` refuses while it is held), migrate and
        open the database, say if its settings risk acknowledged runs, give declared jobs their
        rows, start the writer."""
        await run_in_threadpool(self._held.enter_context, holding_server_lock(self.writer.dialect))
        timeout = self.settings.database_timeout
        self._db = await run_in_threadpool(
            lambda: open_database(
                self.settings.database_url,
                connect_timeout=DEFAULT_CONNECT_TIMEOUT if timeout is None else timeout,
                statement_timeout=timeout,
            )
        )
        for problem in await run_in_threadpool(self._db.durability_problems):
            log.warning("%s", problem)
        if self.config is not None and self.config.jobs:
            store = JobStore(self._db)
            await run_in_threadpool(store.sync_declared, self.config.jobs.values(), utcnow())
        await self.writer.open()
        if self.settings.alerts:
            from cronwatch.alerts.loop import AlertLoop

            self.alert_loop = AlertLoop(
                self.settings.database_url,
                self.config,
                database_timeout=self.settings.alerts_database_timeout,
            )
            self.alert_loop.start()

    async def shutdown(self) -> None:
        """Finish the queued writes, then close (uvicorn calls this after the last request)."""
        if self.alert_loop is not None:
            await run_in_threadpool(self.alert_loop.stop)
            self.alert_loop = None
        await self.writer.aclose()
        if self._db is not None:
            self._db.close()
            self._db = None
        self._held.close()

    async def job_exists(self, name: str) -> bool:
        """Whether job ``name`` is stored (read off the event loop)."""
        record = await run_in_threadpool(JobStore(self.db).record, name)
        return record is not None

    async def authorize(self, request: Request, permission: str) -> ApiKey:
        """The key of ``Authorization: Bearer <key>`` if it grants ``permission``; otherwise
        401 (missing, unknown or revoked key), 403 (scope too narrow) or 429 (rate limit)."""
        header = request.headers.get("authorization")
        if not header:
            raise unauthorized("missing Authorization header; send `Authorization: Bearer <key>`")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise unauthorized("the Authorization header must be `Bearer <key>`")
        return await self.check_key(token, permission)

    async def check_key(self, token: str, permission: str) -> ApiKey:
        """The key whose secret is ``token`` if it grants ``permission``, wherever the token
        came from (a header, the dashboard's cookie); 401, 403 or 429 as :meth:`authorize`."""
        if not is_well_formed(token):
            raise unauthorized("unknown key")
        wait = self.limiter.acquire(hash_token(token))
        if wait:
            raise rate_limited(wait)
        key = await run_in_threadpool(self.keys.lookup, token)
        if key is None:
            raise unauthorized("unknown key")
        if not key.active:
            raise unauthorized("this key has been revoked")
        if not key.allows(permission):
            needed = "ping or write" if permission == "ping" else permission
            raise forbidden(f"a {key.scope} key cannot {_VERBS[permission]}; use a {needed} key")
        return key

    async def read_json(self, request: Request, *, optional: bool = False) -> dict[str, Any]:
        """The request's JSON object body: 413 beyond the body limit, 400 if it is not a JSON
        object (NaN/Infinity, unpaired surrogates and nesting deeper than
        :data:`MAX_JSON_DEPTH` are refused too, naming the field). ``optional``: an empty
        body is ``{}``."""
        limit = self.settings.max_body
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            raise too_large(limit)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise too_large(limit)
        if not body.strip():
            if optional:
                return {}
            raise bad_request("expected a JSON object in the request body")
        try:
            data = json.loads(bytes(body), parse_constant=_refuse_constant)
        except ValueError as exc:
            raise bad_request(f"the request body is not valid JSON: {exc}") from None
        except RecursionError:  # nested thousands deep: the parser's own limit
            raise bad_request(_too_deep(_deep_field(body.decode("utf-8", "replace")))) from None
        if not isinstance(data, dict):
            raise bad_request("the request body must be a JSON object")
        _check_values(data)
        return data


_VERBS = {"ping": "record runs", "read": "read the API", "write": "change anything"}


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _too_deep(field: str | None) -> str:
    where = f"{field}: " if field is not None else "the request body: "
    return f"{where}nested more than {MAX_JSON_DEPTH} levels deep"


def _check_values(data: dict[str, Any]) -> None:
    """Refuse unpaired surrogates (they cannot be stored as UTF-8) and nesting deeper than
    :data:`MAX_JSON_DEPTH`, naming the top-level field; iterative, so depth costs no stack."""
    stack: list[tuple[str, object, int]] = []
    for key, value in data.items():
        _check_text(key, key)
        stack.append((key, value, 2))
    while stack:
        field, value, depth = stack.pop()
        if isinstance(value, str):
            _check_text(value, field)
        elif isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise bad_request(_too_deep(field[:60]))
            if isinstance(value, dict):
                for key in value:
                    _check_text(key, field)
                value = list(value.values())
            stack.extend((field, item, depth + 1) for item in value)


def _check_text(value: str, field: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        name = field[:60].encode("utf-8", "backslashreplace").decode()
        raise bad_request(f"{name}: contains an unpaired surrogate (\\ud800-\\udfff)") from None


def _deep_field(text: str) -> str | None:
    """The top-level field of a JSON object in whose value the nesting first goes deeper than
    :data:`MAX_JSON_DEPTH` (raw, as written), or ``None``. For error messages only: a linear
    scan that keeps no stack."""
    depth = 0
    key = last = None
    in_string = escaped = False
    start = 0
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
                last = text[start:index]
        elif char == '"':
            in_string, start = True, index + 1
        elif char == ":" and depth == 1:
            key = last
        elif char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return key[:60] if key is not None else None
        elif char in "]}":
            depth -= 1
    return None
