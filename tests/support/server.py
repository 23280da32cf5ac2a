"""A real cronwatch server on a loopback port for the server tests (no test here; the
harness's own tests are in ``tests/web/test_server.py``).

:class:`LiveServer` is uvicorn running the real app in a thread, listening on a socket bound
before it starts (so there is no race for a free port); requests go through real TCP
connections. :func:`serve` is ``cronwatch serve`` as a process. The rest reads and writes the
server's database directly (keys, counts).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn

from cronwatch.specs import Config
from cronwatch.statsd import StatsdClient
from cronwatch.storage import open_database
from cronwatch.storage.keys import KeyStore
from cronwatch.web import ServerSettings, create_app
from cronwatch.web.app import CronwatchApp
from cronwatch.web.connections import ConnectionLimits
from cronwatch.web.server import uvicorn_options
from cronwatch.web.state import DEFAULT_DATABASE_TIMEOUT
from tests.support.ports import free_port


class LiveServer:
    """``cronwatch serve``'s app on uvicorn in a thread, on 127.0.0.1, with the command's
    uvicorn options (:func:`cronwatch.web.server.uvicorn_options`)."""

    def __init__(
        self,
        database_url: str,
        *,
        port: int = 0,
        config: Config | None = None,
        rate_limit: float = 0.0,
        rate_burst: float | None = None,
        max_body: int = 100_000,
        statsd: StatsdClient | None = None,
        limits: ConnectionLimits | None = None,
        open_dashboard: bool = True,
        proxy_headers: bool = False,
        forwarded_allow_ips: str = "127.0.0.1",
        database_timeout: float | None = DEFAULT_DATABASE_TIMEOUT,
        max_jobs: int | None = None,
    ) -> None:
        self.database_url = database_url
        self.settings = ServerSettings(
            database_url=database_url, config=config, rate_limit=rate_limit,
            rate_burst=rate_burst, max_body=max_body, statsd=statsd,
            limits=limits or ConnectionLimits(), open_dashboard=open_dashboard,
            proxy_headers=proxy_headers, forwarded_allow_ips=forwarded_allow_ips,
            database_timeout=database_timeout, max_jobs=max_jobs,
        )  # fmt: skip
        self.port = port
        self.app: CronwatchApp | None = None  # the running app (its state: app.state)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        # The options of `cronwatch serve` itself: the same limits on connections and headers.
        options = uvicorn_options(self.settings, log_level="warning", timeout_graceful_shutdown=10)
        self.app = create_app(self.settings)
        config = uvicorn.Config(self.app, **options)
        self._server = server = uvicorn.Server(config)
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                                        daemon=True)  # fmt: skip
        self._thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Graceful stop: requests in flight are answered, queued writes stored."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(30)
            assert not self._thread.is_alive(), "the server did not stop"
        self._server = self._thread = None

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def create_key(database_url: str, scope: str, name: str | None = None) -> str:
    with open_database(database_url) as db:
        return KeyStore(db).create(scope, name)[1]


def query(database_url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with open_database(database_url) as db:
        return db.query(sql, params)


def count_runs(database_url: str) -> int:
    return int(query(database_url, "SELECT COUNT(*) FROM runs")[0][0])


def count_jobs(database_url: str) -> int:
    return int(query(database_url, "SELECT COUNT(*) FROM jobs")[0][0])


def _default_sigint() -> None:
    # A test runner started in the background has SIGINT ignored, and children inherit that;
    # serve must see Ctrl-C as an interactive user's process would.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextmanager
def serve(
    database_url: str, *extra: str, options: tuple[str, ...] = ()
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """A `cronwatch serve` process, ready; stopped with SIGTERM (and reaped) afterwards."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "cronwatch.cli", "--database-url", database_url, *extra, "serve",
         "--port", str(port), "--log-level", "info", *options],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ),
        preexec_fn=_default_sigint,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise AssertionError(f"serve exited {process.returncode}: {process.stdout.read()}")  # type: ignore[union-attr]
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "serve did not come up"
            time.sleep(0.1)
        yield url, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
