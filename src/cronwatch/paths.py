"""Where cronwatch keeps its files when nobody says otherwise, and where it records runs: the
database (``$CRONWATCH_DATABASE_URL``) or a cronwatch server (``$CRONWATCH_URL``).

The default database is a SQLite file in the user's data directory
(``$XDG_DATA_HOME/cronwatch/cronwatch.db``, usually ``~/.local/share/cronwatch/``), so that
``cronwatch run`` in a crontab and ``cronwatch serve`` started by the same user share it with no
configuration at all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

DATABASE_URL_ENV = "CRONWATCH_DATABASE_URL"
SERVER_URL_ENV = "CRONWATCH_URL"
SPOOL_DIR_ENV = "CRONWATCH_SPOOL_DIR"


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME/cronwatch``, or ``~/.local/share/cronwatch`` when that is unset."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "cronwatch"


def default_database_url(environ: Mapping[str, str] | None = None) -> str:
    """The SQLite URL of the default database file."""
    return f"sqlite:///{data_dir(environ) / 'cronwatch.db'}"


def database_url(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The database URL in force: the explicit one, else ``$CRONWATCH_DATABASE_URL``, else the
    default SQLite file."""
    env = os.environ if environ is None else environ
    if explicit is not None:
        return explicit  # an explicit empty URL is an error for the parser to report
    return env.get(DATABASE_URL_ENV) or default_database_url(env)


def server_url(environ: Mapping[str, str] | None = None) -> str | None:
    """The cronwatch server to record through: ``$CRONWATCH_URL`` without a trailing slash, or
    ``None`` when unset or empty (then runs go straight to the database)."""
    env = os.environ if environ is None else environ
    return env.get(SERVER_URL_ENV, "").strip().rstrip("/") or None


def recording_target(database_url: str, environ: Mapping[str, str] | None = None) -> str:
    """Where ``cronwatch run`` records, and so whose spool the spool commands use: the server
    of ``$CRONWATCH_URL`` when set, else ``database_url``."""
    return server_url(environ) or database_url


def spool_root(environ: Mapping[str, str] | None = None) -> Path:
    """Where runs wait when their database cannot be reached: ``$CRONWATCH_SPOOL_DIR``, else
    ``spool/`` in the data directory."""
    env = os.environ if environ is None else environ
    explicit = env.get(SPOOL_DIR_ENV)
    return Path(explicit) if explicit else data_dir(env) / "spool"


def is_server_url(url: str) -> bool:
    """Whether ``url`` is a cronwatch server's (``http(s)://``) rather than a database's."""
    return url.startswith(("http://", "https://"))


def cronwatch_command() -> list[str]:
    """How to run this very cronwatch from anywhere (a unit file, a crontab): the absolute
    path of the ``cronwatch`` script that is running, else this Python with ``-m cronwatch``."""
    import sys

    script = os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if os.path.basename(script).startswith("cronwatch") and os.access(script, os.X_OK):
        return [script]
    return [os.path.abspath(sys.executable), "-m", "cronwatch"]
