"""API keys: created once, shown once, stored hashed, revocable.

A key is ``cw<scope letter>_<32 random URL-safe characters>``, e.g. ``cwp_3q2...`` for a ping
key: 192 bits from :mod:`secrets`, and only characters that are safe in a URL path, because a
ping key travels in the ping URL (``/ping/<ping_key>/<name>``). Its first 12 characters are its
public ``id`` (``cwp_3q2xYz9A``), shown by ``cronwatch key list``; a key is revoked by its id,
the key itself or its name (no two active keys share a name).

Only the SHA-256 digest of a key is stored. A slow password hash (bcrypt, scrypt, argon2) is
built for secrets people choose, which are guessable; it buys time against a dictionary attack
on a stolen table. A 192-bit random token cannot be guessed, so a single SHA-256 is already
out of reach of brute force, while bcrypt would cost ~100 ms of CPU on *every* ping and API
call and, being salted, could not be looked up by digest in one index probe.

Scopes:

- ``ping``: report runs (ping URLs, ``POST /api/v1/runs``); nothing else. A ping key may be
  restricted to job names (``names``: glob patterns such as ``backup-*``): a run of another
  name is refused, so that a key handed to one team's hosts cannot write another's jobs.
- ``read``: read the REST API (jobs, runs, status).
- ``write``: everything: read and change the REST API, and report runs.
- ``badge``: the status badges (``/badge/<key>/<tag>.svg``, Healthchecks' form): safe to
  publish in a README; nothing else.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from cronwatch.errors import InvalidInput
from cronwatch.names import validate_name
from cronwatch.storage.connection import Cursor, Database
from cronwatch.timeutil import from_us, to_us, utcnow

Scope = Literal["ping", "read", "write", "badge"]
SCOPES: tuple[Scope, ...] = ("ping", "read", "write", "badge")

#: What each scope allows; "write" includes the others.
PERMISSIONS: dict[Scope, frozenset[str]] = {
    "ping": frozenset({"ping"}),
    "read": frozenset({"read"}),
    "write": frozenset({"ping", "read", "write", "badge"}),
    "badge": frozenset({"badge"}),
}

ID_LENGTH = 12
_RANDOM_BYTES = 24  # 32 URL-safe characters, 192 bits
#: The shape of every key this module issues; anything else is refused without a lookup.
TOKEN_PATTERN = re.compile(r"cw[prwb]_[A-Za-z0-9_-]{32}")

_COLUMNS = "id, name, scope, created_us, revoked_us, names"
#: The most name patterns one key may have.
MAX_NAME_PATTERNS = 50


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key, without its secret."""

    id: str
    name: str | None
    scope: Scope
    created: datetime
    revoked: datetime | None = None
    #: The job names (glob patterns) a ping key may record; ``None``: any.
    names: tuple[str, ...] | None = None

    @property
    def active(self) -> bool:
        return self.revoked is None

    def allows_name(self, name: str) -> bool:
        """Whether this key may record runs of job ``name`` (:func:`names_allow`)."""
        return names_allow(self.names, name)

    def allows(self, permission: str) -> bool:
        """Whether this key's scope grants ``permission`` (``ping``, ``read`` or ``write``)."""
        return permission in PERMISSIONS[self.scope]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "scope": self.scope,
            "created": self.created.isoformat(),
            "revoked": self.revoked.isoformat() if self.revoked else None,
            "names": list(self.names) if self.names is not None else None,
        }


def names_allow(patterns: tuple[str, ...] | None, name: str) -> bool:
    """Whether a key restricted to ``patterns`` (shell globs, case-sensitive: ``*``, ``?``,
    ``[...]``) may record runs of job ``name``; ``None`` allows every name."""
    return patterns is None or any(fnmatch.fnmatchcase(name, p) for p in patterns)


def names_refusal(patterns: tuple[str, ...], name: str) -> str:
    """Why a key restricted to ``patterns`` may not record ``name``."""
    shown = ", ".join(patterns[:5]) + (", ..." if len(patterns) > 5 else "")
    return f"this ping key may only record jobs named {shown}; not {name[:80]!r}"


def check_names(scope: str, patterns: Iterable[str]) -> tuple[str, ...]:
    """The name patterns of a new key, checked: ping keys only, each a job name that may hold
    the glob characters, at most :data:`MAX_NAME_PATTERNS`; :class:`InvalidInput`."""
    checked = tuple(dict.fromkeys(_check_glob(p) for p in patterns))
    if scope != "ping":
        raise InvalidInput(f"only ping keys can be restricted to names, not {scope} keys")
    if not checked:
        raise InvalidInput("--names: give at least one job name or glob pattern")
    if len(checked) > MAX_NAME_PATTERNS:
        raise InvalidInput(f"--names: at most {MAX_NAME_PATTERNS} patterns")
    return checked


