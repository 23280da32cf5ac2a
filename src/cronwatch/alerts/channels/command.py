"""Command channel: runs a program per event, the event as JSON on its standard input.

``command`` is a list (run as it is) or a string (run by ``/bin/sh -c``). The program also
gets the event in environment variables: ``CRONWATCH_EVENT`` (problem, reminder, recovery),
``CRONWATCH_JOB``, ``CRONWATCH_HOST``, ``CRONWATCH_STATUS``, ``CRONWATCH_PREVIOUS_STATUS``,
``CRONWATCH_REASON``, ``CRONWATCH_TEXT`` (the one line), ``CRONWATCH_MESSAGE`` (the whole
message), ``CRONWATCH_AT``, ``CRONWATCH_EVENT_ID``, ``CRONWATCH_INCIDENT``, ``CRONWATCH_URL``.
Its standard input is the webhook's default JSON body. Exit status
0 is a delivery; any other, or running longer than ``timeout`` (default 30 s; the program is
killed), is a :class:`DeliveryError` carrying the end of its standard error.
"""

from __future__ import annotations

import json
import os
import subprocess

from cronwatch.alerts.channels.base import (
    DEFAULT_COMMAND_TIMEOUT,
    DeliveryError,
    message_for,
    timeout_of,
)
from cronwatch.alerts.channels.webhook import payload
from cronwatch.alerts.model import Event
from cronwatch.specs import ChannelSpec, ServerSpec

_ERROR_TAIL = 300


class CommandChannel:
    """Runs ``command`` with the event on stdin and in the environment."""

    def __init__(self, spec: ChannelSpec, server: ServerSpec | None = None) -> None:
        self.name = spec.name
        self.server = server or ServerSpec()
        command = spec.options["command"]
        self.argv = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)  # type: ignore[call-overload]
        self.timeout = timeout_of(spec, DEFAULT_COMMAND_TIMEOUT)

    def send(self, event: Event) -> None:
        message = message_for(event, self.server)
        data = payload(message, self.name)
        env = {
            **os.environ,
            "CRONWATCH_EVENT": event.kind,
            "CRONWATCH_JOB": event.name,
            "CRONWATCH_HOST": event.hostname,
            "CRONWATCH_STATUS": event.new_status,
            "CRONWATCH_PREVIOUS_STATUS": event.old_status,
            "CRONWATCH_REASON": event.reason,
            "CRONWATCH_TEXT": event.text,
            "CRONWATCH_AT": event.at.isoformat(),
            "CRONWATCH_EVENT_ID": str(event.id or ""),
            "CRONWATCH_MESSAGE": message.text,
            "CRONWATCH_INCIDENT": event.incident or "",
            "CRONWATCH_URL": message.url or "",
        }
        try:
            result = subprocess.run(
                self.argv,
                input=json.dumps(data).encode(),
                env=env,
                capture_output=True,
                timeout=self.timeout.total_seconds(),
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise DeliveryError(
                f"{self.argv[0]} still running after {self.timeout.total_seconds():g}s; killed"
            ) from None
        except OSError as exc:
            raise DeliveryError(f"cannot run {self.argv[0]}: {exc.strerror or exc}") from None
        if result.returncode != 0:
            tail = result.stderr.decode("utf-8", "replace").strip()[-_ERROR_TAIL:]
            raise DeliveryError(
                f"{self.argv[0]} exited with status {result.returncode}"
                + (f": {tail}" if tail else "")
            )
