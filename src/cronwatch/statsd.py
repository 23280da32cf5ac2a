"""statsd timings, InfluxDB-style tagged, that can never fail a recording.

Every successful run sends one timing, as Launchpad did::

    script_activity,env=<environment>,name=<name>:<milliseconds>|ms

Tags are sorted by key and escaped the InfluxDB way (``\\,``, ``\\=``, ``\\ ``); the characters
the statsd line protocol itself reserves (``:``, ``|``, ``@``) cannot be escaped and become
``_``. Names are sent as UTF-8 (``sauvegarde-données`` stays itself: the statsd server and
InfluxDB take UTF-8). With no host configured nothing is sent; a statsd that is down,
unresolvable or broken only costs one warning in the log: a host that failed (it did not
resolve, or answered "port unreachable") is not called again by this process for
:data:`RETRY_AFTER` seconds, so a process recording many runs does not pay for it on every run
(a later process, or this one after the pause, tries again).

A datagram socket of our own (``socket.send`` on a connected UDP socket, which is how a
"port unreachable" answer becomes visible), not the ``statsd`` package: that one encodes
names as ASCII and hides every send error.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Mapping
from datetime import timedelta

log = logging.getLogger("cronwatch.statsd")

ACTIVITY_METRIC = "script_activity"

#: Seconds during which a statsd host that failed is not called again by this process.
RETRY_AFTER = 60.0

#: (host, port) -> time.monotonic() until which it is not called (it failed).
_DOWN: dict[tuple[str, int], float] = {}

_ESCAPE = re.compile(r"([,= \\])")
_RESERVED = re.compile(r"[:|@\n\r]")


def escape_tag(value: str) -> str:
    """Escape a tag key or value for an InfluxDB-style statsd name."""
    return _ESCAPE.sub(r"\\\1", _RESERVED.sub("_", value))


def metric_name(measurement: str, tags: Mapping[str, str | None]) -> str:
    """``measurement,k1=v1,k2=v2`` with tags sorted by key; tags whose value is ``None`` are
    left out."""
    parts = [_RESERVED.sub("_", measurement)]
    for key in sorted(tags):
        value = tags[key]
        if value is not None:
            parts.append(f"{escape_tag(key)}={escape_tag(value)}")
    return ",".join(parts)


class StatsdClient:
    """Sends cronwatch's timings to a statsd server over UDP.

    ``environment`` becomes the ``env`` tag (left out when ``None``); ``prefix`` is prepended
    to every name with a dot, as statsd clients usually do. The socket is opened lazily, so
    constructing a client never fails, even for a host that does not resolve.
    """

    def __init__(
        self,
        host: str,
        port: int = 8125,
        prefix: str | None = None,
        environment: str | None = None,
    ) -> None:
        self.host = host
        self.port = int(port)
        self.prefix = prefix or None
        self.environment = environment or None
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StatsdClient | None:
        """A client from ``CRONWATCH_STATSD_HOST``, ``_PORT``, ``_PREFIX`` and ``_ENV``, or
        ``None`` when no host is set."""
        env = os.environ if environ is None else environ
        host = env.get("CRONWATCH_STATSD_HOST", "").strip()
        if not host:
            return None
        port_text = env.get("CRONWATCH_STATSD_PORT", "").strip() or "8125"
        try:
            port = int(port_text)
        except ValueError:
            log.warning("CRONWATCH_STATSD_PORT=%r is not a number; using 8125", port_text)
            port = 8125
        return cls(
            host,
            port,
            prefix=env.get("CRONWATCH_STATSD_PREFIX") or None,
            environment=env.get("CRONWATCH_STATSD_ENV") or None,
        )

    def timing(self, stat: str, milliseconds: float) -> None:
        """Send one timing (``<prefix>.<stat>:<ms>|ms``, UTF-8); never raises."""
        key = (self.host, self.port)
        if _DOWN.get(key, 0.0) > time.monotonic():
            return  # it failed a moment ago: do not make every run pay for it
        name = f"{self.prefix}.{stat}" if self.prefix else stat
        try:
            self._socket().send(f"{name}:{milliseconds:0.6f}|ms".encode())
        except BlockingIOError:
            return  # our send buffer is full for a moment: this timing is dropped, no more
        except Exception as exc:  # a monitoring side channel must never break recording
            self._close()
            _DOWN[key] = time.monotonic() + RETRY_AFTER
            log.warning(
                "statsd %s:%s unreachable, timing %s dropped (not called again for %.0f s): %s",
                self.host,
                self.port,
                stat,
                RETRY_AFTER,
                exc,
            )

    def _socket(self) -> socket.socket:
        with self._lock:
            if self._sock is None:
                # Resolved on first use, so constructing a client never fails. IPv4 first, as
                # statsd servers usually listen there, whatever "localhost" resolves to first.
                infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)
                infos.sort(key=lambda info: info[0] != socket.AF_INET)
                family, kind, proto, _, address = infos[0]
                sock = socket.socket(family, kind, proto)
                try:
                    sock.setblocking(False)  # a full send buffer drops a timing, never waits
                    sock.connect(address)  # no packet; lets the kernel report "unreachable"
                except OSError:
                    sock.close()
                    raise
                self._sock = sock
            return self._sock

    def _close(self) -> None:
        with self._lock:
            if self._sock is not None:
                with contextlib.suppress(OSError):
                    self._sock.close()
                self._sock = None

    def activity_name(self, name: str) -> str:
        """The name of the seed's timing for job ``name``."""
        return metric_name(ACTIVITY_METRIC, {"env": self.environment, "name": name})

    def record_activity(self, name: str, duration: timedelta) -> None:
        """Send the seed's timing for one successful run of ``name``, in milliseconds."""
        self.timing(self.activity_name(name), duration.total_seconds() * 1000.0)
