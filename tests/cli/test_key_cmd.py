"""``cronwatch key create/list/revoke``: a key shown once, listed without its secret, errors
with exit 2."""

from __future__ import annotations

import json

from click.testing import CliRunner

from cronwatch.cli.main import cli
from cronwatch.storage.keys import TOKEN_PATTERN


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


def test_cli_revoke_by_the_key_itself_says_when_it_was_already_revoked(database_url: str) -> None:
    runner = CliRunner()
    base = ["--database-url", database_url, "key"]
    token = runner.invoke(cli, [*base, "create", "--scope", "ping", "--name", "db1"]).stdout.strip()
    revoked = runner.invoke(cli, [*base, "revoke", token])
    assert revoked.exit_code == 0, revoked.output
    assert revoked.stdout == f"revoked ping key {token[:12]} (db1)\n"
    again = runner.invoke(cli, [*base, "revoke", token[:12]])
    assert again.exit_code == 0
    assert f"ping key {token[:12]} (db1) was already revoked, at " in again.stdout
    assert "revoked ping key" not in again.stdout


def test_cli_refuses_a_second_active_key_of_one_name(database_url: str) -> None:
    runner = CliRunner()
    base = ["--database-url", database_url, "key"]
    assert runner.invoke(cli, [*base, "create", "--scope", "ping", "--name", "db1"]).exit_code == 0
    twin = runner.invoke(cli, [*base, "create", "--scope", "read", "--name", "db1"])
    assert twin.exit_code == 2 and "already named 'db1'" in twin.stderr
    assert twin.stdout == "", "no key printed"
    listed = json.loads(runner.invoke(cli, [*base, "list", "--json"]).stdout)
    assert [k["scope"] for k in listed] == ["ping"]


def test_cli_ping_key_restricted_to_names_is_listed_with_them(database_url: str) -> None:
    runner = CliRunner()
    base = ["--database-url", database_url, "key"]
    created = runner.invoke(
        cli,
        [*base, "create", "--scope", "ping", "--name", "backups", "--names", "backup-*",
         "--names", "nightly"],
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert "for jobs backup-*, nightly" in created.stderr
    runner.invoke(cli, [*base, "create", "--scope", "ping", "--name", "any"])
    listed = runner.invoke(cli, [*base, "list"]).stdout.splitlines()
    assert listed[0].split()[-1] == "JOBS"
    assert [line.split()[-2:] for line in listed[1:]] == [["backup-*,", "nightly"], ["any", "*"]]
    as_json = json.loads(runner.invoke(cli, [*base, "list", "--json"]).stdout)
    assert [k["names"] for k in as_json] == [["backup-*", "nightly"], None]
    refused = runner.invoke(cli, [*base, "create", "--scope", "write", "--names", "backup-*"])
    assert refused.exit_code == 2 and "only ping keys can be restricted" in refused.output
    unclosed = runner.invoke(cli, [*base, "create", "--scope", "ping", "--names", "["])
    assert unclosed.exit_code == 2 and "is not closed with ']'" in unclosed.stderr
    assert unclosed.stdout == "", "no key printed"
    assert len(json.loads(runner.invoke(cli, [*base, "list", "--json"]).stdout)) == 2
