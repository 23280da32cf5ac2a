"""Deadlines for statements on a database that has gone silent.

A PostgreSQL server whose packets are dropped (a dead network path, a frozen VM, a stateful
firewall that forgot the connection) sends no reset: a statement waits for an answer forever,
and TCP keepalives do not help when something in between (a proxy, a pooler) still answers for
it. The server-side ``statement_timeout`` cannot help either: the server never got the
statement. So the client keeps the time itself: a connection with a deadline registers its
socket while a statement (or a transaction) runs, and one daemon thread per process shuts
down the sockets that are past their deadline. The driver's blocked read then ends with
"server closed the connection", which the dialect counts as an outage (503 for the server's
clients, the spool for ``cronwatch run``); the next call opens a new connection.

Arming and disarming are one locked dict update each, so that the hot path (a ping's batch)
pays next to nothing; the watchdog looks every :data:`RESOLUTION` seconds.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

#: How often the watchdog looks for sockets past their deadline (seconds).
RESOLUTION = 0.25


class _Watchdog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: dict[int, tuple[float, int]] = {}  # token -> (deadline, socket fd)
        self._tokens = iter(range(1 << 62))
        self._thread: threading.Thread | None = None
        self.cut = 0  # sockets shut down (for tests)

    def arm(self, fd: int, seconds: float) -> int:
        with self._lock:
            token = next(self._tokens)
            self._armed[token] = (time.monotonic() + seconds, fd)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch, name="cronwatch-db-deadline", daemon=True
                )
                self._thread.start()
        return token

    def disarm(self, token: int) -> None:
        with self._lock:
            self._armed.pop(token, None)

    def _watch(self) -> None:
        while True:
            time.sleep(RESOLUTION)
            now = time.monotonic()
            with self._lock:  # held while cutting: a disarmed fd is never touched
                late = [t for t, (deadline, _) in self._armed.items() if deadline <= now]
                for token in late:
                    _, fd = self._armed.pop(token)
                    _shutdown(fd)
                    self.cut += 1


def _shutdown(fd: int) -> None:
    """Shut the socket ``fd`` down both ways (the driver still owns and closes the fd)."""
    with contextlib.suppress(OSError):
        dup = socket.socket(fileno=socket.dup(fd))
        try:
            dup.shutdown(socket.SHUT_RDWR)
        finally:
            dup.close()


WATCHDOG = _Watchdog()


@contextmanager
def deadline(fd: int | None, seconds: float | None) -> Iterator[None]:
    """Within the block, the socket ``fd`` is shut down once ``seconds`` have passed; nothing
    when either is ``None``."""
    if fd is None or seconds is None:
        yield
        return
    token = WATCHDOG.arm(fd, seconds)
    try:
        yield
    finally:
        WATCHDOG.disarm(token)
