"""PagerDuty channel: PagerDuty's Events API v2, a page that closes itself.

Options (``type = "pagerduty"``): ``routing_key`` (an Events API v2 integration key) or
``routing_key_env`` (the environment variable holding it), ``url`` (default
``https://events.pagerduty.com/v2/enqueue``), ``timeout`` (10 s).

A problem, a reminder and an escalation are a ``trigger`` whose ``dedup_key`` is the incident's
id, so PagerDuty keeps them on one alert; the recovery is a ``resolve`` with the same key,
which closes it. The trigger's payload: ``summary`` (the one-line message, at most 1024
characters), ``source`` (the hosts concerned, or ``cronwatch``), ``severity`` (``critical``
for missing, failing, hung; ``warning`` otherwise), ``timestamp``, ``component`` (the job),
``group`` (its tags), ``class`` (its status) and ``custom_details`` (the message's facts), with
a link to the job's page. ``cronwatch alerts test`` triggers a test alert and resolves it at
once. PagerDuty answers 202 to an event it accepted; anything else is a
:class:`DeliveryError`, retried.
"""

from __future__ import annotations

import json
from typing import Any

from cronwatch.alerts.channels.base import DeliveryError, message_for, secret_from, timeout_of
from cronwatch.alerts.channels.webhook import send_http
from cronwatch.alerts.messages import Message
from cronwatch.alerts.model import Event
from cronwatch.specs import ChannelSpec, ServerSpec
from cronwatch.specs.channels import PAGERDUTY_EVENTS_URL

#: PagerDuty's limit on a summary.
MAX_SUMMARY = 1024


def dedup_key(event: Event) -> str:
    """The key tying an event to its PagerDuty alert: the incident's id (an event stored
    before incidents had ids gets one of its own)."""
    return event.incident or f"cronwatch-{event.name[:200]}-{event.id or 0}"


def trigger(message: Message, routing_key: str) -> dict[str, Any]:
    """The ``trigger`` event for ``message``."""
    event = message.event
    details = event.details
    hosts = [host for host, _ in details.hosts] if details else []
    summary = (
        event.text if len(event.text) <= MAX_SUMMARY else event.text[: MAX_SUMMARY - 3] + "..."
    )
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key(event),
        "payload": {
            "summary": summary,
            "source": ", ".join(hosts) or event.hostname or "cronwatch",
            "severity": message.severity if event.kind != "test" else "info",
            "timestamp": event.at.isoformat(),
            "component": event.name,
            "group": ", ".join(details.tags) if details and details.tags else None,
            "class": event.new_status,
            "custom_details": {
                "kind": event.kind,
                "reason": event.reason,
                "since": event.since.isoformat() if event.since else None,
                **(details.to_json() if details else {}),
            },
        },
        "client": "cronwatch",
    }
    if body["payload"]["group"] is None:
        del body["payload"]["group"]
    if message.url:
        body["client_url"] = message.url
        body["links"] = [{"href": message.url, "text": f"{event.name} in cronwatch"}]
    return body


def resolve(event: Event, routing_key: str) -> dict[str, Any]:
    """The ``resolve`` event closing ``event``'s incident."""
    return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": dedup_key(event)}


class PagerDutyChannel:
    """Triggers and resolves PagerDuty alerts, one per incident."""

    def __init__(self, spec: ChannelSpec, server: ServerSpec | None = None) -> None:
        self.name = spec.name
        self.spec = spec
        self.server = server or ServerSpec()
        self.url = str(spec.options.get("url", PAGERDUTY_EVENTS_URL))
        self.timeout = timeout_of(spec)

    def events(self, event: Event) -> list[dict[str, Any]]:
        """What is sent for ``event``, in order."""
        key = secret_from(self.spec, "routing_key")
        if event.kind == "recovery":
            return [resolve(event, key)]
        sent = [trigger(message_for(event, self.server), key)]
        if event.kind == "test":
            sent.append(resolve(event, key))
        return sent

    def send(self, event: Event) -> None:
        headers = {"Content-Type": "application/json"}
        for body in self.events(event):
            answer = send_http(
                "POST",
                self.url,
                json.dumps(body).encode(),
                headers,
                self.timeout.total_seconds(),
                self.url,
            )
            try:
                status = json.loads(answer).get("status")
            except (ValueError, AttributeError):
                status = None
            if status not in (None, "success"):
                raise DeliveryError(f"PagerDuty at {self.url} answered: {answer[:200]!r}")
