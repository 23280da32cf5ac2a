"""Webhook channel: the event as a JSON ``POST``.

The body (``Content-Type: application/json``)::

    {"text": "backup is MISSING: backup didn't run on db2 since 03:00 UTC (...)",
     "kind": "problem", "job": "backup", "host": null, "status": "missing",
     "previous_status": "ok", "reason": "backup didn't run on db2 since 03:00 UTC (...)",
     "note": null, "at": "2026-11-28T04:01:00+00:00", "event_id": 42, "channel": "ops"}

``text`` alone is what Slack, Mattermost and Rocket.Chat incoming webhooks read, so their
URLs work as they are. Any 2xx answer is a delivery; anything else, a timeout or a refused
connection is a :class:`DeliveryError` (retried later). Redirects are not followed: a POST
that is redirected would be replayed as a GET without its body.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from cronwatch.alerts.channels.base import DeliveryError, timeout_of
from cronwatch.alerts.model import Event
from cronwatch.specs import ChannelSpec
from cronwatch.version import __version__

#: How much of an error answer is kept in the delivery's last error.
_ERROR_BODY = 200


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def payload(event: Event, channel: str) -> dict[str, Any]:
    """The JSON body for ``event`` sent to ``channel``."""
    return {**event.to_json(), "channel": channel}


class WebhookChannel:
    """POSTs each event as JSON to ``url`` with the configured ``headers``."""

    def __init__(self, spec: ChannelSpec) -> None:
        self.name = spec.name
        self.url = str(spec.options["url"])
        headers = spec.options.get("headers") or {}
        assert isinstance(headers, Mapping)
        self.headers = {str(k): str(v) for k, v in headers.items()}
        self.timeout = timeout_of(spec)

    def send(self, event: Event) -> None:
        body = json.dumps(payload(event, self.name)).encode()
        request = urllib.request.Request(self.url, data=body, method="POST")
        request.add_header("Content-Type", "application/json")
        request.add_header("User-Agent", f"cronwatch/{__version__}")
        for key, value in self.headers.items():
            request.add_header(key, value)
        try:
            with _OPENER.open(request, timeout=self.timeout.total_seconds()) as response:
                response.read(_ERROR_BODY)
        except urllib.error.HTTPError as exc:
            detail = exc.read(_ERROR_BODY).decode("utf-8", "replace").strip()
            raise DeliveryError(
                f"HTTP {exc.code} from {self.url}" + (f": {detail}" if detail else "")
            ) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise DeliveryError(f"POST {self.url} failed: {reason}") from None
