"""Database away: `cronwatch run` still runs the command and keeps the run in the spool;
database back: every spooled run arrives, once."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import cronwatch
from cronwatch.model import Run
from cronwatch.monitor import make_run
from cronwatch.spool import Spool
from cronwatch.storage import open_database
from tests.support.databases import IN_CI, PostgresServer
from tests.support.proxy import TcpProxy

T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def cronwatch_run(
    url: str, name: str, *command: str, env_extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, CRONWATCH_DATABASE_URL=url, **(env_extra or {}))
    return subprocess.run(
        [sys.executable, "-m", "cronwatch.cli", "run", name, "--", *command],
        capture_output=True,
        env=env,
        timeout=120,
    )


def stored_runs(url: str, name: str) -> list[tuple[str, str]]:
    with open_database(url) as db:
        return db.query("SELECT run_id, outcome FROM runs WHERE name = ?", (name,))


def test_sqlite_away_then_back_delivers_every_run_once(tmp_path: Path) -> None:
    home = tmp_path / "dbdir"
    url = f"sqlite:///{home / 'cronwatch.db'}"  # the directory does not exist yet: away
    results = [
        cronwatch_run(url, "nightly", "sh", "-c", f"echo run {i}; exit {i % 2}") for i in range(3)
    ]
    for i, result in enumerate(results):
        assert result.returncode == i % 2, "the command's exit code must pass through"
        assert result.stdout == f"run {i}\n".encode(), "the command's output must pass through"
        assert b"kept in the spool" in result.stderr
    spool = Spool.for_target(url)
    assert len(spool.pending()) == 3
    assert not home.exists(), "an outage must not be papered over by creating the database"

    home.mkdir()  # the database is back
    result = cronwatch_run(url, "nightly", "true")
    assert result.returncode == 0 and result.stderr == b""
    rows = stored_runs(url, "nightly")
    assert len(rows) == 4 and len({run_id for run_id, _ in rows}) == 4
    assert sorted(outcome for _, outcome in rows) == ["failure", "success", "success", "success"]
    assert spool.pending() == []

    cronwatch_run(url, "other", "true")  # later runs deliver nothing twice
    assert len(stored_runs(url, "nightly")) == 4


def test_postgresql_away_then_back_delivers_every_run_once(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    real = postgres.create_database()
    parts = urlsplit(real)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    proxy.start()
    url = real.replace(parts.netloc, f"{parts.username}@127.0.0.1:{proxy.port}")
    open_database(url).close()  # schema in place while the server is up
    proxy.stop()  # the database goes away
    try:
        results = [cronwatch_run(url, "pg-job", "sh", "-c", "echo hello") for _ in range(3)]
        for result in results:
            assert result.returncode == 0 and result.stdout == b"hello\n"
            assert b"kept in the spool" in result.stderr
        assert len(Spool.for_target(url).pending()) == 3
        assert stored_runs(real, "pg-job") == []
    finally:
        proxy.start()  # and comes back
    try:
        result = cronwatch_run(url, "pg-job", "true")
        assert result.returncode == 0, result.stderr
        rows = stored_runs(real, "pg-job")
        assert len(rows) == 4 and {o for _, o in rows} == {"success"}
        assert Spool.for_target(url).pending() == []
    finally:
        proxy.stop()


def test_a_record_sent_twice_after_a_crash_is_stored_once(
    database_url: str, tmp_path: Path
) -> None:
    spool = Spool(tmp_path / "spool")
    run = make_run("job", T0, T0 + timedelta(seconds=1), outcome="success", hostname="h")
    path = spool.put(run)
    # A crash after the database confirmed the record but before the file was deleted:
    # the same record is sent again on the next flush.
    duplicate = path.with_name("z-duplicate.json")
    duplicate.write_bytes(path.read_bytes())
    with cronwatch.connect(database_url, statsd=False) as monitor:
        assert spool.flush(monitor.store.save) == 2
        assert monitor.store.count("job") == 1
    assert spool.pending() == []


def test_flush_stops_at_an_outage_and_keeps_the_rest(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    for i in range(3):
        spool.put(
            make_run(
                "job",
                T0 + timedelta(minutes=i),
                T0 + timedelta(minutes=i),
                outcome="success",
                hostname="h",
            )
        )
    delivered: list[Run] = []

    def deliver(run: Run) -> None:
        if delivered:
            raise cronwatch.StorageUnavailable("gone again")
        delivered.append(run)

    with pytest.raises(cronwatch.StorageUnavailable):
        spool.flush(deliver)
    assert len(delivered) == 1 and len(spool.pending()) == 2


def test_spool_files_round_trip_exactly(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    run = make_run(
        "j",
        T0,
        T0 + timedelta(microseconds=7),
        outcome="failure",
        exit_code=9,
        hostname="h",
        output="tail ✓",
    )
    spool.put(run)
    received: list[Run] = []
    spool.flush(received.append)
    assert received == [run]


def test_unreadable_spool_file_is_set_aside_not_retried_forever(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.directory.mkdir(parents=True)
    (spool.directory / "broken.json").write_text("{not json")
    assert spool.flush(lambda run: None) == 0
    assert spool.pending() == []
    assert (spool.directory / "broken.bad").exists()


def test_spools_of_different_databases_are_apart(tmp_path: Path) -> None:
    a = Spool.for_target("sqlite:////a.db", tmp_path)
    b = Spool.for_target("sqlite:////b.db", tmp_path)
    assert a.directory != b.directory
    a.put(make_run("j", T0, T0, outcome="success", hostname="h"))
    assert b.pending() == []


def test_a_record_the_database_refuses_does_not_block_the_others(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    for i in range(3):
        spool.put(
            make_run(
                f"job-{i}",
                T0 + timedelta(minutes=i),
                T0 + timedelta(minutes=i),
                outcome="success",
                hostname="h",
            )
        )
    delivered: list[str] = []

    def deliver(run: Run) -> None:
        if run.name == "job-0":
            raise ValueError("refused by the database")
        delivered.append(run.name)

    assert spool.flush(deliver) == 2
    assert delivered == ["job-1", "job-2"]
    assert spool.pending() == [] and len(list(spool.directory.glob("*.bad"))) == 1


# --- the spool trusts nothing it finds -------------------------------------------------------

GOOD = {
    "name": "good",
    "hostname": "h",
    "run_id": "r-good",
    "outcome": "success",
    "exit_code": 0,
    "date_started": "2026-11-28T03:00:00+00:00",
    "date_completed": "2026-11-28T03:00:01+00:00",
    "output": "ok",
}

BAD_RECORDS = {
    "nul-in-name": {**GOOD, "run_id": "r1", "name": "bad\x00name"},
    "weird-outcome": {**GOOD, "run_id": "r2", "outcome": "weird"},
    "exit-code-text": {**GOOD, "run_id": "r3", "outcome": "failure", "exit_code": "abc"},
    "no-hostname": {key: value for key, value in GOOD.items() if key != "hostname"},
    "naive-start": {**GOOD, "run_id": "r5", "date_started": "2026-11-28T03:00:00"},
    "ends-before-start": {**GOOD, "run_id": "r6", "date_completed": "2026-11-28T02:00:00+00:00"},
    "run-id-with-space": {**GOOD, "run_id": "r 7"},
    "unknown-field": {**GOOD, "run_id": "r8", "admin": True},
    "not-an-object": ["good"],
    "dated-2099": {**GOOD, "run_id": "r9", "date_started": "2099-01-01T00:00:00+00:00",
                   "date_completed": "2099-01-01T00:00:01+00:00"},
}  # fmt: skip


def test_spooled_records_are_validated_like_any_other_input(database_url: str) -> None:
    spool = Spool.for_target(database_url)
    spool.directory.mkdir(parents=True)
    for label, record in BAD_RECORDS.items():
        (spool.directory / f"{label}.json").write_text(json.dumps(record))
    (spool.directory / "zz-good.json").write_text(json.dumps(GOOD))

    with cronwatch.connect(database_url, statsd=False) as monitor:
        assert spool.flush(monitor.store.save) == 1
        assert [r.name for r in monitor.history("good")] == ["good"]
        assert monitor.store.count() == 1, "no invalid record was stored"
    assert spool.pending() == []
    set_aside = sorted(path.stem for path in spool.directory.glob("*.bad"))
    assert set_aside == sorted(BAD_RECORDS)


def _odd_entries(directory: Path) -> None:
    """A directory, a FIFO and a symlink, each named like a record."""
    (directory / "a-directory.json").mkdir()
    os.mkfifo(directory / "b-fifo.json")
    (directory / "c-link.json").symlink_to(directory / "zz-good.json")


def test_entries_that_are_not_regular_files_are_skipped_not_opened(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = Spool(tmp_path / "spool")
    spool.directory.mkdir()
    (spool.directory / "zz-good.json").write_text(json.dumps(GOOD))
    _odd_entries(spool.directory)
    received: list[str] = []

    assert spool.flush(lambda run: received.append(run.name)) == 1  # a FIFO would hang here

    assert received == ["good"]
    skipped = sorted(r.getMessage() for r in caplog.records if "not a regular file" in r.message)
    assert len(skipped) == 3 and "a-directory.json" in skipped[0]
    for name in ("a-directory.json", "b-fifo.json", "c-link.json"):  # left as they were
        assert os.path.lexists(spool.directory / name)
    assert not list(spool.directory.glob("*.bad"))


def test_run_and_spool_flush_neither_hang_nor_crash_on_odd_entries(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db' / 'cronwatch.db'}"
    spool = Spool.for_target(url)
    spool.directory.mkdir(parents=True)
    (spool.directory / "zz-good.json").write_text(json.dumps(GOOD))
    _odd_entries(spool.directory)
    (tmp_path / "db").mkdir()

    result = cronwatch_run(url, "after", "sh", "-c", "exit 6")

    assert result.returncode == 6
    assert result.stderr.count(b"not a regular file") == 3
    assert b"Traceback" not in result.stderr
    assert [name for name, _ in stored_names(url)] == ["after", "good"]
    flushed = subprocess.run(
        [sys.executable, "-m", "cronwatch", "--database-url", url, "spool", "flush"],
        capture_output=True,
        timeout=120,
    )
    assert flushed.returncode == 0 and b"Traceback" not in flushed.stderr
    assert flushed.stdout == b"sent 0 run(s); nothing waits for " + url.encode() + b"\n"


def stored_names(url: str) -> list[tuple[str, str]]:
    with open_database(url) as db:
        return db.query("SELECT name, outcome FROM runs ORDER BY name")


def test_stale_temporary_files_are_removed_at_the_next_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cronwatch.db'}"
    spool = Spool.for_target(url)
    spool.directory.mkdir(parents=True)
    old, fresh, busy = (spool.directory / f".{name}.tmp" for name in ("old", "fresh", "busy"))
    for path in (old, fresh, busy):
        path.write_text("{")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    os.utime(busy, (an_hour_ago, an_hour_ago))
    with busy.open() as writer:  # a writer still at work holds its file's lock
        fcntl.flock(writer, fcntl.LOCK_EX)
        result = cronwatch_run(url, "tidy", "true")
        assert result.returncode == 0 and result.stderr == b""
        assert not old.exists(), "a crashed writer's leftover is removed"
        assert fresh.exists(), "a file being written right now is not touched"
        assert busy.exists(), "nor is an old one whose writer still holds its lock"


# --- durability --------------------------------------------------------------------------------


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if IN_CI:
            pytest.fail(f"{tool} is not installed (required under CI=true)")
        pytest.skip(f"{tool} is not installed")
    return path


def test_a_spooled_run_is_on_disk_before_run_says_it_is_kept(tmp_path: Path) -> None:
    """The record is fsynced, renamed into place, and its directory fsynced, before `run`
    reports the run as kept (strace shows the order of the system calls)."""
    strace = _need("strace")
    url = f"sqlite:///{tmp_path / 'away' / 'cronwatch.db'}"  # no such directory: away
    trace = tmp_path / "trace"
    calls = "trace=fsync,fdatasync,rename,renameat,renameat2,openat,write"
    tracing = [strace, "-f", "-qq", "-e", calls, "-e", "signal=none", "-s", "400", "-o", str(trace)]
    result = subprocess.run(
        [*tracing, sys.executable, "-m", "cronwatch", "run", "durable", "--", "true"],
        capture_output=True,
        env=dict(os.environ, CRONWATCH_DATABASE_URL=url),
        timeout=120,
    )
    if result.returncode != 0 and b"ptrace" in result.stderr.lower():
        reason = f"strace cannot trace here: {result.stderr.decode().strip()}"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    assert result.returncode == 0 and b"kept in the spool" in result.stderr
    (record,) = Spool.for_target(url).pending()
    directory = str(record.parent)

    lines = trace.read_text().splitlines()
    steps = _in_order(
        lines,
        rf'openat\(AT_FDCWD, "{directory}/\.[^"]+\.tmp", O_WRONLY\|O_CREAT\|O_EXCL.*= (\d+)$',
        r"fsync\({fd}\)\s+= 0",
        rf'rename(?:at2?)?\(.*"{directory}/\.[^"]+\.tmp",.*"{record}".*= 0',
        rf'openat\(AT_FDCWD, "{directory}", O_RDONLY\|O_CLOEXEC\|O_DIRECTORY\) = (\d+)$',
        r"fsync\({fd}\)\s+= 0",
        r'write\(2, "cronwatch: could not record .*kept in the spool',
    )
    assert len(steps) == 6, "\n".join(lines[-40:])


def _in_order(lines: list[str], *patterns: str) -> list[int]:
    """The indexes of the lines matching each pattern in turn (``{fd}``: the descriptor the
    previous step opened, in the same process)."""
    found: list[int] = []
    fd = ""
    start = 0
    for pattern in patterns:
        regex = re.compile(pattern.replace("{fd}", fd))
        for index in range(start, len(lines)):
            match = regex.search(lines[index])
            if match:
                found.append(index)
                fd = match.group(1) if match.groups() else fd
                start = index + 1
                break
        else:
            return found
    return found


# --- a full disk -------------------------------------------------------------------------------


class FullDisk:
    """A small tmpfs mounted for the test, filled up on demand."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.filler = path / "filler"

    def fill(self) -> None:
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            with contextlib.suppress(OSError):  # ENOSPC: full
                while True:
                    os.write(fd, b"\0" * 4096)
        finally:
            os.close(fd)
        assert shutil.disk_usage(self.path).free < 4096

    def free(self) -> None:
        self.filler.unlink()


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[FullDisk]:
    path = tmp_path / "small-disk"
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        reason = f"cannot mount a tmpfs for the full-disk tests: {mounted.stderr.strip()}"
        # Not root, or root without CAP_SYS_ADMIN (a container): the machine forbids mounts.
        denied = ("permission denied", "operation not permitted", "must be superuser")
        forbidden = os.geteuid() != 0 or any(text in mounted.stderr.lower() for text in denied)
        if IN_CI and not forbidden:
            pytest.fail(reason + " (required under CI=true unless the machine forbids mounts)")
        pytest.skip(reason)
    try:
        yield FullDisk(path)
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


