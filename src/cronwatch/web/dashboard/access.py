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

**Acting** (pause, snooze, acknowledge, edit, delete: :mod:`.acting`) takes a session signed
in with a ``write`` key, even where reading is open (on loopback ``/login`` still takes a key,
to act). Such a session also gets :data:`SESSION`, a random value made at sign-in; each action
form carries :func:`csrf_token`, an HMAC of it keyed with the session's key, which
:func:`authorize_action` checks besides the origin checks. Another site can neither read the
token nor make it (it knows neither the key nor the value), and signing in again makes a new
one. Only a session that may act is shown the actions (:class:`Viewer`).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from cronwatch.storage.keys import ApiKey
from cronwatch.web.dashboard.render import SECURITY_HEADERS, render_page
from cronwatch.web.errors import ApiError, forbidden, unauthorized
from cronwatch.web.state import ServerState

COOKIE = "cronwatch_key"
#: The session's random value, the CSRF token's seed (made at sign-in).
SESSION = "cronwatch_session"
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


@dataclass(frozen=True)
class Viewer:
    """Who reads a page: the key of their sign-in (``None``: an open dashboard, or a script's
    ``Authorization`` header), and the CSRF token of their session when that key may write
    (``None``: no action is shown)."""

    key: ApiKey | None = None
    csrf: str | None = None

    @property
    def can_act(self) -> bool:
        return self.csrf is not None


def viewer(request: Request) -> Viewer:
    """The viewer :func:`gate` found (an anonymous one before it ran)."""
    found = getattr(request.state, "viewer", None)
    return found if isinstance(found, Viewer) else Viewer()


def csrf_token(key_token: str, session: str) -> str:
    """The token the action forms of a session carry: HMAC-SHA256 of the session's random
    value, keyed with its key's secret."""
    digest = hmac.new(key_token.encode(), b"cronwatch-csrf\0" + session.encode(), hashlib.sha256)
    return digest.hexdigest()


async def gate(request: Request) -> Response | None:
    """``None`` when the request may read the dashboard; else the response to send instead.

    Sets ``request.state.signed_in`` when the login cookie let it in (the page then offers to
    sign out), and ``request.state.viewer`` (:class:`Viewer`); a session signed in with a
    write key before sessions had :data:`SESSION` gets one (``request.state.new_session``,
    which :func:`keep_session` sets on the response)."""
    state = _state(request)
    if request.headers.get("authorization") and not state.settings.open_dashboard:
        await state.authorize(request, "read")  # ApiError: the app answers it as JSON
        return None
    token = request.cookies.get(COOKIE)
    if token:
        try:
            key = await state.check_key(token, "read")
        except ApiError as exc:
            if exc.status == 429:
                raise
        else:
            request.state.signed_in = True
            request.state.viewer = _signed_in(request, token, key)
            return None
    if state.settings.open_dashboard:
        return None
    return _to_login(request)


def _signed_in(request: Request, token: str, key: ApiKey) -> Viewer:
    if not key.allows("write"):
        return Viewer(key)
    session = request.cookies.get(SESSION, "")
    if len(session) < 32:
        session = secrets.token_urlsafe(32)
        request.state.new_session = session
    return Viewer(key, csrf_token(token, session))


def keep_session(request: Request, response: Response) -> Response:
    """``response`` with the session value :func:`gate` made, if it made one."""
    session = getattr(request.state, "new_session", None)
    if session:
        _set_cookie(request, response, SESSION, session)
    return response


def _set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        max_age=COOKIE_MAX_AGE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


async def authorize_action(request: Request, form: dict[str, str]) -> ApiKey:
    """The write key of the session that sent the action ``form``: refused (an
    :class:`ApiError`, nothing done) from another site (403), without a session's write key
    (401, or 403 for a read key), or without this session's CSRF token (403)."""
    if _cross_origin(request):
        raise forbidden("actions must come from this site")
    token = request.cookies.get(COOKIE, "")
    if not token:
        raise unauthorized("sign in with a write key to act")
    key = await _state(request).check_key(token, "write")
    session = request.cookies.get(SESSION, "")
    sent = form.get("csrf", "")
    expected = csrf_token(token, session).encode()
    # As bytes: compare_digest refuses str with non-ASCII characters (a forged value may have).
    if len(session) < 32 or not hmac.compare_digest(sent.encode(), expected):
        raise forbidden("this form is stale or not from this site: reload the page and retry")
    return key


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


async def read_form(
    request: Request, limit: int = _MAX_FORM, max_fields: int = 10
) -> dict[str, str]:
    """The first value of each field of a URL-encoded form body; ``{}`` when the body is over
    ``limit`` bytes or not a form."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return {}
    try:
        fields = parse_qs(body.decode("utf-8"), max_num_fields=max_fields)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {key: values[0] for key, values in fields.items()}


async def login(request: Request) -> Response:
    """GET: the form. POST ``key`` (and ``next``): the cookie and a redirect to ``next``, or
    the form again with what was wrong (401 unknown or revoked key, 403 a ping key)."""
    state = _state(request)
    open_dashboard = state.settings.open_dashboard
    if request.method != "POST":
        target = safe_next(request.query_params.get("next"))
        context = {"next": target, "error": None, "open": open_dashboard}
        return render_page(request, "login.html", context)
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
        context = {"next": target, "error": "enter a key", "open": open_dashboard}
        return render_page(request, "login.html", context, status=401)
    try:
        await state.check_key(token, "read")
    except ApiError as exc:
        retry = {k: v for k, v in exc.headers.items() if k.lower() == "retry-after"}
        return render_page(
            request,
            "login.html",
            {"next": target, "error": exc.message, "open": open_dashboard},
            status=exc.status,
            headers=retry,
        )
    response = RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)
    _set_cookie(request, response, COOKIE, token)
    # A new session: a new CSRF token, whatever the browser held before.
    _set_cookie(request, response, SESSION, secrets.token_urlsafe(32))
    return response


async def logout(request: Request) -> Response:
    """Clear the login cookie and go to the login form."""
    if _cross_origin(request):
        return HTMLResponse("refused: sign-out requests must come from this site", 403)
    response = RedirectResponse("/login", status_code=303, headers=SECURITY_HEADERS)
    for name in (COOKIE, SESSION):
        response.delete_cookie(name, path="/", httponly=True, samesite="strict")
    return response
