"""``serve --proxy-headers``: behind an HTTPS reverse proxy the dashboard's login works and its
cookie is ``Secure``, pings are from the proxy's client; and the same headers from any address
that is not an allowed proxy change nothing."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

import cronwatch
from cronwatch.timeutil import utcnow
from cronwatch.web.dashboard.access import COOKIE
from cronwatch.web.forwarded import TrustedProxies
from tests.support.server import LiveServer, create_key, query, serve

SITE = "cron.example.com"
# What nginx sends with the README's configuration, for a browser at https://cron.example.com.
NGINX = {
    "Host": SITE,
    "X-Forwarded-Proto": "https",
    "X-Forwarded-For": "203.0.113.7",
    "X-Forwarded-Host": SITE,
}
BROWSER = {"Origin": f"https://{SITE}", "Sec-Fetch-Site": "same-origin"}
PINGED = "SELECT name, hostname FROM runs WHERE name <> 'payroll-export'"


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[LiveServer]:
    url = f"sqlite:///{tmp_path / 'cronwatch.db'}"
    with cronwatch.connect(url, statsd=False) as monitor:
        now = utcnow()
        monitor.record_success("payroll-export", now - timedelta(minutes=3), now, "hr1")
    with LiveServer(url, open_dashboard=False, proxy_headers=True) as live:
        yield live


def client(live: LiveServer, source: str = "127.0.0.1") -> httpx.Client:
    """A client connecting from ``source`` (any 127.x address is this machine)."""
    transport = httpx.HTTPTransport(local_address=source)
    return httpx.Client(base_url=live.url, timeout=30, transport=transport)


def login(http: httpx.Client, key: str) -> httpx.Response:
    return http.post("/login", data={"key": key, "next": "/"}, headers={**NGINX, **BROWSER})


def test_login_through_the_proxy_gets_a_secure_cookie(proxied: LiveServer) -> None:
    key = create_key(proxied.database_url, "read")
    with client(proxied) as http:
        response = login(http, key)
        assert response.status_code == 303, response.text
        cookie = response.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE}=") and "; secure" in cookie.lower()
        http.cookies.set(COOKIE, key)
        page = http.get("/", headers=NGINX)
    assert page.status_code == 200 and "payroll-export" in page.text


def test_the_same_headers_from_an_address_that_is_not_a_proxy_are_ignored(
    proxied: LiveServer,
) -> None:
    """From 127.0.0.2 the request is what it is: plain http to 127.0.0.1:port, so the browser's
    https Origin is another site's: refused, and no cookie is set."""
    key = create_key(proxied.database_url, "read")
    with client(proxied, source="127.0.0.2") as http:
        response = login(http, key)
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


def test_without_proxy_headers_the_scheme_stays_http(tmp_path: Path) -> None:
    """The default: nothing is trusted, not even from 127.0.0.1 (the login from the proxy's
    https origin is refused, and a cookie set over http would not be Secure)."""
    url = f"sqlite:///{tmp_path / 'cronwatch.db'}"
    key = create_key(url, "read")
    with LiveServer(url, open_dashboard=False) as live, client(live) as http:
        assert login(http, key).status_code == 403
        direct = http.post("/login", data={"key": key, "next": "/"})
    assert direct.status_code == 303
    assert "secure" not in direct.headers["set-cookie"].lower()


def test_a_ping_through_the_proxy_is_from_the_proxys_client(proxied: LiveServer) -> None:
    key = create_key(proxied.database_url, "ping")
    chain = {"X-Forwarded-For": "198.51.100.1, 203.0.113.7"}  # a client's claim, then nginx's
    with client(proxied) as http:
        assert http.get(f"/ping/{key}/via-proxy", headers=NGINX).status_code == 200
        assert http.get(f"/ping/{key}/chain", headers=chain).status_code == 200
    with client(proxied, source="127.0.0.2") as http:
        assert http.get(f"/ping/{key}/direct", headers=NGINX).status_code == 200
    hosts = dict(query(proxied.database_url, PINGED))
    # The right-most address that is not an allowed proxy: a client cannot choose its own.
    assert hosts == {"via-proxy": "203.0.113.7", "chain": "203.0.113.7", "direct": "127.0.0.2"}


def test_default_server_never_takes_the_client_address_from_a_header(server: LiveServer) -> None:
    key = create_key(server.database_url, "ping")
    response = httpx.get(f"{server.url}/ping/{key}/plain", headers=NGINX, timeout=30)
    assert response.status_code == 200
    assert query(server.database_url, "SELECT hostname FROM runs") == [("127.0.0.1",)]


def test_forwarded_values_that_do_not_parse_change_nothing(proxied: LiveServer) -> None:
    key = create_key(proxied.database_url, "ping")
    bad = {"X-Forwarded-For": "unknown", "X-Forwarded-Proto": "gopher",
           "X-Forwarded-Host": "evil.example/path@x"}  # fmt: skip
    with client(proxied) as http:
        assert http.get(f"/ping/{key}/odd", headers=bad).status_code == 200
        refused = login(http, create_key(proxied.database_url, "read"))
    assert query(proxied.database_url, PINGED) == [("odd", "127.0.0.1")]
    assert refused.status_code == 303  # NGINX's own headers are good; the login still works


@pytest.mark.parametrize(
    ("spec", "inside", "outside"),
    [
        ("127.0.0.1", ["127.0.0.1", "127.0.0.1:5000"], ["127.0.0.2", "10.0.0.1", "", "x"]),
        ("10.0.0.0/8, ::1", ["10.1.2.3", "::1", "[::1]:80"], ["11.0.0.1", "127.0.0.1"]),
        ("*", ["203.0.113.9", "::1"], []),
    ],
)
def test_trusted_proxies(spec: str, inside: list[str], outside: list[str]) -> None:
    trusted = TrustedProxies(spec)
    assert all(address in trusted for address in inside)
    assert not any(address in trusted for address in outside)


@pytest.mark.parametrize("spec", ["", "localhost", "10.0.0.0/33", "1.2.3.4, nope"])
def test_trusted_proxies_refuse_what_is_not_an_address(spec: str) -> None:
    with pytest.raises(ValueError, match=r"IP address|no proxy address"):
        TrustedProxies(spec)


def test_serve_with_proxy_headers_asks_for_a_key_and_checks_the_addresses(tmp_path: Path) -> None:
    """Behind a proxy every request comes from loopback: the dashboard is not left open."""
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    with serve(url, options=("--proxy-headers",)) as (base, _):
        response = httpx.get(base + "/", timeout=30)
        assert (response.status_code, response.headers["location"]) == (303, "/login?next=/")
    bad = subprocess.run(
        [sys.executable, "-m", "cronwatch.cli", "--database-url", url, "serve",
         "--proxy-headers", "--forwarded-allow-ips", "proxy.local"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert bad.returncode == 2
    assert "--forwarded-allow-ips" in bad.stderr and "not an IP address" in bad.stderr
