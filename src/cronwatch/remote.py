"""Recording through a cronwatch server instead of the database.

With ``$CRONWATCH_URL`` (the server's base URL, e.g. ``https://cron.example.com``) and
``$CRONWATCH_PING_KEY`` (a ``ping`` or ``write`` key), ``cronwatch run`` sends its runs to
``POST <url>/api/v1/runs``, so hosts need no database credentials. In Python::

    monitor = cronwatch.remote.connect("https://cron.example.com", key="cwp_...")
    monitor.record_success("backup", started, completed)

Delivery is idempotent: a run is keyed by its name and run id on the server, so a run sent
twice (a retry, a spool replayed after a crash) is stored once. When the server cannot be
reached, does not answer in time, or answers 5xx or 429, :class:`StorageUnavailable` is raised
and ``cronwatch run`` keeps the run in the spool of that server URL, to be sent by a later run.
A missing or refused key (401/403) or a URL that is not a cronwatch server (404) raises
:class:`ClientConfigError`, a kind of :class:`StorageUnavailable` whose message names the
setting to fix: the run is fine and is kept the same way. A run the server refuses as invalid
(400, 413) raises :class:`InvalidInput`; the spool sets it aside.

Every wait is bounded: connecting (:data:`CONNECT_TIMEOUT`), each read (:data:`READ_TIMEOUT`)
and the whole request, name lookup included (``timeout``, :data:`DEFAULT_TIMEOUT` by
default): a server that accepts the connection and then says nothing costs ``timeout`` seconds,
not more.

The server, not the client, sends the statsd timing of a run, once, when it first stores it
(``$CRONWATCH_STATSD_*`` of the hosts are not used for remote recording).

Standard library only (``http.client``): ``cronwatch run`` must stay quick to start.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import socket
import threading
from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import quote, urlencode, urlsplit

from cronwatch.errors import CronwatchError, InvalidInput, StorageUnavailable
from cronwatch.model import Run
from cronwatch.monitor import Monitor
from cronwatch.spool import Spool
from cronwatch.storage.runs import RunStore

log = logging.getLogger("cronwatch.remote")

URL_ENV = "CRONWATCH_URL"
KEY_ENV = "CRONWATCH_PING_KEY"
#: Seconds a whole request may take (name lookup, connecting, sending, the answer).
DEFAULT_TIMEOUT = 10.0
#: Seconds to establish the TCP (and TLS) connection.
CONNECT_TIMEOUT = 3.0
#: Seconds any single read may wait for the server.
READ_TIMEOUT = 5.0


class ClientConfigError(StorageUnavailable):
    """The server is there, but this client's settings are wrong: no ping key, a key it refuses
    (401/403), or a URL that is not a cronwatch API (404). The message says what to fix. The
    run itself is fine: like an outage, it is kept in the spool until the settings are fixed."""


def url_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    """``$CRONWATCH_URL`` without a trailing slash, or ``None`` when unset or empty."""
    from cronwatch.paths import server_url

    return server_url(environ)


class RemoteStore:
    """The part of :class:`~cronwatch.storage.runs.RunStore` that :class:`Monitor` and
    ``cronwatch run`` use, over HTTP."""

    def __init__(self, url: str, key: str | None, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        """``timeout``: seconds a whole request may take, see the module docstring."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInput(f"server URL {url!r} must be http://HOST[:PORT] or https://...")
        self.url = url.rstrip("/")
        self.key = key
        self.timeout = timeout
        self._scheme = parts.scheme
        self._netloc = parts.netloc
        self._base = parts.path.rstrip("/")

    def save(self, run: Run) -> bool:
        """Send ``run``; ``True`` if the server stored it now, ``False`` if it had it already."""
        status, _ = self._request("POST", "/api/v1/runs", run.to_json())
        return status == 201

    def last_success(self, name: str) -> Run | None:
        """The latest successful run of ``name`` (needs a read or write key)."""
        runs = self.history(name, limit=1, outcome="success")
        return runs[0] if runs else None

    def history(
        self,
        name: str,
        *,
        limit: int = 20,
        hostname: str | None = None,
        outcome: str | None = None,
    ) -> list[Run]:
        """The latest ``limit`` runs of ``name``, newest first (needs a read or write key)."""
        query = {"limit": str(limit)}
        if hostname is not None:
            query["host"] = hostname
        if outcome is not None:
            query["outcome"] = outcome
        path = f"/api/v1/jobs/{quote(name, safe='')}/runs?{urlencode(query)}"
        status, body = self._request("GET", path, None, missing_ok=True)
        if status == 404:
            return []
        return [Run.from_json(item) for item in body["runs"]]

    def _request(
        self, method: str, path: str, payload: Any, *, missing_ok: bool = False
    ) -> tuple[int, Any]:
        if not self.key:
            raise ClientConfigError(
                f"no key for the cronwatch server {self.url}: set ${KEY_ENV} to a ping key "
                "(`cronwatch key create --scope ping` on the server)"
            )
        headers = {"Authorization": f"Bearer {self.key}", "Accept": "application/json"}
        data = None
        if payload is not None:
            data = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        status, raw = self._exchange(method, self._base + path, data, headers)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        if 200 <= status < 300 or (missing_ok and status == 404):
            return status, body
        raise self._refusal(status, body, raw)

    def _exchange(
        self, method: str, path: str, data: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        """One request and its answer, ``(status, body)``, within ``self.timeout`` seconds in
        all. The request runs in a thread of its own, because a name lookup cannot be
        interrupted otherwise; on time-out its socket is shut, which ends that thread too."""
        connection_class = (
            http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
        )
        connection = connection_class(self._netloc, timeout=min(CONNECT_TIMEOUT, self.timeout))
        # A read timeout at or past the deadline would race with it; the deadline cuts first.
        read_timeout = READ_TIMEOUT if self.timeout > READ_TIMEOUT else self.timeout + 1.0
        outcome: list[tuple[int, bytes] | BaseException] = []

        def exchange() -> None:
            try:
                connection.connect()
                assert connection.sock is not None
                connection.sock.settimeout(read_timeout)
                connection.request(method, path, body=data, headers=headers)
                response = connection.getresponse()
                outcome.append((response.status, response.read()))
            except BaseException as exc:  # handed to the caller's thread below
                outcome.append(exc)

        worker = threading.Thread(target=exchange, name="cronwatch-remote", daemon=True)
        worker.start()
        worker.join(self.timeout)
        try:
            if not outcome:
                raise StorageUnavailable(
                    f"cronwatch server {self.url} did not answer within {self.timeout:g} s"
                )
            result = outcome[0]
            if isinstance(result, OSError | http.client.HTTPException):
                raise StorageUnavailable(f"cronwatch server {self.url} unreachable: {result}")
            if isinstance(result, BaseException):
                raise result
            return result
        finally:
            _abort(connection)

    def _refusal(self, status: int, body: Any, raw: bytes) -> CronwatchError:
        """The error for a non-2xx answer."""
        message = body.get("message") if isinstance(body, dict) else None
        detail = f"cronwatch server {self.url} answered {status}: {message or raw[:200]!r}"
        if status in (400, 413, 422):
            return InvalidInput(detail)
        if status in (401, 403):
            return ClientConfigError(
                f"cronwatch server {self.url} refused the key ({status}: {message or 'no reason'})"
                f": make a ping key with `cronwatch key create --scope ping` on the server and "
                f"set ${KEY_ENV} to it"
            )
        if status == 404:
            return ClientConfigError(f"{detail}; is ${URL_ENV} the server's base URL?")
        # 429, 5xx: the run is fine, keep it.
        return StorageUnavailable(detail)

    def close(self) -> None:
        """Nothing to release (one connection per request); for symmetry with databases."""


def _abort(connection: http.client.HTTPConnection) -> None:
    """Shut the connection's socket (from any thread: a read blocked on it returns at once)."""
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(Exception):
        connection.close()


class RemoteMonitor(Monitor):
    """A :class:`Monitor` that records through a cronwatch server (see the module docstring).

    Recording works as with :class:`Monitor` (validation before sending, ``track``, ``job``);
    reading (``last_activity``, ``history``) needs a read or write key; ``status`` is refused
    (use the REST API's ``/api/v1/status``).
    """

    def __init__(self, store: RemoteStore, spool: Spool | None = None) -> None:
        # Monitor only calls save/last_success/history on its store, which RemoteStore has.
        super().__init__(cast(RunStore, store), statsd=None)
        self.remote = store
        self.spool = spool if spool is not None else Spool.for_target(store.url)

    def record(self, run: Run) -> Run:
        """Send ``run`` to the server; when the server cannot be reached (or refuses the key),
        keep it in the local spool instead and return it all the same: it is sent, once, by a
        later successful call. Runs the server refuses as invalid still raise."""
        try:
            self.remote.save(run)
        except StorageUnavailable as exc:
            self.spool.put(run)
            log.warning("cronwatch server away, run of %r kept in the spool: %s", run.name, exc)
            return run
        with contextlib.suppress(StorageUnavailable):  # gone again: the rest waits
            self.spool.flush(self.remote.save)
        return run

    def status(self, *args: Any, **kwargs: Any) -> Any:
        """Not over HTTP from the library: read ``GET <url>/api/v1/status`` (a read key) or
        run ``cronwatch status`` where the database is."""
        raise CronwatchError(
            f"job status is not available through the library over HTTP; use GET "
            f"{self.remote.url}/api/v1/status with a read key"
        )

    def prune(self, *args: Any, **kwargs: Any) -> Any:
        """Not over HTTP: pruning is done where the database is (the server does it hourly)."""
        raise CronwatchError(
            f"pruning is not available over HTTP; {self.remote.url} prunes by its own "
            "[retention] settings, or run `cronwatch prune` where the database is"
        )

    def close(self) -> None:
        self.remote.close()


def connect(
    url: str | None = None, *, key: str | None = None, timeout: float = DEFAULT_TIMEOUT
) -> RemoteMonitor:
    """A monitor that records through the server at ``url`` (default ``$CRONWATCH_URL``) with
    ``key`` (default ``$CRONWATCH_PING_KEY``); ``timeout``: seconds a request may take in all."""
    resolved = url or url_from_env()
    if not resolved:
        raise CronwatchError(f"no cronwatch server URL given and ${URL_ENV} is not set")
    key = key or os.environ.get(KEY_ENV) or None
    return RemoteMonitor(RemoteStore(resolved, key, timeout=timeout))
