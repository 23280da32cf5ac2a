"""Readiness through ``$NOTIFY_SOCKET``: a real ``cronwatch serve`` process tells a Unix
datagram socket that the test listens on ``READY=1`` once its port accepts connections, and
``STOPPING=1`` when it stops; without the variable nothing is sent."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cronwatch.web.sdnotify import notify
from tests.support.ports import free_port


@pytest.fixture
def listener() -> Iterator[tuple[socket.socket, str]]:
    # A socket path must fit in 108 bytes: pytest's tmp_path may not.
    with tempfile.TemporaryDirectory(prefix="cw-notify-") as directory:
        path = os.path.join(directory, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(60)
        try:
            yield sock, path
        finally:
            sock.close()


def test_serve_says_ready_once_the_port_accepts_connections(
    listener: tuple[socket.socket, str], tmp_path: Path
) -> None:
    sock, path = listener
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "cronwatch.cli", "--database-url",
         f"sqlite:///{tmp_path / 'n.db'}", "serve", "--port", str(port), "--no-alerts"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "NOTIFY_SOCKET": path},
    )  # fmt: skip
    try:
        message = sock.recv(4096).decode()
        # The moment READY=1 arrives the port must already answer: never before.
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        assert process.poll() is None
        fields = dict(line.split("=", 1) for line in message.splitlines())
        assert fields["READY"] == "1" and fields["MAINPID"] == str(process.pid)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        process.send_signal(signal.SIGTERM)
        assert sock.recv(4096) == b"STOPPING=1"
        assert process.wait(30) == -signal.SIGTERM
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def test_serve_that_cannot_start_never_says_ready(
    listener: tuple[socket.socket, str], tmp_path: Path
) -> None:
    sock, path = listener
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    try:
        result = subprocess.run(
            [sys.executable, "-m", "cronwatch.cli", "--database-url",
             f"sqlite:///{tmp_path / 'n.db'}", "serve", "--port", str(port), "--no-alerts"],
            capture_output=True, text=True, timeout=60, env={**os.environ, "NOTIFY_SOCKET": path},
        )  # fmt: skip
    finally:
        busy.close()
    assert result.returncode != 0
    sock.setblocking(False)
    with pytest.raises(BlockingIOError):  # nothing at all was sent
        sock.recv(4096)


def test_notify_reaches_an_abstract_socket_and_is_silent_without_one() -> None:
    name = f"cw-notify-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        assert notify("READY=1", {"NOTIFY_SOCKET": "@" + name})
        assert sock.recv(100) == b"READY=1"
    assert not notify("READY=1", {})
    assert not notify("READY=1", {"NOTIFY_SOCKET": "relative/path"})
    # A socket gone away is reported, never raised: serving goes on.
    assert not notify("READY=1", {"NOTIFY_SOCKET": "/nonexistent/notify"})
