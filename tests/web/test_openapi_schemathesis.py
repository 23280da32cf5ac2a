"""schemathesis against ``/openapi.json`` of a real server, on SQLite and PostgreSQL: no 5xx,
every status code and response body as documented, invalid input refused, auth enforced.

Every check runs except ``positive_data_acceptance``: a request can match the schema and still
be refused with a 400 for reasons a JSON Schema cannot state (a cron expression's syntax, a
timezone's existence, a failed run's exit code being 1-255), as the 400 responses document.
The ping key path parameter is set to a real key so that pings are stored, not only refused.
Examples are few and the seed fixed: a quick, repeatable run (set CRONWATCH_SCHEMATHESIS_SEED
to explore other inputs).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.server import LiveServer, count_runs, create_key

MAX_EXAMPLES = 10
SEED = os.environ.get("CRONWATCH_SCHEMATHESIS_SEED", "20261128")


def schemathesis(
    url: str, key: str, config: Path, *options: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "--no-color", "--config-file", str(config),
         "run", f"{url}/openapi.json", "--header", f"Authorization: Bearer {key}",
         "--max-examples", str(MAX_EXAMPLES), "--seed", SEED, "--workers", "1",
         "--request-timeout", "30", "--checks", "all",
         "--exclude-checks", "positive_data_acceptance", *options],
        capture_output=True, text=True, timeout=540, cwd=config.parent,
    )  # fmt: skip


def test_schemathesis_finds_no_server_error_and_no_schema_mismatch(
    database_url: str, tmp_path: Path
) -> None:
    key = create_key(database_url, "write")
    plain = tmp_path / "plain.toml"
    plain.write_text("")
    forced_key = tmp_path / "forced-key.toml"
    forced_key.write_text(f'[parameters]\n"path.ping_key" = "{key}"\n')
    with LiveServer(database_url, rate_limit=0) as live:
        everything = schemathesis(live.url, key, plain)
        assert everything.returncode == 0, everything.stdout[-6000:] + everything.stderr[-2000:]
        before = count_runs(database_url)
        # Pings again with a real key, so that they are stored and not only refused. Positive
        # data only: with the key forced, "invalid" keys generated for negative tests are not.
        pings = schemathesis(live.url, key, forced_key, "--include-path-regex", "^/ping/",
                             "--mode", "positive")  # fmt: skip
        assert pings.returncode == 0, pings.stdout[-6000:] + pings.stderr[-2000:]
    # What the ping pass itself stored: the first pass stores runs through the API too, so a
    # ping pass answered only with 401s must not count them.
    assert count_runs(database_url) > before, "pings with the real key were stored"
