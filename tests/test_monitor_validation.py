"""Bad input gets a clear error naming the problem, and nothing is written."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import cronwatch
from cronwatch.errors import InvalidInput
from cronwatch.monitor import Monitor

T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def _refused(monitor: Monitor, call: Callable[[], object], match: str) -> None:
    before = monitor.store.count()
    with pytest.raises(InvalidInput, match=match):
        call()
    assert monitor.store.count() == before, "a refused call must write nothing"


def test_naive_datetimes_are_refused(monitor: Monitor) -> None:
    naive = datetime(2026, 11, 28, 3, 0)
    _refused(
        monitor,
        lambda: monitor.record_success("job", naive, T0, "h"),
        "date_started is a naive datetime",
    )
    _refused(
        monitor,
        lambda: monitor.record_success("job", T0, naive, "h"),
        "date_completed is a naive datetime",
    )


def test_non_datetimes_are_refused(monitor: Monitor) -> None:
    _refused(
        monitor,
        lambda: monitor.record_success("job", "2026-01-01", T0, "h"),  # type: ignore[arg-type]
        "must be a datetime",
    )


def test_completion_before_start_is_refused(monitor: Monitor) -> None:
    _refused(
        monitor,
        lambda: monitor.record_success("job", T0, T0 - timedelta(seconds=1), "h"),
        "is before date_started",
    )


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("", "must not be empty"),
        ("x" * 201, "too long"),
        ("bad\nname", "control characters"),
        ("bad\x00name", "control characters"),
        ("tab\tname", "control characters"),
        ("a/b", "must not contain '/'"),
        (" padded", "whitespace"),
    ],
)
def test_bad_names_are_refused(monitor: Monitor, name: str, match: str) -> None:
    _refused(monitor, lambda: monitor.record_success(name, T0, T0, "h"), match)
    _refused(monitor, lambda: monitor.start(name, "h"), match)


def test_bad_hostnames_are_refused(monitor: Monitor) -> None:
    _refused(monitor, lambda: monitor.record_success("job", T0, T0, ""), "hostname")
    _refused(monitor, lambda: monitor.record_success("job", T0, T0, "h\r\n"), "hostname")
    _refused(monitor, lambda: monitor.record_success("job", T0, T0, "h" * 256), "hostname")


def test_names_with_markup_and_unicode_are_kept_verbatim(monitor: Monitor) -> None:
    name = "<img src=x onerror=alert(1)> ' OR 1=1; -- café"
    monitor.record_success(name, T0, T0, "h")
    last = monitor.last_activity(name)
    assert last is not None and last.name == name
    assert monitor.last_activity("<img src=x onerror=alert(1)>") is None


@pytest.mark.parametrize(
    ("value", "shown"),
    [("backup\u200b", "U+200B"), ("\u202ekcab", "U+202E"), ("a\u2066b", "U+2066")],
)
def test_look_alike_names_and_hosts_are_refused(monitor: Monitor, value: str, shown: str) -> None:
    # "backup" + U+200B would be a second job that looks exactly like "backup".
    invisible = re.escape(f"must not contain invisible format or bidi control characters ({shown})")
    _refused(monitor, lambda: monitor.record_success(value, T0, T0, "h"), "name " + invisible)
    _refused(monitor, lambda: monitor.start(value, "h"), "name " + invisible)
    _refused(monitor, lambda: monitor.record_success("job", T0, T0, value), "hostname " + invisible)
    assert monitor.last_activity("backup") is None


def test_names_and_hosts_are_stored_in_nfc(monitor: Monitor) -> None:
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    monitor.record_success(decomposed, T0, T0, "h\u00f4te")
    monitor.record_success(composed, T0 + timedelta(hours=1), T0 + timedelta(hours=1), "ho\u0302te")
    runs = monitor.history(decomposed)  # the same job, whichever way it is typed
    assert [(run.name, run.hostname) for run in runs] == [(composed, "h\u00f4te")] * 2
    assert monitor.history(composed) == runs


@pytest.mark.parametrize("code", [0, 256, -1])
def test_failure_exit_code_out_of_range_is_refused(monitor: Monitor, code: int) -> None:
    _refused(monitor, lambda: monitor.record_failure("job", T0, T0, code, "h"), "exit code")


def test_failure_needs_an_integer_exit_code(monitor: Monitor) -> None:
    _refused(monitor, lambda: monitor.record_failure("job", T0, T0, "2", "h"), "integer")  # type: ignore[arg-type]
    _refused(monitor, lambda: monitor.record_failure("job", T0, T0, None, "h"), "exit code")  # type: ignore[arg-type]


def test_bad_history_limit_is_refused(monitor: Monitor) -> None:
    with pytest.raises(InvalidInput, match="limit"):
        monitor.history("job", limit=0)


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("mysql://root@localhost/db", "unsupported database URL scheme 'mysql'"),
        ("just-a-path.db", "has no scheme"),
        ("", "empty"),
        ("sqlite://", "names no file"),
        ("sqlite:///:memory:", "names no file"),
    ],
)
def test_bad_database_urls_are_refused(url: str, match: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=match):
        cronwatch.connect(url, statsd=False)
    assert not any(tmp_path.glob("**/*.db")), "a refused URL must create no database"


def test_missing_sqlite_directory_is_an_outage_not_created(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nowhere' / 'x.db'}"
    with pytest.raises(cronwatch.StorageUnavailable, match="does not exist"):
        cronwatch.connect(url, statsd=False)
    assert not (tmp_path / "nowhere").exists()


def test_runs_dated_in_the_future_are_refused_naming_the_field_and_the_time(
    monitor: Monitor,
) -> None:
    """A start or a completion more than 5 minutes ahead of the clock is refused (it would stay
    the job's latest news and hide every real outcome after it); a clock a little fast is not."""
    now = datetime.now(UTC)
    year_2099 = datetime(2099, 1, 1, tzinfo=UTC)
    _refused(
        monitor,
        lambda: monitor.record_success("job", year_2099, year_2099, "h"),
        r"date_started: 2099-01-01T00:00:00\+00:00 is in the future: this machine's time is "
        r"20\d\d-.* at most 5m ahead",
    )
    _refused(
        monitor,
        lambda: monitor.record_failure("job", now, now + timedelta(hours=2), 1, "h"),
        "date_completed: .* is in the future",
    )
    _refused(
        monitor,
        lambda: monitor.start("job", "h", date_started=now + timedelta(minutes=6)),
        "date_started: .* is in the future",
    )
    fast = now + timedelta(minutes=4)  # a host whose clock runs 4 minutes fast
    monitor.record_success("job", fast, fast, "h")
    assert monitor.store.count() == 1
