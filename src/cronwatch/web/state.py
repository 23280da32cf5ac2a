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

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from cronwatch.config import Config

if TYPE_CHECKING:
    from cronwatch.alerts.loop import AlertLoop
from cronwatch.statsd import StatsdClient
from cronwatch.storage.connection import Database, open_database
from cronwatch.storage.jobs import JobStore
from cronwatch.storage.keys import ApiKey, KeyStore, hash_token, is_well_formed
from cronwatch.timeutil import utcnow
from cronwatch.web.errors import bad_request, forbidden, rate_limited, too_large, unauthorized
from cronwatch.web.ingest import Writer
from cronwatch.web.jobs import JobsService
from cronwatch.web.ratelimit import RateLimiter

#: Request bodies (ping output, API JSON) larger than this are refused with 413.
DEFAULT_MAX_BODY = 100_000
#: Requests per second per key, per process, sustained; bursts of twice that pass.
DEFAULT_RATE_LIMIT = 1000.0


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


class ServerState:
    """The server's resources, opened by :meth:`startup` and released by :meth:`shutdown`."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.config = settings.config
        self.limiter = RateLimiter(settings.rate_limit, settings.rate_burst)
        self.writer = Writer(settings.database_url, statsd=settings.statsd,
                             max_pending=settings.max_pending)  # fmt: skip
        self._db: Database | None = None
        self.alert_loop: AlertLoop | None = None

    @property
    def db(self) -> Database:
        if self._db is None:
            raise RuntimeError("the server has not started")
        return self._db

    @property
    def jobs(self) -> JobsService:
        return JobsService(self.db, self.config)

    @property
    def keys(self) -> KeyStore:
        return KeyStore(self.db)

    async def startup(self) -> None:
        """Migrate and open the database, give declared jobs their rows, start the writer."""
        self._db = await run_in_threadpool(open_database, self.settings.database_url)
        if self.config is not None and self.config.jobs:
            store = JobStore(self._db)
            await run_in_threadpool(store.sync_declared, self.config.jobs.values(), utcnow())
        await self.writer.open()
        if self.settings.alerts:
            from cronwatch.alerts.loop import AlertLoop

            self.alert_loop = AlertLoop(self.settings.database_url, self.config)
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

    async def read_json(self, request: Request) -> dict[str, Any]:
        """The request's JSON object body: 413 beyond the body limit, 400 if it is not a JSON
        object (NaN/Infinity and unpaired surrogates are refused too: they cannot be stored)."""
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
            raise bad_request("expected a JSON object in the request body")
        try:
            data = json.loads(bytes(body), parse_constant=_refuse_constant)
        except ValueError as exc:
            raise bad_request(f"the request body is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise bad_request("the request body must be a JSON object")
        _check_text(data)
        return data


_VERBS = {"ping": "record runs", "read": "read the API", "write": "change anything"}


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _check_text(value: object) -> None:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise bad_request(
                "the request body contains an unpaired surrogate (\\ud800-\\udfff)"
            ) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_text(item)
    elif isinstance(value, list):
        for item in value:
            _check_text(item)
