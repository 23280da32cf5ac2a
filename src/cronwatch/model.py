"""The records cronwatch keeps.

A :class:`Run` is one execution of a job on a host. The original spec's "activity" is a
successful run, so :data:`Activity` is the same class.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from cronwatch.timeutil import from_us, to_us

Outcome = Literal["running", "success", "failure"]
OUTCOMES: tuple[Outcome, ...] = ("running", "success", "failure")
#: The fields of a run as JSON (:meth:`Run.to_json`), in order.
RUN_JSON_FIELDS = (
    "name",
    "hostname",
    "run_id",
    "outcome",
    "exit_code",
    "date_started",
    "date_completed",
    "duration_seconds",
    "output",
)


@dataclass(frozen=True, slots=True)
class Run:
    """One run of job ``name`` on ``hostname``.

    Datetimes are timezone-aware, in UTC. ``date_completed`` and ``exit_code`` are ``None``
    while the run is still going. ``run_id`` pairs a start with its finish, so that several
    overlapping runs of one job are each timed on their own. ``output`` is the end of what the
    run printed, bounded.
    """

    name: str
    hostname: str
    date_started: datetime
    date_completed: datetime | None
    outcome: Outcome
    exit_code: int | None
    run_id: str
    output: str | None = None
    #: False for a finish whose start nobody reported (a plain ping): its duration is
    #: unknown, stored as NULL, never sent as a timing, shown as unknown (not "0s").
    timed: bool = True

    @property
    def duration(self) -> timedelta | None:
        """How long the run took; ``None`` while it is running, or when it is not ``timed``."""
        if self.date_completed is None or not self.timed:
            return None
        return self.date_completed - self.date_started

    @property
    def succeeded(self) -> bool:
        return self.outcome == "success"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; instants as ISO 8601 strings with ``+00:00``."""
        duration = self.duration
        return {
            "name": self.name,
            "hostname": self.hostname,
            "run_id": self.run_id,
            "outcome": self.outcome,
            "exit_code": self.exit_code,
            "date_started": self.date_started.isoformat(),
            "date_completed": self.date_completed.isoformat() if self.date_completed else None,
            "duration_seconds": duration.total_seconds() if duration is not None else None,
            "output": self.output,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Run:
        """The inverse of :meth:`to_json` (instants re-read exactly, to the microsecond)."""
        started = datetime.fromisoformat(data["date_started"])
        completed = data.get("date_completed")
        return cls(
            name=data["name"],
            hostname=data["hostname"],
            run_id=data["run_id"],
            outcome=data["outcome"],
            exit_code=data.get("exit_code"),
            date_started=from_us(to_us(started)),
            date_completed=from_us(to_us(datetime.fromisoformat(completed))) if completed else None,
            output=data.get("output"),
        )


Activity = Run
