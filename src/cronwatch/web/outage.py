"""Whether the server's database is taking reads and writes, as the server last saw it.

A database that is down, refuses connections, or sits on a full disk is one kind of event for
the server: an outage. Every request that meets it gets 503 with ``Retry-After`` and the
message :data:`MESSAGE`: never the database's user, host, port, name or path, which are no
business of an unauthenticated client. The details go to the log, once when the outage begins
and once when it ends, not once per request: an outage under load must not bury the log (a
full disk once wrote 7,788 tracebacks in 15 seconds).

``/healthz`` reports the outage (503) until a write succeeds again; while it lasts, it probes
with a write of its own (see :func:`cronwatch.web.pages.healthz`), so that a server a load
balancer took out of rotation comes back by itself when the disk has room again.
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger("cronwatch.web.outage")

#: What a client is told while the database is unavailable.
MESSAGE = "database unavailable; retry later"


class DatabaseHealth:
    """The database's state as the server's requests and writers saw it; thread-safe.

    :meth:`failed` and :meth:`recovered` are cheap when the state does not change (one
    attribute read), so that every request and every batch may call them.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self.reason: str | None = None

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def failed(self, exc: BaseException) -> None:
        """Note an outage (``exc``: what the database or its driver said), logged when it
        begins."""
        if self._down_since is not None:
            return
        with self._lock:
            if self._down_since is not None:
                return
            self._down_since = time.monotonic()
            # StorageUnavailable says "database unavailable: ..." already.
            self.reason = str(exc).removeprefix("database unavailable: ") or type(exc).__name__
        log.error(
            "database unavailable: %s; pings and API calls get 503 until it works again",
            self.reason,
        )

    def recovered(self) -> None:
        """Note that the database took a write again; logged when that ends an outage."""
        if self._down_since is None:
            return
        with self._lock:
            since, self._down_since = self._down_since, None
            if since is None:
                return
        log.warning(
            "database available again after %.1fs (it was: %s)",
            time.monotonic() - since,
            self.reason,
        )
