"""Recording runs and reading them back, on SQLite and PostgreSQL."""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import pytz

import cronwatch
from cronwatch.monitor import Monitor

T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "tzinfo_of",
    [
        lambda: timezone.utc,  # noqa: UP017 - the stdlib spelling users write
        lambda: timezone(timedelta(hours=2)),
        lambda: ZoneInfo("Europe/London"),
        lambda: ZoneInfo("America/New_York"),
    ],
    ids=["timezone.utc", "fixed+2", "zoneinfo-london", "zoneinfo-newyork"],
)
def test_any_tzinfo_comes_back_as_utc(monitor: Monitor, tzinfo_of: Callable[[], tzinfo]) -> None:
    tz = tzinfo_of()
    started = datetime(2026, 7, 1, 12, 0, tzinfo=tz)
    run = monitor.record_success("job", started, started + timedelta(minutes=5), "h1")
    stored = monitor.last_activity("job")
    assert stored is not None
    for value in (run.date_started, stored.date_started):
        assert value.tzinfo is UTC
        assert value == started  # the same instant
    assert stored.date_completed == started + timedelta(minutes=5)
    assert str(stored.date_started).endswith("+00:00")


def test_pytz_localized_datetimes_are_converted(monitor: Monitor) -> None:
    london = pytz.timezone("Europe/London")
    started = london.localize(datetime(2026, 7, 1, 12, 0))  # BST, 11:00 UTC
    monitor.record_success("job", started, started + timedelta(seconds=1), "h")
    stored = monitor.last_activity("job")
    assert stored is not None
    assert str(stored.date_started) == "2026-07-01 11:00:00+00:00"


def test_microseconds_survive_the_round_trip(monitor: Monitor) -> None:
    started = datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)
    completed = started + timedelta(microseconds=1)
    monitor.record_success("job", started, completed, "h")
    stored = monitor.last_activity("job")
    assert stored is not None
    assert (stored.date_started, stored.date_completed) == (started, completed)
    assert stored.duration == timedelta(microseconds=1)


def test_last_activity_is_latest_start_across_hosts(monitor: Monitor) -> None:
    monitor.record_success("job", T0, T0 + timedelta(minutes=1), "db1")
    monitor.record_success(
        "job", T0 + timedelta(hours=2), T0 + timedelta(hours=2, minutes=1), "db2"
    )
    # Recorded later but started earlier: must not win.
    monitor.record_success("job", T0 + timedelta(hours=1), T0 + timedelta(hours=3), "db3")
    monitor.record_success("other", T0 + timedelta(hours=5), T0 + timedelta(hours=6), "db1")
    last = monitor.last_activity("job")
    assert last is not None
    assert (last.hostname, last.date_started) == ("db2", T0 + timedelta(hours=2))


def test_failures_are_recorded_but_are_not_activity(monitor: Monitor) -> None:
    monitor.record_success("job", T0, T0 + timedelta(minutes=1), "h")
    failed = monitor.record_failure(
        "job", T0 + timedelta(hours=1), T0 + timedelta(hours=1, minutes=1), 3, "h"
    )
    assert (failed.outcome, failed.exit_code) == ("failure", 3)
    last = monitor.last_activity("job")
    assert last is not None and last.date_started == T0
    history = monitor.history("job")
    assert [(r.outcome, r.exit_code) for r in history] == [("failure", 3), ("success", 0)]


def test_last_activity_of_unknown_name_is_none(monitor: Monitor) -> None:
    monitor.record_success("job", T0, T0, "h")
    assert monitor.last_activity("no-such-job") is None


def test_hostname_defaults_to_this_host(monitor: Monitor) -> None:
    run = monitor.record_success("job", T0, T0)
    assert run.hostname == socket.gethostname()
    assert monitor.history("job")[0].hostname == socket.gethostname()


def test_track_records_start_then_success(monitor: Monitor) -> None:
    with monitor.track("tracked", "h") as run:
        during = monitor.history("tracked")
        assert [(r.outcome, r.date_completed) for r in during] == [("running", None)]
        assert during[0].run_id == run.run_id
    after = monitor.history("tracked")
    assert len(after) == 1  # the start was completed, not duplicated
    assert after[0].outcome == "success" and after[0].date_completed is not None
    assert monitor.last_activity("tracked") is not None


def test_track_records_failure_with_traceback_and_reraises(monitor: Monitor) -> None:
    with pytest.raises(ZeroDivisionError), monitor.track("broken", "h"):
        1 / 0  # noqa: B018
    runs = monitor.history("broken")
    assert len(runs) == 1
    assert (runs[0].outcome, runs[0].exit_code) == ("failure", 1)
    assert "ZeroDivisionError" in (runs[0].output or "")
    assert monitor.last_activity("broken") is None


