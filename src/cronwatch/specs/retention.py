"""How long history is kept: :class:`Retention`, its defaults and its one rule.

The ``[retention]`` table of the config file, ``Monitor.prune`` and ``cronwatch prune`` all
build a :class:`Retention`; :func:`cronwatch.retention.prune` applies it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from cronwatch.baseline import BASELINE_WINDOW
from cronwatch.durations import format_duration
from cronwatch.errors import InvalidInput

#: Runs older than this are deleted by default.
DEFAULT_KEEP_RUNS = timedelta(days=90)
#: Events older than this are deleted by default.
DEFAULT_KEEP_EVENTS = timedelta(days=90)
#: The latest runs of each job kept whatever their age: what its baselines are learned from.
KEEP_LAST_RUNS = BASELINE_WINDOW
#: A retention shorter than this is refused: ``runs = 30`` means 30 seconds, never the intent.
MIN_RETENTION = timedelta(days=1)


@dataclass(frozen=True)
class Retention:
    """How long runs and events are kept. ``runs`` ``None``: every run is kept."""

    runs: timedelta | None = DEFAULT_KEEP_RUNS
    keep_last: int = KEEP_LAST_RUNS
    events: timedelta = DEFAULT_KEEP_EVENTS

    def __post_init__(self) -> None:
        if isinstance(self.keep_last, bool) or not isinstance(self.keep_last, int):
            raise InvalidInput(f"keep_last must be a whole number, not {self.keep_last!r}")
        problem = retention_problem(self.runs, self.keep_last, self.events)
        if problem is not None:
            raise InvalidInput(f"retention {problem[0]} {problem[1]}")


def retention_problem(
    runs: timedelta | None, keep_last: int, events: timedelta
) -> tuple[str, str] | None:
    """The first setting out of range, as ``(setting, what is wrong)``, or ``None``."""
    for name, kept in (("runs", runs), ("events", events)):
        if kept is not None and kept < MIN_RETENTION:
            return name, f"must be at least 1 day, not {format_duration(kept)}"
    if keep_last < 1:
        return "keep_last", f"must be at least 1, not {keep_last}"
    return None
