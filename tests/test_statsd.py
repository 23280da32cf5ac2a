"""statsd timings: the seed's metric, through a real UDP socket, and never failing a recording."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import cronwatch
from cronwatch.statsd import StatsdClient, escape_tag, metric_name
from tests.support.receivers import StatsdReceiver

T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def _parse(line: str) -> tuple[str, float, str]:
    head, kind = line.rsplit("|", 1)
    stat, value = head.rsplit(":", 1)
    return stat, float(value), kind


def test_success_sends_one_timing_in_milliseconds(
    database_url: str, statsd_receiver: StatsdReceiver
) -> None:
    client = StatsdClient("127.0.0.1", statsd_receiver.port, environment="production")
    with cronwatch.connect(database_url, statsd=client) as monitor:
        monitor.record_success("backup", T0, T0 + timedelta(minutes=1, milliseconds=500), "h")
    lines = statsd_receiver.receive()
    assert [_parse(line) for line in lines] == [
        ("script_activity,env=production,name=backup", 60500.0, "ms")
    ]


def test_failures_and_starts_send_no_timing(
    database_url: str, statsd_receiver: StatsdReceiver
) -> None:
    client = StatsdClient("127.0.0.1", statsd_receiver.port, environment="test")
    with cronwatch.connect(database_url, statsd=client) as monitor:
        monitor.record_failure("backup", T0, T0 + timedelta(minutes=1), 2, "h")
        monitor.start("backup", "h")
    assert statsd_receiver.receive(timeout=0.5) == []


def test_a_replayed_run_sends_no_second_timing(
    database_url: str, statsd_receiver: StatsdReceiver
) -> None:
    from cronwatch.monitor import make_run

    client = StatsdClient("127.0.0.1", statsd_receiver.port)
    run = make_run("job", T0, T0 + timedelta(seconds=2), outcome="success", hostname="h")
    with cronwatch.connect(database_url, statsd=client) as monitor:
        monitor.record(run)
        monitor.record(run)
    assert len(statsd_receiver.receive()) == 1


def test_prefix_and_missing_environment(statsd_receiver: StatsdReceiver) -> None:
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


def test_hostile_job_name_yields_one_well_formed_datagram(statsd_receiver: StatsdReceiver) -> None:
    client = StatsdClient("127.0.0.1", statsd_receiver.port, environment="t")
    client.record_activity("a b,c=d:e|f", timedelta(seconds=2))
    (line,) = statsd_receiver.receive()
    stat, value, kind = _parse(line)
    assert stat == "script_activity,env=t,name=a\\ b\\,c\\=d_e_f"
    assert (value, kind) == (2000.0, "ms")


def test_unconfigured_statsd_sends_nothing(
    database_url: str, statsd_receiver: StatsdReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CRONWATCH_STATSD_HOST", raising=False)
    assert StatsdClient.from_env() is None
    with cronwatch.connect(database_url) as monitor:
        assert monitor.statsd is None
        monitor.record_success("job", T0, T0, "h")
    assert statsd_receiver.receive(timeout=0.5) == []


def test_statsd_configured_from_environment(
    database_url: str, statsd_receiver: StatsdReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
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
def test_unreachable_statsd_never_fails_a_recording(
    database_url: str, host: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = StatsdClient(host, 8125, environment="test")
    with cronwatch.connect(database_url, statsd=client) as monitor:
        runs = [
            monitor.record_success("job", T0 + timedelta(minutes=i), T0 + timedelta(minutes=i), "h")
            for i in range(3)
        ]
        assert monitor.last_activity("job") == runs[-1]
    # The host was looked up once: the next two runs did not pay for it again.
    warnings = [r.getMessage() for r in caplog.records if r.name == "cronwatch.statsd"]
    assert len(warnings) == 1 and "dropped" in warnings[0] and host in warnings[0]


def _listener(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", port))
    sock.settimeout(2.0)
    return sock


def test_a_statsd_that_answered_unreachable_is_left_alone_by_this_process(
    statsd_receiver: StatsdReceiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = statsd_receiver.port
    statsd_receiver.close()  # nothing listens: the kernel answers "port unreachable"
    client = StatsdClient("127.0.0.1", port)
    for _ in range(50):  # the answer comes back to the first datagram, the next one sees it
        client.record_activity("job", timedelta(seconds=1))
        if caplog.records:
            break
    assert [r.name for r in caplog.records] == ["cronwatch.statsd"]
    assert "unreachable" in caplog.records[0].getMessage()

    listener = _listener(port)  # statsd is back, but this process does not call it for now
    try:
        client.record_activity("job", timedelta(seconds=1))
        StatsdClient("127.0.0.1", port).record_activity("job", timedelta(seconds=1))
        listener.settimeout(0.5)
        with pytest.raises(TimeoutError):
            listener.recv(65535)
        assert len(caplog.records) == 1, "not called, so no second failure either"
        # A later process tries again.
        code = (
            "from datetime import timedelta\n"
            "from cronwatch.statsd import StatsdClient\n"
            f"StatsdClient('127.0.0.1', {port}).record_activity('job', timedelta(seconds=2))\n"
        )
        subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
        listener.settimeout(5.0)
        assert listener.recv(65535) == b"script_activity,name=job:2000.000000|ms"
    finally:
        listener.close()


def test_non_ascii_names_are_sent_in_utf8(
    database_url: str, statsd_receiver: StatsdReceiver, tmp_path: Path
) -> None:
    env = dict(
        os.environ,
        CRONWATCH_DATABASE_URL=database_url,
        CRONWATCH_STATSD_HOST="127.0.0.1",
        CRONWATCH_STATSD_PORT=str(statsd_receiver.port),
        CRONWATCH_STATSD_ENV="prod",
    )
    result = subprocess.run(
        [sys.executable, "-m", "cronwatch", "run", "sauvegarde-données", "--", "true"],
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0 and result.stderr == b""
    (line,) = statsd_receiver.receive()
    stat, value, kind = _parse(line)
    assert stat == "script_activity,env=prod,name=sauvegarde-données"
    assert value > 0 and kind == "ms"


def test_statsd_port_without_listener_never_fails(
    database_url: str, statsd_receiver: StatsdReceiver
) -> None:
    port = statsd_receiver.port
    statsd_receiver.close()  # nothing listens there any more: ICMP port unreachable
    client = StatsdClient("127.0.0.1", port)
    with cronwatch.connect(database_url, statsd=client) as monitor:
        for i in range(3):
            monitor.record_success("job", T0 + timedelta(minutes=i), T0 + timedelta(minutes=i), "h")
        assert monitor.store.count("job") == 3
