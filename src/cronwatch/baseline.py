"""Robust statistics for what a job normally does: its usual runtime and its usual interval.

Runtimes of real jobs are skewed and have outliers (the one run that waited on a lock for an
hour), so the baseline is the median and the median absolute deviation (MAD), not the mean and
standard deviation: a single outlier barely moves them, where it would drag a mean along and
inflate a standard deviation until nothing counts as unusual.

Pure functions over plain numbers and datetimes; no database, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Literal

from cronwatch.errors import InvalidInput
from cronwatch.timeutil import require_aware

#: Scales the MAD into a consistent estimate of the standard deviation for normal data.
MAD_SCALE = 1.4826
#: How many of a job's latest runs a baseline is learned from.
BASELINE_WINDOW = 50
#: A baseline needs this many runs before it says anything.
MIN_SAMPLES = 5
#: Half-width of the normal band, in (scaled) MADs.
DEFAULT_K = 4.0
#: The band is never narrower than ± this fraction of the median ...
MIN_RELATIVE_WIDTH = 0.10
#: ... nor than ± this many seconds, so that identical durations still leave room for jitter.
MIN_ABSOLUTE_WIDTH = 1.0
#: learn_interval() needs this many distinct start times.
MIN_INTERVAL_RUNS = 3
#: learn_interval() answers only when most gaps lie within this fraction of their median.
INTERVAL_TOLERANCE = 0.5


def _finite(values: Iterable[float], what: str) -> list[float]:
    result = [float(v) for v in values]
    if not result:
        raise InvalidInput(f"{what} of no values")
    if not all(math.isfinite(v) for v in result):
        raise InvalidInput(f"{what}: values must be finite numbers")
    return result


def median(values: Iterable[float]) -> float:
    """The median (mean of the two middle values for an even count); ``InvalidInput`` if empty."""
    ordered = sorted(_finite(values, "median"))
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def mad(values: Iterable[float]) -> float:
    """The median absolute deviation from the median, times :data:`MAD_SCALE` (a sigma)."""
    data = _finite(values, "mad")
    centre = median(data)
    return MAD_SCALE * median(abs(v - centre) for v in data)


Verdict = Literal["fast", "normal", "slow"]


@dataclass(frozen=True)
class RuntimeBaseline:
    """A job's normal runtime, in seconds: ``low <= duration <= high`` is normal.

    ``low``/``high`` are ``median ∓ half_width`` with ``half_width = max(k * mad,
    MIN_RELATIVE_WIDTH * median, MIN_ABSOLUTE_WIDTH)``; ``low`` is never below zero.
    """

    median: float
    mad: float
    low: float
    high: float
    samples: int

    @classmethod
    def from_durations(
        cls,
        durations: Iterable[float],
        *,
        k: float = DEFAULT_K,
        min_samples: int = MIN_SAMPLES,
    ) -> RuntimeBaseline | None:
        """The baseline of ``durations`` (seconds), or ``None`` with fewer than ``min_samples``.

        Refuses negative or non-finite durations and a non-positive ``k`` with ``InvalidInput``.
        """
        if not (math.isfinite(k) and k > 0):
            raise InvalidInput(f"k must be a positive number, not {k!r}")
        data = [float(d) for d in durations]
        # Validate even when there are too few: bad input is an error, not "no baseline yet".
        if not all(math.isfinite(d) and d >= 0 for d in data):
            raise InvalidInput("durations must be finite, non-negative numbers of seconds")
        if len(data) < max(1, min_samples):
            return None
        centre = median(data)
        spread = mad(data)
        half_width = max(k * spread, MIN_RELATIVE_WIDTH * centre, MIN_ABSOLUTE_WIDTH)
        return cls(
            median=centre,
            mad=spread,
            low=max(0.0, centre - half_width),
            high=centre + half_width,
            samples=len(data),
        )

    def classify(self, duration: float) -> Verdict:
        """``"slow"`` above ``high``, ``"fast"`` below ``low``, else ``"normal"``."""
        if duration > self.high:
            return "slow"
        if duration < self.low:
            return "fast"
        return "normal"


def learn_interval(timestamps: Iterable[datetime]) -> timedelta | None:
    """The usual gap between runs: the median gap between sorted distinct start times.

    ``None`` with fewer than :data:`MIN_INTERVAL_RUNS` distinct times, and ``None`` when the
    gaps agree on no interval (fewer than half within ±:data:`INTERVAL_TOLERANCE` of their
    median): an irregular job gets no learned schedule rather than a made-up one. One odd gap
    (a missed or an extra run) among several regular ones does not change the answer.

    Pass one host's runs for a multi-host job: runs of several hosts interleave into gaps
    that are no host's interval. Naive datetimes are refused with ``InvalidInput``.
    """
    # Identical instants are one run reported twice, not a zero interval.
    times = sorted({require_aware(t, "timestamp") for t in timestamps})
    if len(times) < MIN_INTERVAL_RUNS:
        return None
    one_us = timedelta(microseconds=1)
    gaps = [(later - earlier) // one_us for earlier, later in pairwise(times)]
    centre = median(gaps)
    agreeing = sum(1 for gap in gaps if abs(gap - centre) <= INTERVAL_TOLERANCE * centre)
    if agreeing * 2 <= len(gaps):
        return None
    return timedelta(microseconds=round(centre))
