"""What every channel shares: the :class:`Channel` contract, :class:`DeliveryError`, and the
timeout rule. A leaf of the channels package: the senders import it, and the package's
``__init__`` (which picks a sender) re-exports it."""

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


def timeout_of(spec: ChannelSpec, default: timedelta = DEFAULT_TIMEOUT) -> timedelta:
    value = spec.options.get("timeout")
    return value if isinstance(value, timedelta) else default
