"""A per-key rate limit: a token bucket for each key, in this process only.

Several ``cronwatch serve`` processes behind one load balancer each enforce the limit on their
own, so a client spread over ``n`` processes gets up to ``n`` times the rate. That is on
purpose: a shared counter would put a database write (or another service) on every ping, and the
limit is there to stop a runaway loop in a crontab from flooding the server, not to meter use.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class RateLimiter:
    """Token buckets of ``burst`` requests refilled at ``rate`` per second, one per key.

    ``rate`` 0 (or less) turns the limit off. Memory is bounded: beyond ``max_keys`` buckets,
    the ones that have refilled completely (they would allow a full burst anyway) are dropped.
    """

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(1.0, 2 * rate))
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, updated)

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def acquire(self, key: str) -> float:
        """Take one request from ``key``'s bucket: 0.0 if allowed, otherwise the seconds until
        a request would be allowed (the request is refused and costs nothing)."""
        if self.rate <= 0:
            return 0.0
        now = self._clock()
        tokens, updated = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - updated) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate
        self._buckets[key] = (tokens - 1.0, now)
        if len(self._buckets) > self.max_keys:
            self._prune(now)
        return 0.0

    def _prune(self, now: float) -> None:
        full = [
            key
            for key, (tokens, updated) in self._buckets.items()
            if tokens + (now - updated) * self.rate >= self.burst
        ]
        for key in full:
            del self._buckets[key]
