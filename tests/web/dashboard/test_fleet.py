"""The dashboard tests' fleet (:mod:`tests.support.fleet`): each job really is in the status
it is meant to show."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from cronwatch.health.service import job_statuses
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
    # "0 3 * * *" in Europe/London: 03:00 London time, checked with zoneinfo, not with the
    # Schedule that built the history.
    assert fleet.missed_backups
    for slot in fleet.missed_backups:
        local = slot.astimezone(ZoneInfo("Europe/London"))
        assert (local.hour, local.minute, local.second, local.microsecond) == (3, 0, 0, 0)
