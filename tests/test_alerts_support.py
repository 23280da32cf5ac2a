"""Real receivers for the alert tests (no test here): an SMTP server (aiosmtpd) and an HTTP
server on loopback, each able to go down and come back on the same port, plus helpers that
drive alert cycles through simulated time."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import cronwatch
from cronwatch.alerts.cycle import CycleSummary, run_alert_cycle
from cronwatch.config import load_config
from cronwatch.monitor import Monitor
from cronwatch.specs import Config
from cronwatch.storage import open_database
from cronwatch.storage.connection import Database

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def free_port() -> int:
    """A TCP port nobody listens on now (aiosmtpd cannot take port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
                receiver.messages.append(message)  # type: ignore[arg-type]
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


@pytest.fixture
def http_receiver() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture
def smtp_receiver() -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver()
    receiver.start()
    yield receiver
    receiver.stop()


def write_config(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "cronwatch.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def channels_toml(http: HttpReceiver | None = None, smtp: SmtpReceiver | None = None) -> str:
    """[channels.hook] and [channels.mail] pointing at the receivers."""
    text = ""
    if http is not None:
        text += f'[channels.hook]\ntype = "webhook"\nurl = "{http.url}"\ntimeout = "3s"\n'
    if smtp is not None:
        text += (
            f'[channels.mail]\ntype = "email"\nto = ["ops@example.com"]\nhost = "127.0.0.1"\n'
            f'port = {smtp.port}\nfrom = "cronwatch@example.com"\ntimeout = "3s"\n'
        )
    return text


def run_until(
    db: Database,
    config: Config | None,
    start: datetime,
    end: datetime,
    step: timedelta = MINUTE,
    **kwargs: Any,
) -> list[CycleSummary]:
    """Alert cycles at start, start + step, ... up to and including end."""
    summaries = []
    now = start
    while now <= end:
        summaries.append(run_alert_cycle(db, config, now, **kwargs))
        now += step
    return summaries


def notifications(summaries: list[CycleSummary]) -> list[tuple[datetime, str, str]]:
    """(cycle time, kind, text) of every notification the cycles recorded."""
    return [(s.at, e.kind, e.text) for s in summaries for e in s.notifications]


@pytest.fixture
def monitor(database_url: str) -> Iterator[Monitor]:
    with cronwatch.connect(database_url, statsd=False) as mon:
        yield mon


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    with open_database(database_url) as database:
        yield database


def ran(
    monitor: Monitor,
    name: str,
    at: timedelta,
    *,
    ok: bool = True,
    host: str = "db1",
    took: timedelta = timedelta(seconds=30),
) -> None:
    """A run of ``name`` that started at T0 + ``at`` and took ``took``."""
    started = T0 + at
    if ok:
        monitor.record_success(name, started, started + took, hostname=host)
    else:
        monitor.record_failure(name, started, started + took, 1, hostname=host)


def timeline(
    db: Database,
    config: Config | None,
    minutes: range,
    runs: dict[int, list[tuple[str, bool]]] | None = None,
    monitor: Monitor | None = None,
    *,
    offset: timedelta = timedelta(seconds=45),
    **kwargs: Any,
) -> list[CycleSummary]:
    """For each minute in ``minutes``: record the runs started then (``runs[minute]``: (job,
    succeeded) pairs, 30 s long), then run a cycle ``offset`` into the minute."""
    summaries = []
    for minute in minutes:
        for name, ok in (runs or {}).get(minute, []):
            assert monitor is not None
            ran(monitor, name, minute * MINUTE, ok=ok)
        at = T0 + minute * MINUTE + offset
        summaries += run_until(db, config, at, at, **kwargs)
    return summaries


def kinds(summaries: list[CycleSummary]) -> list[tuple[int, str, str]]:
    """(minute after T0, kind, job) of every notification, for compact assertions."""
    return [
        (int((s.at - T0) // MINUTE), e.kind, e.name) for s in summaries for e in s.notifications
    ]


def every(
    minutes: int, name: str, start: int = 0, stop: int = 600, ok: bool = True
) -> dict[int, list[tuple[str, bool]]]:
    """Runs of ``name`` every ``minutes`` from ``start`` (inclusive) to ``stop`` (exclusive)."""
    return {m: [(name, ok)] for m in range(start, stop, minutes)}


def merge(*schedules: dict[int, list[tuple[str, bool]]]) -> dict[int, list[tuple[str, bool]]]:
    merged: dict[int, list[tuple[str, bool]]] = {}
    for schedule in schedules:
        for minute, runs in schedule.items():
            merged.setdefault(minute, []).extend(runs)
    return merged
