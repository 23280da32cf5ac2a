"""The ASGI application of ``cronwatch serve``.

:func:`create_app` builds one app: a thin dispatcher sends ``/ping/...`` straight to the bare
ASGI ping handler (:mod:`cronwatch.web.ping`, no routing or middleware on the hot path), and
everything else to a Starlette app (REST API, metrics, OpenAPI, the dashboard). The server's
resources are opened by the ASGI lifespan startup and released at shutdown, after uvicorn has
finished the requests in flight, so queued pings are written before the process exits.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cronwatch.errors import (
    Conflict,
    CronwatchError,
    InvalidInput,
    LimitReached,
    NotFound,
    StorageUnavailable,
)
from cronwatch.healthchecks.fields import HcError
from cronwatch.web import api, dashboard, hcapi, pages
from cronwatch.web.errors import ApiError, error_body
from cronwatch.web.forwarded import ForwardedHeaders, TrustedProxies
from cronwatch.web.outage import MESSAGE
from cronwatch.web.ping import PingHandler, Receive, Scope, Send
from cronwatch.web.state import ServerSettings, ServerState

log = logging.getLogger("cronwatch.web")


class CronwatchApp:
    """The ASGI app: pings to :class:`PingHandler`, the rest to Starlette; with
    ``proxy_headers``, every request from an allowed proxy rewritten as it describes it."""

    def __init__(self, state: ServerState) -> None:
        settings = state.settings
        self.state = state
        self.ping = PingHandler(
            state.writer, state.limiter, max_body=settings.max_body, job_exists=state.job_exists
        )
        self.starlette = _starlette(state)
        self.forwarded = (
            ForwardedHeaders(TrustedProxies(settings.forwarded_allow_ips))
            if settings.proxy_headers
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.forwarded is not None and scope["type"] == "http":
            self.forwarded.apply(scope)
        if scope["type"] == "http" and scope["path"].startswith("/ping/"):
            await self.ping(scope, receive, send)
        else:
            await self.starlette(scope, receive, send)


def create_app(settings: ServerSettings) -> CronwatchApp:
    """The app for ``settings``; the database is opened when the ASGI server starts it."""
    return CronwatchApp(ServerState(settings))


def _starlette(state: ServerState) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await state.startup()
        try:
            yield
        finally:
            await state.shutdown()

    routes = [
        *dashboard.routes,  # "/", "/jobs/...", "/runs/...", "/login", "/logout", "/static"
        Route("/healthz", pages.healthz, methods=["GET"]),
        Route("/metrics", pages.metrics_endpoint, methods=["GET"]),
        Route("/openapi.json", pages.openapi, methods=["GET"]),
        *api.routes,
        *hcapi.routes,  # Healthchecks' API v3 and badges
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            HcError: hcapi.hc_error,
            ApiError: _api_error,
            HTTPException: _http_error,
            CronwatchError: _cronwatch_error,
            Exception: _internal_error,
        },
    )
    app.state.cronwatch = state
    return app


def _json(status: int, body: bytes, headers: Mapping[str, str] | None = None) -> Response:
    return Response(body, status_code=status, headers=headers, media_type="application/json")


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return _json(exc.status, exc.body(), exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"no such endpoint: {request.url.path[:200]}; see /openapi.json"
        return _json(404, error_body("not_found", message))
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        message = f"method {request.method} not allowed here; use {allowed}"
        return _json(405, error_body("method_not_allowed", message), dict(exc.headers or {}))
    return _json(exc.status_code, error_body("http_error", str(exc.detail)), exc.headers)


async def _cronwatch_error(request: Request, exc: Exception) -> Response:
    """The library's errors as HTTP answers, for every route: 400 invalid, 404 not found, 409
    conflict, 503 when the database is away (with Retry-After)."""
    if isinstance(exc, InvalidInput):
        return _json(400, error_body("invalid", str(exc)))
    if isinstance(exc, NotFound):
        return _json(404, error_body("not_found", str(exc)))
    if isinstance(exc, Conflict):
        return _json(409, error_body("conflict", str(exc)))
    if isinstance(exc, LimitReached):
        return _json(403, error_body("forbidden", str(exc)))
    if isinstance(exc, StorageUnavailable):
        # The details (user, host, database) go to the log, once per outage; not to clients.
        state: ServerState = request.app.state.cronwatch
        state.health.failed(exc)
        return _json(503, error_body("unavailable", MESSAGE), {"Retry-After": "5"})
    return _json(400, error_body("invalid", str(exc)))


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return _json(500, error_body("internal", "internal error; see the server log"))
