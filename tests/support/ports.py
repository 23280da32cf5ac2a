"""A free TCP port on loopback."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port nobody listens on now, for a server that cannot take port 0 (aiosmtpd, a
    process started by a test)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
