"""cronwatch beside the real Healthchecks (the pinned snapshot of ``/work/shared/peers``): the
same sequence of pings and API v3 calls sent to both, and their answers compared: status codes,
JSON keys and value types, the status words each step leads to, the error answers. cronwatch
may add fields (``cronwatch_status``, ``cronwatch_reason``, a ping's ``exitstatus``), never
lack one. The differences that remain are the README's deliberate ones ("Coming from
Healthchecks") and are asserted as such here, so that a change on either side shows.

Needs the peer to start (see :mod:`tests.support.hcpeer`): skipped when it cannot, a failure
under ``CI=true``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support.hcpeer import Peer
from tests.support.server import LiveServer, create_key

# The first test to use the peer builds its virtualenv (about 25 s on a quiet machine, minutes
# on a loaded one): more than the default timeout may be needed.
pytestmark = pytest.mark.timeout(900)

UNKNOWN = "00000000-0000-4000-8000-000000000000"


@dataclass
class Side:
    """One server as a Healthchecks client sees it."""

    http: httpx.Client
    api_key: str
    readonly_key: str
    ping_key: str

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"X-Api-Key": self.api_key, **kwargs.pop("headers", {})}
        return self.http.request(method, f"/api/v3/{path}", headers=headers, **kwargs)


@pytest.fixture
def sides(hc_peer: Peer, server: LiveServer) -> Iterator[tuple[Side, Side]]:
    db = server.database_url
    peer = hc_peer
    with httpx.Client(base_url=peer.url, timeout=60) as theirs, \
         httpx.Client(base_url=server.url, timeout=60) as ours:  # fmt: skip
        yield (
            Side(theirs, peer.api_key, peer.api_key_readonly, peer.ping_key),
            Side(ours, create_key(db, "write"), create_key(db, "read"), create_key(db, "ping")),
        )


def shape(value: Any) -> Any:
    """``value`` with every leaf replaced by its JSON type's name (lists by their first item)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


EXTRA = {"cronwatch_status", "cronwatch_reason", "exitstatus"}


def assert_same_shape(theirs: Any, ours: Any, where: str) -> None:
    """Every key Healthchecks answers is in cronwatch's answer with a value of the same JSON
    type; cronwatch's own extra keys are the only others."""
    a, b = shape(theirs), shape(ours)
    if isinstance(a, dict) and isinstance(b, dict):
        assert set(a) <= set(b), f"{where}: cronwatch lacks {sorted(set(a) - set(b))}"
        assert set(b) - set(a) <= EXTRA, f"{where}: unexpected {sorted(set(b) - set(a) - EXTRA)}"
        for key in a:
            assert_same_shape(theirs[key], ours[key], f"{where}.{key}")
    elif isinstance(a, list) and isinstance(b, list) and a and b:
        assert_same_shape(theirs[0], ours[0], f"{where}[0]")
    else:
        assert a == b, f"{where}: Healthchecks gives {a}, cronwatch {b}"


def both(
    sides: tuple[Side, Side], call: Any, where: str, *, same_body: bool = False
) -> tuple[httpx.Response, httpx.Response]:
    theirs, ours = call(sides[0]), call(sides[1])
    assert theirs.status_code == ours.status_code, (
        f"{where}: Healthchecks {theirs.status_code} {theirs.text[:200]!r}, "
        f"cronwatch {ours.status_code} {ours.text[:200]!r}"
    )
    if same_body:
        assert theirs.text == ours.text, where
    return theirs, ours


