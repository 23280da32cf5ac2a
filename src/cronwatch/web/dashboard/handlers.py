"""The dashboard's endpoints: read access, parameters, then the page built and rendered in the
thread pool (the database and Jinja2 are synchronous; the event loop keeps serving pings).

Every endpoint answers HTML, errors included: 400 for a bad parameter, 404 for an unknown job
or run, 503 (with ``Retry-After``) while the database cannot be reached.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from cronwatch.alerts.ack import acknowledge
from cronwatch.errors import Conflict, CronwatchError, NotFound, StorageUnavailable
from cronwatch.storage import dashboard as queries
from cronwatch.timeutil import utcnow
from cronwatch.web.dashboard import access
from cronwatch.web.dashboard.acting import load_actions_view
from cronwatch.web.dashboard.jobpage import BadCursor, load_job, parse_cursor
from cronwatch.web.dashboard.overview import BadFilter, Filters, load_overview
from cronwatch.web.dashboard.render import render_page
from cronwatch.web.errors import ApiError
from cronwatch.web.outage import MESSAGE
from cronwatch.web.state import ServerState

Endpoint = Callable[[Request], Awaitable[Response]]
_MAX_ID = 2**63 - 1
_MAX_HOST = 255


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.cronwatch
    return state


def error_page(request: Request, status: int, title: str, message: str) -> Response:
    headers = {"Retry-After": "5"} if status == 503 else None
    return render_page(
        request, "error.html", {"title": title, "message": message}, status=status, headers=headers
    )


def dashboard_page(handler: Endpoint) -> Endpoint:
    """``handler`` behind the read-access gate, with the database's absence as a 503 page."""

    async def endpoint(request: Request) -> Response:
        denied = await access.gate(request)
        if denied is not None:
            return denied
        try:
            return access.keep_session(request, await handler(request))
        except StorageUnavailable as exc:
            _state(request).health.failed(exc)  # the details go to the log, once per outage
            return error_page(request, 503, "Database unavailable", MESSAGE)

    endpoint.__doc__ = handler.__doc__
    return endpoint


@dashboard_page
async def overview(request: Request) -> Response:
    """``/``: a page of jobs, worst first, filtered by the query (``after``: the page after
    that cursor; see :mod:`.overview`). An htmx
    request (the live refresh) gets only the part that changes, ``_jobs.html``."""
    state = _state(request)
    try:
        filters = Filters.parse(request.query_params)
    except BadFilter as exc:
        return error_page(request, 400, "Bad filter", str(exc))
    template = "_jobs.html" if access.is_htmx(request) else "overview.html"

    def build() -> Response:
        after = request.query_params.get("after")
        page = load_overview(state.db, state.config, filters, utcnow(), after=after)
        # The row actions leave out pausing a config-file job: the file wins.
        declared = frozenset(state.config.jobs) if state.config is not None else frozenset()
        return render_page(request, template, {"o": page, "declared": declared})

    return await run_in_threadpool(build)


@dashboard_page
async def job(request: Request) -> Response:
    """``/jobs/{name}``: one job's page (see :mod:`.jobpage`)."""
    return await _job(request, str(request.path_params["name"]))


@dashboard_page
async def job_by_query(request: Request) -> Response:
    """``/jobs?name=NAME``: the same page, for names a path cannot carry (``.`` and ``..``)."""
    name = request.query_params.get("name")
    if not name:
        return RedirectResponse("/", status_code=303)
    return await _job(request, name)


async def _job(request: Request, name: str) -> Response:
    state = _state(request)
    host = request.query_params.get("host", "").strip()
    if len(host) > _MAX_HOST:
        return error_page(request, 400, "Bad parameter", f"host: at most {_MAX_HOST} characters")
    try:
        before = parse_cursor(request.query_params.get("before"))
    except BadCursor as exc:
        return error_page(request, 400, "Bad parameter", str(exc))

    def build() -> Response:
        page = load_job(state.db, state.config, name, utcnow(), host=host, before=before)
        if page is None:
            return error_page(request, 404, "No such job", f"no job named {name[:200]!r}")
        act = load_actions_view(state, name)
        return render_page(request, "job.html", {"page": page, "act": act})

    return await run_in_threadpool(build)


#: An acknowledgement form: a note of 1000 characters, percent-encoded, and a key.
_MAX_ACK_FORM = 16_384


async def ack(request: Request) -> Response:
    """``POST /ack`` (form: ``name``, ``note``, ``key``): acknowledge the job's incident with a
    write key (the form's, else the sign-in's with the session's ``csrf`` token, as
    ``POST /act`` takes it), then back to the job's page. Refused from other sites (403); a
    key that cannot write gets the page again with why (401/403)."""
    state = _state(request)
    if access.cross_origin(request):
        return error_page(request, 403, "Refused", "acknowledgements must come from this site")
    form = await access.read_form(request, _MAX_ACK_FORM)
    name = form.get("name", "")
    token = form.get("key", "").strip()
    if not name:
        return error_page(request, 400, "Bad request", "which job? (name is missing)")
    if not token and not request.cookies.get(access.COOKIE):
        return error_page(request, 401, "Write key needed",
                          "acknowledging takes a write key: enter one in the form")  # fmt: skip
    try:
        # A key typed into the form proves itself; the sign-in cookie needs the form's token.
        if token:
            key = await state.check_key(token, "write")
        else:
            key = await access.authorize_action(request, form)
    except ApiError as exc:
        return error_page(request, exc.status, "Not acknowledged", exc.message)
    try:
        await run_in_threadpool(
            acknowledge, state.db, name, key.name or key.id, form.get("note") or None
        )
    except StorageUnavailable as exc:
        state.health.failed(exc)
        return error_page(request, 503, "Database unavailable", MESSAGE)
    except CronwatchError as exc:
        status = 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Conflict) else 400
        return error_page(request, status, "Not acknowledged", str(exc))
    target = job_path(name)
    return RedirectResponse(target, status_code=303)


def job_path(name: str) -> str:
    """The dashboard path of job ``name`` (``.`` and ``..`` by query)."""
    from urllib.parse import quote

    if name in (".", ".."):
        return f"/jobs?name={quote(name, safe='')}"
    return f"/jobs/{quote(name, safe='')}"


@dashboard_page
async def run_output(request: Request) -> Response:
    """``/runs/{id}/output``: the tail of one run's output; a whole page, or for htmx (the
    runs table loading it into its row) only the output."""
    state = _state(request)
    run_id = int(request.path_params["run_id"])
    run = None
    if run_id <= _MAX_ID:
        run = await run_in_threadpool(queries.run_output, state.db, run_id)
    if run is None:
        return error_page(request, 404, "No such run", f"no run has the id {run_id}")
    template = "_output.html" if access.is_htmx(request) else "output.html"
    return render_page(request, template, {"run": run})
