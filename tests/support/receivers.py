"""Real receivers on loopback for the tests of what cronwatch sends: an SMTP server
(aiosmtpd) and an HTTP server, each able to go down and come back on the same port, and a UDP
socket that collects statsd datagrams."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from tests.support.ports import free_port


@dataclass(frozen=True)
class Received:
    """One request an :class:`HttpReceiver` answered with a 2xx."""

    method: str
    path: str  # with its query string
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode(), keep_blank_values=True)


class HttpReceiver:
    """An HTTP server on loopback recording every request (``requests``) and the JSON bodies
    among them (``bodies``); ``answer`` sets the status, ``reply`` the body answered."""

    def __init__(self) -> None:
        self.port = free_port()
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.requests: list[Received] = []
        self.answer = 200
        self.reply = b"ok"
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def handle_any(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if receiver.answer < 300:
                    receiver._record(Received(self.command, self.path, dict(self.headers), body))
                self.send_response(receiver.answer)
                self.end_headers()
                self.wfile.write(b"receiver says no" if receiver.answer >= 300 else receiver.reply)

            do_POST = do_PUT = do_PATCH = do_GET = do_DELETE = handle_any

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _record(self, request: Received) -> None:
        with self._lock:
            self.requests.append(request)
            try:
                self.bodies.append(json.loads(request.body))
                self.headers.append(request.headers)
            except ValueError:
                pass

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def texts(self) -> list[str]:
        """The one-line summary of each message received (``text`` holds the whole)."""
        with self._lock:
            return [body.get("summary", body["text"]) for body in self.bodies]


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
