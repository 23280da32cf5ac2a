"""The ``[limits]`` table: what the server refuses so that no client can silence or swamp it.

::

    [limits]
    max_jobs = 10000              # jobs in all; a ping or API call for a new name beyond: 403
    future_tolerance = "5m"       # runs dated further ahead of the server's clock: 400

``cronwatch serve --max-jobs`` and ``--future-tolerance`` override the file. A job counts
whatever created it (a ping, the API, the config file); existing jobs go on being recorded at
the limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cronwatch.errors import InvalidInput
from cronwatch.specs import values
from cronwatch.timeutil import FUTURE_TOLERANCE

LIMITS_FIELDS = frozenset({"max_jobs", "future_tolerance"})
#: Jobs a database may hold before new names are refused: the overview and ``/metrics`` stay
#: quick (10,000 jobs: about a second; 60,000 took 7 s and 16 s).
DEFAULT_MAX_JOBS = 10_000
#: The largest ``max_jobs`` accepted.
MAX_MAX_JOBS = 10_000_000


@dataclass(frozen=True)
class Limits:
    """The ``[limits]`` table (defaults when absent)."""

    max_jobs: int = DEFAULT_MAX_JOBS
    future_tolerance: timedelta = FUTURE_TOLERANCE


def job_limit_message(max_jobs: int) -> str:
    """Why a new job is refused at the limit, and what to do."""
    return (
        f"job limit reached: this server keeps at most {max_jobs:,} jobs ([limits] max_jobs "
        "in the config file, or serve --max-jobs); existing jobs are still recorded. "
        "Delete unused jobs or raise the limit"
    )


def parse_limits(table: dict[str, Any]) -> Limits:
    """The ``[limits]`` table; :class:`InvalidInput` naming the field."""
    values.check_fields("limits", table, LIMITS_FIELDS)
    limits = Limits()
    max_jobs = limits.max_jobs
    if "max_jobs" in table:
        max_jobs = values.count("limits.max_jobs", table["max_jobs"], 1, MAX_MAX_JOBS)
    tolerance = limits.future_tolerance
    if "future_tolerance" in table:
        tolerance = values.duration("limits.future_tolerance", table["future_tolerance"])
        if tolerance > timedelta(days=1):
            raise InvalidInput(
                "limits.future_tolerance: at most 1d (a run dated further ahead hides the "
                "job's real outcomes until then)"
            )
    return Limits(max_jobs=max_jobs, future_tolerance=tolerance)
