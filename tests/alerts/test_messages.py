"""The words of alerts: what a message's title and text say about the job's status now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cronwatch.alerts.messages import compose, recovery_text
from cronwatch.alerts.model import Event

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _recovery(status: str, reason: str) -> Event:
    since = NOW - timedelta(hours=1)
    text = recovery_text("backup", "missing", reason, since, NOW, status)
    return Event(
        name="backup",
        hostname="",
        kind="recovery",
        old_status="missing",
        new_status=status,
        reason=reason,
        text=text,
        at=NOW,
        since=since,
    )


def test_a_recovery_into_slow_says_slow_in_its_title_and_text() -> None:
    message = compose(_recovery("slow", "backup took 7m on db1 (max_runtime 5m)"))
    assert message.title == "backup recovered, now SLOW"
    assert message.text.startswith(
        "backup recovered after 1h MISSING, now SLOW: backup took 7m on db1 (max_runtime 5m)"
    )
    assert "now SLOW" in message.html


def test_a_recovery_to_ok_or_running_names_no_status() -> None:
    for status in ("ok", "running"):
        message = compose(_recovery(status, "ran 1m ago on db1"))
        assert message.title == "backup recovered"
        assert message.text.startswith("backup recovered after 1h MISSING: ran 1m ago on db1")
        assert "now" not in message.title
