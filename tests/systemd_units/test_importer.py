"""import-systemd's timers into jobs: the Debian packages' own timers, drop-ins applied as
systemd applies them, and the timers that cannot be watched, each with its reason."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cronwatch.config import load_config
from cronwatch.configmerge import jobs_to_toml
from cronwatch.errors import InvalidInput
from cronwatch.schedule import OnCalendarSchedule
from cronwatch.systemd_units import import_timers
from cronwatch.systemd_units.discover import find_unit
from tests.support.files import write

SAMPLES = Path(__file__).parent / "samples"
DEBIAN = sorted(p for p in SAMPLES.iterdir() if p.is_dir())


def fields_of(directories: list[Path], timezone: str = "UTC") -> dict[str, dict[str, object]]:
    found = import_timers([str(d) for d in directories], timezone)
    assert not found.skipped and not found.warnings
    text = jobs_to_toml([item.job for item in found.jobs])
    return dict(tomllib.loads(text)["jobs"])


def test_the_debian_packages_timers() -> None:
    assert fields_of(DEBIAN, "Europe/Berlin") == {
        # apt 2.6.2: OnCalendar=*-*-* 6,18:00, RandomizedDelaySec=12h, AccuracySec default 1min
        "apt-daily": {"on_calendar": "*-*-* 6,18:00", "timezone": "Europe/Berlin",
                      "grace": "12h 1m"},
        "apt-daily-upgrade": {"on_calendar": "*-*-* 6:00", "timezone": "Europe/Berlin",
                              "grace": "1h 1m"},
        # e2fsprogs: RandomizedDelaySec=60 (seconds, without a unit)
        "e2scrub_all": {"on_calendar": "Sun *-*-* 03:10:00", "timezone": "Europe/Berlin",
                        "grace": "2m"},
        # util-linux: AccuracySec=1h, RandomizedDelaySec=6000
        "fstrim": {"on_calendar": "weekly", "timezone": "Europe/Berlin", "grace": "2h 40m"},
        "logrotate": {"on_calendar": "daily", "timezone": "Europe/Berlin", "grace": "1h"},
        "man-db": {"on_calendar": "daily", "timezone": "Europe/Berlin", "grace": "12h 1m"},
    }  # fmt: skip


def test_the_toml_loads_back_with_the_schedules_systemd_has(tmp_path: Path) -> None:
    found = import_timers([str(d) for d in DEBIAN], "Europe/Berlin")
    path = tmp_path / "cronwatch.toml"
    path.write_text(jobs_to_toml([item.job for item in found.jobs], header=["imported"]))
    jobs = load_config(path).jobs
    apt = jobs["apt-daily"].schedule
    assert isinstance(apt, OnCalendarSchedule) and apt.timezone == "Europe/Berlin"
    # 06:00 and 18:00 Berlin time (CET in winter: UTC+1)
    after = datetime(2026, 12, 2, tzinfo=UTC)
    assert apt.slots_between(after, after + timedelta(days=1)) == [
        datetime(2026, 12, 2, 5, tzinfo=UTC), datetime(2026, 12, 2, 17, tzinfo=UTC)]  # fmt: skip
    assert jobs["e2scrub_all"].grace == timedelta(minutes=2)
    text = path.read_text()
    assert "# e2scrub_all.timer starts e2scrub_all.service: Periodic ext4 Online" in text
    assert "# Persistent=true: a run missed while the machine was off runs" in text
    assert "# grace: AccuracySec=1h + RandomizedDelaySec=1h 40m, how late" in text
    assert "[Install]" not in text and "WantedBy" not in text


def test_dropins_apply_in_order_and_an_empty_oncalendar_resets(tmp_path: Path) -> None:
    timer = write(tmp_path / "backup.timer", "[Timer]\nOnCalendar=daily\nOnCalendar=Sat 12:00\n")
    write(tmp_path / "backup.timer.d/10-later.conf", "[Timer]\nOnCalendar=\nOnCalendar=*:0/30\n")
    write(tmp_path / "backup.timer.d/20-more.conf", "[Timer]\nOnCalendar=*-*-* 23:59\n"
          "AccuracySec=10s\nRandomizedDelaySec=5min\n")  # fmt: skip
    write(tmp_path / "backup.timer.d/ignored.txt", "[Timer]\nOnCalendar=\n")
    found = import_timers([str(timer)], "UTC")
    (item,) = found.jobs
    assert dict(item.job.fields) == {"on_calendar": ["*:0/30", "*-*-* 23:59"], "grace": "5m 10s"}
    assert item.timer.files == (str(timer), *(str(tmp_path / f"backup.timer.d/{n}") for n in (
        "10-later.conf", "20-more.conf")))  # fmt: skip
    # Reset by a drop-in and never set again: the timer never fires.
    write(tmp_path / "backup.timer.d/30-off.conf", "[Timer]\nOnUnitActiveSec=\n")
    gone = import_timers([str(timer)], "UTC")
    assert not gone.jobs
    assert gone.skipped == [("backup.timer", "no OnCalendar= or OnUnitActiveSec= (a drop-in may "
                             "have reset them): it never fires")]  # fmt: skip


def test_interval_timers_and_the_ones_that_cannot_be_watched(tmp_path: Path) -> None:
    write(tmp_path / "tmpclean.timer", "[Unit]\nDescription=Clean\n[Timer]\nOnBootSec=15min\n"
          "OnUnitActiveSec=1d\n")  # fmt: skip
    write(tmp_path / "boot.timer", "[Timer]\nOnBootSec=5min\n")
    write(tmp_path / "both.timer", "[Timer]\nOnCalendar=daily\nOnUnitActiveSec=1h\n")
    write(tmp_path / "bad name.timer", "")  # empty: masked
    write(tmp_path / "tmpl@.timer", "[Timer]\nOnCalendar=daily\n")
    write(tmp_path / "odd.timer", "[Timer]\nOnCalendar=Mon..Fry 9:00\nOnCalendar=hourly\n"
          "AccuracySec=soon\nPersistent=maybe\nnot a setting\n")  # fmt: skip
    found = import_timers([str(tmp_path)], "UTC")
    jobs = {item.job.name: dict(item.job.fields) for item in found.jobs}
    assert jobs == {
        "tmpclean": {"schedule": "every 1d", "grace": "1m"},
        "odd": {"on_calendar": "hourly", "grace": "1m"},
    }
    skipped = dict(found.skipped)
    assert skipped["boot.timer"].startswith("OnBootSec=, OnStartupSec= and OnActiveSec= alone "
                                            "fire once (after boot or activation)")  # fmt: skip
    assert "both OnCalendar= and OnUnitActiveSec=" in skipped["both.timer"]
    assert skipped["bad name.timer"].startswith("masked")
    assert skipped["tmpl@.timer"].startswith("a template: it runs only as an instance")
    odd = str(tmp_path / "odd.timer")
    assert sorted(w.split(": ", 1)[0] for w in found.warnings) == [
        f"{odd}, line 2", f"{odd}, line 4", f"{odd}, line 5", f"{odd}, line 6"]  # fmt: skip
    assert any(
        'unknown weekday "Fry"' in w and w.endswith(", as systemd skips it") for w in found.warnings
    )
    tmpclean = next(item for item in found.jobs if item.job.name == "tmpclean").job
    assert "OnBootSec=15min: only delays the first run after boot or start" in tmpclean.comments


def test_an_instance_reads_its_template_and_expands_specifiers(tmp_path: Path) -> None:
    write(tmp_path / "dump@.timer", "[Unit]\nDescription=Dump of %i\n[Timer]\nOnCalendar=weekly\n"
          "Unit=dump-run@%i.service\n")  # fmt: skip
    write(tmp_path / "dump@.timer.d/a.conf", "[Timer]\nRandomizedDelaySec=1h\n")
    write(tmp_path / "dump@main.timer.d/b.conf", "[Timer]\nAccuracySec=1s\n")
    unit = find_unit("dump@main.timer", [tmp_path])
    assert unit is not None and unit.path == tmp_path / "dump@.timer"
    found = import_timers([str(tmp_path)], "UTC")  # the directory holds only the template
    assert [name for name, _ in found.skipped] == ["dump@.timer"] and not found.jobs
    from cronwatch.systemd_units.importer import TimerImport, add_unit

    result = TimerImport()
    add_unit(unit, "UTC", result)
    (item,) = result.jobs
    assert (item.timer.unit, item.timer.description) == ("dump-run@main.service", "Dump of main")
    assert dict(item.job.fields) == {"on_calendar": "weekly", "grace": "1h"}


def test_arguments_that_name_nothing_are_errors(tmp_path: Path) -> None:
    for argument, words in [
        (str(tmp_path / "missing.timer"), "no such file or directory"),
        ("no-such-unit.timer", "no such timer in the unit directories"),
        (str(write(tmp_path / "x.service", "")), "not a timer unit"),
    ]:
        with pytest.raises(InvalidInput, match=words):
            import_timers([argument], "UTC", use_systemctl=False)
