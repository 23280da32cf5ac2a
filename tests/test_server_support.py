"""A real cronwatch server on a loopback port for the server tests, and the tests of that
harness itself (it starts, serves, and stops gracefully without losing a queued ping).

Other test modules import :class:`LiveServer` and the helpers from here.
The server is uvicorn running the real app in a thread, listening on a socket bound before it
starts (so there is no race for a free port); requests go through real TCP connections.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn

from cronwatch.specs import Config
from cronwatch.statsd import StatsdClient
from cronwatch.storage import open_database
from cronwatch.storage.keys import KeyStore
from cronwatch.web import ServerSettings, create_app
from cronwatch.web.connections import ConnectionLimits
from cronwatch.web.server import uvicorn_options


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
    ) -> None:
        self.database_url = database_url
        self.settings = ServerSettings(
            database_url=database_url, config=config, rate_limit=rate_limit,
            rate_burst=rate_burst, max_body=max_body, statsd=statsd,
            limits=limits or ConnectionLimits(), open_dashboard=open_dashboard,
            proxy_headers=proxy_headers, forwarded_allow_ips=forwarded_allow_ips,
        )  # fmt: skip
        self.port = port
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
        config = uvicorn.Config(create_app(self.settings), **options)
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


# -- the harness's own tests -----------------------------------------------------------------


def test_server_answers_on_a_real_socket(server: LiveServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    assert response.startswith(b"HTTP/1.1 200 ")
    assert b'{"status":"ok",' in response and response.endswith(b"}")


def test_stopping_answers_the_request_in_flight_and_stores_it(database_url: str) -> None:
    """Graceful shutdown: a ping whose body is still arriving when the stop begins is
    answered and stored before the server exits."""
    key = create_key(database_url, "ping")
    live = LiveServer(database_url).start()
    sock = socket.create_connection(("127.0.0.1", live.port), timeout=10)
    head = (f"POST /ping/{key}/slow-job?host=h1 HTTP/1.1\r\nHost: x\r\n"
            "Content-Length: 10\r\nConnection: close\r\n\r\nfirst")  # fmt: skip
    sock.sendall(head.encode())
    time.sleep(0.3)  # the request is in flight: headers read, body incomplete
    stopper = threading.Thread(target=live.stop)
    stopper.start()
    time.sleep(0.3)
    sock.sendall(b"-half")
    response = b""
    while chunk := sock.recv(65536):
        response += chunk
    sock.close()
    stopper.join(30)
    assert response.startswith(b"HTTP/1.1 200 "), response
    assert query(database_url, "SELECT name, output FROM runs") == [("slow-job", "first-half")]
