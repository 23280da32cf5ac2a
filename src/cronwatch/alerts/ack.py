"""Acknowledging an incident: somebody is on it, so its reminders and escalation stop.

``cronwatch alerts ack JOB`` and ``POST /api/v1/jobs/{name}/ack`` call :func:`acknowledge`.
The acknowledgement belongs to the job's current incident: the recovery clears it, and the
next problem opens a new incident that alerts as usual. It is recorded as an ``ack`` event
(who, their note) in the job's history; no channel is told.
"""

from __future__ import annotations

import re
from datetime import datetime

from cronwatch.alerts.model import Event
from cronwatch.errors import Conflict, InvalidInput, NotFound
from cronwatch.names import validate_name
from cronwatch.storage.alerts import AlertStore
from cronwatch.storage.connection import Database
from cronwatch.storage.jobs import JobStore
from cronwatch.timeutil import utcnow

MAX_NOTE = 1000
MAX_ACTOR = 200
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # tabs and newlines are fine in a note


def job_history(db: Database, name: str, *, limit: int = 50) -> list[Event]:
    """Job ``name``'s events, newest first; :class:`NotFound` for a job never seen."""
    events = AlertStore(db).events(name, limit=limit)
    if not events and JobStore(db).record(name) is None:
        raise NotFound(f"no job named {name!r}")
    return events


def acknowledge(
    db: Database, name: str, by: str, note: str | None = None, now: datetime | None = None
) -> Event:
    """Acknowledge job ``name``'s open incident as ``by`` (a key's name, a user), with
    ``note``; the ``ack`` event recorded. :class:`NotFound` for an unknown job,
    :class:`Conflict` when it has no announced problem, :class:`InvalidInput` for a bad note;
    nothing is written then."""
    name = validate_name(name, "job name")
    if note is not None:
        note = note.strip() or None
    if note is not None and (len(note) > MAX_NOTE or _CONTROL.search(note)):
        raise InvalidInput(
            f"note: at most {MAX_NOTE} characters, without control characters other than "
            "tabs and newlines"
        )
    by = by.strip()[:MAX_ACTOR] or "unknown"
    store = AlertStore(db)
    event = store.acknowledge(name, by, note, now or utcnow())
    if event is not None:
        return event
    if JobStore(db).record(name) is None:
        raise NotFound(f"no job named {name!r}")
    state = store.state(name)
    status = state.status if state is not None else "not evaluated yet"
    raise Conflict(
        f"{name} has no open incident to acknowledge (status: {status}); an incident opens "
        "when a problem is announced"
    )