#: A character class as fnmatch reads it: ``[``, an optional ``!``, then at least one character
#: up to the first ``]`` after it.
_BRACKET = re.compile(r"\[!?.[^\]]*\]")


def _check_glob(pattern: str) -> str:
    """One ``--names`` pattern, checked: a job name that may hold glob characters, whose every
    ``[`` opens a class that is closed. fnmatch would read an unclosed ``[`` as a literal
    bracket, so a typo such as ``backup-[0-9`` would silently match no job at all."""
    checked = validate_name(pattern, "--names pattern")
    if "[" in _BRACKET.sub("", checked):
        raise InvalidInput(
            f"--names pattern {checked!r}: '[' opens a character class that is not closed"
            " with ']' (for a literal '[', write '[[]')"
        )
    return checked


def hash_token(token: str) -> str:
    """The hex SHA-256 digest under which ``token`` is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


#: The shape of a key adopted from another system (:meth:`KeyStore.adopt`: a Healthchecks
#: project's ping key), accepted too.
ADOPTED_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")


def is_well_formed(token: str) -> bool:
    """Whether ``token`` has the shape of a cronwatch key, or of an adopted one (checked
    before any lookup)."""
    return (
        TOKEN_PATTERN.fullmatch(token) is not None or ADOPTED_PATTERN.fullmatch(token) is not None
    )


def check_scope(scope: str) -> Scope:
    """``scope`` if it is one of :data:`SCOPES`; :class:`InvalidInput` otherwise."""
    if scope not in SCOPES:
        raise InvalidInput(f"unknown key scope {scope!r}; use one of: {', '.join(SCOPES)}")
    return scope


class KeyStore:
    """API keys in one database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create(
        self,
        scope: str,
        name: str | None = None,
        *,
        now: datetime | None = None,
        names: Iterable[str] | None = None,
    ) -> tuple[ApiKey, str]:
        """A new key of ``scope``: the stored record and the secret token, which is not kept
        anywhere and cannot be shown again. ``names``: the job names (globs) a ping key is
        restricted to."""
        checked = check_scope(scope)
        patterns = check_names(checked, names) if names is not None else None
        stored_names = json.dumps(list(patterns)) if patterns is not None else None
        if name is not None:
            name = validate_name(name, "key name")
        created = now or utcnow()
        for _ in range(5):
            self._refuse_taken(name)
            token = f"cw{checked[0]}_{secrets.token_urlsafe(_RANDOM_BYTES)}"
            key_id = token[:ID_LENGTH]
            # A clash of 48 random bits is rare but not impossible: draw again, never overwrite.
            # The name is checked in the statement too, so that a key named meanwhile wins.
            stored = self.db.execute(
                "INSERT INTO api_keys (id, name, scope, token_hash, created_us, names) "
                "SELECT ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM api_keys"
                " WHERE name = ? AND revoked_us IS NULL) ON CONFLICT DO NOTHING",
                (key_id, name, checked, hash_token(token), to_us(created), stored_names, name),
            )
            if stored:
                return ApiKey(key_id, name, checked, _trim(created), names=patterns), token
        raise RuntimeError("could not draw an unused key id")  # pragma: no cover

    def adopt(
        self, scope: str, token: str, name: str | None = None, *, now: datetime | None = None
    ) -> ApiKey:
        """Store ``token``, a key made elsewhere (a Healthchecks project's ping key, so that its
        slug URLs keep working), as a key of ``scope``; its id is ``imp_`` and 8 hex digits of
        its digest (a prefix of a short foreign key would give too much of it away). Adopting a
        stored key again returns it unchanged. :class:`InvalidInput` for a token that is not
        16-64 URL-safe characters."""
        checked = check_scope(scope)
        if not ADOPTED_PATTERN.fullmatch(token):
            raise InvalidInput("an adopted key must be 16-64 of A-Z a-z 0-9 _ -")
        if name is not None:
            name = validate_name(name, "key name")
        digest = hash_token(token)
        found = self.db.query(f"SELECT {_COLUMNS} FROM api_keys WHERE token_hash = ?", (digest,))
        if found:
            return _row_to_key(found[0])
        self._refuse_taken(name)
        created = now or utcnow()
        key_id = f"imp_{digest[:8]}"
        self.db.execute(
            "INSERT INTO api_keys (id, name, scope, token_hash, created_us) VALUES (?, ?, ?, ?, ?)",
            (key_id, name, checked, digest, to_us(created)),
        )
        return ApiKey(key_id, name, checked, _trim(created))

    def list(self, *, include_revoked: bool = True) -> list[ApiKey]:
        """Every key, oldest first."""
        where = "" if include_revoked else " WHERE revoked_us IS NULL"
        rows = self.db.query(f"SELECT {_COLUMNS} FROM api_keys{where} ORDER BY created_us, id")
        return [_row_to_key(row) for row in rows]

    def lookup(self, token: str) -> ApiKey | None:
        """The key whose secret is ``token`` (revoked or not), or ``None``."""
        if not is_well_formed(token):
            return None
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM api_keys WHERE token_hash = ?", (hash_token(token),)
        )
        return _row_to_key(rows[0]) if rows else None

    def _refuse_taken(self, name: str | None) -> None:
        """:class:`InvalidInput` when an active key already has ``name``: a name is how a key
        is recognised and revoked, so two active keys never share one."""
        if name is None:
            return
        rows = self.db.query(
            "SELECT id FROM api_keys WHERE name = ? AND revoked_us IS NULL", (name,)
        )
        if rows:
            raise InvalidInput(
                f"an active key is already named {name!r} ({rows[0][0]}): choose another name, "
                "or revoke that key first"
            )

    def resolve(self, reference: str) -> ApiKey:
        """The key ``reference`` names: the key itself (``cwp_...``, the whole secret), its id,
        or the name of exactly one active key (else of the one revoked key that has it).
        :class:`InvalidInput` when it names no key, or several."""
        reference = reference.strip()
        if is_well_formed(reference):
            found = self.lookup(reference)
            if found is None:
                raise InvalidInput(
                    "no key of this database is that key (it may belong to another server); "
                    "see `cronwatch key list`"
                )
            return found
        rows = self.db.query(f"SELECT {_COLUMNS} FROM api_keys WHERE id = ?", (reference,))
        if not rows:
            rows = self.db.query(
                f"SELECT {_COLUMNS} FROM api_keys WHERE name = ? AND revoked_us IS NULL",
                (reference,),
            )
            if len(rows) > 1:  # a database from before names were kept unique
                ids = ", ".join(row[0] for row in rows)
                raise InvalidInput(
                    f"{len(rows)} active keys are named {reference!r} ({ids}); revoke by id"
                )
        if not rows:
            rows = self.db.query(
                f"SELECT {_COLUMNS} FROM api_keys WHERE name = ? ORDER BY revoked_us DESC",
                (reference,),
            )
            rows = rows[:1] if len(rows) == 1 else []
        if not rows:
            raise InvalidInput(f"no key has the id or name {reference!r}; see `cronwatch key list`")
        return _row_to_key(rows[0])

    def revoke(self, reference: str, *, now: datetime | None = None) -> ApiKey:
        """Revoke the key ``reference`` names (see :meth:`resolve`: the key itself, its id or
        its name); the key as revoked. Revoking a revoked key changes nothing and returns it
        (its ``revoked`` time is the first revocation's)."""
        key = self.resolve(reference)
        if key.revoked is None:
            when = now or utcnow()
            # Conditional: two revocations racing keep the first time.
            self.db.execute(
                "UPDATE api_keys SET revoked_us = ? WHERE id = ? AND revoked_us IS NULL",
                (to_us(when), key.id),
            )
            key = _row_to_key(
                self.db.query(f"SELECT {_COLUMNS} FROM api_keys WHERE id = ?", (key.id,))[0]
            )
        return key


