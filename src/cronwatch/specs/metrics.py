"""The ``[metrics]`` table: what ``/metrics`` exports.

::

    [metrics]
    per_host = false    # one series per job, no `host` label (default true: per job and host)

Every per-host series (last run, counters, ``cronwatch_job_host_status``) costs one series per
host a job runs on; a fleet of many hosts per job can turn them off and keep the per-job ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cronwatch.specs import values

METRICS_FIELDS = frozenset({"per_host"})


@dataclass(frozen=True)
class MetricsSpec:
    """The ``[metrics]`` table. ``per_host``: export per job and host (label ``host``); false:
    per job only, the host summaries combined (counters summed, the latest run's values)."""

    per_host: bool = True


def parse_metrics(table: dict[str, Any]) -> MetricsSpec:
    """The ``[metrics]`` table; :class:`InvalidInput` naming the field."""
    values.check_fields("metrics", table, METRICS_FIELDS)
    if "per_host" not in table:
        return MetricsSpec()
    return MetricsSpec(per_host=values.boolean("metrics.per_host", table["per_host"]))
