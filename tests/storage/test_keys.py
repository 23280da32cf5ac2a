"""API keys: created once and shown once, stored hashed, listed without secrets, revocable;
and the ``cronwatch key`` commands."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from cronwatch.cli.main import cli
from cronwatch.errors import InvalidInput
from cronwatch.storage import open_database
from cronwatch.storage.keys import TOKEN_PATTERN, KeyStore, hash_token


@pytest.fixture
def store(database_url: str):  # type: ignore[no-untyped-def]
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
    store.create("ping", "twin")
    with pytest.raises(InvalidInput, match="2 active keys"):
        store.revoke("twin")
    with pytest.raises(InvalidInput, match="no key"):
        store.revoke("cwp_nope")
    assert all(key.active for key in store.list())


def test_cli_create_prints_the_key_once_then_list_and_revoke(database_url: str) -> None:
    runner = CliRunner()
    base = ["--database-url", database_url, "key"]
    created = runner.invoke(cli, [*base, "create", "--scope", "ping", "--name", "db1"])
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert TOKEN_PATTERN.fullmatch(token)
    assert "shown only now" in created.stderr

    listed = runner.invoke(cli, [*base, "list"])
    assert listed.exit_code == 0 and token[:12] in listed.stdout and "db1" in listed.stdout
    assert token[12:] not in listed.stdout, "list never shows a secret"
    as_json = json.loads(runner.invoke(cli, [*base, "list", "--json"]).stdout)
    assert [(k["id"], k["scope"], k["revoked"]) for k in as_json] == [(token[:12], "ping", None)]

    revoked = runner.invoke(cli, [*base, "revoke", token[:12]])
    assert revoked.exit_code == 0 and "revoked ping key" in revoked.stdout
    as_json = json.loads(runner.invoke(cli, [*base, "list", "--json"]).stdout)
    assert as_json[0]["revoked"] is not None


def test_cli_errors_exit_2_with_a_message(database_url: str) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["--database-url", database_url, "key", "revoke", "cwp_nothing"])
    assert result.exit_code == 2 and "no key has the id or name" in result.stderr
    result = runner.invoke(cli, ["--database-url", database_url, "key", "create", "--scope", "x"])
    assert result.exit_code == 2 and "Invalid value for '--scope'" in result.stderr
