"""SQLite backups and restores while processes record (:mod:`cronwatch.storage.sqlite_backup`):
the copy is one instant of the database, holding every run acknowledged before it began,
without holding the writers up; a restore loses no run recorded while it swaps the data."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from cronwatch.storage.backup import backup, restore
from cronwatch.storage.revision import SCHEMA_REVISION
from tests.support.backups import WRITERS, Writers, grow, integrity, run_ids
from tests.support.history import populate, status_json, write_config


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    (tmp_path / "live").mkdir()
    return f"sqlite:///{tmp_path / 'live' / 'cronwatch.db'}"


# --- backup while 8 writers record; restore of it -------------------------------------------------


@pytest.mark.slow
def test_a_backup_taken_while_eight_processes_record_holds_every_acknowledged_run(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copy passes PRAGMA integrity_check and holds every run acknowledged before the
    backup began, while the writers went on recording during it; a restore of it answers
    `cronwatch status --json` exactly as the copy does."""
    grow(sqlite_url, 30_000)  # about 70 MB: a copy of many steps
    steps: list[float] = []
    copy = tmp_path / "backup.db"
    writers = Writers(sqlite_url)
    try:
        writers.wait_for(WRITERS * 30)
        began = time.monotonic()
        report = backup(sqlite_url, copy, progress=lambda *_: steps.append(time.monotonic()))
        writers.wait_for(len(writers.acknowledged) + WRITERS * 5)
        during = writers.acknowledged_before(steps[-1]) - writers.acknowledged_before(steps[0])
    finally:
        every = writers.stop()
    assert len(steps) > 10, "the copy was not made in steps"
    assert during, "no run was recorded while the copy was made: it held the writers up"
    assert integrity(copy) == ["ok"]
    copied = run_ids(copy)
    before = writers.acknowledged_before(began)
    assert len(before) >= WRITERS * 30
    assert not before - copied, f"{len(before - copied)} acknowledged runs missing from the copy"
    assert (report.runs, report.revision) == (len(copied), SCHEMA_REVISION)
    live = Path(sqlite_url.removeprefix("sqlite:///"))
    assert every - run_ids(live) == set()

    # status of the copy itself (on a scratch copy: status learns baselines, so it writes)
    scratch = tmp_path / "scratch.db"
    shutil.copyfile(copy, scratch)
    expected = status_json(f"sqlite:///{scratch}", None, monkeypatch)
    restore(sqlite_url, copy)
    assert status_json(sqlite_url, None, monkeypatch) == expected
    assert run_ids(live) == copied


@pytest.mark.slow
def test_a_restore_while_processes_record_loses_no_acknowledged_run(
    sqlite_url: str, tmp_path: Path
) -> None:
    """`cronwatch run`s and library users record straight into the file: a restore swaps the
    data in one transaction, so each acknowledged run is in the database it replaced (kept
    aside) or, acknowledged after the swap, in the restored one. None is in neither, and the
    writers carry on without an error."""
    live = Path(sqlite_url.removeprefix("sqlite:///"))
    populate(sqlite_url, write_config(tmp_path))
    copy = tmp_path / "backup.db"
    backup(sqlite_url, copy)
    writers = Writers(sqlite_url)
    try:
        writers.wait_for(WRITERS * 20)
        report = restore(sqlite_url, copy)
        writers.wait_for(len(writers.acknowledged) + WRITERS * 20)  # they go on afterwards
    finally:
        every = writers.stop()
    (aside,) = live.parent.glob("cronwatch.db.replaced-*")
    assert report.replaced == aside
    assert integrity(live) == ["ok"] and integrity(aside) == ["ok"]
    lost = every - run_ids(live) - run_ids(aside)
    assert not lost, f"{len(lost)} acknowledged runs are in neither database"
    assert run_ids(copy) <= run_ids(live)
    assert every & run_ids(live), "no writer recorded into the restored database"