def test_track_maps_system_exit_codes(monitor: Monitor) -> None:
    with pytest.raises(SystemExit), monitor.track("exits", "h"):
        raise SystemExit(4)
    with pytest.raises(SystemExit), monitor.track("exits-ok", "h"):
        raise SystemExit(0)
    assert monitor.history("exits")[0].exit_code == 4
    assert monitor.history("exits-ok")[0].outcome == "success"


def test_job_decorator_names_and_records(monitor: Monitor) -> None:
    @monitor.job(hostname="h")
    def nightly_report(x: int) -> int:
        return x * 2

    @monitor.job("explicit-name", hostname="h")
    def failing() -> None:
        raise RuntimeError("boom")

    assert nightly_report(21) == 42
    with pytest.raises(RuntimeError):
        failing()
    assert monitor.history("nightly_report")[0].outcome == "success"
    assert monitor.history("explicit-name")[0].outcome == "failure"
    assert monitor.history("failing") == []


def test_async_job_decorator(monitor: Monitor) -> None:
    import asyncio

    @monitor.job("async-job", hostname="h")
    async def work() -> str:
        await asyncio.sleep(0)
        return "done"

    assert asyncio.run(work()) == "done"
    assert monitor.history("async-job")[0].outcome == "success"


def test_output_keeps_the_end_and_is_bounded(monitor: Monitor) -> None:
    output = "start\n" + "x" * 20_000 + "\nError: disk full"
    monitor.record_failure("job", T0, T0, 1, "h", output=output)
    stored = monitor.history("job")[0].output or ""
    assert len(stored) == 10_000  # the README's "last 10,000 characters", written out
    assert stored.endswith("Error: disk full")
    assert not stored.startswith("start")


def test_same_run_id_is_stored_once(monitor: Monitor) -> None:
    from cronwatch.monitor import make_run

    run = make_run(
        "job", T0, T0 + timedelta(seconds=5), outcome="success", hostname="h", run_id="fixed-id"
    )
    assert monitor.store.save(run) is True
    assert monitor.store.save(run) is False  # a replay
    assert monitor.store.count("job") == 1


def test_finish_completes_the_running_row_of_that_run_only(monitor: Monitor) -> None:
    a = monitor.start("overlap", "h", date_started=T0)
    b = monitor.start("overlap", "h", date_started=T0 + timedelta(minutes=1))
    monitor.finish(b, date_completed=T0 + timedelta(minutes=2))
    monitor.finish(a, exit_code=2, date_completed=T0 + timedelta(minutes=10))
    by_id = {r.run_id: r for r in monitor.history("overlap")}
    assert len(by_id) == 2
    assert by_id[a.run_id].duration == timedelta(minutes=10)
    assert by_id[a.run_id].outcome == "failure"
    assert by_id[b.run_id].duration == timedelta(minutes=1)
    assert by_id[b.run_id].outcome == "success"


def test_a_finished_run_is_not_changed_by_a_late_duplicate(monitor: Monitor) -> None:
    from cronwatch.monitor import make_run

    first = make_run(
        "job", T0, T0 + timedelta(seconds=5), outcome="success", hostname="h", run_id="rid"
    )
    second = make_run(
        "job",
        T0,
        T0 + timedelta(seconds=50),
        outcome="failure",
        exit_code=1,
        hostname="h",
        run_id="rid",
    )
    monitor.record(first)
    monitor.record(second)
    (stored,) = monitor.history("job")
    assert (stored.outcome, stored.duration) == ("success", timedelta(seconds=5))


def test_history_filters_by_host_and_limits(monitor: Monitor) -> None:
    for i in range(5):
        monitor.record_success("job", T0 + timedelta(hours=i), T0 + timedelta(hours=i), f"h{i % 2}")
    assert [r.hostname for r in monitor.history("job", hostname="h1")] == ["h1", "h1"]
    assert len(monitor.history("job", limit=3)) == 3
    assert monitor.history("job", limit=3)[0].date_started == T0 + timedelta(hours=4)


def test_connect_without_url_uses_default_file_in_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    with cronwatch.connect(statsd=False) as m:
        m.record_success("job", T0, T0, "h")
    assert (tmp_path / "data" / "cronwatch" / "cronwatch.db").is_file()


def test_connect_reads_database_url_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRONWATCH_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    with cronwatch.connect(statsd=False) as m:
        m.record_success("job", T0, T0, "h")
    assert (tmp_path / "env.db").is_file()


def test_output_with_nul_bytes_is_stored(monitor: Monitor) -> None:
    monitor.record_failure("job", T0, T0, 1, "h", output="before\x00after")
    stored = monitor.history("job")[0].output
    assert stored == "before\ufffdafter"


def test_a_run_as_json_has_exactly_the_documented_fields() -> None:
    from cronwatch.model import RUN_JSON_FIELDS, Run
    from cronwatch.monitor import make_run

    run = make_run("job", T0, T0 + timedelta(seconds=1), outcome="success", hostname="h")
    assert tuple(run.to_json()) == RUN_JSON_FIELDS
    assert Run.from_json(run.to_json()) == run
