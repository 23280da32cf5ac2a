"""How a Healthchecks check becomes a job (no server: the checks as API v3 shows them)."""

from __future__ import annotations

from cronwatch.healthchecks.importer import plan

UUID = "5c4940bc-f59a-4116-b466-2e11cf76d800"


def test_each_kind_of_check_becomes_a_job_and_losses_are_noted() -> None:
    checks = [
        {"uuid": UUID, "slug": "a", "name": "A", "timeout": 600, "grace": 60, "tags": "x y x"},
        {"uuid": UUID.replace("5", "6"), "slug": "", "name": "B b", "schedule": "0 3 * * *",
         "tz": "Europe/Riga", "grace": 60, "status": "paused", "desc": "d", "channels": "c"},
        {"uuid": UUID.replace("5", "7"), "slug": "cal", "schedule": "Mon 09:00\nTue 10:00",
         "tz": "UTC", "grace": 60, "manual_resume": True},
    ]  # fmt: skip
    result = plan(checks)
    assert result.skipped == []
    a, b, cal = result.jobs
    assert (a.name, a.uuid, a.fields) == ("a", UUID, {"schedule": "every 600s", "grace": 60,
                                                      "tags": ["x", "y"]})  # fmt: skip
    assert b.name == "B b" and b.fields == {"schedule": "0 3 * * *", "timezone": "Europe/Riga",
                                            "grace": 60, "paused": True,
                                            "description": "d"}  # fmt: skip
    integrations = "integrations not carried over (use the config file's channels)"
    assert b.notes == (integrations,)
    assert cal.fields["on_calendar"] == ["Mon 09:00", "Tue 10:00"]
    assert cal.notes == ("manual_resume not carried over (a ping never resumes a paused job)",)


def test_checks_that_cannot_be_jobs_are_listed_with_the_reason() -> None:
    checks = [
        {"name": "read-only", "unique_key": "f" * 40, "timeout": 600},  # no UUID
        {"uuid": UUID, "slug": "", "name": "", "timeout": 600},  # nothing to name it by
        {"uuid": UUID.replace("5", "6"), "slug": "dup", "timeout": 600},
        {"uuid": UUID.replace("5", "7"), "slug": "dup", "timeout": 600},
        {"uuid": UUID.replace("5", "8"), "name": "bad/name", "timeout": 600},
    ]
    result = plan(checks)
    assert [job.name for job in result.jobs] == ["dup"]
    reasons = [why for _, why in result.skipped]
    assert reasons[0] == "no UUID shown: use a read-write API key"
    assert reasons[1] == "neither a slug nor a name to name the job by"
    assert reasons[2] == "another check is named 'dup' already"
    assert "must not contain '/'" in reasons[3]
