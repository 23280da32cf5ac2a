"""statsd timings: the seed's metric, through a real UDP socket, and never failing a recording."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

import cronwatch
from cronwatch.statsd import StatsdClient, escape_tag, metric_name

T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def _parse(line: str) -> tuple[str, float, str]:
    head, kind = line.rsplit("|", 1)
    stat, value = head.rsplit(":", 1)
    return stat, float(value), kind


def test_success_sends_one_timing_in_milliseconds(database_url, statsd_receiver) -> None:  # type: ignore[no-untyped-def]
    client = StatsdClient("127.0.0.1", statsd_receiver.port, environment="production")
    with cronwatch.connect(database_url, statsd=client) as monitor:
        monitor.record_success("backup", T0, T0 + timedelta(minutes=1, milliseconds=500), "h")
    lines = statsd_receiver.receive()
    assert [_parse(line) for line in lines] == [
        ("script_activity,env=production,name=backup", 60500.0, "ms")
    ]


def test_failures_and_starts_send_no_timing(database_url, statsd_receiver) -> None:  # type: ignore[no-untyped-def]
    client = StatsdClient("127.0.0.1", statsd_receiver.port, environment="test")
    with cronwatch.connect(database_url, statsd=client) as monitor:
        monitor.record_failure("backup", T0, T0 + timedelta(minutes=1), 2, "h")
        monitor.start("backup", "h")
    assert statsd_receiver.receive(timeout=0.5) == []


def test_a_replayed_run_sends_no_second_timing(database_url, statsd_receiver) -> None:  # type: ignore[no-untyped-def]
    from cronwatch.monitor import make_run

    client = StatsdClient("127.0.0.1", statsd_receiver.port)
    run = make_run("job", T0, T0 + timedelta(seconds=2), outcome="success", hostname="h")
    with cronwatch.connect(database_url, statsd=client) as monitor:
        monitor.record(run)
        monitor.record(run)
    assert len(statsd_receiver.receive()) == 1


def test_prefix_and_missing_environment(statsd_receiver) -> None:  # type: ignore[no-untyped-def]
    StatsdClient("127.0.0.1", statsd_receiver.port, prefix="lp").record_activity(
        "job", timedelta(seconds=1)
    )
    assert [_parse(line) for line in statsd_receiver.receive()] == [
        ("lp.script_activity,name=job", 1000.0, "ms")
    ]


def test_tags_are_sorted_and_escaped() -> None:
    assert metric_name("m", {"z": "1", "a": "2", "skip": None}) == "m,a=2,z=1"
    assert escape_tag("a b,c=d\\e") == "a\\ b\\,c\\=d\\\\e"
    # ':' '|' '@' would break the statsd datagram itself; they cannot be escaped, only replaced.
    assert escape_tag("host:1|x@y") == "host_1_x_y"


def test_hostile_job_name_yields_one_well_formed_datagram(statsd_receiver) -> None:  # type: ignore[no-untyped-def]
    client = StatsdClient("127.0.0.1", statsd_receiver.port, environment="t")
    client.record_activity("a b,c=d:e|f", timedelta(seconds=2))
    (line,) = statsd_receiver.receive()
    stat, value, kind = _parse(line)
    assert stat == "script_activity,env=t,name=a\\ b\\,c\\=d_e_f"
    assert (value, kind) == (2000.0, "ms")


def test_unconfigured_statsd_sends_nothing(database_url, statsd_receiver, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("CRONWATCH_STATSD_HOST", raising=False)
    assert StatsdClient.from_env() is None
    with cronwatch.connect(database_url) as monitor:
        assert monitor.statsd is None
        monitor.record_success("job", T0, T0, "h")
    assert statsd_receiver.receive(timeout=0.5) == []


def test_statsd_configured_from_environment(database_url, statsd_receiver, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CRONWATCH_STATSD_HOST", "127.0.0.1")
    monkeypatch.setenv("CRONWATCH_STATSD_PORT", str(statsd_receiver.port))
    monkeypatch.setenv("CRONWATCH_STATSD_ENV", "staging")
    monkeypatch.setenv("CRONWATCH_STATSD_PREFIX", "ops")
    with cronwatch.connect(database_url) as monitor:
        monitor.record_success("job", T0, T0 + timedelta(seconds=3), "h")
    assert [_parse(line)[:2] for line in statsd_receiver.receive()] == [
        ("ops.script_activity,env=staging,name=job", 3000.0)
    ]


@pytest.mark.parametrize("host", ["statsd.invalid", "256.1.1.1"])
def test_unreachable_statsd_never_fails_a_recording(database_url, host, caplog) -> None:  # type: ignore[no-untyped-def]
    client = StatsdClient(host, 8125, environment="test")
    started = time.monotonic()
    with cronwatch.connect(database_url, statsd=client) as monitor:
        run = monitor.record_success("job", T0, T0 + timedelta(seconds=1), "h")
        assert monitor.last_activity("job") == run
    assert time.monotonic() - started < 30
    assert "timing" in caplog.text and "dropped" in caplog.text


def test_statsd_port_without_listener_never_fails(database_url, statsd_receiver) -> None:  # type: ignore[no-untyped-def]
    port = statsd_receiver.port
    statsd_receiver.close()  # nothing listens there any more: ICMP port unreachable
    client = StatsdClient("127.0.0.1", port)
    with cronwatch.connect(database_url, statsd=client) as monitor:
        for i in range(3):
            monitor.record_success("job", T0 + timedelta(minutes=i), T0 + timedelta(minutes=i), "h")
        assert monitor.store.count("job") == 3
