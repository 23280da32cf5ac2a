"""Where timer units and drop-ins are found, as systemd finds them: directory priority, masks,
templates, enabled timers, and the timers systemctl lists."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cronwatch.errors import InvalidInput
from cronwatch.systemd_units.discover import enabled_timers, find_unit, listed_timers, unique_dirs
from tests.support.files import write


def test_a_higher_priority_directory_wins_file_and_dropin_alike(tmp_path: Path) -> None:
    etc, lib = tmp_path / "etc", tmp_path / "lib"
    write(lib / "x.timer", "[Timer]\nOnCalendar=daily\n")
    write(lib / "x.timer.d/override.conf", "[Timer]\nAccuracySec=2h\n")
    write(lib / "x.timer.d/extra.conf", "[Timer]\nRandomizedDelaySec=1h\n")
    write(etc / "x.timer.d/override.conf", "[Timer]\nAccuracySec=3h\n")
    unit = find_unit("x.timer", [etc, lib])
    assert unit is not None and unit.path == lib / "x.timer"
    # Sorted by file name; of two files of one name, the higher-priority directory's.
    assert unit.dropins == (lib / "x.timer.d/extra.conf", etc / "x.timer.d/override.conf")
    write(etc / "x.timer", "[Timer]\nOnCalendar=weekly\n")
    assert find_unit("x.timer", [etc, lib]).path == etc / "x.timer"  # type: ignore[union-attr]
    os.symlink(os.devnull, etc / "y.timer")
    write(lib / "y.timer", "[Timer]\nOnCalendar=daily\n")
    assert find_unit("y.timer", [etc, lib]).masked  # type: ignore[union-attr]


def test_enabled_timers_are_the_ones_linked_from_wants(tmp_path: Path) -> None:
    etc, lib = tmp_path / "etc", tmp_path / "lib"
    for name in ("on.timer", "off.timer", "db@.timer"):
        write(lib / name, "[Timer]\nOnCalendar=daily\n")
    (etc / "timers.target.wants").mkdir(parents=True)
    os.symlink(lib / "on.timer", etc / "timers.target.wants/on.timer")
    os.symlink(lib / "db@.timer", etc / "timers.target.wants/db@main.timer")
    assert enabled_timers(unique_dirs([etc, lib])) == ["db@main.timer", "on.timer"]


def test_the_timers_systemctl_lists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # systemd cannot run on the test machines, so `systemctl` here is a stand-in that prints
    # what systemd 252's `systemctl list-timers --all --plain --no-legend` prints: dates with
    # spaces in them, "n/a" where a timer has no next or last elapse.
    listing = (
        "Wed 2026-12-02 06:32:11 UTC 6h left Tue 2026-12-01 18:01:02 UTC 5h ago apt-daily.timer "
        "apt-daily.service\n"
        "n/a n/a n/a n/a pg_dump@15-main.timer pg_dump@15-main.service\n"
    )
    fake = write(tmp_path / "bin/systemctl", f"#!/bin/sh\necho \"$@\" > {tmp_path}/args\n"
                 f"printf '%s' '{listing}'\n")  # fmt: skip
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    assert listed_timers() == ["apt-daily.timer", "pg_dump@15-main.timer"]
    assert (tmp_path / "args").read_text().split() == [
        "list-timers", "--all", "--plain", "--no-legend", "--no-pager"]  # fmt: skip
    assert listed_timers(user=True) and (tmp_path / "args").read_text().startswith("--user ")
    write(fake, "#!/bin/sh\necho 'System has not been booted with systemd' >&2\nexit 1\n")
    with pytest.raises(InvalidInput, match="failed: System has not been booted with systemd"):
        listed_timers()
