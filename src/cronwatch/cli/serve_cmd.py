"""``cronwatch serve``: the HTTP server (pings, REST API, /metrics) on uvicorn.

One module, over the usual size, because it is one command: its options, their checks, the
systemd unit it can print and the listening socket it takes are all the same command line.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import click

from cronwatch.cli.common import load_config_from
from cronwatch.specs.alerting import LOOP_DATABASE_TIMEOUT

if TYPE_CHECKING:
    from cronwatch.specs import Config, Limits
    from cronwatch.web import ServerSettings
    from cronwatch.web.connections import ConnectionLimits


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on.",
)
@click.option(
    "--max-body",
    default=100_000,
    show_default=True,
    type=click.IntRange(1),
    metavar="BYTES",
    help="Largest request body (ping output, API JSON); larger: 413.",
)
@click.option(
    "--rate-limit",
    default=1000.0,
    show_default=True,
    type=click.FloatRange(0),
    metavar="N",
    help="Requests per second per key, per server process (burst: 2N); 0 turns it off.",
)
@click.option(
    "--access-log/--no-access-log",
    default=False,
    show_default=True,
    help="Log every request (costs ping throughput).",
)
@click.option(
    "--alerts/--no-alerts",
    default=True,
    show_default=True,
    help="Run the alert loop in this process (several processes may: each event is "
    "still delivered once).",
)
@click.option(
    "--require-read-key",
    is_flag=True,
    help="Ask for a read key on the dashboard even when listening on loopback (e.g. "
    "behind a reverse proxy). Other addresses always require one.",
)
@click.option(
    "--max-header-size",
    default=65_536,
    show_default=True,
    type=click.IntRange(1024),
    metavar="BYTES",
    help="Largest request head (request line and header fields, in all); larger: "
    "431 and the connection closed.",
)
@click.option(
    "--header-timeout",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    metavar="SECONDS",
    help="A connection must send a complete request head this soon after opening "
    "(or after its previous response), or it is closed.",
)
@click.option(
    "--body-timeout",
    default=30.0,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    metavar="SECONDS",
    help="A request body must be complete this soon after its head, or the connection is closed.",
)
@click.option(
    "--max-connections",
    default=1000,
    show_default=True,
    type=click.IntRange(1),
    metavar="N",
    help="Connections open at once; at the limit the idle ones are closed, oldest "
    "first, to let new ones in.",
)
@click.option(
    "--proxy-headers",
    is_flag=True,
    help="Behind a reverse proxy: take the scheme, client address and host from "
    "X-Forwarded-Proto/-For/-Host sent by --forwarded-allow-ips. Implies "
    "--require-read-key.",
)
@click.option(
    "--forwarded-allow-ips",
    default="127.0.0.1",
    show_default=True,
    metavar="ADDRESSES",
    help="With --proxy-headers: the proxies' addresses or networks, comma-separated "
    "(e.g. 127.0.0.1,10.0.0.0/8; * for any).",
)
@click.option(
    "--database-timeout",
    default=5.0,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    metavar="SECONDS",
    help="Connecting to the database, and each statement, must be answered this soon, or "
    "the request gets 503 (a database gone silent); on SQLite, how long a write waits "
    "for another's lock.",
)
@click.option(
    "--alerts-database-timeout",
    default=LOOP_DATABASE_TIMEOUT,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    metavar="SECONDS",
    help="The alert loop's own deadline for each statement: a database gone silent fails "
    "the cycle (retried next interval) instead of hanging the loop; on SQLite, how long "
    "the loop's writes wait for another's lock.",
)
@click.option(
    "--max-jobs",
    default=None,
    type=click.IntRange(1),
    metavar="N",
    help="A ping or API call that would create a job beyond this many gets 403 (existing "
    "jobs are still recorded) (default: [limits] max_jobs in --config, else 10000).",
)
@click.option(
    "--future-tolerance",
    default=None,
    metavar="DURATION",
    help="Runs dated further ahead of this server's clock are refused with 400 "
    "(default: [limits] future_tolerance in --config, else 5m).",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
@click.option(
    "--systemd-unit",
    is_flag=True,
    help="Print a systemd service that runs this cronwatch with the other options given "
    "(Type=notify, hardened, /var/lib/cronwatch as data directory) instead of serving.",
)
@click.pass_context
def serve(ctx: click.Context, /, **options: Any) -> None:
    """Serve the dashboard (/), ping URLs, the REST API (/api/v1, /openapi.json), /metrics
    and /healthz.

    \b
        cronwatch serve --host 0.0.0.0 --port 8000
        curl -fsS http://HOST:8000/ping/<ping_key>/backup

    The dashboard is open to anyone who can connect when the server listens on a loopback
    address (the default, 127.0.0.1); on any other address, or with --require-read-key or
    --proxy-headers, it asks for a read key (`cronwatch key create --scope read`).

    Behind nginx (or any reverse proxy) terminating HTTPS, use --proxy-headers so that the
    dashboard's login sees https and the proxy's clients by their own addresses.

    The database (--database-url, default: the SQLite file) is migrated before the port opens.
    Jobs declared in --config are known to the API and the health status. Several `serve`
    processes can share one PostgreSQL database. SIGTERM or Ctrl-C stop the server gracefully:
    requests in flight are answered and queued pings written first; then the process ends by
    that SIGTERM, as uvicorn does so that supervisors see it (after Ctrl-C: exit status 0).

    Under systemd (Type=notify) it sends READY=1 to $NOTIFY_SOCKET once the port is open.
    --systemd-unit prints such a service with the options given beside it:

    \b
        cronwatch serve --systemd-unit --host 0.0.0.0 --port 8000 \\
            | sudo tee /etc/systemd/system/cronwatch.service
    """
    opts = ServeOptions(**options)
    if opts.systemd_unit:
        click.echo(_unit(ctx, opts.port), nl=False)
        return
    url = ctx.find_root().obj.resolved_database_url()
    config = load_config_from(ctx)
    if opts.proxy_headers:
        _check_trusted_proxies(opts.forwarded_allow_ips)
    _migrate(url)
    if opts.log_level in ("info", "debug"):
        click.echo(f"INFO:     {_uses(ctx, url, config)}", err=True)
    _run(_settings(opts, url, config), opts)


@dataclass(frozen=True)
class ServeOptions:
    """The options of ``cronwatch serve``, as click parsed them (see their help above)."""

    host: str
    port: int
    max_body: int
    rate_limit: float
    access_log: bool
    alerts: bool
    require_read_key: bool
    max_header_size: int
    header_timeout: float
    body_timeout: float
    max_connections: int
    proxy_headers: bool
    forwarded_allow_ips: str
    database_timeout: float
    alerts_database_timeout: float
    max_jobs: int | None
    future_tolerance: str | None
    log_level: str
    systemd_unit: bool


def _settings(opts: ServeOptions, url: str, config: Config | None) -> ServerSettings:
    """The server's settings from the options and the config file's ``[limits]``; warns of
    a connection limit cut to the file limit, and of alerts no channel would deliver."""
    from cronwatch.specs import Limits
    from cronwatch.statsd import StatsdClient
    from cronwatch.web import ServerSettings
    from cronwatch.web.dashboard.access import is_loopback

    # Behind a proxy every request comes from the proxy's (loopback) address: not local users.
    open_dashboard = is_loopback(opts.host) and not opts.require_read_key and not opts.proxy_headers
    limits = _connection_limits(opts)
    if opts.alerts:
        _warn_unheard(config)
    job_limits = config.limits if config is not None else Limits()
    return ServerSettings(
        database_url=url,
        config=config,
        max_body=opts.max_body,
        rate_limit=opts.rate_limit,
        statsd=StatsdClient.from_env(),
        alerts=opts.alerts,
        open_dashboard=open_dashboard,
        limits=limits,
        proxy_headers=opts.proxy_headers,
        forwarded_allow_ips=opts.forwarded_allow_ips,
        future_tolerance=_future_tolerance(opts.future_tolerance, job_limits),
        database_timeout=opts.database_timeout,
        alerts_database_timeout=opts.alerts_database_timeout,
        max_jobs=job_limits.max_jobs if opts.max_jobs is None else opts.max_jobs,
    )


def _connection_limits(opts: ServeOptions) -> ConnectionLimits:
    """The limits on connections; ``--max-connections`` cut to what the process's file limit
    allows, with a warning."""
    from cronwatch.web.connections import ConnectionLimits, fit_file_limit

    connections, warning = fit_file_limit(opts.max_connections)
    if warning:
        click.echo(f"WARNING:  {warning}", err=True)
    return ConnectionLimits(
        max_header_bytes=opts.max_header_size,
        header_timeout=opts.header_timeout,
        body_timeout=opts.body_timeout,
        max_connections=connections,
    )


def _warn_unheard(config: Config | None) -> None:
    """A warning when the alert loop would have no channel to deliver through."""
    from cronwatch.alerts.health import channel_warning

    unheard = channel_warning(config)
    if unheard:
        click.echo(f"WARNING:  {unheard}", err=True)


def _future_tolerance(option: str | None, job_limits: Limits) -> timedelta:
    """``--future-tolerance`` (at most 1d), else the config file's."""
    if option is None:
        return job_limits.future_tolerance
    tolerance = _duration(option, "--future-tolerance")
    if tolerance > timedelta(days=1):
        raise click.BadParameter("at most 1d", param_hint="--future-tolerance")
    return tolerance


