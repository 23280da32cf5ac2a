"""Alert channels: where a notification goes. One module per type, one small contract:

``channel.send(event)`` delivers the event or raises :class:`DeliveryError` saying why not
(the delivery is then retried with backoff, see :mod:`cronwatch.alerts.deliver`). A channel
never retries by itself and never waits longer than its ``timeout``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from cronwatch.alerts.model import Event
from cronwatch.errors import CronwatchError
from cronwatch.specs import ChannelSpec

#: How long one delivery may take when the channel sets no ``timeout``.
DEFAULT_TIMEOUT = timedelta(seconds=10)
DEFAULT_COMMAND_TIMEOUT = timedelta(seconds=30)


class DeliveryError(CronwatchError):
    """A channel could not deliver an event; the message says why, for ``alerts status``."""


class Channel(Protocol):
    """Something that delivers events."""

    name: str
    timeout: timedelta

    def send(self, event: Event) -> None:
        """Deliver ``event`` or raise :class:`DeliveryError`."""


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


def timeout_of(spec: ChannelSpec, default: timedelta = DEFAULT_TIMEOUT) -> timedelta:
    value = spec.options.get("timeout")
    return value if isinstance(value, timedelta) else default
