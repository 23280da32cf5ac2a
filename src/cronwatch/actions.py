"""What a person does to a job, from the dashboard or the REST API: pause, resume, snooze,
unsnooze, acknowledge, edit and delete; each recorded as an ``action`` event (an ``ack`` event
for an acknowledgement) with who did it (a key's name) and their note, so that the job's
history, ``cronwatch alerts history`` and ``GET /api/v1/jobs/{name}/events`` show it.

:class:`JobActions` goes through the existing library: :class:`~cronwatch.jobs.JobsService`
for the job's spec (pause, edit, delete: refused with :class:`~cronwatch.errors.Conflict` for a
job declared in the config file, which wins), the alert state's snooze, and
:func:`cronwatch.alerts.ack.acknowledge`. The change comes first and its event after it: a
refused change records nothing.

:func:`snooze_end` turns the dashboard's choices (1 h, 4 h, tomorrow 09:00 in the viewer's
timezone, a chosen local time) into an instant.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, time, timedelta
from typing import Any

from cronwatch.alerts.ack import MAX_ACTOR, MAX_NOTE, acknowledge
from cronwatch.alerts.model import Event
from cronwatch.errors import InvalidInput
from cronwatch.jobs import JobsService
from cronwatch.schedule import load_zone
from cronwatch.specs import Config
from cronwatch.storage.alerts import AlertStore
from cronwatch.storage.connection import Database
from cronwatch.timeutil import utcnow

#: The snoozes the dashboard offers besides a chosen time.
SNOOZE_CHOICES = ("1h", "4h", "tomorrow")
#: The spec fields the dashboard's edit form changes (the rest of a spec is kept).
EDITABLE = ("schedule", "grace", "hosts", "min_runtime", "max_runtime", "tags", "alerts")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_LATEST_SNOOZE = timedelta(days=366)


class JobActions:
    """The actions on the jobs of one database, with the server's config file."""

    def __init__(self, db: Database, config: Config | None = None) -> None:
        self.db = db
        self.jobs = JobsService(db, config)
        self.alerts = AlertStore(db)

    def pause(self, name: str, by: str, note: str | None = None) -> Event:
        """Pause ``name`` (no alerts, nothing expected, status ``paused``)."""
        note = check_note(note)
        self.jobs.set_paused(name, True)
        return self._record(name, "pause", by, note, "paused")

    def resume(self, name: str, by: str, note: str | None = None) -> Event:
        note = check_note(note)
        self.jobs.set_paused(name, False)
        return self._record(name, "resume", by, note, "resumed")

    def snooze(
        self,
        name: str,
        until: datetime,
        by: str,
        note: str | None = None,
        now: datetime | None = None,
    ) -> Event:
        """Silence ``name``'s alerts until ``until`` (in the future, within a year)."""
        now = now or utcnow()
        note = check_note(note)
        self.jobs.get(name)  # NotFound for a job nobody knows
        if until <= now:
            raise InvalidInput("snooze: the end must be in the future")
        if until - now > _LATEST_SNOOZE:
            raise InvalidInput("snooze: at most a year; pause the job instead")
        self.alerts.snooze(name, until, now)
        shown = until.strftime("%Y-%m-%d %H:%M UTC")
        return self._record(name, "snooze", by, note, f"snoozed until {shown}", now)

    def unsnooze(self, name: str, by: str, note: str | None = None) -> Event:
        now = utcnow()
        note = check_note(note)
        self.jobs.get(name)
        self.alerts.snooze(name, None, now)
        return self._record(name, "unsnooze", by, note, "no longer snoozed", now)

    def acknowledge(self, name: str, by: str, note: str | None = None) -> Event:
        """Acknowledge the open incident (the ``ack`` event: see :mod:`cronwatch.alerts.ack`)."""
        return acknowledge(self.db, name, _actor(by), note)

    def edit(self, name: str, patch: Mapping[str, Any], by: str, note: str | None = None) -> Event:
        """Change the fields of ``patch`` (JSON Merge Patch: ``None`` removes one) of a job
        declared through the API or created by its runs; the event names the fields."""
        note = check_note(note)
        before = self.jobs.get(name)["spec"]
        after = self.jobs.update(name, patch)["spec"]
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        what = ", ".join(changed) if changed else "nothing"
        return self._record(name, "edit", by, note, f"edited ({what})")

    def delete(self, name: str, by: str, note: str | None = None) -> Event:
        """Forget the job, its runs too; the event stays in the history."""
        note = check_note(note)
        self.jobs.delete(name)
        return self._record(name, "delete", by, note, "deleted with its runs")

    def snoozed_elsewhere(
        self, name: str, until: datetime | None, by: str, now: datetime | None = None
    ) -> Event:
        """Record a snooze (``until``) or its lifting (``None``) written by
        ``cronwatch alerts snooze``/``unsnooze``, which also take jobs not seen yet."""
        if until is None:
            return self._record(name, "unsnooze", by, None, "no longer snoozed", now)
        shown = until.strftime("%Y-%m-%d %H:%M UTC")
        return self._record(name, "snooze", by, None, f"snoozed until {shown}", now)

    def _record(
        self,
        name: str,
        verb: str,
        by: str,
        note: str | None,
        done: str,
        now: datetime | None = None,
    ) -> Event:
        who = _actor(by)
        state = self.alerts.state(name)
        status = state.status if state is not None else ""
        event = Event(
            name=name,
            hostname="",
            kind="action",
            old_status=status,
            new_status=status,
            reason=verb,
            text=f"{name} {done} by {who}" + (f": {note}" if note else ""),
            at=now or utcnow(),
            note=note,
            actor=who,
        )
        return self.alerts.record_event(event)


def _actor(by: str) -> str:
    return by.strip()[:MAX_ACTOR] or "unknown"


def check_note(note: str | None) -> str | None:
    """``note`` stripped (``None`` when empty); :class:`InvalidInput` when too long or holding
    control characters. The actions call it first, so that a bad note changes nothing."""
    if note is None:
        return None
    note = note.strip() or None
    if note is not None and (len(note) > MAX_NOTE or _CONTROL.search(note)):
        raise InvalidInput(
            f"note: at most {MAX_NOTE} characters, without control characters other than "
            "tabs and newlines"
        )
    return note


def snooze_end(choice: str, now: datetime, timezone: str = "UTC", local: str = "") -> datetime:
    """The end of a snooze: ``1h`` and ``4h`` from ``now``; ``tomorrow``: 09:00 tomorrow on the
    wall clock of ``timezone`` (the viewer's); ``until``: ``local``, a
    ``YYYY-MM-DDTHH:MM`` time in ``timezone`` (what ``<input type=datetime-local>`` sends).
    :class:`InvalidInput` for anything else, an unknown zone included."""
    zone = load_zone(timezone or "UTC")
    if choice == "1h":
        return now + timedelta(hours=1)
    if choice == "4h":
        return now + timedelta(hours=4)
    if choice == "tomorrow":
        today = now.astimezone(zone).date()
        wall = datetime.combine(today + timedelta(days=1), time(9, 0))
        return wall.replace(tzinfo=zone).astimezone(now.tzinfo)
    if choice == "until":
        try:
            wall = datetime.fromisoformat(local.strip())
        except ValueError:
            raise InvalidInput(f"until: {local[:40]!r} is not a date and time") from None
        if wall.tzinfo is not None:
            return wall.astimezone(now.tzinfo)
        return wall.replace(tzinfo=zone).astimezone(now.tzinfo)
    raise InvalidInput(f"snooze: choose one of {', '.join(SNOOZE_CHOICES)} or until")