#: What a write's transaction reads of a key: scope, revoked_us, name patterns.
KeyFacts = tuple[str, Any, tuple[str, ...] | None]


def lookup_keys(db: Database, cur: Cursor, hashes: Iterable[str]) -> dict[str, KeyFacts]:
    """``{token_hash: (scope, revoked_us, names)}`` of the stored keys among ``hashes``, read
    with ``cur`` (inside the transaction that writes what the keys allow)."""
    wanted = sorted(set(hashes))
    if not wanted:
        return {}
    marks = ", ".join("?" * len(wanted))
    cur.execute(
        db.sql(
            "SELECT token_hash, scope, revoked_us, names FROM api_keys"
            f" WHERE token_hash IN ({marks})"
        ),
        wanted,
    )
    return {row[0]: (row[1], row[2], _names(row[3])) for row in cur.fetchall()}


def _names(stored: str | None) -> tuple[str, ...] | None:
    return None if stored is None else tuple(json.loads(stored))


def _trim(value: datetime) -> datetime:
    return from_us(to_us(value))


def _row_to_key(row: tuple[Any, ...]) -> ApiKey:
    key_id, name, scope, created, revoked, names = row
    return ApiKey(
        id=key_id,
        name=name,
        scope=scope,
        created=from_us(created),
        revoked=from_us(revoked) if revoked is not None else None,
        names=_names(names),
    )
