"""The dashboard tests' fleet (:mod:`tests.support.fleet`): each job really is in the status
it is meant to show."""

from __future__ import annotations

from pathlib import Path

from cronwatch.health.service import job_statuses
from cronwatch.schedule import parse_schedule
from cronwatch.storage import open_database
from tests.support.fleet import EXPECTED, build_fleet, minutes


def test_every_fleet_job_is_in_its_status(database_url: str, tmp_path: Path) -> None:
    fleet = build_fleet(database_url, tmp_path)
    later = fleet.now + minutes(2)  # the server looks a moment later; margins absorb it
    with open_database(database_url) as db:
        statuses = {s.name: s.status for s in job_statuses(db, fleet.config, now=later)}
    assert {name: statuses[name] for name in EXPECTED} == EXPECTED
    assert statuses["backup"] in ("ok", "running")
    assert set(statuses) == {*EXPECTED, "backup"}


def test_the_backup_history_has_missed_slots_on_its_cron_schedule(
    database_url: str, tmp_path: Path
) -> None:
    fleet = build_fleet(database_url, tmp_path)
    schedule = parse_schedule("0 3 * * *", "Europe/London")
    for slot in fleet.missed_backups:
        assert schedule.previous_at_or_before(slot) == slot
