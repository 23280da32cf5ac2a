"""What the alerting layer stores: each job's alerting state, and events.

An *event* is a status change of a job (``hostname`` "") or of one of its hosts, or a
notification about a job: the history and the alert queue at once. ``kind`` says which:

- ``change``: a status change that nobody is told about (a host's, a warning that does not
  alert, a problem not yet confirmed, anything during a silence); ``note`` says why not;
- ``problem``: a job's problem is announced (ok -> missing, or the N-th failure in a row);
- ``reminder``: the job is still down after ``repeat`` (and nobody acknowledged it);
- ``escalation``: the job is still down ``escalate_after`` the problem and nobody acknowledged
  it: the problem goes to the ``escalate_to`` channels;
- ``recovery``: a job whose problem was announced is fine again;
- ``ack``: somebody acknowledged the incident (``actor``, ``note``): no more reminders or
  escalation for it; recorded, not sent;
- ``action``: somebody acted on the job from the dashboard or the API (``reason`` the verb:
  pause, resume, snooze, unsnooze, edit, delete; ``actor`` who, ``note`` why:
  :mod:`cronwatch.actions`); recorded, not sent;
- ``test``: ``cronwatch alerts test CHANNEL`` (sent directly, never stored);
- ``log``: a ``/log`` ping (Healthchecks' "log" event): ``text`` is its body; it changes no
  status and is never delivered (``old_status`` and ``new_status`` are empty).

Only problem, reminder, escalation and recovery events of jobs get deliveries, one per channel.

Every problem opens an *incident*: an id (:func:`incident_id`) that its reminders, its
escalation, its acknowledgement and its recovery carry, so that a receiver can tie them
together (PagerDuty's ``dedup_key``, Opsgenie's ``alias``, a webhook's ``{incident}``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from cronwatch.timeutil import from_us, to_us

EventKind = Literal[
    "change", "problem", "recovery", "reminder", "escalation", "ack", "action", "test", "log"
]
#: The kinds that are delivered to channels.
NOTIFYING: frozenset[str] = frozenset({"problem", "recovery", "reminder", "escalation"})
#: How many characters of a failed run's output an event keeps (its last lines).
OUTPUT_TAIL_CHARS = 1500
OUTPUT_TAIL_LINES = 15
#: ``hostname`` of a job's own row (its hosts have theirs).
JOB_ROW = ""


@dataclass(frozen=True, slots=True)
class JobState:
    """A row of ``job_states``: what the alert loop last saw of a job (or host), and whether a
    problem of it has been announced (``alerting``) and not yet followed by a recovery.

    ``problem_since``: the first observation of the current problem. ``recovering_since``:
    when an announced job turned good (its recovery counts runs completed after it).
    ``hold_until``: no problem is announced before it (set when a paused job resumes).
    ``snooze_until``: written by ``cronwatch alerts snooze``. ``incident``: the id of the
    announced problem (set with ``alerting``). ``acked``, ``acked_by``, ``ack_note``: its
    acknowledgement; ``announced``: when the problem was announced (escalation counts from
    then); ``escalated``: when it was escalated.
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
    incident: str | None = None
    acked: datetime | None = None
    acked_by: str | None = None
    ack_note: str | None = None
    escalated: datetime | None = None
    announced: datetime | None = None


def alerting_json(state: JobState | None, now: datetime) -> dict[str, Any]:
    """What ``cronwatch status --json`` adds to a job's health: its snooze (while it runs) and
    its open incident with the acknowledgement, from the job's alerting ``state``."""
    if state is None:
        return {"snoozed_until": None, "incident": None}
    snoozed = state.snooze_until if state.snooze_until and state.snooze_until > now else None
    incident = None
    if state.alerting:
        incident = {
            "id": state.incident,
            "status": state.alert_status,
            "announced": state.announced.isoformat() if state.announced else None,
            "acknowledged_by": state.acked_by if state.acked else None,
            "acknowledged": state.acked.isoformat() if state.acked else None,
            "note": state.ack_note if state.acked else None,
        }
    return {"snoozed_until": snoozed.isoformat() if snoozed else None, "incident": incident}


def incident_id(name: str, opened: datetime) -> str:
    """The id of the incident of job ``name`` announced at ``opened``: deterministic, so that
    loops deciding the same problem at once agree on it; short and made of ``[0-9a-f]``, so
    that it fits every receiver's key (PagerDuty ``dedup_key``, Opsgenie ``alias``)."""
    digest = hashlib.sha256(f"{name}\0{to_us(opened)}".encode()).hexdigest()
    return f"cw-{digest[:20]}"


@dataclass(frozen=True, slots=True)
class Details:
    """The facts a message gives beyond its line, taken when the event was decided:
    ``hosts`` concerned (``(host, status)``, worst first), the last finished run (its host,
    exit code, completion) and, when it failed, the end of its output; the job's tags."""

    hosts: tuple[tuple[str, str], ...] = ()
    last_host: str | None = None
    exit_code: int | None = None
    last_completed: datetime | None = None
    output_tail: str | None = None
    tags: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "hosts": [{"host": host, "status": status} for host, status in self.hosts],
            "last_run": None
            if self.last_completed is None
            else {
                "host": self.last_host,
                "exit_code": self.exit_code,
                "completed": self.last_completed.isoformat(),
            },
            "output_tail": self.output_tail,
            "tags": list(self.tags),
        }

    def dumps(self) -> str:
        """The stored form (compact JSON; instants in microseconds)."""
        data: dict[str, Any] = {"hosts": [list(pair) for pair in self.hosts]}
        if self.last_completed is not None:
            data["last"] = [self.last_host, self.exit_code, to_us(self.last_completed)]
        if self.output_tail:
            data["output"] = self.output_tail
        if self.tags:
            data["tags"] = list(self.tags)
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def loads(cls, text: str | None) -> Details | None:
        if not text:
            return None
        data = json.loads(text)
        last = data.get("last")
        return cls(
            hosts=tuple((str(h), str(s)) for h, s in data.get("hosts", [])),
            last_host=last[0] if last else None,
            exit_code=last[1] if last else None,
            last_completed=from_us(int(last[2])) if last else None,
            output_tail=data.get("output"),
            tags=tuple(data.get("tags", ())),
        )


@dataclass(frozen=True, slots=True)
class Event:
    """A stored event (``id`` is ``None`` before it is stored). ``text`` is the one-line
    summary of a message, e.g. ``backup is MISSING: backup didn't run on db2 since 03:00 UTC``
    (:mod:`cronwatch.alerts.messages` writes the rest from ``details``). ``incident``: the id
    of the incident it belongs to; ``since``: when that incident started. ``actor``: who
    acknowledged (an ``ack``) or acted (an ``action``); ``note`` their note, or why nobody was
    told (a ``change``).
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
    incident: str | None = None
    since: datetime | None = None
    actor: str | None = None
    details: Details | None = field(default=None, compare=False)

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
            "incident": self.incident,
            "since": self.since.isoformat() if self.since else None,
            "acknowledged_by": self.actor if self.kind == "ack" else None,
        }

    def history_json(self) -> dict[str, Any]:
        """The event as the job's history shows it (the API, ``alerts history --json``):
        :meth:`to_json` and ``by``, who acknowledged or acted."""
        return {**self.to_json(), "by": self.actor}


@dataclass(frozen=True, slots=True)
class Decision:
    """The next state of a row, and the event that records the change (what
    :mod:`cronwatch.alerts.rules` decides and :mod:`cronwatch.storage.alerts` writes)."""

    state: JobState
    event: Event
    #: Where a notifying event goes.
    channels: tuple[str, ...] = ()