def test_the_same_session_gets_the_same_answers(sides: tuple[Side, Side], dialect: str) -> None:
    slug = f"peer-{dialect}"
    body = {
        "name": slug,
        "slug": slug,
        "tags": "peer nightly",
        "timeout": 3600,
        "grace": 120,
        "desc": "compared",
    }
    created = both(sides, lambda s: s.api("POST", "checks/", json=body), "create")
    assert created[0].status_code == 201
    assert_same_shape(created[0].json(), created[1].json(), "create")
    for field in ("name", "slug", "tags", "desc", "grace", "timeout", "status", "channels"):
        assert created[0].json()[field] == created[1].json()[field], field
    uuids = [r.json()["uuid"] for r in created]

    def check(index: int) -> dict[str, Any]:
        side = sides[index]
        found: dict[str, Any] = side.api("GET", f"checks/{uuids[index]}").json()
        return found

    def words() -> tuple[str, str]:
        return check(0)["status"], check(1)["status"]

    assert words() == ("new", "new")
    upserted = both(sides, lambda s: s.api("POST", "checks/", json={**body, "unique": ["slug"]}),
                    "unique upsert")  # fmt: skip
    assert upserted[0].status_code == 200 and [r.json()["uuid"] for r in upserted] == uuids

    query = {"tag": "nightly", "slug": slug}
    listed = both(sides, lambda s: s.api("GET", "checks/", params=query), "list")
    assert_same_shape(listed[0].json(), listed[1].json(), "list")
    assert len(listed[0].json()["checks"]) == len(listed[1].json()["checks"]) == 1
    readonly = both(sides, lambda s: s.api("GET", "checks/", params={"slug": slug},
                    headers={"X-Api-Key": s.readonly_key}), "read-only list")  # fmt: skip
    assert_same_shape(readonly[0].json(), readonly[1].json(), "read-only list")

    def ping(path: str, method: str = "POST", **kwargs: Any) -> tuple[httpx.Response, ...]:
        answers = both(
            sides,
            lambda s: s.http.request(
                method,
                path.format(uuid=uuids[sides.index(s)], key=s.ping_key, slug=slug),
                **kwargs,
            ),
            f"{method} {path}",
        )
        return answers

    # Pings: the answers, then the status each one leads to.
    for method in ("GET", "POST", "HEAD"):
        answers = ping("/ping/{uuid}", method)
        assert [r.text for r in answers] == ["" if method == "HEAD" else "OK"] * 2
        assert all("ping-body-limit" in r.headers for r in answers)
        assert all(r.headers["access-control-allow-origin"] == "*" for r in answers)
    assert words() == ("up", "up")
    ping("/ping/{uuid}/start", params={"rid": "1c2d3e4f-0000-4000-8000-000000000001"})
    assert (check(0)["started"], check(1)["started"]) == (True, True)
    assert words() == ("up", "up")
    ping("/ping/{uuid}/fail", params={"rid": "1c2d3e4f-0000-4000-8000-000000000001"},
         content=b"it broke")  # fmt: skip
    assert words() == ("down", "down")
    assert (check(0)["started"], check(1)["started"]) == (False, False)
    ping("/ping/{uuid}/0")
    assert words() == ("up", "up")
    ping("/ping/{uuid}/log", content=b"a log line")
    assert words() == ("up", "up"), "a log line changes no status"
    ping("/ping/{key}/{slug}/3", content=b"exit 3")
    assert words() == ("down", "down")
    ping("/ping/{key}/{slug}")
    assert words() == ("up", "up")
    made = ping("/ping/{key}/{slug}-made", "GET", params={"create": "1"})
    assert [(r.status_code, r.text) for r in made] == [(201, "Created")] * 2
    made = ping("/ping/{key}/{slug}-made", "GET", params={"create": "1"})
    assert [(r.status_code, r.text) for r in made] == [(200, "OK")] * 2
    for refused in ("/ping/" + UNKNOWN, "/ping/" + UNKNOWN + "/start", "/ping/{uuid}/256",
                    "/ping/{uuid}/nope", "/ping/{uuid}/start/x"):  # fmt: skip
        ping(refused)
    assert_same_shape(check(0), check(1), "check after pings")

    pings = both(sides, lambda s: s.api("GET", f"checks/{uuids[sides.index(s)]}/pings/"), "pings")
    assert_same_shape(pings[0].json(), pings[1].json(), "pings")
    assert pings[0].json()["pings"][0]["type"] == pings[1].json()["pings"][0]["type"] == "success"

    # pause and resume
    paused = both(sides, lambda s: s.api("POST", f"checks/{uuids[sides.index(s)]}/pause"), "pause")
    assert [r.json()["status"] for r in paused] == ["paused", "paused"]
    assert_same_shape(paused[0].json(), paused[1].json(), "pause")
    ping("/ping/{uuid}")
    # Deliberate: a ping resumes a paused Healthchecks check (unless manual_resume); a paused
    # cronwatch job stays paused until it is resumed (its runs are recorded meanwhile).
    assert words() == ("up", "paused")
    both(sides, lambda s: s.api("POST", f"checks/{uuids[sides.index(s)]}/pause"), "pause again")
    resumed = both(sides, lambda s: s.api("POST", f"checks/{uuids[sides.index(s)]}/resume"),
                   "resume")  # fmt: skip
    # Deliberate: Healthchecks restarts a resumed check as new, cronwatch keeps its history.
    assert [r.json()["status"] for r in resumed] == ["new", "up"]
    both(sides, lambda s: s.api("POST", f"checks/{uuids[sides.index(s)]}/resume"),
         "resume a running check", same_body=True)  # fmt: skip

    flips = both(sides, lambda s: s.api("GET", f"checks/{uuids[sides.index(s)]}/flips/"), "flips")
    assert set(flips[0].json()) == set(flips[1].json()) == {"flips"}
    channels = both(sides, lambda s: s.api("GET", "channels/"), "channels")
    assert channels[0].json() == channels[1].json() == {"channels": []}
    both(sides, lambda s: s.http.get("/api/v3/status/"), "status", same_body=True)

    deleted = both(sides, lambda s: s.api("DELETE", f"checks/{uuids[sides.index(s)]}"), "delete")
    # (Healthchecks' resume made the check new again, cronwatch's kept it up with its last
    # and next ping: the difference above.)
    kept = ("last_ping", "next_ping")
    theirs, ours = ({k: v for k, v in r.json().items() if k not in kept} for r in deleted)
    assert_same_shape(theirs, ours, "delete")
    both(sides, lambda s: s.api("GET", f"checks/{uuids[sides.index(s)]}"), "get deleted")
    both(sides, lambda s: s.http.get(f"/ping/{uuids[sides.index(s)]}"), "ping deleted")
    made_uuids = [
        s.api("GET", "checks/", params={"slug": f"{slug}-made"}).json()["checks"][0]["uuid"]
        for s in sides
    ]
    for side, code in zip(sides, made_uuids, strict=True):
        assert side.api("DELETE", f"checks/{code}").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "headers", "body"),
    [
        ("GET", "checks/", {}, None),  # no key
        ("GET", "checks/", {"X-Api-Key": "hcw_" + "x" * 28}, None),  # unknown key
        ("POST", "checks/", {"X-Api-Key": "{readonly}"}, {"name": "x"}),  # read-only writes
        ("GET", "channels/", {"X-Api-Key": "{readonly}"}, None),
        ("POST", "checks/", {"X-Api-Key": "{write}"}, {"timeout": 59}),
        ("POST", "checks/", {"X-Api-Key": "{write}"}, {"grace": "60"}),
        ("POST", "checks/", {"X-Api-Key": "{write}"}, {"slug": "Not Slug"}),
        ("POST", "checks/", {"X-Api-Key": "{write}"}, {"schedule": "61 * * * *"}),
        ("POST", "checks/", {"X-Api-Key": "{write}"}, {"tz": "Mars/Olympus"}),
        ("POST", "checks/", {"X-Api-Key": "{write}"}, {"unique": ["desc"]}),
        ("GET", f"checks/{UNKNOWN}", {"X-Api-Key": "{write}"}, None),
        ("POST", f"checks/{UNKNOWN}/pause", {"X-Api-Key": "{write}"}, None),
        ("DELETE", f"checks/{UNKNOWN}", {"X-Api-Key": "{write}"}, None),
    ],
)
def test_refusals_are_the_same(
    sides: tuple[Side, Side], method: str, path: str, headers: dict[str, str],
    body: dict[str, Any] | None,
) -> None:  # fmt: skip
    def call(side: Side) -> httpx.Response:
        keys = {"{readonly}": side.readonly_key, "{write}": side.api_key}
        sent = {name: keys.get(value, value) for name, value in headers.items()}
        return side.http.request(method, f"/api/v3/{path}", headers=sent, json=body)

    theirs, ours = both(sides, call, f"{method} {path} {body}")
    if theirs.headers.get("content-type", "").startswith("application/json"):
        assert theirs.json() == ours.json(), "the same error answer"
