"""What cronwatch is told to expect: jobs, channels, alert settings, maintenance windows,
retention, the server's address, limits and what ``/metrics`` exports, as plain frozen
values, and :class:`Config`, all of them together.

A leaf of the house: it imports only the leaf modules (schedule, durations, names, timeutil,
errors, baseline's window), so that config, storage, health and alerts can all import it.
Reading the config file is :mod:`cronwatch.config`'s business; a job's fields are declared
once, in :mod:`cronwatch.specs.fields`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cronwatch.specs.alerting import AlertSettings, JobAlerting
from cronwatch.specs.channels import ChannelSpec, ChannelType
from cronwatch.specs.jobs import JobSpec, default_grace
from cronwatch.specs.limits import Limits
from cronwatch.specs.maintenance import MaintenanceWindow
from cronwatch.specs.metrics import MetricsSpec
from cronwatch.specs.retention import Retention
from cronwatch.specs.server import ServerSpec

__all__ = [
    "AlertSettings",
    "ChannelSpec",
    "ChannelType",
    "Config",
    "JobAlerting",
    "JobSpec",
    "Limits",
    "MaintenanceWindow",
    "MetricsSpec",
    "Retention",
    "ServerSpec",
    "default_grace",
]


@dataclass(frozen=True)
class Config:
    """A loaded configuration file. ``jobs`` and ``channels`` keep the file's order."""

    jobs: dict[str, JobSpec]
    channels: dict[str, ChannelSpec]
    path: Path
    alerts: AlertSettings = field(default_factory=AlertSettings)
    maintenance: tuple[MaintenanceWindow, ...] = ()
    retention: Retention = field(default_factory=Retention)
    server: ServerSpec = field(default_factory=ServerSpec)
    limits: Limits = field(default_factory=Limits)
    metrics: MetricsSpec = field(default_factory=MetricsSpec)
