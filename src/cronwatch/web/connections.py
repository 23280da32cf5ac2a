"""The server's connections: limits that hold before any request reaches the app.

None of this needs a key, so it guards every route alike. uvicorn's httptools protocol, as it
comes, buffers a request head of any size (a 256 MB header was taken whole), waits forever for
a head or a body that never completes, and keeps any number of connections open. The protocol
class :func:`guarded_protocol` makes for ``cronwatch serve`` adds, per :class:`ConnectionLimits`:

- **Head size.** The request line and header fields, all together, at most
  ``max_header_bytes`` (64 KiB), in at most ``max_header_fields`` fields: beyond, 431 and the
  connection closed, and the rest is never read. The bytes of a head still incomplete are
  counted as they arrive, so an endless header is cut off after the limit plus one read (at
  most 256 KiB), not buffered.
- **Head time.** A connection must deliver a complete request head within ``header_timeout``
  seconds of opening (or of its previous response); otherwise it is closed (408 if part of a
  head came). Slow-header clients (slowloris) cannot keep connections.
- **Body time.** Once the head is in, the body must be complete within ``body_timeout``
  seconds (time the server itself stopped reading, because the app is busy, does not count).
  The app sees a disconnect.
- **Connections.** At most ``max_connections`` open. At the bound a new connection is let in
  and room is made by closing idle ones, oldest first, those that have not finished a single
  request first (a flood of idle or half-sent connections is what fills the bound; a normal
  client sends its head at once and is never the oldest). Only when every open connection has
  a request in progress is the new one refused (503, closed).

The timers cost nothing per request: one sweep a second (or faster with short timeouts) looks
at every connection, and what it saw last time tells how long a connection has been waiting.
What was closed is logged once when it starts and summed up once a minute, never per
connection: an attack must not flood the log.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from dataclasses import dataclass
from typing import Any, ClassVar

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

log = logging.getLogger("cronwatch.web.connections")

#: Open files a server process needs besides its connections (database, log, listening socket).
FILES_RESERVED = 64
_SUMMARY_EVERY = 60.0


@dataclass(frozen=True)
class ConnectionLimits:
    """What a client may ask of one server process before any key is checked."""

    #: The request line and every header field of one request, in bytes.
    max_header_bytes: int = 65_536
    #: Header fields in one request.
    max_header_fields: int = 100
    #: Seconds from a connection's opening (or its previous response) to a complete head.
    header_timeout: float = 10.0
    #: Seconds from a complete head to a complete body.
    body_timeout: float = 30.0
    #: Connections open at once.
    max_connections: int = 1000

    def __post_init__(self) -> None:
        if self.max_header_bytes < 1024 or self.max_header_fields < 8:
            raise ValueError("the header limits must allow at least 1024 bytes and 8 fields")
        if self.header_timeout <= 0 or self.body_timeout <= 0:
            raise ValueError("the header and body timeouts must be positive")
        if self.max_connections < 1:
            raise ValueError("max_connections must be at least 1")


def fit_file_limit(max_connections: int) -> tuple[int, str | None]:
    """The number of connections this process can hold open: ``max_connections``, after
    raising the soft limit of open files (``ulimit -n``) towards the hard limit if needed;
    fewer when the hard limit does not allow that many, with a warning to show.

    Past the limit of open files the kernel refuses to accept, and asyncio stops accepting any
    connection for a second: every client would suffer instead of only the idle ones.
    """
    needed = max_connections + FILES_RESERVED
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return max_connections, None
    fitted = max(1, soft - FILES_RESERVED)
    return fitted, (
        f"the limit of open files ({soft}) allows {fitted} connections, not "
        f"{max_connections}; raise it (ulimit -n, or LimitNOFILE= in a systemd unit) for more"
    )


class ConnectionGuard:
    """The state one server shares between its connections: the sweep and what it counted."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self.interval = max(0.05, min(1.0, limits.header_timeout / 4, limits.body_timeout / 4))
        self.closing: set[GuardedHttpToolsProtocol] = set()  # closed by us, not yet gone
        self.counts: dict[str, int] = dict.fromkeys(_EVENTS, 0)
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connections: set[Any] = set()
        self._quiet = True
        self._summary_due = 0.0
        self._saturated = False

    # -- the bound ----------------------------------------------------------------------------

    def admit(self, new: GuardedHttpToolsProtocol) -> None:
        """Called for each new connection once it is counted in the server's connections."""
        if self._timer is None or self._loop is not new.loop:
            self._start(new.loop, new.connections)
        excess = len(new.connections) - len(self.closing) - self.limits.max_connections
        if excess <= 0:
            if self._saturated and excess < -self.limits.max_connections // 10:
                self._saturated = False
                log.info("open connections back under the limit of %d", self.limits.max_connections)
            return
        if not self._saturated:
            self._saturated = True
            log.warning(
                "%d connections open, the limit (--max-connections): closing idle "
                "ones, oldest first",
                self.limits.max_connections,
            )
        # Close a batch at once, so that a flood does not cost a scan per new connection.
        batch = max(excess, self.limits.max_connections // 20)
        victims = self._idle_oldest_first(new, batch)
        for victim in victims:
            victim.drop()
        self.count("evicted", len(victims))
        if not victims:
            new.refuse()
            self.count("refused")

    def _idle_oldest_first(
        self, new: GuardedHttpToolsProtocol, batch: int
    ) -> list[GuardedHttpToolsProtocol]:
        now = new.loop.time()
        idle: list[tuple[bool, float, GuardedHttpToolsProtocol]] = []
        for conn in new.connections:
            if conn is new or not isinstance(conn, GuardedHttpToolsProtocol):
                continue
            if conn in self.closing or conn.transport is None or conn.transport.is_closing():
                continue
            since = conn.waiting_since(now)
            if since is not None:
                idle.append((conn.cycle is not None, since, conn))
        idle.sort(key=lambda item: item[:2])
        return [conn for _, _, conn in idle[:batch]]

    # -- the sweep ----------------------------------------------------------------------------

    def _start(self, loop: asyncio.AbstractEventLoop, connections: set[Any]) -> None:
        self._loop = loop
        self._connections = connections
        self._timer = loop.call_later(self.interval, self._tick)

    def _tick(self) -> None:
        assert self._loop is not None
        now = self._loop.time()
        try:
            self.sweep(now)
            self._summarise(now)
        finally:
            # Nothing to watch: stop; the next connection starts the sweep again.
            if self._connections:
                self._timer = self._loop.call_later(self.interval, self._tick)
            else:
                self._timer = None

    def sweep(self, now: float) -> None:
        """Close the connections whose head or body is overdue."""
        limits = self.limits
        for conn in list(self._connections):
            if not isinstance(conn, GuardedHttpToolsProtocol) or conn in self.closing:
                continue
            if conn.transport is None or conn.transport.is_closing():
                continue  # closed already (by the client, or by uvicorn's keep-alive timer)
            phase, since = conn.observe(now)
            if phase == "head" and now - since > limits.header_timeout:
                conn.drop(timed_out=True)
                self.count("head_timeout")
            elif phase == "body" and now - since > limits.body_timeout:
                conn.drop()
                self.count("body_timeout")

    # -- the log ------------------------------------------------------------------------------

    def count(self, event: str, n: int = 1) -> None:
        if n <= 0:
            return
        self.counts[event] += n
        if self._quiet:
            # The first of a spell is logged at once; the rest once a minute, summed up.
            self._quiet = False
            log.warning(
                "closed %d connection%s: %s; more are summed up once a minute",
                n,
                "" if n == 1 else "s",
                _EVENTS[event],
            )
            self.counts[event] -= n
            if self._loop is not None:
                self._summary_due = self._loop.time() + _SUMMARY_EVERY

    def _summarise(self, now: float) -> None:
        if self._quiet or now < self._summary_due:
            return
        parts = [f"{n} {_EVENTS[event]}" for event, n in self.counts.items() if n]
        if parts:
            log.warning("closed in the last minute: %s", "; ".join(parts))
            self.counts = dict.fromkeys(_EVENTS, 0)
            self._summary_due = now + _SUMMARY_EVERY
        else:
            self._quiet = True


_EVENTS = {
    "oversized": "request head over the size limit (431)",
    "head_timeout": "request head not complete in time",
    "body_timeout": "request body not complete in time",
    "evicted": "idle, to make room under the connection limit",
    "refused": "refused (503): the connection limit was reached and none was idle",
}


class _HeadTooLarge(Exception):
    pass


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits of :class:`ConnectionLimits`.

    Use :func:`guarded_protocol`, which binds a subclass to one server's guard.
    """

    guard: ClassVar[ConnectionGuard]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0  # bytes of the current head seen in reads that held nothing else
        self._head_rejected = False
        self._made_at = 0.0
        self._phase: tuple[str, object] | None = None  # what the last sweep saw ...
        self._phase_since = 0.0  # ... and since when

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._made_at = self.loop.time()
        self.guard.admit(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.closing.discard(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # uvicorn's own, plus the count of head bytes and the 431.
        self._unset_keepalive_if_required()
        scope = self.scope
        in_head = scope is not None and "method" not in scope
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            if self._head_rejected:
                self._reject_head()
                return
            msg = "Invalid HTTP request received."
            self.logger.warning(msg)
            self.send_400_response(msg)
            return
        if self.scope is not None and "method" not in self.scope:  # a head still incomplete
            # Count whole reads only while they hold nothing but this head; the first read of
            # a head may end the previous request, and on_headers_complete counts exactly.
            if in_head and self.scope is scope:
                self._head_bytes += len(data)
                if self._head_bytes > self.guard.limits.max_header_bytes:
                    self._reject_head()
            else:
                self._head_bytes = 0

    # -- httptools callbacks ------------------------------------------------------------------

    def on_headers_complete(self) -> None:
        limits = self.guard.limits
        headers = self.headers
        if len(headers) > limits.max_header_fields or (
            len(self.url) + sum(len(n) + len(v) + 4 for n, v in headers) > limits.max_header_bytes
        ):
            self._head_rejected = True
            raise _HeadTooLarge  # httptools stops parsing; data_received answers 431
        super().on_headers_complete()

    # -- what the guard does ------------------------------------------------------------------

    def waiting_since(self, now: float) -> float | None:
        """Since when this connection has been waiting for a request head (no request of its
        own in progress), or ``None`` when it has one in progress."""
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            return None
        if cycle is None:
            return self._made_at
        if self._phase == ("head", cycle):
            return self._phase_since
        return now  # just finished a request: the newest of all

    def observe(self, now: float) -> tuple[str | None, float]:
        """The phase this connection is in (``head``: waiting for a complete head; ``body``:
        the body still arriving; ``None``: the app has it) and since when, as far as the
        sweeps can tell."""
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            phase: tuple[str, object] | None = ("head", cycle)
        elif cycle.more_body and not self.flow.read_paused:
            phase = ("body", cycle)
        else:
            phase = None
        if phase != self._phase:
            self._phase = phase
            self._phase_since = self._made_at if cycle is None else now
        return (phase[0] if phase else None), self._phase_since

    def drop(self, *, timed_out: bool = False) -> None:
        """Close this connection now (a 408 first if part of a head timed out)."""
        self.guard.closing.add(self)
        if timed_out and self.scope is not None and "method" not in self.scope:
            self._write_error(408, "request_timeout", "the request head was not complete in time")
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False
        self.transport.close()

    def refuse(self) -> None:
        """Refuse this new connection: every connection has a request in progress."""
        self.guard.closing.add(self)
        self._write_error(
            503, "unavailable", "too many connections; retry shortly", extra=b"retry-after: 1\r\n"
        )
        self.transport.close()

    def _reject_head(self) -> None:
        limits = self.guard.limits
        self.guard.count("oversized")
        self.guard.closing.add(self)
        self._write_error(
            431,
            "header_too_large",
            f"the request head is larger than {limits.max_header_bytes} bytes or "
            f"has more than {limits.max_header_fields} header fields",
        )
        self.transport.close()  # reads nothing more: the rest of the head is never buffered

    def _write_error(self, status: int, code: str, message: str, *, extra: bytes = b"") -> None:
        from cronwatch.web.errors import error_body

        body = error_body(code, message)
        content = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.append(b"content-type: application/json\r\ncontent-length: %d\r\n" % len(body))
        content.append(b"connection: close\r\n" + extra + b"\r\n")
        content.append(body)
        self.transport.write(b"".join(content))


def guarded_protocol(limits: ConnectionLimits) -> type[GuardedHttpToolsProtocol]:
    """A protocol class for one server (``uvicorn.Config(http=...)``), with its own guard."""
    return type(
        "CronwatchHttpProtocol", (GuardedHttpToolsProtocol,), {"guard": ConnectionGuard(limits)}
    )
