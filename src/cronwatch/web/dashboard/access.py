"""Who may read the dashboard.

- Open (``ServerSettings.open_dashboard``, what ``cronwatch serve`` sets when it listens on a
  loopback address only, and does not set with ``--require-read-key``): anyone who can
  connect may read it, which on loopback means the local users.
- Otherwise a ``read`` or ``write`` key is required, checked exactly as the REST API checks
  it (:meth:`ServerState.check_key`: unknown and revoked keys refused, rate limited):

  - ``Authorization: Bearer <key>``, for scripts; a bad key gets the API's JSON 401/403;
  - or the login form at ``/login``, which takes a key and, when it is valid, sets the cookie
    :data:`COOKIE` holding it: ``HttpOnly`` (scripts cannot read it), ``SameSite=Strict``
    (no other site can make the browser send it), ``Secure`` over HTTPS, for 30 days. The
    key is checked again on every request, so revoking it (``cronwatch key revoke``) ends
    every session at once. ``POST /logout`` clears it.

  A page request without a valid key is redirected to ``/login?next=<page>``; an htmx
  request gets 401 with ``HX-Redirect`` so the browser goes there.

A SameSite=Strict cookie is not sent on a navigation that comes from another site (a link in
an alert email). Such a request is answered with a page that reloads itself from this site,
which sends the cookie; without a cookie that second request goes to the login form.

``/login`` and ``/logout`` refuse POSTs from other origins (``Origin`` or
``Sec-Fetch-Site``), so another site cannot sign a browser in or out.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import parse_qs, quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from cronwatch.web.dashboard.render import SECURITY_HEADERS, render_page
from cronwatch.web.errors import ApiError
from cronwatch.web.state import ServerState

COOKIE = "cronwatch_key"
COOKIE_MAX_AGE = 30 * 24 * 3600
_MAX_FORM = 4096
_MAX_NEXT = 2000


def is_loopback(host: str) -> bool:
    """Whether listening on ``host`` reaches only this machine: ``localhost`` or a loopback
    address (127.0.0.0/8, ::1). ``0.0.0.0``, ``::`` and any other name are not."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.cronwatch
    return state


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


async def gate(request: Request) -> Response | None:
    """``None`` when the request may read the dashboard; else the response to send instead.

    Sets ``request.state.signed_in`` when the login cookie let it in (the page then offers to
    sign out)."""
    state = _state(request)
    if state.settings.open_dashboard:
        return None
    if request.headers.get("authorization"):
        await state.authorize(request, "read")  # ApiError: the app answers it as JSON
        return None
    token = request.cookies.get(COOKIE)
    if token:
        try:
            await state.check_key(token, "read")
        except ApiError as exc:
            if exc.status == 429:
                raise
        else:
            request.state.signed_in = True
            return None
    return _to_login(request)


def _to_login(request: Request) -> Response:
    # The scope's path is decoded: encode it again ("/jobs/a b#1" -> "/jobs/a%20b%231"; job
    # names hold no "/") so that it survives ?next= and the redirect. (request.url would
    # reparse it and cut it at a "#".)
    path = quote(request.scope["path"], safe="/")
    query = request.scope.get("query_string", b"").decode("latin-1")
    target = safe_next(path + (f"?{query}" if query else ""))
    login = f"/login?next={quote(target, safe='/')}"
    if is_htmx(request):
        return Response(status_code=401, headers={"HX-Redirect": login, **SECURITY_HEADERS})
    if request.headers.get("sec-fetch-site") == "cross-site" and request.method == "GET":
        # The browser left out the Strict cookie because the link was on another site:
        # reload from here (a same-site navigation) so that it is sent if there is one.
        return render_page(request, "reload.html", {"target": target, "login": login})
    return RedirectResponse(login, status_code=303, headers=SECURITY_HEADERS)


def safe_next(value: str | None) -> str:
    """``value`` if it is a path on this site, else ``/``: never a redirect elsewhere."""
    if (
        not value
        or len(value) > _MAX_NEXT
        or not value.startswith("/")
        or value.startswith(("//", "/\\"))
        or any(ord(c) < 0x21 or c == "\\" for c in value)
    ):
        return "/"
    return value


def cross_origin(request: Request) -> bool:
    """Whether a form POST comes from another site (``Sec-Fetch-Site`` or ``Origin``)."""
    return _cross_origin(request)


def _cross_origin(request: Request) -> bool:
    if request.headers.get("sec-fetch-site") in ("cross-site", "same-site"):
        return True
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin == "null"
    own = f"{request.url.scheme}://{request.url.netloc}"
    return origin != own


async def read_form(request: Request, limit: int = _MAX_FORM) -> dict[str, str]:
    """The first value of each field of a URL-encoded form body; ``{}`` when the body is over
    ``limit`` bytes or not a form."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return {}
    try:
        fields = parse_qs(body.decode("utf-8"), max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {key: values[0] for key, values in fields.items()}


async def login(request: Request) -> Response:
    """GET: the form. POST ``key`` (and ``next``): the cookie and a redirect to ``next``, or
    the form again with what was wrong (401 unknown or revoked key, 403 a ping key)."""
    state = _state(request)
    if request.method != "POST":
        target = safe_next(request.query_params.get("next"))
        if state.settings.open_dashboard:
            return RedirectResponse(target, status_code=303)
        return render_page(request, "login.html", {"next": target, "error": None})
    if _cross_origin(request):
        return render_page(
            request,
            "error.html",
            {"title": "Refused", "message": "sign-in requests must come from this site"},
            status=403,
        )
    form = await read_form(request)
    target = safe_next(form.get("next"))
    token = form.get("key", "").strip()
    if not token:
        return render_page(
            request, "login.html", {"next": target, "error": "enter a key"}, status=401
        )
    try:
        await state.check_key(token, "read")
    except ApiError as exc:
        retry = {k: v for k, v in exc.headers.items() if k.lower() == "retry-after"}
        return render_page(
            request,
            "login.html",
            {"next": target, "error": exc.message},
            status=exc.status,
            headers=retry,
        )
    response = RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)
    response.set_cookie(
        COOKIE,
        token,
        max_age=COOKIE_MAX_AGE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


async def logout(request: Request) -> Response:
    """Clear the login cookie and go to the login form."""
    if _cross_origin(request):
        return HTMLResponse("refused: sign-out requests must come from this site", 403)
    response = RedirectResponse("/login", status_code=303, headers=SECURITY_HEADERS)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response
