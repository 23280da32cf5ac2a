"""statsd timings, InfluxDB-style tagged, that can never fail a recording.

Every successful run sends one timing, as Launchpad did::

    script_activity,env=<environment>,name=<name>:<milliseconds>|ms

Tags are sorted by key and escaped the InfluxDB way (``\\,``, ``\\=``, ``\\ ``); the characters
the statsd line protocol itself reserves (``:``, ``|``, ``@``) cannot be escaped and become
``_``. With no host configured nothing is sent; a statsd that is down, unresolvable or broken
only costs a warning in the log.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

log = logging.getLogger("cronwatch.statsd")

ACTIVITY_METRIC = "script_activity"

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
        self._client: Any = None

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
        """Send one timing; never raises."""
        try:
            if self._client is None:
                from statsd import StatsClient  # resolves the host: keep it off the import path

                self._client = StatsClient(self.host, self.port, prefix=self.prefix)
            self._client.timing(stat, milliseconds)
        except Exception as exc:  # a monitoring side channel must never break recording
            log.warning(
                "statsd %s:%s unreachable, timing %s dropped: %s", self.host, self.port, stat, exc
            )

    def activity_name(self, name: str) -> str:
        """The name of the seed's timing for job ``name``."""
        return metric_name(ACTIVITY_METRIC, {"env": self.environment, "name": name})

    def record_activity(self, name: str, duration: timedelta) -> None:
        """Send the seed's timing for one successful run of ``name``, in milliseconds."""
        self.timing(self.activity_name(name), duration.total_seconds() * 1000.0)
