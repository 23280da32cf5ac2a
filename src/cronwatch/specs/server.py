"""The ``[server]`` table: what alerts need to know of the server people open.

::

    [server]
    public_url = "https://cron.example.com"   # how people reach `cronwatch serve`

Alert messages link to a job's page under ``public_url`` (:func:`job_url`), where a write-key
holder can acknowledge the incident. Without it, messages carry no link.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from cronwatch.errors import InvalidInput
from cronwatch.specs import values

SERVER_FIELDS = frozenset({"public_url"})
_PUBLIC_URL = re.compile(r"https?://[^\s\x00-\x1f\x7f/?#]+(/[^\s\x00-\x1f\x7f?#]*)?", re.I)


@dataclass(frozen=True)
class ServerSpec:
    """The ``[server]`` table. ``public_url``: the dashboard's address as people reach it
    (behind a proxy, the proxy's), without a trailing slash; ``None``: not set."""

    public_url: str | None = None

    def job_url(self, name: str) -> str | None:
        """The page of job ``name``, or ``None`` without a ``public_url``."""
        return None if self.public_url is None else job_url(self.public_url, name)


def job_url(public_url: str, name: str) -> str:
    """The dashboard page of job ``name`` under ``public_url`` (the names ``.`` and ``..``,
    which a path cannot carry, by query)."""
    if name in (".", ".."):
        return f"{public_url}/jobs?name={quote(name, safe='')}"
    return f"{public_url}/jobs/{quote(name, safe='')}"


def parse_server(table: dict[str, Any]) -> ServerSpec:
    """The ``[server]`` table; :class:`InvalidInput` naming the field."""
    values.check_fields("server", table, SERVER_FIELDS)
    url = table.get("public_url")
    if url is None:
        return ServerSpec()
    if not isinstance(url, str) or not _PUBLIC_URL.fullmatch(url):
        raise InvalidInput(
            "server.public_url: expected the http:// or https:// address people open the "
            f"dashboard at, without a query, such as https://cron.example.com, not {url!r:.80}"
        )
    return ServerSpec(public_url=url.rstrip("/"))
