"""Where runs are recorded: a database, or a cronwatch server. :func:`connect` chooses.

``cronwatch.connect`` is :func:`connect`. It sits above both kinds of monitor, so that neither
imports the other: :mod:`cronwatch.monitor` records into a database, :mod:`cronwatch.remote`
(a :class:`~cronwatch.monitor.Monitor` too) through a server's REST API.
"""

from __future__ import annotations

from cronwatch.monitor import Monitor, connect_database
from cronwatch.paths import is_server_url, server_url
from cronwatch.statsd import StatsdClient


def connect(
    url: str | None = None,
    *,
    statsd: StatsdClient | bool | None = None,
) -> Monitor:
    """Open the cronwatch database and return a :class:`Monitor`.

    ``url``: a SQLAlchemy-style URL (``sqlite:///file.db``, ``postgresql://user@host/db``), or
    the ``http(s)://`` URL of a cronwatch server to record through (with the ping key in
    ``$CRONWATCH_PING_KEY``; runs wait in the local spool while it is away). ``None`` means
    ``$CRONWATCH_URL`` if set, else ``$CRONWATCH_DATABASE_URL``, else the default SQLite file
    in the user's data directory (created if missing). The schema is migrated on connect.

    ``statsd``: a :class:`StatsdClient`; ``None`` reads ``CRONWATCH_STATSD_*`` from the
    environment (nothing is sent when no host is set); ``False`` disables timings. A server
    sends the timings of the runs recorded through it itself.
    """
    if url is None:
        url = server_url()  # $CRONWATCH_URL: record through that server
    if url is not None and is_server_url(url):
        from cronwatch.remote import connect as connect_remote  # http.client: only when used

        return connect_remote(url)
    return connect_database(url, statsd=statsd)