@pytest.mark.parametrize(
    ("command", "status"),
    [("exit 5", 5), ("exit 0", 0), ("kill -TERM $$", -signal.SIGTERM)],
)
def test_run_exits_as_the_command_did_when_nothing_can_be_kept(
    full_disk: FullDisk, command: str, status: int
) -> None:
    (full_disk.path / "db").mkdir()
    url = f"sqlite:///{full_disk.path / 'db' / 'cronwatch.db'}"
    open_database(url).close()  # the database was there before the disk filled up
    spool_dir = full_disk.path / "spool"
    full_disk.fill()

    spool_env = {"CRONWATCH_SPOOL_DIR": str(spool_dir)}
    result = cronwatch_run(url, "full", "sh", "-c", f"echo output; {command}", env_extra=spool_env)

    assert result.returncode == status, result.stderr
    assert result.stdout == b"output\n", "the command's output still passes through"
    (line,) = result.stderr.splitlines()  # one line, no traceback
    assert line.startswith(b"cronwatch: the run of 'full' is LOST")
    assert b"No space left on device" in line
    leftovers = [p for p in spool_dir.rglob("*") if p.is_file() and p.name != "target"]
    assert leftovers == [], "no partial record left behind"
    assert not [p for p in spool_dir.rglob("*") if p.is_file() and p.stat().st_size == 0]


def test_a_full_database_disk_keeps_the_run_in_the_spool(full_disk: FullDisk) -> None:
    (full_disk.path / "db").mkdir()
    url = f"sqlite:///{full_disk.path / 'db' / 'cronwatch.db'}"
    open_database(url).close()
    full_disk.fill()

    result = cronwatch_run(url, "full-db", "sh", "-c", "exit 4")

    assert result.returncode == 4
    (line,) = result.stderr.splitlines()
    assert b"could not record the run of 'full-db'" in line and b"kept in the spool" in line
    assert len(Spool.for_target(url).pending()) == 1

    full_disk.free()  # space again: the next run delivers the kept one, once
    assert cronwatch_run(url, "full-db", "true").stderr == b""
    assert sorted(outcome for _, outcome in stored_runs(url, "full-db")) == ["failure", "success"]
    assert Spool.for_target(url).pending() == []