def _run(settings: ServerSettings, opts: ServeOptions) -> None:
    """Serve until stopped, as ``uvicorn.run`` does around its server: Ctrl-C ends quietly, a
    failed start exits 3."""
    import uvicorn

    from cronwatch.web import create_app
    from cronwatch.web.server import NotifyingServer, log_config, uvicorn_options

    options = uvicorn_options(settings, log_level=opts.log_level, access_log=opts.access_log)
    config = uvicorn.Config(
        create_app(settings),
        host=opts.host,
        port=opts.port,
        log_config=log_config(opts.log_level),
        **options,
    )
    server = NotifyingServer(config)
    # The port is bound before the app starts: when it is taken (another cronwatch serving,
    # maybe with another config), this one must stop before its alert loop runs a cycle that
    # flips the other's alert states (a recovery sent nowhere, then the problem paged again).
    try:
        sock = config.bind_socket()
    except SystemExit:  # uvicorn has logged why (address in use, a host that cannot be bound)
        click.echo(f"cronwatch: error: cannot listen on {opts.host}:{opts.port}", err=True)
        raise SystemExit(3) from None
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])
    if not server.started:
        raise SystemExit(3)


def _uses(ctx: click.Context, url: str, config: Config | None) -> str:
    """What this server serves from, for its log: the database (password as ``***``) and the
    config file."""
    from cronwatch.config import config_path_from_env
    from cronwatch.storage.url import redact

    line = f"cronwatch serves the database {redact(url)}"
    path = config_path_from_env(ctx.find_root().obj.config_path)
    if config is None or path is None:
        return line + " (no config file)"
    jobs = len(config.jobs)
    return line + f" with the config file {path} ({jobs} job{'s' if jobs != 1 else ''})"


