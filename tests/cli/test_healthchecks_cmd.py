"""``cronwatch import-healthchecks`` against the real Healthchecks (the pinned peer): checks
created there are imported with their UUIDs, then the same curl lines with only the host
changed land in cronwatch; what cannot be carried over is listed, a dry run writes nothing, and
an import run twice creates nothing twice."""

from __future__ import annotations

import json
import shlex
import subprocess
from typing import Any

import httpx
import pytest

from tests.support.cli import invoke
from tests.support.hcpeer import Peer
from tests.support.server import LiveServer, count_jobs, query

# The first test to use the peer builds its virtualenv (about 25 s on a quiet machine, minutes
# on a loaded one): more than the default timeout may be needed.
pytestmark = pytest.mark.timeout(900)

CHECKS: list[dict[str, Any]] = [
    {"name": "Backup", "slug": "mig-backup", "tags": "db nightly", "timeout": 86400,
     "grace": 3600},
    {"name": "Report", "slug": "mig-report", "schedule": "30 6 * * 1-5", "tz": "Europe/Riga",
     "grace": 600},
    {"slug": "mig-cal", "schedule": "Mon..Fri 09:00", "tz": "UTC"},
    {"slug": "mig-paused", "timeout": 3600},
    {"slug": "mig-kw", "timeout": 3600, "desc": "kept elsewhere", "success_kw": "ok",
     "filter_body": True, "methods": "POST"},
    {"name": "No Slug Here", "timeout": 7200},
]  # fmt: skip
EXPECTED = {
    "mig-backup": {"schedule": "every 86400s", "grace": 3600, "tags": ["db", "nightly"]},
    "mig-report": {"schedule": "30 6 * * 1-5", "timezone": "Europe/Riga", "grace": 600},
    "mig-cal": {"on_calendar": "Mon..Fri 09:00", "timezone": "UTC", "grace": 3600},
    "mig-paused": {"schedule": "every 3600s", "grace": 3600, "paused": True},
    "mig-kw": {"schedule": "every 3600s", "grace": 3600, "description": "kept elsewhere"},
    "No Slug Here": {"schedule": "every 7200s", "grace": 3600},
}


@pytest.fixture
def checks_in_peer(hc_peer: Peer) -> dict[str, str]:
    """The checks of :data:`CHECKS` in the peer (made again for each test): name -> UUID."""
    uuids = {}
    with httpx.Client(base_url=hc_peer.url, headers={"X-Api-Key": hc_peer.api_key},
                      timeout=60) as hc:  # fmt: skip
        for old in hc.get("/api/v3/checks/").json()["checks"]:
            hc.delete(f"/api/v3/checks/{old['uuid']}")
        for body in CHECKS:
            created = hc.post("/api/v3/checks/", json=body)
            assert created.status_code == 201, created.text
            uuids[body.get("slug") or body["name"]] = created.json()["uuid"]
        assert hc.post(f"/api/v3/checks/{uuids['mig-paused']}/pause").status_code == 200
    return uuids


def test_checks_move_over_and_their_curl_lines_land_in_cronwatch(
    server: LiveServer, hc_peer: Peer, checks_in_peer: dict[str, str]
) -> None:
    url = server.database_url
    args = ["import-healthchecks", "--url", hc_peer.url, "--api-key", hc_peer.api_key]
    dry = invoke(*args, url=url)
    assert dry.exit_code == 0, dry.output
    assert count_jobs(url) == 0, "without --write nothing is written"
    assert "nothing written" in dry.stderr

    done = invoke(*args, "--write", "--ping-key", hc_peer.ping_key, url=url)
    assert done.exit_code == 0, done.output
    assert "created 6 job(s) of 6" in done.stderr
    assert "mig-kw: keyword filters (email pings, body keywords) not carried over" in done.stderr
    assert "description" not in done.stderr, "the description is carried over"
    assert 'mig-kw: methods = "POST" not carried over' in done.stderr
    stored = dict(query(url, "SELECT name, uuid FROM jobs"))
    assert stored == checks_in_peer, "every check keeps its UUID"
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for name, fields in EXPECTED.items():
            spec = query(url, "SELECT spec FROM jobs WHERE name = ?", (name,))[0][0]
            assert json.loads(str(spec)) == fields, name
        assert http.get(f"/ping/{checks_in_peer['mig-backup']}").status_code == 200

    # The same crontab lines, with only the host changed.
    lines = [
        "curl -fsS -m 10 --retry 3 {host}/ping/{backup}",
        "curl -fsS -m 10 {host}/ping/{report}/start?rid=0b0c0d0e-0000-4000-8000-000000000001",
        "curl -fsS -m 10 --data-raw 'report failed' "
        "{host}/ping/{report}/1?rid=0b0c0d0e-0000-4000-8000-000000000001",
        "curl -fsS -m 10 {host}/ping/{ping_key}/mig-cal/fail",
        "curl -fsS -m 10 --data-raw 'a note' {host}/ping/{ping_key}/mig-backup/log",
        "curl -fsS -m 10 -X HEAD -I {host}/ping/{nosl}",
    ]
    values = {"backup": checks_in_peer["mig-backup"], "report": checks_in_peer["mig-report"],
              "nosl": checks_in_peer["No Slug Here"], "ping_key": hc_peer.ping_key}  # fmt: skip
    for host in (hc_peer.url, server.url):
        for line in lines:
            command = line.format(host=host, **values)
            result = subprocess.run(shlex.split(command), capture_output=True, text=True,
                                    timeout=60, check=False)  # fmt: skip
            assert result.returncode == 0, f"{command}: {result.stderr}"
    runs = query(url, "SELECT name, outcome, exit_code, output FROM runs ORDER BY id")
    assert runs == [
        ("mig-backup", "success", 0, None),  # the check above
        ("mig-backup", "success", 0, None),
        ("mig-report", "failure", 1, "report failed"),  # start and finish: one run
        ("mig-cal", "failure", None, None),
        ("No Slug Here", "success", 0, None),
    ]
    assert query(url, "SELECT name, kind, text FROM events") == [("mig-backup", "log", "a note")]

    again = invoke(*args, "--write", url=url)
    assert "created 0 job(s) of 6" in again.stderr and count_jobs(url) == 6


def test_a_read_only_key_hides_the_uuids_so_nothing_is_imported(
    server: LiveServer, hc_peer: Peer, checks_in_peer: dict[str, str]
) -> None:
    args = ["import-healthchecks", "--url", hc_peer.url, "--api-key", hc_peer.api_key_readonly]
    result = invoke(*args, "--write", url=server.database_url)
    assert "no UUID shown: use a read-write API key" in result.stderr
    assert count_jobs(server.database_url) == 0


def test_an_unreachable_or_refusing_server_is_an_error_that_writes_nothing(
    server: LiveServer, hc_peer: Peer
) -> None:
    wrong = invoke("import-healthchecks", "--url", hc_peer.url, "--api-key", "x" * 32,
                   "--write", url=server.database_url)  # fmt: skip
    assert wrong.exit_code != 0 and "answered 401" in wrong.output
    away = invoke("import-healthchecks", "--url", "http://127.0.0.1:9", "--api-key", "x" * 32,
                  "--write", url=server.database_url)  # fmt: skip
    assert away.exit_code != 0 and "cannot read the checks" in away.output
    assert count_jobs(server.database_url) == 0
