"""The fingerprint of what an alert loop decides with: equal settings give equal fingerprints
whatever their order; every setting a decision or a deadline reads changes it, in the kind that
names it; settings that change no decision do not."""

from __future__ import annotations

from pathlib import Path

from cronwatch.alerts.fingerprint import (
    ConfigFingerprint,
    config_fingerprint,
    config_groups,
    describe,
)
from tests.support.alerting import write_config

JOBS = """
[jobs.backup]
schedule = "0 * * * *"
grace = "2m"
hosts = ["db1", "db2"]

[jobs.sync]
schedule = "every 15m"
alerts = ["mail"]
"""
ALERTS = '[alerts]\nrepeat = "1h"\nchannels = ["mail"]\n'
WINDOW = (
    '[[maintenance]]\njobs = ["backup"]\nstart = 2026-11-28T10:50:00Z\nend = 2026-11-28T11:10:00Z\n'
)
CHANNEL = '[channels.mail]\ntype = "email"\nto = ["ops@example.com"]\n'


def kinds(tmp_path: Path, one: str, other: str) -> tuple[str, ...]:
    a = config_fingerprint(write_config(tmp_path, one))
    b = config_fingerprint(write_config(tmp_path, other))
    assert ConfigFingerprint.parse(a.text()) == a
    return a.differences(b)


def test_the_same_settings_in_another_order_are_the_same_config(tmp_path: Path) -> None:
    reordered = JOBS.split("[jobs.sync]")
    assert (
        kinds(
            tmp_path,
            ALERTS + JOBS + WINDOW + CHANNEL,
            CHANNEL + WINDOW + "[jobs.sync]" + reordered[1] + reordered[0] + ALERTS,
        )
        == ()
    )


def test_each_setting_a_decision_reads_is_a_difference_of_its_kind(tmp_path: Path) -> None:
    base = ALERTS + JOBS + WINDOW + CHANNEL
    assert kinds(tmp_path, base, base.replace('grace = "2m"', 'grace = "30m"')) == ("jobs",)
    assert kinds(tmp_path, base, base.replace('"every 15m"', '"every 20m"')) == ("jobs",)
    assert kinds(tmp_path, base, base.replace('"db1", "db2"', '"db1"')) == ("jobs",)
    assert kinds(tmp_path, base, base + '[jobs.new]\nschedule = "@daily"\n') == ("jobs",)
    assert kinds(tmp_path, base, base.replace('repeat = "1h"', 'repeat = "2h"')) == ("alerts",)
    assert kinds(tmp_path, base, base.replace("[alerts]\n", "[alerts]\nalert_after = 2\n")) == (
        "alerts",
    )
    assert kinds(tmp_path, base, base.replace("11:10:00Z", "11:20:00Z")) == ("maintenance",)
    both = base.replace('grace = "2m"', 'grace = "3m"').replace('"1h"', '"3h"')
    assert kinds(tmp_path, base, both) == ("jobs", "alerts")
    assert kinds(tmp_path, base, ALERTS + JOBS + CHANNEL) == ("maintenance",)


def test_settings_that_change_no_decision_are_not_a_difference(tmp_path: Path) -> None:
    base = ALERTS + JOBS + WINDOW + CHANNEL
    assert kinds(tmp_path, base, base.replace("[alerts]\n", '[alerts]\ninterval = "10s"\n')) == ()
    assert kinds(tmp_path, base, base.replace("ops@", "oncall@")) == ()
    assert kinds(tmp_path, base, base + '[retention]\nruns = "30d"\n') == ()
    described = base.replace('grace = "2m"', 'grace = "2m"\ndescription = "nightly dump"')
    assert kinds(tmp_path, base, described) == ()


def test_loops_are_grouped_by_config_with_what_differs() -> None:
    a = ConfigFingerprint({"jobs": "1", "alerts": "1", "maintenance": "1"})
    b = ConfigFingerprint({"jobs": "2", "alerts": "1", "maintenance": "1"})
    groups = config_groups(
        {"alerts@x": b.text(), "alerts@y": a.text(), "alerts@z": a.text(), "old": None}
    )
    assert groups == [(("alerts@y", "alerts@z"), ()), (("alerts@x",), ("jobs",))]
    assert config_groups({"alerts@y": a.text(), "old": None, "odd": "not json"}) == [
        (("alerts@y",), ())
    ]
    assert describe(("jobs", "alerts")) == "declared jobs ([jobs.*]) and [alerts] settings"
    assert describe(("alerts",)) == "[alerts] settings"
