"""Database URLs, SQLAlchemy style: ``sqlite:///path/to/file.db``, ``postgresql://user@host/db``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from cronwatch.errors import InvalidInput

Dialect = Literal["sqlite", "postgresql"]

_POSTGRES_SCHEMES = {"postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"}


@dataclass(frozen=True)
class DatabaseURL:
    """A parsed database URL.

    ``sqlite_path`` is set for SQLite; ``conninfo`` (a libpq URI) for PostgreSQL. What else
    differs between the two is in :mod:`cronwatch.storage.dialect`.
    """

    raw: str
    dialect: Dialect
    sqlite_path: Path | None = None
    conninfo: str | None = None
    sqlalchemy: str = ""

    def sqlalchemy_url(self) -> str:
        """The URL SQLAlchemy understands, with the driver named (psycopg 3 for PostgreSQL)."""
        return self.sqlalchemy

    def redacted(self) -> str:
        """The URL with any password replaced by ``***``, fit for messages and logs."""
        return redact(self.raw)

    @property
    def has_password(self) -> bool:
        """Whether the URL carries a password (``user:password@`` or ``password=``): not fit
        for a command line or a unit file, which other users can read."""
        return redact(self.raw) != self.raw or "password=" in self.raw.lower()

    def conninfo_redacted(self) -> str:
        """PostgreSQL: the libpq URI (what ``psql`` and ``pg_dump`` take), password as ``***``."""
        return redact(self.conninfo or "")


def redact(url: str) -> str:
    """``url`` with the password of its ``user:password@`` part, and of a ``password=``
    query parameter, replaced by ``***``."""
    url = re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)
    return re.sub(r"([?&]password=)[^&]*", r"\1***", url, flags=re.IGNORECASE)


def parse_database_url(url: str) -> DatabaseURL:
    """Parse ``url``; raise :class:`InvalidInput` for anything cronwatch cannot store in."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput("database URL is empty")
    url = url.strip()
    scheme, sep, _ = url.partition("://")
    if not sep:
        raise InvalidInput(
            f"database URL {url!r} has no scheme; use sqlite:///path/to/file.db "
            "or postgresql://user@host/dbname"
        )
    scheme = scheme.lower()
    if scheme == "sqlite":
        return _parse_sqlite(url)
    if scheme in _POSTGRES_SCHEMES:
        parts = urlsplit(url)
        conninfo = urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, ""))
        sqlalchemy = "postgresql+psycopg://" + conninfo.split("://", 1)[1]
        return DatabaseURL(raw=url, dialect="postgresql", conninfo=conninfo, sqlalchemy=sqlalchemy)
    raise InvalidInput(
        f"unsupported database URL scheme {scheme!r} in {url!r}; "
        "cronwatch stores runs in SQLite (sqlite:///file.db) or PostgreSQL (postgresql://...)"
    )


def _parse_sqlite(url: str) -> DatabaseURL:
    # SQLAlchemy's convention: sqlite:///relative.db and sqlite:////absolute.db
    rest = url[len("sqlite://") :]
    if not rest.startswith("/") or rest in ("/", "/:memory:"):
        raise InvalidInput(
            f"SQLite URL {url!r} names no file; cronwatch needs a file that several processes "
            "share, e.g. sqlite:////var/lib/cronwatch/cronwatch.db"
        )
    path = rest[1:].split("?", 1)[0]
    return DatabaseURL(
        raw=url, dialect="sqlite", sqlite_path=Path(path), sqlalchemy=f"sqlite:///{Path(path)}"
    )
