"""The ping endpoints, as a bare ASGI handler: the hot path, kept lean.

::

    GET|POST|HEAD /ping/<ping_key>/<name>            a run succeeded
    GET|POST|HEAD /ping/<ping_key>/<name>/start      a run started
    GET|POST|HEAD /ping/<ping_key>/<name>/fail       a run failed
    GET|POST|HEAD /ping/<ping_key>/<name>/<0-255>    a run ended with that exit code (0: success)
    GET|POST|HEAD /ping/<ping_key>/<name>/log        a line in the job's history (the body)
    GET|POST|HEAD /ping/<uuid>[/start|/fail|/log|/<0-255>]   the same, by the job's UUID

The UUID form is Healthchecks': the job's ping UUID (lowercase, 8-4-4-4-12) is the credential
for that one job, no key is needed, and an unknown UUID is a 404. ``/log`` records an event of
kind ``log`` with the body in the job's history (``cronwatch alerts log``, the job's events)
and changes no status; it is a 404 for a job that does not exist (a log line creates no job).
Answers are Healthchecks' too: ``200 OK`` with ``Ping-Body-Limit`` (the largest body kept
whole, in bytes) and ``Access-Control-Allow-Origin: *``.

    ?host=H   the host the job ran on (default: the client's IP address as the server sees it)
    ?create=1 (slug form) answered ``201 Created`` when the ping created its job, as Healthchecks
              answers its auto-provisioning (the job is created by any first ping anyway)
    ?rid=R    a run id pairing a start with its finish (1-64 of A-Z a-z 0-9 . _ : ~ -, the
              library's rule: :func:`cronwatch.names.validate_run_id`)
    body      the run's output (a finish); the last 10,000 characters are kept

A ping does: parse, check limits, build a validated run, hand it to the writer (which checks
the key and stores the run in a group-committed transaction), answer ``OK``. No health
evaluation, no job lookup (the first ping of a new name creates the job: triggers do it), no
Starlette routing. Refusals are JSON (:mod:`cronwatch.web.errors`); nothing is written for
them.

Pairing: a start and a finish with the same ``rid`` are one run, so overlapping runs of one
job are each timed. A finish without ``rid`` completes the latest running run of that job on
that host, or is stored as a zero-length run when none is running; a start without ``rid``
gets a fresh run id (so it can only be finished without one).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

from cronwatch.errors import CronwatchError, InvalidInput
from cronwatch.model import Outcome, Run
from cronwatch.monitor import make_run
from cronwatch.names import UUID_PATTERN, validate_run_id
from cronwatch.storage.keys import hash_token, is_well_formed
from cronwatch.timeutil import utcnow
from cronwatch.web.errors import (
    JSON_TYPE,
    ApiError,
    bad_request,
    not_found,
    rate_limited,
    too_large,
    unauthorized,
)
from cronwatch.web.ingest import Stored, WriteOp, Writer, new_run_id
from cronwatch.web.ratelimit import RateLimiter

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

log = logging.getLogger("cronwatch.web.ping")

PREFIX = b"/ping/"
METHODS = frozenset({"GET", "POST", "HEAD"})
_EXIT_CODE = re.compile(r"0|[1-9][0-9]{0,2}")
_USAGE = "use /ping/<ping_key>/<name>[/start|/fail|/log|/<exit code 0-255>] or /ping/<uuid>[/...]"
# The job UUID rule of cronwatch.names, matched on the raw path's bytes (no decode per ping).
_UUID = re.compile(UUID_PATTERN.pattern.encode())

_OK_BODY = b"OK"


class PingHandler:
    """ASGI callable for every path under ``/ping/``."""

    def __init__(
        self,
        writer: Writer,
        limiter: RateLimiter,
        *,
        max_body: int,
        job_exists: Callable[[str], Awaitable[bool]] | None = None,
    ) -> None:
        self.writer = writer
        self.limiter = limiter
        self.max_body = max_body
        #: Whether a job of that name exists: asked only for a slug ping with ``?create=1``
        #: (Healthchecks' auto-provisioning), which is answered ``201 Created`` for a new job.
        self.job_exists = job_exists
        self.created_headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", b"7"),
            (b"ping-body-limit", str(max_body).encode()),
            (b"access-control-allow-origin", b"*"),
        ]
        self.ok_headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", b"2"),
            (b"ping-body-limit", str(max_body).encode()),
            (b"access-control-allow-origin", b"*"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        head = scope["method"] == "HEAD"
        try:
            op = await self._parse(scope, receive)
            new_job = (
                op.create
                and op.uuid is None
                and self.job_exists is not None
                and not await self.job_exists(op.run.name)
            )
            result = await self.writer.submit(op)
            if isinstance(result, ApiError):
                raise result
            assert isinstance(result, Stored)
        except ApiError as exc:
            await _send_error(send, exc, head=head)
            return
        except Exception:  # a bug: answer 500 in JSON, like every other error
            log.exception("ping %s failed", scope.get("path"))
            await _send_error(send, ApiError(500, "internal", "internal error"), head=head)
            return
        if new_job:  # as Healthchecks answers a ?create=1 ping that created its check
            await send({"type": "http.response.start", "status": 201,
                        "headers": self.created_headers})  # fmt: skip
            await send({"type": "http.response.body", "body": b"" if head else b"Created"})
            return
        await send({"type": "http.response.start", "status": 200, "headers": self.ok_headers})
        await send({"type": "http.response.body", "body": b"" if head else _OK_BODY})

    async def _parse(self, scope: Scope, receive: Receive) -> WriteOp:
        """The write a ping asks for. Checked in this order, so that a request is refused for
        the first thing wrong with it: method, URL (whose job, which action), rate limit,
        query, body, the run itself."""
        _check_method(scope["method"])
        name, uuid, key_hash, action, limited = _target(
            scope.get("raw_path") or scope["path"].encode()
        )
        log_line = action == "log"
        outcome, exit_code = ("success", None) if log_line else _action(action)
        wait = self.limiter.acquire(limited)
        if wait:
            raise rate_limited(wait)

        host, run_id, create = _query(scope.get("query_string", b""))
        if host is None:
            client = scope.get("client")
            host = client[0] if client else "unknown"
        output = await self._body(scope, receive)
        run = _ping_run(name, outcome, exit_code, host, run_id, output)
        if log_line:
            return WriteOp(run, key_hash=key_hash, uuid=uuid, log=True, create=create)
        return WriteOp(
            run,
            pair_latest=run_id is None and outcome != "running",
            key_hash=key_hash,
            uuid=uuid,
            create=create,
        )

    async def _body(self, scope: Scope, receive: Receive) -> str | None:
        """The request body as text (UTF-8, undecodable bytes replaced), or ``None`` if empty;
        413 beyond :attr:`max_body` bytes, before reading it when Content-Length says so."""
        length: int | None = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    raise bad_request("Content-Length is not a number") from None
            elif name == b"transfer-encoding":
                chunked = True
        if not chunked and not length:
            return None
        if length is not None and length > self.max_body:
            raise too_large(self.max_body)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ApiError(400, "disconnected", "the client went away")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise too_large(self.max_body)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        return body.decode("utf-8", errors="replace") if body else None


#: Whose job a ping URL names and what it says happened: the job's name (for the UUID form the
#: UUID, a stand-in until the writer's lookup), its UUID, the slug form's ping key hashed, the
#: action segment percent-decoded (None: a success), and what the rate limit counts (the UUID,
#: or the key's hash). A plain tuple: this is the hot path.
_Target = tuple[str, str | None, str | None, str | None, str]


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ApiError(
            405,
            "method_not_allowed",
            f"use GET, POST or HEAD; {_USAGE}",
            headers={"Allow": "GET, POST, HEAD"},
        )


def _target(raw_path: bytes) -> _Target:
    """The job and action of ``/ping/<uuid>[/<action>]`` or ``/ping/<key>/<name>[/<action>]``:
    404 for any other shape, 401 for a key of the wrong shape (its existence and scope are
    checked in the write transaction)."""
    parts = raw_path.partition(b"?")[0][len(PREFIX) :].split(b"/")
    if _UUID.fullmatch(parts[0]):
        # /ping/<uuid>[/<action>]; "/ping/<uuid>/" is a success, as in Healthchecks
        if len(parts) > 2:
            raise not_found(f"not a ping URL; {_USAGE}")
        uuid = parts[0].decode()
        action = _decode(parts[1], "the action") if len(parts) == 2 and parts[1] else None
        return uuid, uuid, None, action, uuid
    if len(parts) not in (2, 3):
        raise not_found(f"not a ping URL; {_USAGE}")
    token = _decode(parts[0], "the ping key")
    name = _decode(parts[1], "the job name")
    action = _decode(parts[2], "the action") if len(parts) == 3 else None
    if not is_well_formed(token):
        raise unauthorized("unknown ping key; create one with `cronwatch key create --scope ping`")
    key_hash = hash_token(token)
    return name, None, key_hash, action, key_hash


def _ping_run(
    name: str,
    outcome: Outcome,
    exit_code: int | None,
    host: str,
    run_id: str | None,
    output: str | None,
) -> Run:
    """The validated run a ping reports, timed now; 400 for what the run rules refuse."""
    now = utcnow()
    try:
        return make_run(
            name,
            now,
            None if outcome == "running" else now,
            outcome=outcome,
            exit_code=exit_code,
            hostname=host,
            run_id=run_id or new_run_id(),
            output=output if outcome != "running" else None,
            # A finish knows its duration only from a start it pairs with (the database
            # computes it then); alone it is a run of unknown duration, not of 0s.
            timed=False,
        )
    except CronwatchError as exc:
        raise bad_request(str(exc)) from None


def _decode(segment: bytes, what: str) -> str:
    try:
        return unquote_to_bytes(segment).decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request(f"{what} is not valid UTF-8 once percent-decoded") from None


def _action(action: str | None) -> tuple[Outcome, int | None]:
    if action is None:
        return "success", None
    if action == "start":
        return "running", None
    if action == "fail":
        return "failure", None
    if _EXIT_CODE.fullmatch(action):
        code = int(action)
        if code > 255:
            raise bad_request(f"exit code {code} is out of range; it must be 0-255")
        return ("success", None) if code == 0 else ("failure", code)
    raise not_found(f"unknown ping action {action[:40]!r}; {_USAGE}")


def _query(query_string: bytes) -> tuple[str | None, str | None, bool]:
    """``?host=``, ``?rid=`` and whether ``?create=1`` was given."""
    if not query_string:
        return None, None, False
    host = run_id = None
    create = False
    try:
        pairs = parse_qsl(
            query_string.decode("latin-1"),
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
        )
    except UnicodeDecodeError:
        raise bad_request("the query string is not valid UTF-8 once percent-decoded") from None
    for key, value in pairs:
        if key == "host":
            host = value
        elif key == "rid":
            try:
                run_id = validate_run_id(value, "rid")
            except InvalidInput as exc:
                raise bad_request(str(exc)) from None
        elif key == "create":
            create = value == "1"
    return host, run_id, create


async def _send_error(send: Send, exc: ApiError, *, head: bool) -> None:
    body = exc.body()
    headers = [(b"content-type", JSON_TYPE), (b"content-length", str(len(body)).encode())]
    headers.extend((k.lower().encode(), v.encode()) for k, v in exc.headers.items())
    await send({"type": "http.response.start", "status": exc.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})
