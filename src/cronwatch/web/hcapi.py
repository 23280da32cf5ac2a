"""Healthchecks' API v3 (``/api/v3/...``) and its badges, over :mod:`cronwatch.healthchecks.checks`.

The same endpoints answer under ``/api/v1/`` and ``/api/v2/`` (Healthchecks serves all three;
the ``healthchecks-io`` client uses v1 unless told otherwise): v1 says ``started`` as a status.

Keys: ``X-Api-Key: <key>`` (or ``"api_key"`` in a POST's JSON body), a cronwatch ``write`` key
for every endpoint, a ``read`` key for the reading ones Healthchecks lets its read-only keys
use (list and get checks, flips), where checks show ``unique_key`` instead of their UUID and
URLs. A missing key is ``401 {"error": "missing api key"}``, any other refusal (unknown,
revoked, too narrow) ``401 {"error": "wrong api key"}``, as Healthchecks answers.

Badges: ``/badge/<badge_key>/<tag or *>[-2|-3].svg|.json|.shields``, where the badge key is a
cronwatch key of scope ``badge`` (it shows the badges and nothing else; ``-2``: up or down
only, ``-3`` or nothing: late too), and ``/b/<2|3>/<badge id>.svg|.json|.shields`` for one
check (the check's ``badge_url``).
"""

from __future__ import annotations

import json
import re
from typing import Any
from xml.sax.saxutils import escape

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cronwatch.healthchecks.checks import ChecksApi, badge_id
from cronwatch.healthchecks.fields import HcError
from cronwatch.names import UUID_PATTERN
from cronwatch.storage.keys import hash_token, is_well_formed
from cronwatch.web.state import ServerState

_UNIQUE_KEY = re.compile(r"[0-9a-f]{40}")
_BADGE = re.compile(r"(?P<tag>.+?)(?:-(?P<states>[23]))?\.(?P<fmt>svg|json|shields)")
_CORS = {"Access-Control-Allow-Origin": "*"}


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.cronwatch
    return state


def _api(request: Request) -> ChecksApi:
    state = _state(request)
    path = request.url.path
    version = int(path[len("/api/v")]) if path.startswith("/api/v") else 3  # /api/v<N>/...
    return ChecksApi(
        state.db, state.config, str(request.base_url), version, max_jobs=state.settings.max_jobs
    )


async def _authorize(request: Request, *, write: bool, body: dict[str, Any] | None = None) -> bool:
    """Whether the request's key is a read-only one; :class:`HcError` 401 as Healthchecks."""
    token = request.headers.get("x-api-key")
    if token is None and body is not None and "api_key" in body:
        token = str(body["api_key"])
    if not token:
        raise HcError(401, "missing api key")
    state = _state(request)
    if not is_well_formed(token):
        raise HcError(401, "wrong api key")
    if state.limiter.acquire(hash_token(token)):
        raise HcError(429, "rate limited")
    key = await run_in_threadpool(state.keys.lookup, token)
    if key is None or not key.active or not key.allows("write" if write else "read"):
        raise HcError(401, "wrong api key")
    return key.scope != "write"


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise HcError(400, "could not parse request body") from None
    if not isinstance(data, dict):
        raise HcError(400, "json validation error: value is not an object")
    return data


def _code(request: Request) -> str:
    code = str(request.path_params["code"])
    if not UUID_PATTERN.fullmatch(code):
        raise HcError(404, "not found")
    return code


async def checks(request: Request) -> Response:
    if request.method == "POST":
        body = await _body(request)
        await _authorize(request, write=True, body=body)
        api = _api(request)
        check, created = await run_in_threadpool(api.create, body)
        return JSONResponse(check, status_code=201 if created else 200, headers=_CORS)
    readonly = await _authorize(request, write=False)
    api = _api(request)
    tags = request.query_params.getlist("tag")
    slug = request.query_params.get("slug")
    found = await run_in_threadpool(
        lambda: api.list_checks(tags=tags, slug=slug, readonly=readonly)
    )
    return JSONResponse({"checks": found}, headers=_CORS)


async def single(request: Request) -> Response:
    code = str(request.path_params["code"])
    api = _api(request)
    if request.method == "GET":
        readonly = await _authorize(request, write=False)
        if _UNIQUE_KEY.fullmatch(code):
            return JSONResponse(await run_in_threadpool(api.get_by_unique_key, code))
        check = await run_in_threadpool(lambda: api.get(_code(request), readonly=readonly))
        return JSONResponse(check, headers=_CORS)
    body = await _body(request) if request.method == "POST" else {}
    await _authorize(request, write=True, body=body)
    if request.method == "POST":
        return JSONResponse(await run_in_threadpool(api.update, _code(request), body))
    return JSONResponse(await run_in_threadpool(api.delete, _code(request)), headers=_CORS)


async def pause(request: Request) -> Response:
    await _authorize(request, write=True, body=await _body(request))
    return JSONResponse(await run_in_threadpool(_api(request).pause, _code(request)))


async def resume(request: Request) -> Response:
    await _authorize(request, write=True, body=await _body(request))
    try:
        answer = await run_in_threadpool(_api(request).resume, _code(request))
    except HcError as exc:
        if exc.status == 409:  # Healthchecks answers this one in plain text
            return Response(exc.message, status_code=409, media_type="text/html")
        raise
    return JSONResponse(answer)


async def pings(request: Request) -> Response:
    await _authorize(request, write=True)
    found = await run_in_threadpool(_api(request).pings, _code(request))
    return JSONResponse({"pings": found}, headers=_CORS)


