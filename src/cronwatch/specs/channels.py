"""Alert channels: :class:`ChannelSpec`, and the options each channel type takes.

A channel type is one row of :data:`CHANNEL_TYPES` (its required and optional options, and
the rules between them) plus its sender in :mod:`cronwatch.alerts.channels`. An option is
read by its reader in :data:`OPTION_READERS`, the same for every type that takes it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, cast

from cronwatch import tomlwriter
from cronwatch.errors import InvalidInput, type_name
from cronwatch.names import validate_name
from cronwatch.specs import values
from cronwatch.specs.template import body_escape, parse_template

ChannelType = Literal["webhook", "email", "command", "apprise", "pagerduty"]

#: Where PagerDuty's Events API v2 takes events (``url`` overrides it, e.g. for a proxy).
PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
#: The HTTP methods a webhook may use.
WEBHOOK_METHODS = ("POST", "PUT", "PATCH", "GET", "DELETE")


@dataclass(frozen=True)
class ChannelSpec:
    """An alert channel. ``options`` (read-only) holds its fields other than ``type``.

    webhook: ``url`` (str, may hold placeholders), optional ``headers`` (dict of str),
    ``method`` (str), ``body`` (a template string), ``timeout`` (timedelta).
    email: ``to`` (tuple of addresses), optional ``host``, ``from``, ``username``,
    ``password``, ``password_env`` (the name of an environment variable holding the password),
    ``ca_file`` (str), ``port`` (int), ``starttls``, ``ssl`` (bool), ``timeout`` (timedelta).
    command: ``command`` (str for a shell command line, or tuple of argv strings), optional
    ``timeout`` (timedelta).
    apprise: ``urls`` (tuple of Apprise URLs) or ``urls_env`` (the name of an environment
    variable holding them), optional ``timeout``.
    pagerduty: ``routing_key`` or ``routing_key_env``, optional ``url`` (the Events API v2
    endpoint, :data:`PAGERDUTY_EVENTS_URL`), ``timeout``.
    """

    name: str
    type: ChannelType
    options: Mapping[str, object]


@dataclass(frozen=True)
class ChannelOptions:
    """The options of one channel type besides ``type``, and the rules between them
    (``check(where, options)`` raises :class:`InvalidInput`)."""

    required: frozenset[str]
    optional: frozenset[str] = frozenset()
    check: Callable[[str, Mapping[str, object]], None] | None = None


_SERVICE_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\x00-\x1f\x7f]+")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_URL = re.compile(r"https?://[^\s\x00-\x1f\x7f/?#]+[^\s\x00-\x1f\x7f]*", re.IGNORECASE)
_EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _url(where: str, value: object) -> str:
    if not isinstance(value, str) or not _URL.fullmatch(value):
        raise InvalidInput(f"{where}: expected an http:// or https:// URL, not {value!r:.80}")
    return value


def _method(where: str, value: object) -> str:
    if not isinstance(value, str) or value.upper() not in WEBHOOK_METHODS:
        raise InvalidInput(f"{where}: expected one of {', '.join(WEBHOOK_METHODS)}")
    return value.upper()


def _service_urls(where: str, value: object) -> tuple[str, ...]:
    urls = [value] if isinstance(value, str) else value
    if not isinstance(urls, list) or not urls:
        raise InvalidInput(f'{where}: expected a non-empty list of URLs such as "tgram://..."')
    for index, url in enumerate(urls):
        if not isinstance(url, str) or not _SERVICE_URL.fullmatch(url):
            # The URL itself is not repeated: it usually holds a token.
            raise InvalidInput(
                f'{where}[{index}]: expected a service URL such as "tgram://bottoken/ChatID"'
                " (scheme://...), without spaces"
            )
    return tuple(cast(list[str], urls))


def _env_name(where: str, value: object) -> str:
    if not isinstance(value, str) or not _ENV_NAME.fullmatch(value):
        raise InvalidInput(f"{where}: expected the name of an environment variable")
    return value


def _body(where: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{where}: expected a non-empty string (a template)")
    return value


def _headers(where: str, value: object) -> Mapping[str, str]:
    headers = values.table(where, value)
    for key, item in headers.items():
        if not isinstance(item, str) or _CONTROL.search(key + item):
            raise InvalidInput(
                f"{where}.{tomlwriter.key(key, max_chars=60)}: expected a single-line string"
            )
    return MappingProxyType(dict(headers))


def _addresses(where: str, value: object) -> tuple[str, ...]:
    addresses = [value] if isinstance(value, str) else value
    if not isinstance(addresses, list) or not addresses:
        raise InvalidInput(f"{where}: expected a non-empty list of email addresses")
    for index, address in enumerate(addresses):
        if not isinstance(address, str) or not _EMAIL.fullmatch(address):
            raise InvalidInput(f"{where}[{index}]: not an email address: {address!r:.80}")
    return tuple(cast(list[str], addresses))


def _address(where: str, value: object) -> str:
    if not isinstance(value, str) or not _EMAIL.fullmatch(value):
        raise InvalidInput(f"{where}: not an email address: {value!r:.80}")
    return value


def _line(where: str, value: object) -> str:
    if not isinstance(value, str) or not value or _CONTROL.search(value):
        raise InvalidInput(f"{where}: expected a single-line, non-empty string")
    return value


def _port(where: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise InvalidInput(f"{where}: expected a port number (1-65535), not {value!r:.40}")
    return value


def _command(where: str, value: object) -> str | tuple[str, ...]:
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, list) and value and all(isinstance(arg, str) for arg in value):
        argv = cast(list[str], value)
        if argv[0]:
            return tuple(argv)
    raise InvalidInput(f"{where}: expected a command line or a non-empty list of strings")


def _check_email(where: str, options: Mapping[str, object]) -> None:
    if options.get("starttls") and options.get("ssl"):
        raise InvalidInput(
            f"{where}.ssl: starttls and ssl exclude each other (ssl: TLS from the start)"
        )
    if "password" in options and "password_env" in options:
        raise InvalidInput(f"{where}.password_env: give password or password_env, not both")
    has_password = "password" in options or "password_env" in options
    if "username" in options and not has_password:
        raise InvalidInput(f"{where}.password: required with username (or password_env)")
    if has_password and "username" not in options:
        raise InvalidInput(f"{where}.username: required with a password")


def _one_of(where: str, options: Mapping[str, object], given: str, env: str) -> None:
    if given in options and env in options:
        raise InvalidInput(f"{where}.{env}: give {given} or {env}, not both")
    if given not in options and env not in options:
        raise InvalidInput(f"{where}.{given}: required (or {env}, an environment variable)")


def _check_webhook(where: str, options: Mapping[str, object]) -> None:
    method = options.get("method", "POST")
    if "body" in options and method == "GET":
        raise InvalidInput(f"{where}.body: a GET request has no body; use another method")
    headers = cast(Mapping[str, str], options.get("headers") or {})
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
    url = cast(str, options["url"])
    parse_template(f"{where}.url", url, "url")
    if "body" in options:
        parse_template(f"{where}.body", cast(str, options["body"]), body_escape(content_type))


def _check_apprise(where: str, options: Mapping[str, object]) -> None:
    _one_of(where, options, "urls", "urls_env")


def _check_pagerduty(where: str, options: Mapping[str, object]) -> None:
    _one_of(where, options, "routing_key", "routing_key_env")


#: How each option is read and checked, whichever channel type takes it.
OPTION_READERS: Mapping[str, Callable[[str, object], object]] = {
    "timeout": values.positive_duration,
    "url": _url,
    "headers": _headers,
    "to": _addresses,
    "from": _address,
    "host": _line,
    "username": _line,
    "password": _line,
    "password_env": _line,
    "ca_file": _line,
    "port": _port,
    "starttls": values.boolean,
    "ssl": values.boolean,
    "command": _command,
    "method": _method,
    "body": _body,
    "urls": _service_urls,
    "urls_env": _env_name,
    "routing_key": _line,
    "routing_key_env": _env_name,
}

#: Every channel type and its options.
CHANNEL_TYPES: Mapping[str, ChannelOptions] = {
    "webhook": ChannelOptions(
        frozenset({"url"}),
        frozenset({"headers", "timeout", "method", "body"}),
        check=_check_webhook,
    ),
    "email": ChannelOptions(
        frozenset({"to"}),
        frozenset(
            {
                "host",
                "port",
                "from",
                "starttls",
                "ssl",
                "username",
                "password",
                "password_env",
                "ca_file",
                "timeout",
            }
        ),
        check=_check_email,
    ),
    "command": ChannelOptions(frozenset({"command"}), frozenset({"timeout"})),
    "apprise": ChannelOptions(
        frozenset(), frozenset({"urls", "urls_env", "timeout"}), check=_check_apprise
    ),
    "pagerduty": ChannelOptions(
        frozenset(),
        frozenset({"routing_key", "routing_key_env", "url", "timeout"}),
        check=_check_pagerduty,
    ),
}
assert all(
    set(kind.required | kind.optional) <= set(OPTION_READERS) for kind in CHANNEL_TYPES.values()
)


def channel_where(name: str) -> str:
    """The key path of channel ``name`` in messages: ``channels.ops``."""
    return f"channels.{tomlwriter.key(name, max_chars=60)}"


def parse_channel(name: str, body: object) -> ChannelSpec:
    """The channel ``name`` from its table (``body``); :class:`InvalidInput` naming the field.
    The name is validated too (and comes back in NFC)."""
    where = channel_where(name)
    name = validate_name(name, where)
    table = values.table(where, body)
    kind = table.get("type")
    choices = f"one of: {', '.join(CHANNEL_TYPES)}"
    if "type" not in table:
        raise InvalidInput(f"{where}.type: missing ({choices})")
    if not isinstance(kind, str):
        raise InvalidInput(f"{where}.type: expected a string ({choices}), not {type_name(kind)}")
    declared = CHANNEL_TYPES.get(kind)
    if declared is None:
        raise InvalidInput(f'{where}.type: unknown channel type "{kind}" ({choices})')
    values.check_fields(where, table, declared.required | declared.optional | {"type"})
    for option in sorted(declared.required):
        if option not in table:
            raise InvalidInput(f'{where}.{option}: required for a "{kind}" channel')
    options = {
        option: OPTION_READERS[option](f"{where}.{option}", value)
        for option, value in table.items()
        if option != "type"
    }
    if declared.check is not None:
        declared.check(where, options)
    return ChannelSpec(name=name, type=cast(ChannelType, kind), options=MappingProxyType(options))


def channel_names(
    where: str, value: object, channels: Mapping[str, ChannelSpec] | None
) -> tuple[str, ...]:
    """A list of channel names, each defined in ``channels`` (not checked when ``None``)."""
    names = values.names(where, value)
    for index, channel in enumerate(names):
        if channels is not None and channel not in channels:
            defined = ", ".join(channels) if channels else "none"
            raise InvalidInput(
                f'{where}[{index}]: no channel "{channel}" is defined (defined channels: '
                f"{defined}); add a [channels.{tomlwriter.key(channel, max_chars=60)}] table"
            )
    return names
