"""The server's connections, attacked on raw sockets: oversized and endless request heads,
heads and bodies that never complete, floods of idle connections. None of it needs a key, so
it must hold on every route; and none of it may stop normal pings."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cronwatch.web.connections import ConnectionLimits
from tests.support.server import LiveServer, count_runs, create_key, serve

LIMIT = 65_536


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=30)


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (a reset counts as the
    end: the server may close while the client still has unread data in flight)."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def open_sending(port: int, heads: list[bytes]) -> list[socket.socket]:
    """One connection per head, each sent (and left unfinished, as the head or body says)."""
    socks = []
    for head in heads:
        sock = connect(port)
        sock.sendall(head)
        socks.append(sock)
    return socks


def closed_by_server(sock: socket.socket, wait: float = 30.0) -> bool:
    """Whether the server closed ``sock``, waiting at most ``wait`` seconds for it."""
    sock.settimeout(wait)
    try:
        read_all(sock)
    except TimeoutError:
        return False
    return True


def refused_head(response: bytes) -> bool:
    """431, or a reset that overtook it: the server closed while the rest of the head was still
    on its way, and the kernel answered that with a reset."""
    return response.startswith(b"HTTP/1.1 431 ") or response == b""


def ping(live: LiveServer, key: str, name: str = "victim") -> int:
    return httpx.get(f"{live.url}/ping/{key}/{name}?host=h", timeout=30).status_code


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cronwatch.db'}"


@pytest.fixture
def quick(sqlite_url: str) -> Iterator[LiveServer]:
    """A server with short timeouts (1 s) and room for 20 connections."""
    limits = ConnectionLimits(header_timeout=1.0, body_timeout=1.0, max_connections=20)
    with LiveServer(sqlite_url, limits=limits) as live:
        yield live


# -- the size of a request head ----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/healthz", "/ping/cwp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx/job",
                                  "/api/v1/jobs", "/", "/no-such-page"])  # fmt: skip
def test_a_head_over_64_kib_gets_431_and_the_connection_closed(
    server: LiveServer, path: str
) -> None:
    key = create_key(server.database_url, "ping")
    target = path.replace("cwp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", key)
    with connect(server.port) as sock:
        head = f"GET {target} HTTP/1.1\r\nHost: x\r\nX-Big: {'a' * LIMIT}\r\n\r\n"
        sock.sendall(head.encode())
        response = read_all(sock)
    assert response.startswith(b"HTTP/1.1 431 "), response[:100]
    assert b'"error": "header_too_large"' in response and b"65536 bytes" in response
    assert count_runs(server.database_url) == 0, "the request must not reach the app"
    assert ping(server, key) == 200, "the server goes on serving"


def test_a_head_just_under_the_limit_is_served(server: LiveServer) -> None:
    key = create_key(server.database_url, "ping")
    with connect(server.port) as sock:
        padding = "a" * (LIMIT - 200)
        sock.sendall(f"GET /ping/{key}/big-head?host=h HTTP/1.1\r\nHost: x\r\nX-Pad: {padding}"
                     "\r\nConnection: close\r\n\r\n".encode())  # fmt: skip
        assert read_all(sock).startswith(b"HTTP/1.1 200 ")
    assert count_runs(server.database_url) == 1


def test_many_small_header_fields_count_in_all(quick: LiveServer) -> None:
    """64 KiB in all, not per field: 1,000 fields of 100 bytes are refused; so are more than
    100 fields, however small."""
    with connect(quick.port) as sock:
        fields = [f"X-F{i}: {'b' * 90}" for i in range(1000)]
        sock.sendall(("GET /healthz HTTP/1.1\r\nHost: x\r\n" + "\r\n".join(fields)
                      + "\r\n\r\n").encode())  # fmt: skip
        assert refused_head(read_all(sock))
    with connect(quick.port) as sock:
        fields = [f"X-F{i}: 1" for i in range(101)]
        sock.sendall(("GET /healthz HTTP/1.1\r\nHost: x\r\n" + "\r\n".join(fields)
                      + "\r\n\r\n").encode())  # fmt: skip
        assert read_all(sock).startswith(b"HTTP/1.1 431 ")
    with connect(quick.port) as sock:
        fields = [f"X-F{i}: 1" for i in range(90)]
        sock.sendall(("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                      + "\r\n".join(fields) + "\r\n\r\n").encode())  # fmt: skip
        assert read_all(sock).startswith(b"HTTP/1.1 200 ")


def test_an_endless_header_is_cut_off_not_buffered(quick: LiveServer) -> None:
    """A client streaming a header of 256 MB: the server stops reading after the limit (plus
    at most one read) and closes; the client cannot push the rest. (The memory this costs
    the server is measured by bench/bench_header_rss.py.)"""
    key = create_key(quick.database_url, "ping")
    chunk = b"a" * 65536
    sent = 0
    with connect(quick.port) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Endless: ")
        with pytest.raises(OSError):  # reset or broken pipe once the server closed
            while sent < 256 * 2**20:
                sock.sendall(chunk)
                sent += len(chunk)
    # Kernel buffers take a few MB; the server took the first 64 KiB and closed.
    assert sent < 64 * 2**20
    assert ping(quick, key) == 200


def test_a_large_body_pipelined_with_a_second_request_is_not_mistaken_for_a_head(
    server: LiveServer,
) -> None:
    """The head count must not include the previous request's body when both arrive in one
    read (pipelining)."""
    key = create_key(server.database_url, "ping")
    body = b"x" * 90_000
    first = (f"POST /ping/{key}/pipelined?host=h&rid=r1 HTTP/1.1\r\nHost: x\r\n"
             f"Content-Length: {len(body)}\r\n\r\n").encode() + body  # fmt: skip
    second = f"GET /ping/{key}/pipelined?host=h&rid=r2 HTTP/1.1\r\nHost: x\r\n".encode()
    with connect(server.port) as sock:
        sock.sendall(first + second)
        sock.sendall(b"Connection: close\r\n\r\n")
        response = read_all(sock)
    assert response.count(b"HTTP/1.1 200 ") == 2, response
    assert count_runs(server.database_url) == 2


# -- time ----------------------------------------------------------------------------------


def test_a_head_that_does_not_complete_in_time_is_dropped(quick: LiveServer) -> None:
    """Slowloris: a few header bytes now and then never make a complete head."""
    with connect(quick.port) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        with pytest.raises(OSError):
            for _ in range(100):  # 50 s of trickling, far past the 1 s allowed
                time.sleep(0.5)
                sock.sendall(b"X-A: b\r\n")
        response = read_all(sock)
    assert response == b"" or response.startswith(b"HTTP/1.1 408 "), response


def test_a_connection_that_sends_nothing_is_closed(quick: LiveServer) -> None:
    with connect(quick.port) as sock:
        assert closed_by_server(sock)


def test_a_body_that_does_not_complete_in_time_is_dropped_and_nothing_stored(
    quick: LiveServer,
) -> None:
    key = create_key(quick.database_url, "ping")
    with connect(quick.port) as sock:
        sock.sendall(f"POST /ping/{key}/slow-body?host=h HTTP/1.1\r\nHost: x\r\n"
                     "Content-Length: 1000\r\n\r\nonly the beginning".encode())  # fmt: skip
        assert closed_by_server(sock)
    assert count_runs(quick.database_url) == 0
    assert ping(quick, key) == 200


def test_a_keep_alive_connection_serves_request_after_request(quick: LiveServer) -> None:
    """The head timer starts again after each response: it does not add up over requests."""
    key = create_key(quick.database_url, "ping")
    with connect(quick.port) as sock:
        for i in range(5):
            sock.sendall(f"GET /ping/{key}/kept?host=h&rid=r{i} HTTP/1.1\r\nHost: x\r\n\r\n"
                         .encode())  # fmt: skip
            response = b""
            while not response.endswith(b"\r\n\r\nOK"):
                chunk = sock.recv(4096)
                assert chunk, f"closed after {i} requests: {response!r}"
                response += chunk
            assert response.startswith(b"HTTP/1.1 200 ")
            time.sleep(0.4)  # 2 s on one connection, each gap under the 1 s allowed
    assert count_runs(quick.database_url) == 5


# -- the number of connections -------------------------------------------------------------


def test_a_flood_of_half_sent_requests_does_not_stop_pings(sqlite_url: str) -> None:
    """Three times the connection limit in half-sent heads (with a head timeout far longer
    than the test): idle connections are closed, oldest first, to make room; at most the
    limit stay open, and every normal ping gets through."""
    key = create_key(sqlite_url, "ping")
    limits = ConnectionLimits(header_timeout=300.0, max_connections=20)
    with LiveServer(sqlite_url, limits=limits) as live:
        flood = open_sending(live.port, [b"GET /healthz HTTP/1.1\r\nHost: x\r\n"] * 60)
        try:
            assert [ping(live, key, f"victim-{i}") for i in range(20)] == [200] * 20
            assert closed_by_server(flood[0]), "the oldest idle connection made room"
            still_open = [sock for sock in flood if not closed_by_server(sock, wait=0.2)]
            assert len(still_open) <= 20
        finally:
            for sock in flood:
                sock.close()
    assert count_runs(sqlite_url) == 20


def test_when_every_connection_is_busy_a_new_one_is_refused_with_503(sqlite_url: str) -> None:
    """Connections with a request in progress are never closed to make room: at the limit
    with none idle, the newcomer gets 503; once one finishes, new ones are served again."""
    key = create_key(sqlite_url, "ping")
    limits = ConnectionLimits(body_timeout=60.0, max_connections=5)
    with LiveServer(sqlite_url, limits=limits) as live:
        heads = [f"POST /ping/{key}/busy?host=h&rid=b{i} HTTP/1.1\r\nHost: x\r\nConnection: "
                 "close\r\nContent-Length: 4\r\n\r\nab".encode() for i in range(5)]  # fmt: skip
        busy = open_sending(live.port, heads)
        time.sleep(0.5)  # the heads are in: five requests in progress
        with connect(live.port) as sock:  # refused at once, before it sends anything
            response = read_all(sock)
        assert response.startswith(b"HTTP/1.1 503 ") and b"too many connections" in response
        busy[0].sendall(b"cd")
        assert read_all(busy[0]).startswith(b"HTTP/1.1 200 ")
        busy[0].close()
        assert ping(live, key) == 200
        for sock in busy[1:]:
            sock.close()
    assert count_runs(sqlite_url) == 2, "the finished request and the ping; nothing else"


def test_serve_flags_set_the_limits(tmp_path: Path) -> None:
    """The real command: --max-header-size, --header-timeout and --max-connections, and one
    log line for what it closed, not one per connection."""
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    options = ("--max-header-size", "2048", "--header-timeout", "1", "--max-connections", "8")
    with serve(url, options=options) as (base, process):
        port = int(base.rpartition(":")[2])
        for _ in range(3):
            with connect(port) as sock:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 3000
                             + b"\r\n\r\n")  # fmt: skip
                assert read_all(sock).startswith(b"HTTP/1.1 431 ")
        with connect(port) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\n")
            assert closed_by_server(sock)
        flood = [connect(port) for _ in range(20)]
        try:
            assert httpx.get(f"{base}/healthz", timeout=30).status_code == 200
        finally:
            for sock in flood:
                sock.close()
    log = process.stdout.read()  # type: ignore[union-attr]
    assert "8 connections open, the limit" in log
    assert log.count("request head over the size limit") == 1, log


def test_the_connection_limit_fits_the_limit_of_open_files() -> None:
    """Past the limit of open files the kernel stops accepting anyone: serve raises the soft
    limit towards the hard one, and allows fewer connections (with a warning) beyond that."""
    code = (
        "import resource\n"
        "from cronwatch.web.connections import fit_file_limit\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (100, 300))\n"
        "print(fit_file_limit(200))\n"
        "print(resource.getrlimit(resource.RLIMIT_NOFILE))\n"
        "print(fit_file_limit(1000))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout.splitlines()  # fmt: skip
    assert out[0] == "(200, None)"
    assert out[1] == "(264, 300)"  # 200 connections and 64 files for the rest
    assert out[2].startswith("(236, 'the limit of open files (300) allows 236 connections")
