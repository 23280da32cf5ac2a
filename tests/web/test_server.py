"""The live-server harness itself (:mod:`tests.support.server`): it starts, serves on a real
socket, and stops gracefully without losing a queued ping."""

from __future__ import annotations

import socket
import threading
import time

from tests.support.server import LiveServer, create_key, query


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
