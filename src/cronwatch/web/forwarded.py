"""``serve --proxy-headers``: the client as a reverse proxy in front of the server reports it.

Behind a proxy (nginx terminating HTTPS, say) the server sees every request come over plain
HTTP from the proxy's address. With ``--proxy-headers``, requests *from an allowed proxy*
(``--forwarded-allow-ips``, default ``127.0.0.1``) are taken as the proxy describes them:

- ``X-Forwarded-Proto: https`` becomes the request's scheme: the dashboard's same-origin check
  compares the browser's ``Origin: https://...`` with it, and the login cookie gets ``Secure``;
- ``X-Forwarded-For``: the client's address (a ping's default host) is the right-most address
  in the list that is not itself an allowed proxy;
- ``X-Forwarded-Host`` replaces the ``Host`` header (the origin the browser used).

From any other address these headers are ignored, whatever they say: otherwise any client
could claim to be anyone. Only what parses is used (a scheme of ``http``/``https``, an IP
address, a host name with an optional port); anything else leaves the request as it came.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import MutableMapping
from typing import Any

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_HOST = re.compile(r"(?:[A-Za-z0-9-]{1,63}\.?)+(?::[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?")


class TrustedProxies:
    """The addresses allowed to send forwarding headers: ``"127.0.0.1, 10.0.0.0/8, ::1"``,
    or ``"*"`` for any (only when nothing but the proxy can reach the server)."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.any = False
        self.networks: list[_Network] = []
        for item in (part.strip() for part in spec.split(",")):
            if not item:
                continue
            if item == "*":
                self.any = True
                continue
            try:
                self.networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ValueError(
                    f"{item!r} is not an IP address or network (e.g. 127.0.0.1, 10.0.0.0/8, ::1)"
                ) from None
        if not self.any and not self.networks:
            raise ValueError("no proxy address given (e.g. 127.0.0.1, or * for any)")

    def __contains__(self, host: object) -> bool:
        if self.any:
            return True
        address = _address(host)
        return address is not None and any(address in network for network in self.networks)


class ForwardedHeaders:
    """Rewrites an ASGI scope from an allowed proxy's ``X-Forwarded-*`` headers, in place."""

    def __init__(self, trusted: TrustedProxies) -> None:
        self.trusted = trusted

    def apply(self, scope: MutableMapping[str, Any]) -> None:
        client = scope.get("client")
        if not client or client[0] not in self.trusted:
            return
        proto = forwarded_for = host = None
        for name, value in scope["headers"]:
            if name == b"x-forwarded-proto":
                proto = value
            elif name == b"x-forwarded-for":
                forwarded_for = value if forwarded_for is None else forwarded_for + b"," + value
            elif name == b"x-forwarded-host":
                host = value
        if proto is not None:
            scheme = proto.decode("latin-1").rpartition(",")[2].strip().lower()
            if scheme in ("http", "https"):
                scope["scheme"] = scheme
        if forwarded_for is not None:
            address = self._client(forwarded_for.decode("latin-1"))
            if address is not None:
                scope["client"] = (address, 0)
        if host is not None:
            name = host.decode("latin-1").rpartition(",")[2].strip()
            if len(name) <= 255 and _HOST.fullmatch(name):
                headers = [(k, v) for k, v in scope["headers"] if k != b"host"]
                headers.append((b"host", name.encode("ascii")))
                scope["headers"] = headers

    def _client(self, header: str) -> str | None:
        """The right-most address of ``X-Forwarded-For`` that is not an allowed proxy (the
        left-most when all are), or ``None`` when that entry is not an IP address."""
        entries = [entry.strip() for entry in header.split(",") if entry.strip()]
        if not entries:
            return None
        chosen = entries[0]
        for entry in reversed(entries):
            if entry not in self.trusted:
                chosen = entry
                break
        address = _address(chosen)
        return str(address) if address is not None else None


def _address(value: object) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An IP address out of ``1.2.3.4``, ``1.2.3.4:5678``, ``::1`` or ``[::1]:5678``."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None
