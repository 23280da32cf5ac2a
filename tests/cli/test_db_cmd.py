"""`cronwatch migrate` and `cronwatch spool list/flush`."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from cronwatch.cli.main import cli
from tests.support.cli import invoke


def test_migrate_reports_the_revision(database_url: str) -> None:
    from cronwatch.storage.revision import SCHEMA_REVISION

    result = invoke("migrate", url=database_url)
    assert result.exit_code == 0 and f"schema revision {SCHEMA_REVISION} (current)" in result.output


def test_spool_list_and_flush(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from cronwatch.monitor import make_run
    from cronwatch.spool import Spool

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    now = datetime.now(UTC)
    Spool.for_target(url).put(make_run("j", now, now, outcome="success", hostname="h"))
    listed = CliRunner().invoke(cli, ["--database-url", url, "spool", "list"])
    assert "1 run(s) waiting" in listed.output
    flushed = CliRunner().invoke(cli, ["--database-url", url, "spool", "flush"])
    assert flushed.exit_code == 0 and "sent 1 run(s); 0 still waiting" in flushed.output
