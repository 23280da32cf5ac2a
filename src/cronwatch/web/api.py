"""The REST API, ``/api/v1``, as described by ``/openapi.json`` (:mod:`cronwatch.web.openapi`).

Every endpoint takes ``Authorization: Bearer <key>``: ``read`` (or ``write``) to read,
``write`` to change jobs, ``ping`` (or ``write``) to record runs. Errors are JSON
(``{"error", "message"}``); a refused request writes nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cronwatch.alerts.ack import acknowledge, job_history
from cronwatch.errors import CronwatchError
from cronwatch.jobs import DEFAULT_PAGE, MAX_PAGE
from cronwatch.model import OUTCOMES, RUN_JSON_FIELDS, Outcome, Run
from cronwatch.monitor import make_run
from cronwatch.names import MAX_HOST_LENGTH, MAX_NAME_LENGTH, validate_name
from cronwatch.storage.keys import names_refusal
from cronwatch.timeutil import parse_instant
from cronwatch.web.errors import ApiError, bad_request, forbidden
from cronwatch.web.ingest import Stored, WriteOp
from cronwatch.web.state import ServerState

_RUN_FIELDS = frozenset(RUN_JSON_FIELDS)


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.cronwatch
    return state


def _name(request: Request) -> str:
    return str(request.path_params["name"])


async def list_jobs(request: Request) -> Response:
    """Every job by name; with ``limit`` or ``cursor``, one page of them and ``next``."""
    state = _state(request)
    await state.authorize(request, "read")
    paging = _paging(request)
    if paging is None:
        return JSONResponse({"jobs": await run_in_threadpool(state.jobs.jobs), "next": None})
    limit, cursor = paging
    return JSONResponse(
        await run_in_threadpool(lambda: state.jobs.jobs_page(limit=limit, cursor=cursor))
    )


def _paging(request: Request) -> tuple[int, str | None] | None:
    """``(limit, cursor)`` of a paged listing, or ``None`` when the request asks for neither
    (the whole list, as before paging existed)."""
    query = request.query_params
    if "limit" not in query and "cursor" not in query:
        return None
    limit = _int_param(query.get("limit"), "limit", DEFAULT_PAGE, 1, MAX_PAGE)
    cursor = query.get("cursor")
    if cursor is not None and len(cursor) > 400:
        raise bad_request("cursor: not a cursor from a previous page")
    return limit, cursor


async def create_job(request: Request) -> Response:
    state = _state(request)
    await state.authorize(request, "write")
    body = await state.read_json(request)
    if "name" not in body:
        raise bad_request("name: required")
    fields = {k: v for k, v in body.items() if k != "name"}
    job = await run_in_threadpool(state.jobs.create, body["name"], fields)
    return JSONResponse(job, status_code=201)


async def get_job(request: Request) -> Response:
    state = _state(request)
    await state.authorize(request, "read")
    return JSONResponse(await run_in_threadpool(state.jobs.get, _name(request)))


# The changes below are actions (cronwatch.actions): each one an event with the key's name.


async def update_job(request: Request) -> Response:
    state = _state(request)
    key = await state.authorize(request, "write")
    patch = await state.read_json(request)
    name = _name(request)

    def change() -> dict[str, Any]:
        state.actions.edit(name, patch, key.name or key.id)
        return state.jobs.get(name)

    return JSONResponse(await run_in_threadpool(change))


async def delete_job(request: Request) -> Response:
    state = _state(request)
    key = await state.authorize(request, "write")
    await run_in_threadpool(state.actions.delete, _name(request), key.name or key.id)
    return Response(status_code=204)


async def pause_job(request: Request) -> Response:
    return await _pause(request, True)


async def unpause_job(request: Request) -> Response:
    return await _pause(request, False)


async def _pause(request: Request, paused: bool) -> Response:
    state = _state(request)
    key = await state.authorize(request, "write")
    name = _name(request)

    def change() -> dict[str, Any]:
        act = state.actions.pause if paused else state.actions.resume
        act(name, key.name or key.id)
        return state.jobs.get(name)

    return JSONResponse(await run_in_threadpool(change))


async def regenerate_uuid(request: Request) -> Response:
    """A new random ping UUID for the job; the old one stops working at once."""
    state = _state(request)
    await state.authorize(request, "write")
    return JSONResponse(await run_in_threadpool(state.jobs.regenerate_uuid, _name(request)))


async def ack_job(request: Request) -> Response:
    """Acknowledge the job's open incident (``{"note": "..."}`` optional): the ``ack`` event,
    with who (the key's name, else its id) and the note."""
    state = _state(request)
    key = await state.authorize(request, "write")
    body = await state.read_json(request, optional=True)
    unknown = sorted(set(body) - {"note"})
    if unknown:
        raise bad_request(f"unknown field {unknown[0][:60]!r} (allowed: note)")
    note = body.get("note")
    if note is not None and not isinstance(note, str):
        raise bad_request("note: expected a string or null")
    by = key.name or key.id
    event = await run_in_threadpool(acknowledge, state.db, _name(request), by, note)
    return JSONResponse(event.history_json())


async def job_events(request: Request) -> Response:
    """The job's alert history, newest first: status changes, notifications, acks."""
    state = _state(request)
    await state.authorize(request, "read")
    limit = _int_param(request.query_params.get("limit"), "limit", DEFAULT_PAGE, 1, MAX_PAGE)
    name = _name(request)
    events = await run_in_threadpool(lambda: job_history(state.db, name, limit=limit))
    return JSONResponse({"events": [event.history_json() for event in events]})


async def job_runs(request: Request) -> Response:
    state = _state(request)
    await state.authorize(request, "read")
    query = request.query_params
    limit = _int_param(query.get("limit"), "limit", DEFAULT_PAGE, 1, MAX_PAGE)
    host = query.get("host")
    if host is not None:
        host = _checked(host, "host", MAX_HOST_LENGTH)
    outcome = query.get("outcome")
    if outcome is not None and outcome not in OUTCOMES:
        raise bad_request(f"outcome: must be one of {', '.join(OUTCOMES)}")
    page = await run_in_threadpool(
        lambda: state.jobs.runs(
            _name(request), limit=limit, before=query.get("before"), host=host, outcome=outcome
        )
    )
    return JSONResponse(page)


async def status(request: Request) -> Response:
    """Every job's status, worst first; with ``limit`` or ``cursor``, one page of them by name
    (only that page's jobs are evaluated) and ``next``."""
    state = _state(request)
    await state.authorize(request, "read")
    tags = [_checked(t, "tag", MAX_NAME_LENGTH) for t in request.query_params.getlist("tag")]
    hosts = [_checked(h, "host", MAX_HOST_LENGTH) for h in request.query_params.getlist("host")]
    paging = _paging(request)
    if paging is None:
        jobs = await run_in_threadpool(lambda: state.jobs.statuses(tags=tags, hosts=hosts))
        return JSONResponse({"jobs": jobs, "next": None})
    limit, cursor = paging
    page = await run_in_threadpool(
        lambda: state.jobs.statuses_page(limit=limit, cursor=cursor, tags=tags, hosts=hosts)
    )
    return JSONResponse(page)


async def record_run(request: Request) -> Response:
    """Store one run given whole (what ``cronwatch run`` with ``$CRONWATCH_URL`` sends):
    201 when stored now, 200 when the server already had it (a replay)."""
    state = _state(request)
    key = await state.authorize(request, "ping")
    body = await state.read_json(request)
    run = _run_from_json(body, state.settings.future_tolerance)
    if key.names is not None and not key.allows_name(run.name):
        raise forbidden(names_refusal(key.names, run.name))
    op = WriteOp(run)
    result = await state.writer.submit(op)
    if isinstance(result, ApiError):
        raise result
    assert isinstance(result, Stored)
    return JSONResponse({"stored": result.new}, status_code=201 if result.new else 200)


def _run_from_json(body: dict[str, Any], future_tolerance: timedelta) -> Run:
    unknown = sorted(set(body) - _RUN_FIELDS)
    if unknown:
        raise bad_request(f"unknown field {unknown[0][:60]!r} in the run")
    for field in ("name", "hostname", "run_id", "outcome", "date_started"):
        if not isinstance(body.get(field), str):
            raise bad_request(f"{field}: required, a string")
    for field in ("date_completed", "output"):
        if body.get(field) is not None and not isinstance(body[field], str):
            raise bad_request(f"{field}: expected a string or null")
    exit_code = body.get("exit_code")
    if exit_code is not None and (isinstance(exit_code, bool) or not isinstance(exit_code, int)):
        raise bad_request("exit_code: expected an integer or null")
    duration = body.get("duration_seconds")
    if duration is not None and (
        isinstance(duration, bool) or not isinstance(duration, int | float)
    ):
        raise bad_request("duration_seconds: expected a number or null (it is ignored)")
    if body["outcome"] not in OUTCOMES:
        raise bad_request(f"outcome: must be one of {', '.join(OUTCOMES)}")
    outcome: Outcome = body["outcome"]
    completed = body.get("date_completed")
    try:
        return make_run(
            body["name"],
            parse_instant(body["date_started"], "date_started"),
            parse_instant(completed, "date_completed") if completed is not None else None,
            outcome=outcome,
            exit_code=exit_code,
            hostname=body["hostname"],
            run_id=body["run_id"],
            output=body.get("output"),
            future_tolerance=future_tolerance,
            clock="the server's",
        )
    except CronwatchError as exc:
        raise bad_request(str(exc)) from None


def _int_param(text: str | None, field: str, default: int, low: int, high: int) -> int:
    if text is None:
        return default
    if not text.isascii() or not text.lstrip("-").isdigit() or len(text) > 12:
        raise bad_request(f"{field}: expected an integer, not {text[:20]!r}")
    value = int(text)
    if not low <= value <= high:
        raise bad_request(f"{field}: must be between {low} and {high}, not {value}")
    return value


def _checked(value: str, field: str, max_length: int) -> str:
    try:
        return validate_name(value, field, max_length=max_length)
    except CronwatchError as exc:
        raise bad_request(str(exc)) from None


def _by_method(**handlers: Any) -> Any:
    """One endpoint for several methods of a path, so that a 405 lists all of them."""

    async def endpoint(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        response: Response = await handlers[method](request)
        return response

    return endpoint


routes = [
    Route("/api/v1/jobs", _by_method(GET=list_jobs, POST=create_job), methods=["GET", "POST"]),
    Route(
        "/api/v1/jobs/{name}",
        _by_method(GET=get_job, PATCH=update_job, DELETE=delete_job),
        methods=["GET", "PATCH", "DELETE"],
    ),
    Route("/api/v1/jobs/{name}/pause", pause_job, methods=["POST"]),
    Route("/api/v1/jobs/{name}/unpause", unpause_job, methods=["POST"]),
    Route("/api/v1/jobs/{name}/runs", job_runs, methods=["GET"]),
    Route("/api/v1/jobs/{name}/uuid", regenerate_uuid, methods=["POST"]),
    Route("/api/v1/jobs/{name}/ack", ack_job, methods=["POST"]),
    Route("/api/v1/jobs/{name}/events", job_events, methods=["GET"]),
    Route("/api/v1/runs", record_run, methods=["POST"]),
    Route("/api/v1/status", status, methods=["GET"]),
]
