"""API keys: created once and shown once, stored hashed, listed without secrets, revocable."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from cronwatch.errors import InvalidInput
from cronwatch.storage import open_database
from cronwatch.storage.connection import Database
from cronwatch.storage.keys import TOKEN_PATTERN, KeyStore, hash_token


@pytest.fixture
def store(database_url: str) -> Iterator[KeyStore]:
    with open_database(database_url) as db:
        yield KeyStore(db)


def test_a_key_is_random_url_safe_and_only_its_hash_is_stored(store: KeyStore) -> None:
    record, token = store.create("ping", "crontab of db1")
    assert TOKEN_PATTERN.fullmatch(token) and token.startswith("cwp_")
    assert record.id == token[:12] and record.scope == "ping" and record.active
    rows = store.db.query("SELECT * FROM api_keys")
    assert len(rows) == 1
    stored_text = " ".join(str(value) for value in rows[0])
    assert token not in stored_text and token[12:] not in stored_text
    assert hash_token(token) in stored_text
    assert store.create("ping")[1] != token


def test_lookup_finds_the_key_and_nothing_else(store: KeyStore) -> None:
    record, token = store.create("read")
    assert store.lookup(token) == record
    assert store.lookup(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert store.lookup("not a key") is None
    assert store.lookup("") is None


@pytest.mark.parametrize(
    ("scope", "allowed"),
    [("ping", {"ping"}), ("read", {"read"}), ("write", {"ping", "read", "write"})],
)
def test_scopes(store: KeyStore, scope: str, allowed: set[str]) -> None:
    record, _ = store.create(scope)
    assert {p for p in ("ping", "read", "write") if record.allows(p)} == allowed


def test_unknown_scope_and_bad_name_are_refused_and_write_nothing(store: KeyStore) -> None:
    with pytest.raises(InvalidInput, match="scope"):
        store.create("admin")
    with pytest.raises(InvalidInput, match="control"):
        store.create("ping", "bad\x00name")
    assert store.list() == []


def test_revoke_by_id_or_unique_name_keeps_the_first_time(store: KeyStore) -> None:
    first, token = store.create("write", "deploy")
    when = datetime(2026, 1, 1, tzinfo=UTC)
    revoked = store.revoke(first.id, now=when)
    assert revoked.revoked == when and not revoked.active
    assert store.revoke(first.id).revoked == when, "revoking again changes nothing"
    lookup = store.lookup(token)
    assert lookup is not None and not lookup.active
    second, _ = store.create("ping", "deploy")
    assert store.revoke("deploy").id == second.id  # the only *active* "deploy"


def test_revoke_refuses_unknown_and_ambiguous_names(store: KeyStore) -> None:
    store.create("ping", "twin")
    # Two active keys of one name: only a database from before names were kept unique.
    store.db.execute(
        "INSERT INTO api_keys (id, name, scope, token_hash, created_us) VALUES (?, ?, ?, ?, ?)",
        ("cwp_oldtwin00", "twin", "ping", "0" * 64, 1),
    )
    with pytest.raises(InvalidInput, match="2 active keys"):
        store.revoke("twin")
    with pytest.raises(InvalidInput, match="no key"):
        store.revoke("cwp_nope")
    assert all(key.active for key in store.list())


def test_active_names_are_unique_and_free_again_once_revoked(store: KeyStore) -> None:
    first, _ = store.create("ping", "db1")
    with pytest.raises(InvalidInput, match="already named 'db1'"):
        store.create("read", "db1")
    assert [key.id for key in store.list()] == [first.id], "nothing written"
    store.revoke("db1")
    second, _ = store.create("ping", "db1")  # the name is free again
    assert store.resolve("db1").id == second.id  # the active one
    store.create("ping")  # no name: any number of them
    store.create("ping")


def test_the_key_itself_names_it(store: KeyStore) -> None:
    record, token = store.create("ping", "crontabs")
    assert store.resolve(token).id == record.id
    assert store.resolve(f" {token}\n").id == record.id  # pasted with blanks
    revoked = store.revoke(token)
    assert revoked.id == record.id and not revoked.active
    assert store.resolve("crontabs").id == record.id  # the one revoked key of that name
    other = token[:-1] + ("A" if token[-1] != "A" else "B")
    with pytest.raises(InvalidInput, match="no key of this database is that key"):
        store.resolve(other)


def test_an_adopted_key_is_stored_hashed_and_found_by_its_token(db: Database) -> None:
    """A Healthchecks project's ping key kept as a ping key: found by its token, its id gives
    nothing of it away, adopting it twice stores it once; a malformed one is refused."""
    from cronwatch.errors import InvalidInput
    from cronwatch.storage.keys import KeyStore, is_well_formed

    store = KeyStore(db)
    token = "hcpeerpingkey29b5ec2aa"
    key = store.adopt("ping", token)
    assert key.id.startswith("imp_") and token[:6] not in key.id
    assert store.adopt("ping", token) == key
    found = store.lookup(token)
    assert found is not None and found.id == key.id and found.allows("ping")
    assert not found.allows("read")
    assert is_well_formed(token)
    assert token not in str(db.query("SELECT * FROM api_keys"))
    for bad in ("short", "has a space in it!!", "x" * 65):
        with pytest.raises(InvalidInput):
            store.adopt("ping", bad)
    assert len(store.list()) == 1


@pytest.mark.parametrize("pattern", ["[", "backup-[0-9", "a[]", "x[!", "ok-[ab]-[c"])
def test_a_name_pattern_with_an_unclosed_bracket_is_refused_and_no_key_is_made(
    store: KeyStore, pattern: str
) -> None:
    """fnmatch reads an unclosed ``[`` as a literal: such a key would match no job, silently."""
    with pytest.raises(InvalidInput, match="not closed with ']'"):
        store.create("ping", "typo", names=[pattern])
    assert store.list() == [], "nothing stored"


@pytest.mark.parametrize(
    ("pattern", "matches", "misses"),
    [
        ("backup-[0-9]", "backup-7", "backup-x"),
        ("db[!-]*", "db1-dump", "db-dump"),
        ("[[]x", "[x", "x"),
        ("a[]]b", "a]b", "ab"),
    ],
)
def test_closed_bracket_classes_are_accepted_and_match_as_globs(
    store: KeyStore, pattern: str, matches: str, misses: str
) -> None:
    record, _ = store.create("ping", names=[pattern])
    assert record.allows_name(matches) and not record.allows_name(misses)
