"""cronwatch: watch scheduled jobs and know when one is missing, failing, late or slow.

import cronwatch
monitor = cronwatch.connect()          # $CRONWATCH_DATABASE_URL or the default SQLite file
monitor.record_success("backup", started, completed)
with monitor.track("backup"):
    ...
"""

from __future__ import annotations

from cronwatch.errors import (
    ConfigError,
    CronwatchError,
    InvalidInput,
    StorageUnavailable,
)
from cronwatch.model import Activity, Run
from cronwatch.monitor import Monitor
from cronwatch.statsd import StatsdClient
from cronwatch.targets import connect
from cronwatch.version import __version__

__all__ = [
    "Activity",
    "ConfigError",
    "CronwatchError",
    "InvalidInput",
    "Monitor",
    "Run",
    "StatsdClient",
    "StorageUnavailable",
    "__version__",
    "connect",
]
