"""Readiness for systemd (``Type=notify``): one datagram to ``$NOTIFY_SOCKET``, the protocol of
sd_notify(3), without libsystemd.

systemd sets ``NOTIFY_SOCKET`` for a ``Type=notify`` service: a path, or an abstract socket
written with a leading ``@``. ``cronwatch serve`` sends ``READY=1`` once its port accepts
connections (so that ``systemctl start`` returns, and units ordered after it start, only then)
and ``STOPPING=1`` when it begins its graceful stop. Without ``NOTIFY_SOCKET`` nothing is sent.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

NOTIFY_SOCKET = "NOTIFY_SOCKET"


def notify(message: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send ``message`` (``"READY=1"``, ``"STOPPING=1"``, ``"STATUS=..."``, newline-separated)
    to ``$NOTIFY_SOCKET``; whether it was sent. A missing variable is no error (not under
    systemd); a socket that cannot be reached is reported as ``False``, never raised, since a
    server that serves must not die because its supervisor's socket went away."""
    env = os.environ if environ is None else environ
    address = env.get(NOTIFY_SOCKET, "")
    if not address or address[0] not in "/@":
        return False
    # "@name" is an abstract socket: a leading NUL byte on the wire.
    target = "\0" + address[1:] if address[0] == "@" else address
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(message.encode(), target)
    except OSError:
        return False
    return True
