"""The dashboard's actions: ``POST /act``, one form per action, for a session signed in with a
write key (:func:`.access.authorize_action`: same origin, the session's write key, its CSRF
token). Each goes through :class:`cronwatch.actions.JobActions`, which records it as an event
with the key's name and the note.

Form fields: ``name`` (the job), ``action`` (below), ``csrf``, ``next`` (where to go after:
a path on this site; the job's page by default, the overview after a delete), ``note``.

- ``pause``, ``resume``, ``unsnooze``;
- ``snooze`` with ``for``: ``1h``, ``4h``, ``tomorrow`` (09:00 in ``tz``, the viewer's zone,
  which dashboard.js fills in; UTC without JavaScript) or ``until`` (``until``: a local
  ``YYYY-MM-DDTHH:MM`` in ``tz``);
- ``ack``: acknowledge the open incident;
- ``edit``: the fields of :data:`cronwatch.actions.EDITABLE` as text (lists comma-separated;
  empty removes the field); only the fields whose text changed are sent as the patch;
- ``delete`` with ``confirm`` equal to the job's name.

Without JavaScript a plain form POST is answered with a redirect (303) to ``next``, or an
error page (400 bad input, 401/403 refused, 404 unknown job, 409 a config-file job or a
conflict, 503 the database away). htmx posts the same forms and follows the same redirect;
an htmx request refused or failing gets the error page with ``HX-Retarget``/``HX-Reselect``
so that its ``<main>`` replaces the page's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from cronwatch.actions import EDITABLE, SNOOZE_CHOICES, check_note, snooze_end
from cronwatch.alerts.ack import job_history
from cronwatch.alerts.model import Event
from cronwatch.errors import Conflict, CronwatchError, InvalidInput, NotFound, StorageUnavailable
from cronwatch.timeutil import utcnow
from cronwatch.web.dashboard import access
from cronwatch.web.dashboard.render import job_path, render_page
from cronwatch.web.errors import ApiError
from cronwatch.web.outage import MESSAGE
from cronwatch.web.state import ServerState

ACTIONS = ("pause", "resume", "snooze", "unsnooze", "ack", "edit", "delete")
_MAX_FORM = 32_768
_MAX_FIELDS = 20
_LISTS = frozenset({"hosts", "tags", "alerts"})


@dataclass(frozen=True)
class JobActionsView:
    """What a job page's actions need: whether the job can be changed here (and why not),
    its spec fields as the edit form shows them, and its latest events."""

    source: str
    editable: bool
    why_not: str | None
    fields: dict[str, str]
    history: list[Event]


def spec_text(spec: Mapping[str, Any], field: str) -> str:
    """A spec field as the edit form shows it: lists comma-separated, nothing as ``""``."""
    value = spec.get(field)
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def edit_patch(spec: Mapping[str, Any], form: Mapping[str, str]) -> dict[str, Any]:
    """The JSON Merge Patch of the edit ``form`` against ``spec``: only the fields whose text
    changed; an emptied field removed (``None``), a list split at commas."""
    patch: dict[str, Any] = {}
    for field in EDITABLE:
        if field not in form:
            continue
        text = form[field].strip()
        if text == spec_text(spec, field):
            continue
        if not text:
            patch[field] = None
        elif field in _LISTS:
            patch[field] = [item.strip() for item in text.split(",") if item.strip()]
        else:
            patch[field] = text
    return patch


def load_actions_view(state: ServerState, name: str, history: int = 15) -> JobActionsView:
    """The job's source and spec (:class:`~cronwatch.jobs.JobsService`) and history."""
    job = state.jobs.get(name)
    source = job["source"]
    why_not = None
    if source == "config":
        where = state.config.path if state.config is not None else None
        why_not = (
            f"{name} is declared in the config file{f' ({where})' if where else ''}, which "
            "wins: change, pause or delete it there, then restart cronwatch serve. Snoozing "
            "and acknowledging work here."
        )
    fields = {field: spec_text(job["spec"], field) for field in EDITABLE}
    events = job_history(state.db, name, limit=history)
    return JobActionsView(source, source != "config", why_not, fields, events)


async def act(request: Request) -> Response:
    """``POST /act``: one action on one job (see the module)."""
    state: ServerState = request.app.state.cronwatch
    form = await access.read_form(request, _MAX_FORM, _MAX_FIELDS)
    try:
        key = await access.authorize_action(request, form)
    except ApiError as exc:
        return _error(request, exc.status, "Refused", exc.message)
    name = form.get("name", "")
    action = form.get("action", "")
    if not name:
        return _error(request, 400, "Bad request", "which job? (name is missing)")
    if action not in ACTIONS:
        return _error(request, 400, "Bad request", f"action: one of {', '.join(ACTIONS)}")
    by = key.name or key.id

    def run() -> None:
        actions = state.actions
        note = check_note(form.get("note"))
        if action == "pause":
            actions.pause(name, by, note)
        elif action == "resume":
            actions.resume(name, by, note)
        elif action == "snooze":
            choice = form.get("for", "")
            if choice not in (*SNOOZE_CHOICES, "until"):
                raise InvalidInput("snooze: for 1h, 4h, tomorrow or until a chosen time")
            end = snooze_end(choice, utcnow(), form.get("tz", "UTC"), form.get("until", ""))
            actions.snooze(name, end, by, note)
        elif action == "unsnooze":
            actions.unsnooze(name, by, note)
        elif action == "ack":
            actions.acknowledge(name, by, note)
        elif action == "edit":
            patch = edit_patch(state.jobs.get(name)["spec"], form)
            if not patch:
                raise InvalidInput("nothing changed")
            actions.edit(name, patch, by, note)
        else:
            if form.get("confirm", "").strip() != name:
                raise InvalidInput(f"not deleted: type the job's name ({name}) to confirm")
            actions.delete(name, by, note)

    try:
        await run_in_threadpool(run)
    except StorageUnavailable as exc:
        state.health.failed(exc)
        return _error(request, 503, "Database unavailable", MESSAGE)
    except CronwatchError as exc:
        status = 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Conflict) else 400
        return _error(request, status, "Not done", str(exc))
    if action == "delete":
        target = "/"
    else:
        sent = form.get("next")
        target = access.safe_next(sent) if sent else job_path(name)
    return RedirectResponse(target, status_code=303)


def _error(request: Request, status: int, title: str, message: str) -> Response:
    headers = {"Retry-After": "5"} if status == 503 else {}
    if access.is_htmx(request):
        # htmx swaps no error response: this one replaces the page's <main> instead.
        headers.update({"HX-Retarget": "main", "HX-Reswap": "outerHTML", "HX-Reselect": "main"})
        headers["X-Cronwatch-Status"] = str(status)
        status = 200
    context = {"title": title, "message": message}
    return render_page(request, "error.html", context, status=status, headers=headers)
