"""How ``cronwatch serve`` runs its app on uvicorn: the options in one place, for the command
and for the tests' live server alike, so that both run behind the same limits."""

from __future__ import annotations

import copy
import os
import socket
from typing import Any

import uvicorn

from cronwatch.web.connections import guarded_protocol
from cronwatch.web.sdnotify import notify
from cronwatch.web.state import ServerSettings


def uvicorn_options(
    settings: ServerSettings,
    *,
    log_level: str = "info",
    access_log: bool = False,
    timeout_graceful_shutdown: int = 30,
) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` or ``uvicorn.Config`` (besides the app, host
    and port) that serve ``settings``."""
    return {
        # httptools with the head size and time limits and the connection bound.
        "http": guarded_protocol(settings.limits),
        "log_level": log_level,
        "access_log": access_log,
        "lifespan": "on",
        # Never uvicorn's own (it trusts 127.0.0.1 by default): the client address is a ping's
        # default host. --proxy-headers has the app honour them (cronwatch.web.forwarded).
        "proxy_headers": False,
        "server_header": False,
        "timeout_graceful_shutdown": timeout_graceful_shutdown,
    }


def log_config(log_level: str) -> dict[str, Any]:
    """uvicorn's logging configuration, with cronwatch's own loggers (outages, connections
    closed, the alert loop) on the same handler and format, at ``log_level``."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["cronwatch"] = {
        "handlers": ["default"],
        "level": log_level.upper(),
        "propagate": False,
    }
    return config


class NotifyingServer(uvicorn.Server):
    """uvicorn's server that tells systemd (``$NOTIFY_SOCKET``, :mod:`.sdnotify`) ``READY=1``
    once its sockets listen (after the app's startup: the database opened), and
    ``STOPPING=1`` when the graceful stop begins. Without ``NOTIFY_SOCKET``: plain uvicorn."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit:
            where = f"{self.config.host}:{self.config.port}"
            notify(f"READY=1\nSTATUS=serving on {where}\nMAINPID={os.getpid()}")

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        notify("STOPPING=1")
        await super().shutdown(sockets=sockets)
