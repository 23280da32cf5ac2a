"""Alert channels: where a notification goes. One module per type, one small contract:

``channel.send(event)`` delivers the event or raises :class:`DeliveryError` saying why not
(the delivery is then retried with backoff, see :mod:`cronwatch.alerts.deliver`). A channel
never retries by itself and never waits longer than its ``timeout``. Every channel says the
same about an event (:func:`~cronwatch.alerts.channels.base.message_for`).
"""

from __future__ import annotations

from cronwatch.alerts.channels.base import (
    DEFAULT_COMMAND_TIMEOUT,
    DEFAULT_TIMEOUT,
    Channel,
    DeliveryError,
    message_for,
    secret_from,
    timeout_of,
)
from cronwatch.specs import ChannelSpec, ServerSpec

__all__ = [
    "DEFAULT_COMMAND_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "Channel",
    "DeliveryError",
    "build_channel",
    "message_for",
    "secret_from",
    "timeout_of",
]


def build_channel(spec: ChannelSpec, server: ServerSpec | None = None) -> Channel:
    """The channel a ``[channels.NAME]`` table describes; its messages link to job pages under
    ``server.public_url`` when it is set. Each sender is imported here, when a channel of its
    type is built (Apprise costs half a second), never when cronwatch starts."""
    server = server or ServerSpec()
    if spec.type == "webhook":
        from cronwatch.alerts.channels.webhook import WebhookChannel

        return WebhookChannel(spec, server)
    if spec.type == "email":
        from cronwatch.alerts.channels.email import EmailChannel

        return EmailChannel(spec, server)
    if spec.type == "apprise":
        from cronwatch.alerts.channels.apprise import AppriseChannel

        return AppriseChannel(spec, server)
    if spec.type == "pagerduty":
        from cronwatch.alerts.channels.pagerduty import PagerDutyChannel

        return PagerDutyChannel(spec, server)
    from cronwatch.alerts.channels.command import CommandChannel

    return CommandChannel(spec, server)
