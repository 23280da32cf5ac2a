"""cronwatch.jobs: the REST API's jobs without HTTP. It raises the library's errors (the server
maps them to 400, 404 and 409 in one handler: tests/web/test_api.py), and a refused change
writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from cronwatch.errors import Conflict, InvalidInput, NotFound
from cronwatch.jobs import JobsService
from cronwatch.storage.connection import Database
from tests.support.alerting import write_config


def test_a_new_job_is_declared_once(db: Database) -> None:
    jobs = JobsService(db)
    created = jobs.create("backup", {"schedule": "0 3 * * *"})
    assert created["source"] == "api" and created["spec"] == {"schedule": "0 3 * * *"}
    with pytest.raises(Conflict, match="'backup' already exists"):
        jobs.create("backup", {"schedule": "0 4 * * *"})
    assert jobs.get("backup")["spec"] == {"schedule": "0 3 * * *"}, "the refusal changed it"


def test_unknown_jobs_are_not_found_and_nothing_is_written(db: Database) -> None:
    jobs = JobsService(db)
    for call in (
        lambda: jobs.get("nope"),
        lambda: jobs.update("nope", {"grace": "1h"}),
        lambda: jobs.set_paused("nope", True),
        lambda: jobs.delete("nope"),
        lambda: jobs.runs("nope"),
    ):
        with pytest.raises(NotFound, match="no job named 'nope'"):
            call()
    assert jobs.jobs() == []


def test_a_job_of_the_config_file_cannot_be_changed(db: Database, tmp_path: Path) -> None:
    config = write_config(tmp_path, '[jobs.report]\nschedule = "every 1h"\n')
    jobs = JobsService(db, config)
    assert jobs.get("report")["source"] == "config"
    with pytest.raises(Conflict, match="declared in the config file"):
        jobs.create("report", {})
    with pytest.raises(Conflict, match="declared in the config file, which wins"):
        jobs.set_paused("report", True)
    assert [job["name"] for job in jobs.jobs()] == ["report"]
    assert jobs.get("report")["paused"] is False


def test_bad_fields_are_invalid_input_and_write_nothing(db: Database) -> None:
    jobs = JobsService(db)
    with pytest.raises(InvalidInput, match="paused"):
        jobs.create("backup", {"paused": 1})
    with pytest.raises(InvalidInput, match="schedule"):
        jobs.create("backup", {"schedule": "not a schedule"})
    with pytest.raises(InvalidInput, match="name"):
        jobs.create(42, {})  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="cursor"):
        jobs.create("ok", {})
        jobs.runs("ok", before="x")
    assert [job["name"] for job in jobs.jobs()] == ["ok"]
