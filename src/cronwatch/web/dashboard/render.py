"""Turning a page's data into an HTML response: the Jinja2 environment, its filters, and the
headers every dashboard page carries.

Escaping is not optional: autoescape is on for every template, so a job name, a host or an
output is always text. Values that must reach JavaScript go through :func:`json_script`, a
JSON document for a ``<script type="application/json">`` block (``<``, ``>`` and ``&``
escaped, so that no ``</script>`` can end it early), never into script code.
Job names in URLs are percent-encoded by :func:`job_path`.

Every page is sent with a Content-Security-Policy that allows scripts and styles only from
this server's own files (no inline script or style, no ``eval``), so even markup that slipped
through could not run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from cronwatch.durations import format_duration
from cronwatch.health.model import PRIORITY
from cronwatch.schedule import load_zone
from cronwatch.version import __version__

WEB = Path(__file__).resolve().parent.parent
TEMPLATES = WEB / "templates"
STATIC = WEB / "static"

#: Only this server's own scripts, styles and fetches; nothing may frame the dashboard.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # Pages show live state and, behind a login, data a cache must not keep.
    "Cache-Control": "no-store",
    # The same URL answers a whole page or an htmx fragment, per viewer.
    "Vary": "HX-Request, Cookie, Authorization",
}


def job_path(name: str, **params: str) -> str:
    """The path of ``name``'s page, percent-encoded (``/`` never occurs in a job name), with
    the non-empty ``params`` as its query.

    Browsers resolve the path segments ``.`` and ``..`` (even percent-encoded) before sending
    them, so those two names are addressed by query instead."""
    query = {key: value for key, value in params.items() if value}
    if name in (".", ".."):
        return "/jobs?" + urlencode({"name": name, **query})
    return "/jobs/" + quote(name, safe="") + (f"?{urlencode(query)}" if query else "")


def duration(value: timedelta | float | None) -> str:
    """ "1h 30m"; seconds may be given as a number; an em dash for nothing."""
    if value is None:
        return "—"
    if not isinstance(value, timedelta):
        value = timedelta(seconds=value)
    return format_duration(value)


def utc(value: datetime | None) -> str:
    """ "2026-11-28 03:00 UTC"."""
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso(value: datetime | None) -> str:
    """The instant as ISO 8601 in UTC with a ``Z``, for ``<time datetime>`` and scripts."""
    if value is None:
        return ""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def relative(value: datetime | None, now: datetime) -> str:
    """ "12m ago", "in 3h 5m", "just now": one unit under an hour, two above (a page that
    refreshes every 10 seconds has no use for "12m 41s")."""
    if value is None:
        return "—"
    delta = value - now
    if abs(delta) < timedelta(seconds=1):
        return "just now"
    shown = _coarse(int(abs(delta).total_seconds()))
    return f"in {shown}" if delta > timedelta(0) else f"{shown} ago"


def _coarse(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h" if hours else f"{days}d"


def zoned(value: datetime | None, timezone: str) -> str:
    """The instant on the wall clock of ``timezone``: "Sat 28 Nov 2026 03:00 GMT"."""
    if value is None:
        return "—"
    return value.astimezone(load_zone(timezone)).strftime("%a %d %b %Y %H:%M %Z")


def json_script(data: Any) -> Markup:
    """``data`` as JSON that is safe inside ``<script type="application/json">``."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        job_path=job_path,
        duration=duration,
        utc=utc,
        iso=iso,
        zoned=zoned,
        json_script=json_script,
    )
    env.globals.update(relative=relative, version=__version__, statuses=PRIORITY)
    return env


ENV = _environment()


def render_page(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """``template`` rendered with ``context`` plus ``signed_in`` (the viewer came with the
    login cookie) and ``csrf`` (the token of a session that may act, else ``None``), with the
    security headers."""
    viewer = getattr(request.state, "viewer", None)
    base = {
        "signed_in": bool(getattr(request.state, "signed_in", False)),
        # The session's CSRF token when it may act (a write key): the actions show only then.
        "csrf": getattr(viewer, "csrf", None),
    }
    body = ENV.get_template(template).render({**base, **context})
    return HTMLResponse(body, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})
