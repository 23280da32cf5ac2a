"""Alert channels: where a notification goes. One module per type, one small contract:

``channel.send(event)`` delivers the event or raises :class:`DeliveryError` saying why not
(the delivery is then retried with backoff, see :mod:`cronwatch.alerts.deliver`). A channel
never retries by itself and never waits longer than its ``timeout``.
"""

from __future__ import annotations

from cronwatch.alerts.channels.base import (
    DEFAULT_COMMAND_TIMEOUT,
    DEFAULT_TIMEOUT,
    Channel,
    DeliveryError,
    timeout_of,
)
from cronwatch.specs import ChannelSpec

__all__ = [
    "DEFAULT_COMMAND_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "Channel",
    "DeliveryError",
    "build_channel",
    "timeout_of",
]


def build_channel(spec: ChannelSpec) -> Channel:
    """The channel a ``[channels.NAME]`` table describes."""
    if spec.type == "webhook":
        from cronwatch.alerts.channels.webhook import WebhookChannel

        return WebhookChannel(spec)
    if spec.type == "email":
        from cronwatch.alerts.channels.email import EmailChannel

        return EmailChannel(spec)
    from cronwatch.alerts.channels.command import CommandChannel

    return CommandChannel(spec)
