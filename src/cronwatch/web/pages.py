"""The few endpoints that are neither the API nor the dashboard: ``/healthz`` for load
balancers, ``/metrics`` and ``/openapi.json``.

They need no key, as is usual for a Prometheus target and a load balancer probe: they show job
names and statuses, never output or keys. Bind the server to a private address (the default is
127.0.0.1) or put it behind a proxy if job names are sensitive.
"""

from __future__ import annotations

import json
from datetime import timedelta

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from cronwatch.errors import CronwatchError
from cronwatch.names import MAX_NAME_LENGTH, validate_name
from cronwatch.web import metrics
from cronwatch.web.errors import bad_request, error_body
from cronwatch.web.openapi import document
from cronwatch.web.outage import MESSAGE
from cronwatch.web.state import ServerState

_OPENAPI = json.dumps(document()).encode()


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.cronwatch
    return state


async def healthz(request: Request) -> Response:
    """200 when the server serves and its database answers, 503 (``Retry-After``) otherwise.

    "Answers" means reads and, after any outage (a write refused for a full disk, say), writes:
    while the server has seen the database fail, each call probes with a write that changes
    nothing, and stays 503 until one succeeds. The 503 says only "database unavailable"; the
    details are in the server's log (:mod:`cronwatch.web.outage`).

    The body also shows the alert loops' heartbeat (``alerting.alive``, ``last_heartbeat``,
    pending and failed deliveries). A dead alert loop does not make this 503: the server still
    takes pings, and a load balancer must not pull it for that; alert on
    ``cronwatch_alert_loop_up == 0`` in ``/metrics`` instead.
    """
    state = _state(request)
    try:
        alerting = await run_in_threadpool(_alerting_health, state)
    except Exception as exc:
        state.health.failed(exc)
        return Response(
            error_body("unavailable", MESSAGE),
            503,
            media_type="application/json",
            headers={"Retry-After": "5"},
        )
    return JSONResponse({"status": "ok", "alerting": alerting})


def _alerting_health(state: ServerState) -> dict[str, object]:
    from cronwatch.alerts.health import alerting_health

    state.db.ping()  # (and a new connection if the last one was lost)
    if state.health.down:
        state.db.probe_write()  # raises while the outage lasts
        state.health.recovered()
    health = alerting_health(state.db, stale_after=_outage_after(state))
    return health.to_json()


def _outage_after(state: ServerState) -> timedelta:
    from cronwatch.specs import AlertSettings

    settings = state.config.alerts if state.config is not None else AlertSettings()
    return settings.outage_after


async def metrics_endpoint(request: Request) -> Response:
    """The exposition (:mod:`cronwatch.web.metrics`), streamed; ``?tag=`` (repeatable) keeps
    jobs with any of those tags, 400 for a value that cannot be a tag."""
    state = _state(request)
    tags = [_tag(value) for value in request.query_params.getlist("tag")]
    out = await run_in_threadpool(metrics.exposition, state.db, state.config, tags or None)
    return StreamingResponse(out.chunks(), media_type=metrics.CONTENT_TYPE)


def _tag(value: str) -> str:
    try:
        return validate_name(value, "tag", max_length=MAX_NAME_LENGTH)
    except CronwatchError as exc:
        raise bad_request(f"/metrics?tag=: {exc}") from None


async def openapi(request: Request) -> Response:
    return Response(_OPENAPI, media_type="application/json")
