"""Real receivers on loopback for the tests of what cronwatch sends: an SMTP server
(aiosmtpd) and an HTTP server, each able to go down and come back on the same port, and a UDP
socket that collects statsd datagrams."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.ports import free_port


class HttpReceiver:
    """An HTTP server on loopback collecting POSTed JSON bodies; ``answer`` sets the status."""

    def __init__(self) -> None:
        self.port = free_port()
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.answer = 200
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if receiver.answer < 300:
                    with receiver._lock:
                        receiver.bodies.append(json.loads(body))
                        receiver.headers.append(dict(self.headers.items()))
                self.send_response(receiver.answer)
                self.end_headers()
                self.wfile.write(b"receiver says no" if receiver.answer >= 300 else b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def texts(self) -> list[str]:
        with self._lock:
            return [body["text"] for body in self.bodies]


class SmtpReceiver:
    """An aiosmtpd server on loopback collecting the messages it accepts."""

    def __init__(self, **smtp_options: Any) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.smtp_options = smtp_options
        self._controller: Any = None

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        receiver = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                message = email.message_from_bytes(envelope.content, policy=email.policy.default)
                receiver.messages.append(message)
                receiver.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
                return "250 OK"

        self._controller = Controller(
            Handler(), hostname="127.0.0.1", port=self.port, **self.smtp_options
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def subjects(self) -> list[str]:
        return [str(message["Subject"]) for message in self.messages]


class StatsdReceiver:
    """A real UDP socket on loopback that collects statsd datagrams."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]

    def receive(self, timeout: float = 2.0) -> list[str]:
        """Every datagram that arrives within ``timeout`` of the last one."""
        self.sock.settimeout(timeout)
        lines: list[str] = []
        try:
            while True:
                data = self.sock.recv(65535)
                lines.extend(data.decode().splitlines())
                self.sock.settimeout(0.2)
        except TimeoutError:
            pass
        return lines

    def close(self) -> None:
        self.sock.close()
