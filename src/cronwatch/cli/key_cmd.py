"""``cronwatch key create|list|revoke``: the API keys that ping URLs and the REST API take."""

from __future__ import annotations

import json

import click


@click.group()
def key() -> None:
    """API keys: ping keys for ping URLs, read and write keys for the REST API.

    Keys are stored hashed: a key is shown once, when it is created.
    """


def _store(ctx: click.Context):  # type: ignore[no-untyped-def]
    from cronwatch import paths
    from cronwatch.storage.connection import open_database
    from cronwatch.storage.keys import KeyStore

    url = ctx.find_root().obj.resolved_database_url()
    if url == paths.default_database_url():
        paths.data_dir().mkdir(parents=True, exist_ok=True)
    return KeyStore(open_database(url))


@key.command("create")
@click.option(
    "--scope",
    required=True,
    type=click.Choice(["ping", "read", "write", "badge"]),
    help="ping: ping URLs only; read: read the API; write: everything; badge: the status "
    "badges only (safe to publish).",
)
@click.option(
    "--name",
    default=None,
    help="A label to recognise (and revoke) the key by; no two active keys share one.",
)
@click.option(
    "--names",
    "patterns",
    multiple=True,
    metavar="GLOB",
    help="Ping keys: the job names it may record, a name or a glob such as 'backup-*' "
    "(repeat for more); a ping of another name gets 403. Default: any name.",
)
@click.pass_context
def create(ctx: click.Context, scope: str, name: str | None, patterns: tuple[str, ...]) -> None:
    """Create a key and print it (on stdout, alone: KEY=$(cronwatch key create ...)).

    \b
        cronwatch key create --scope ping --name backups --names 'backup-*'
    """
    store = _store(ctx)
    try:
        record, token = store.create(scope, name, names=patterns or None)
    finally:
        store.db.close()
    click.echo(token)
    label = f" ({record.name})" if record.name else ""
    only = f" for jobs {', '.join(record.names)}" if record.names else ""
    click.echo(
        f"created {scope} key {record.id}{label}{only}; it is shown only now, store it safely",
        err=True,
    )


@key.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def list_keys(ctx: click.Context, as_json: bool) -> None:
    """List the keys (ids, scopes, names; never the secrets)."""
    store = _store(ctx)
    try:
        keys = store.list()
    finally:
        store.db.close()
    if as_json:
        click.echo(json.dumps([k.to_json() for k in keys], indent=2))
        return
    click.echo(f"{'ID':<14}{'SCOPE':<7}{'CREATED (UTC)':<21}{'REVOKED (UTC)':<21}{'NAME':<16}JOBS")
    for k in keys:
        revoked = k.revoked.strftime("%Y-%m-%d %H:%M:%S") if k.revoked else "-"
        jobs = ", ".join(k.names) if k.names is not None else "*"
        click.echo(
            f"{k.id:<14}{k.scope:<7}{k.created.strftime('%Y-%m-%d %H:%M:%S'):<21}"
            f"{revoked:<21}{k.name or '':<16}{jobs}"
        )


@key.command("revoke")
@click.argument("key_id", metavar="KEY_ID_OR_NAME")
@click.pass_context
def revoke(ctx: click.Context, key_id: str) -> None:
    """Revoke a key: the key itself, its id or its name; it is refused from now on."""
    store = _store(ctx)
    try:
        before = store.resolve(key_id)
        record = before if before.revoked is not None else store.revoke(before.id)
    finally:
        store.db.close()
    label = f" ({record.name})" if record.name else ""
    if before.revoked is not None:
        when = before.revoked.strftime("%Y-%m-%d %H:%M:%S UTC")
        click.echo(f"{record.scope} key {record.id}{label} was already revoked, at {when}")
        return
    click.echo(f"revoked {record.scope} key {record.id}{label}")
