"""What the alerting layer stores: each job's alerting state, and events.

An *event* is a status change of a job (``hostname`` "") or of one of its hosts, or a
notification about a job: the history and the alert queue at once. ``kind`` says which:

- ``change``: a status change that nobody is told about (a host's, a warning that does not
  alert, a problem not yet confirmed, anything during a silence); ``note`` says why not;
- ``problem``: a job's problem is announced (ok -> missing, or the N-th failure in a row);
- ``reminder``: the job is still down after ``repeat``;
- ``recovery``: a job whose problem was announced is fine again;
- ``test``: ``cronwatch alerts test CHANNEL`` (sent directly, never stored).

Only problem, reminder and recovery events of jobs get deliveries, one per channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

EventKind = Literal["change", "problem", "recovery", "reminder", "test"]
#: The kinds that are delivered to the job's channels.
NOTIFYING: frozenset[str] = frozenset({"problem", "recovery", "reminder"})
#: ``hostname`` of a job's own row (its hosts have theirs).
JOB_ROW = ""


@dataclass(frozen=True, slots=True)
class JobState:
    """A row of ``job_states``: what the alert loop last saw of a job (or host), and whether a
    problem of it has been announced (``alerting``) and not yet followed by a recovery.

    ``problem_since``: the first observation of the current problem. ``recovering_since``:
    when an announced job turned good (its recovery counts runs completed after it).
    ``hold_until``: no problem is announced before it (set when a paused job resumes).
    ``snooze_until``: written by ``cronwatch alerts snooze``.
    """

    name: str
    hostname: str
    status: str
    reason: str
    since: datetime
    version: int = 0
    alerting: bool = False
    alert_status: str | None = None
    problem_since: datetime | None = None
    recovering_since: datetime | None = None
    notified: datetime | None = None
    hold_until: datetime | None = None
    snooze_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """A stored event (``id`` is ``None`` before it is stored). ``text`` is the one-line
    message channels send, e.g. ``backup is MISSING: backup didn't run on db2 since 03:00 UTC``.
    """

    name: str
    hostname: str
    kind: EventKind
    old_status: str
    new_status: str
    reason: str
    text: str
    at: datetime
    note: str | None = None
    id: int | None = None

    @property
    def notifies(self) -> bool:
        return self.kind in NOTIFYING

    def to_json(self) -> dict[str, Any]:
        """The event as channels and ``--json`` output show it (the webhook body's fields)."""
        return {
            "event_id": self.id,
            "kind": self.kind,
            "job": self.name,
            "host": self.hostname or None,
            "status": self.new_status,
            "previous_status": self.old_status,
            "reason": self.reason,
            "text": self.text,
            "note": self.note,
            "at": self.at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """The next state of a row, and the event that records the change (what
    :mod:`cronwatch.alerts.rules` decides and :mod:`cronwatch.storage.alerts` writes)."""

    state: JobState
    event: Event
