"""A check's fields as Healthchecks takes them: validation order and words, cronwatch fields."""

from __future__ import annotations

import pytest

from cronwatch.healthchecks.fields import (
    DEFAULT_GRACE,
    DEFAULT_TIMEOUT,
    HcError,
    cronwatch_fields,
    validate,
)


def test_validation_reports_the_first_field_in_healthchecks_order() -> None:
    # grace comes before timeout in Healthchecks' order, whatever the body's order
    with pytest.raises(HcError, match="grace is too small"):
        validate({"timeout": 1, "grace": 1})
    assert validate({"api_key": "x", "name": "a", "unknown": 1}) == {"name": "a"}
    assert validate({"schedule": "Mon..Fri 09:00", "tz": "Europe/Riga"})["tz"] == "Europe/Riga"


def test_a_new_check_gets_healthchecks_defaults_and_no_unset_field() -> None:
    assert cronwatch_fields({}, {}, creating=True) == {
        "schedule": f"every {DEFAULT_TIMEOUT}s",
        "grace": DEFAULT_GRACE,
    }
    created = cronwatch_fields({"schedule": "0 3 * * *", "channels": "*"}, {}, creating=True)
    # on_calendar and alerts are not written as None into a new job
    assert created == {"schedule": "0 3 * * *", "grace": DEFAULT_GRACE}


def test_an_update_removes_only_fields_the_job_has() -> None:
    patch = cronwatch_fields(
        {"timeout": 120, "desc": ""}, {"on_calendar": ["daily"]}, creating=False
    )
    assert patch == {"schedule": "every 120s", "on_calendar": None}
    # no default grace is put into an update, and an empty desc removes nothing not there
    assert "grace" not in patch and "description" not in patch