async def ping_body(request: Request) -> Response:
    await _authorize(request, write=True)
    n = int(request.path_params["n"])
    body = await run_in_threadpool(_api(request).ping_body, _code(request), n)
    return Response(body, media_type="text/plain")


async def flips(request: Request) -> Response:
    await _authorize(request, write=False)
    api = _api(request)
    code = str(request.path_params["code"])
    if _UNIQUE_KEY.fullmatch(code):
        code = await run_in_threadpool(api.uuid_of_unique_key, code)
    else:
        code = _code(request)
    query = dict(request.query_params)
    found = await run_in_threadpool(api.flips, code, query)
    return JSONResponse({"flips": found}, headers=_CORS)


async def channels(request: Request) -> Response:
    await _authorize(request, write=True)
    return JSONResponse({"channels": _api(request).channels()}, headers=_CORS)


async def status(request: Request) -> Response:
    """``OK`` once the database answered (Healthchecks' ``/api/v3/status/``)."""
    state = _state(request)
    await run_in_threadpool(state.db.schema_revision)
    return Response("OK", media_type="text/html")


async def badge(request: Request) -> Response:
    """The badge of a tag (``*``: every check) for a ``badge`` key."""
    token = str(request.path_params["badge_key"])
    found = _BADGE.fullmatch(str(request.path_params["rest"]))
    state = _state(request)
    if found is None or not is_well_formed(token):
        raise HcError(404, "not found")
    key = await run_in_threadpool(state.keys.lookup, token)
    if key is None or not key.active or not key.allows("badge"):
        raise HcError(404, "not found")
    tag, fmt = found["tag"], found["fmt"]
    status, total, grace, down = await run_in_threadpool(_api(request).badge, tag)
    if found["states"] == "2" and status == "late":
        status = "up"
    label = "cronwatch" if tag == "*" else tag
    return _badge_response(fmt, label, status, total, grace, down)


async def check_badge(request: Request) -> Response:
    """The badge of one check, by its badge id (public, like Healthchecks' ``/b/...``)."""
    states, rest = str(request.path_params["states"]), str(request.path_params["rest"])
    ident, _, fmt = rest.rpartition(".")
    if states not in ("2", "3") or fmt not in ("svg", "json", "shields"):
        raise HcError(404, "not found")
    api = _api(request)
    found = await run_in_threadpool(
        lambda: [c for c in api.list_checks() if badge_id(c["uuid"]) == ident]
    )
    if not found:
        raise HcError(404, "not found")
    word = found[0]["status"]
    status = "down" if word == "down" else "late" if word == "grace" and states == "3" else "up"
    grace, down = int(word == "grace"), int(word == "down")
    return _badge_response(fmt, found[0]["name"], status, 1, grace, down)


_COLORS = {"up": "#4c1", "late": "#fe7d37", "down": "#e05d44"}
_SHIELDS = {"up": "success", "late": "important", "down": "critical"}


def _badge_response(
    fmt: str, label: str, status: str, total: int, grace: int, down: int
) -> Response:
    headers = {**_CORS, "Cache-Control": "no-cache"}
    if fmt == "json":
        body = {"status": status, "total": total, "grace": grace, "down": down}
        return JSONResponse(body, headers=headers)
    if fmt == "shields":
        shields = {"schemaVersion": 1, "label": label, "message": status,
                   "color": _SHIELDS[status]}  # fmt: skip
        return JSONResponse(shields, headers=headers)
    return Response(_svg(label, status), media_type="image/svg+xml", headers=headers)


def _svg(label: str, status: str) -> str:
    """A flat two-part badge (label, status), sized by a rough 7 px per character."""
    w1, w2 = 7 * len(label) + 10, 7 * len(status) + 10
    text, word = escape(label), escape(status)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w1 + w2}" height="20" role="img"'
        f' aria-label="{text}: {word}"><rect width="{w1}" height="20" fill="#555"/>'
        f'<rect x="{w1}" width="{w2}" height="20" fill="{_COLORS[status]}"/>'
        f'<g fill="#fff" text-anchor="middle" font-family="Verdana,sans-serif" font-size="11">'
        f'<text x="{w1 / 2}" y="14">{text}</text><text x="{w1 + w2 / 2}" y="14">{word}</text>'
        "</g></svg>"
    )


async def hc_error(request: Request, exc: Exception) -> Response:
    """:class:`HcError` as Healthchecks answers: ``{"error": message}``."""
    assert isinstance(exc, HcError)
    return JSONResponse({"error": exc.message}, status_code=exc.status, headers=_CORS)


def _versioned(version: int) -> list[Route]:
    base = f"/api/v{version}"
    return [
        Route(f"{base}/checks/", checks, methods=["GET", "POST"]),
        Route(base + "/checks/{code}", single, methods=["GET", "POST", "DELETE"]),
        Route(base + "/checks/{code}/pause", pause, methods=["POST"]),
        Route(base + "/checks/{code}/resume", resume, methods=["POST"]),
        Route(base + "/checks/{code}/pings/", pings, methods=["GET"]),
        Route(base + "/checks/{code}/pings/{n:int}/body", ping_body, methods=["GET"]),
        Route(base + "/checks/{code}/flips/", flips, methods=["GET"]),
        Route(f"{base}/channels/", channels, methods=["GET"]),
        Route(f"{base}/status/", status, methods=["GET"]),
    ]


routes = [
    *_versioned(3),
    *_versioned(2),
    *_versioned(1),
    Route("/badge/{badge_key}/{rest}", badge, methods=["GET"]),
    Route("/b/{states}/{rest}", check_badge, methods=["GET"]),
]
