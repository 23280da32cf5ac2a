"""Webhook channel: an HTTP request per event, by default the event as a JSON ``POST``.

The default body (``Content-Type: application/json``)::

    {"text": "backup is MISSING: ...\\n\\nJob:       backup\\nHosts:     db2 (missing)\\n...",
     "summary": "backup is MISSING: backup didn't run on db2 since 03:00 UTC (...)",
     "title": "backup is MISSING", "kind": "problem", "job": "backup", "host": null,
     "status": "missing", "previous_status": "ok", "reason": "...", "note": null,
     "at": "2026-11-28T04:01:00+00:00", "since": "2026-11-28T04:01:00+00:00",
     "incident": "cw-3f9a...", "url": "https://cron.example.com/jobs/backup",
     "severity": "critical", "hosts": [{"host": "db2", "status": "missing"}],
     "last_run": {"host": "db2", "exit_code": 1, "completed": "..."}, "output_tail": "...",
     "tags": ["db"], "acknowledged_by": null, "event_id": 42, "channel": "ops"}

``text`` is what Slack, Mattermost and Rocket.Chat incoming webhooks read, so their URLs work
as they are. Any other service: ``method`` and a ``body`` template with placeholders
(:mod:`cronwatch.specs.template`), JSON-escaped in a JSON body, form-encoded in a form body,
percent-encoded in the ``url``. Any 2xx answer is a delivery; anything else, a timeout or a
refused connection is a :class:`DeliveryError` (retried later). Redirects are not followed: a
POST that is redirected would be replayed as a GET without its body.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from cronwatch.alerts.channels.base import DeliveryError, message_for, timeout_of
from cronwatch.alerts.messages import Message
from cronwatch.alerts.model import Event
from cronwatch.specs import ChannelSpec, ServerSpec
from cronwatch.specs.template import Template, body_escape, parse_template
from cronwatch.version import __version__

#: How much of an error answer is kept in the delivery's last error.
_ERROR_BODY = 200


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def payload(message: Message, channel: str) -> dict[str, Any]:
    """The default JSON body for ``message`` sent to ``channel``."""
    event = message.event
    details = event.details.to_json() if event.details is not None else {}
    return {
        **event.to_json(),
        "text": message.text,
        "summary": event.text,
        "title": message.title,
        "url": message.url,
        "severity": message.severity,
        **details,
        "channel": channel,
    }


def send_http(
    method: str,
    url: str,
    body: bytes | None,
    headers: Mapping[str, str],
    timeout: float,
    shown: str,
) -> bytes:
    """Send one request; its answer's body (the start of it), or :class:`DeliveryError`
    naming ``shown`` (the URL as configured: the sent one may carry secrets or long values)."""
    request = urllib.request.Request(url, data=body, method=method)
    request.add_header("User-Agent", f"cronwatch/{__version__}")
    for key, value in headers.items():
        request.add_header(key, value)
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            answer: bytes = response.read(_ERROR_BODY * 10)
            return answer
    except urllib.error.HTTPError as exc:
        detail = exc.read(_ERROR_BODY).decode("utf-8", "replace").strip()
        raise DeliveryError(
            f"HTTP {exc.code} from {shown}" + (f": {detail}" if detail else "")
        ) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise DeliveryError(f"{method} {shown} failed: {reason}") from None


class WebhookChannel:
    """Sends each event to ``url`` with ``method`` (POST), the ``headers``, and the ``body``
    template filled in (default: the event as JSON)."""

    def __init__(self, spec: ChannelSpec, server: ServerSpec | None = None) -> None:
        self.name = spec.name
        self.server = server or ServerSpec()
        self.url = parse_template(f"channels.{spec.name}.url", str(spec.options["url"]), "url")
        self.method = str(spec.options.get("method", "POST"))
        headers = spec.options.get("headers") or {}
        assert isinstance(headers, Mapping)
        self.headers = {str(k): str(v) for k, v in headers.items()}
        content_type = next(
            (v for k, v in self.headers.items() if k.lower() == "content-type"), None
        )
        if content_type is None and self.method != "GET":
            self.headers["Content-Type"] = "application/json"
        body = spec.options.get("body")
        self.body: Template | None = (
            parse_template(f"channels.{spec.name}.body", body, body_escape(content_type))
            if isinstance(body, str)
            else None
        )
        self.timeout = timeout_of(spec)

    def render(self, event: Event) -> tuple[str, bytes | None]:
        """The URL and body sent for ``event``."""
        message = message_for(event, self.server)
        values = message.placeholders()
        url = self.url.render(values)
        if self.method == "GET":
            return url, None
        if self.body is not None:
            return url, self.body.render(values).encode()
        return url, json.dumps(payload(message, self.name)).encode()

    def send(self, event: Event) -> None:
        url, body = self.render(event)
        send_http(
            self.method, url, body, self.headers, self.timeout.total_seconds(), self.url.source
        )
