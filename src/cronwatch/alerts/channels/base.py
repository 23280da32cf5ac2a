"""What every channel shares: the :class:`Channel` contract, :class:`DeliveryError`, the
timeout rule, the message (:func:`message_for`) and secrets from the environment
(:func:`secret_from`). A leaf of the channels package: the senders import it, and the package's
``__init__`` (which picks a sender) re-exports it."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Protocol

from cronwatch.alerts.messages import Message, compose
from cronwatch.alerts.model import Event
from cronwatch.errors import CronwatchError
from cronwatch.specs import ChannelSpec, ServerSpec

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


def message_for(event: Event, server: ServerSpec) -> Message:
    """The message every channel sends about ``event``, linking to the job's page."""
    url = server.job_url(event.name) if event.kind != "test" else None
    return compose(event, url)


def secret_from(spec: ChannelSpec, option: str) -> str:
    """The value of ``option``, or of the environment variable ``<option>_env`` names;
    :class:`DeliveryError` when that variable is not set (so it is retried, and shown)."""
    variable = spec.options.get(f"{option}_env")
    if isinstance(variable, str):
        value = os.environ.get(variable)
        if not value:
            raise DeliveryError(f"environment variable {variable} ({option}_env) is not set")
        return value
    return str(spec.options[option])