def _unit(ctx: click.Context, port: int) -> str:
    """The service running this cronwatch with the options of this command line (but
    ``--systemd-unit``); the config file by its absolute path. The database URL is left to the
    unit's environment file: it may hold a password."""
    import os

    from cronwatch.paths import cronwatch_command
    from cronwatch.web.unit import ENV_FILE, hidden_from_service, service_unit

    command = cronwatch_command()
    root = ctx.find_root().obj
    # PrivateTmp=yes gives the service an empty /tmp: what is there now, it would not find.
    where = hidden_from_service(command[0])
    if where is not None:
        click.echo(
            f"warning: {command[0]} is under {where}, which the unit's PrivateTmp=yes hides "
            "from the service: it would fail to start (status=203/EXEC); install cronwatch "
            "elsewhere, e.g. python3 -m venv /opt/cronwatch",
            err=True,
        )
    if root.config_path:
        command += ["--config", os.path.abspath(root.config_path)]
        where = hidden_from_service(root.config_path)
        if where is not None:
            click.echo(
                f"warning: the config file {command[-1]} is under {where}, which the unit's "
                "PrivateTmp=yes hides from the service: it would not start; move it, e.g. to "
                "/etc/cronwatch/cronwatch.toml",
                err=True,
            )
    command.append("serve")
    for param in ctx.command.params:
        name = param.name or ""
        source = ctx.get_parameter_source(name)
        if name == "systemd_unit" or source is not click.core.ParameterSource.COMMANDLINE:
            continue
        assert isinstance(param, click.Option)
        value = ctx.params[name]
        if param.is_flag and param.secondary_opts:
            command.append(param.opts[0] if value else param.secondary_opts[0])
        elif param.is_flag:
            command.append(param.opts[0])
        else:
            command += [param.opts[0], str(value)]
    if root.database_url:
        click.echo(
            f"note: --database-url is not put into the unit; set CRONWATCH_DATABASE_URL in "
            f"{ENV_FILE}",
            err=True,
        )
    return service_unit(command, port=port)


def _duration(text: str, option: str) -> timedelta:
    from cronwatch.durations import parse_duration
    from cronwatch.errors import InvalidInput

    try:
        return parse_duration(text, field=option)
    except InvalidInput as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


def _check_trusted_proxies(forwarded_allow_ips: str) -> None:
    from cronwatch.web.forwarded import TrustedProxies

    try:
        TrustedProxies(forwarded_allow_ips)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--forwarded-allow-ips") from None


def _migrate(url: str) -> None:
    """The database at ``url`` created (the default file's folder too) and migrated, before
    the port opens and any request is accepted."""
    from cronwatch import paths
    from cronwatch.storage.connection import open_database

    if url == paths.default_database_url():
        paths.data_dir().mkdir(parents=True, exist_ok=True)
    open_database(url).close()
