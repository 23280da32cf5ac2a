"""Writing imported crontab entries: TOML that loads back as written, and the merge into a
config file that keeps its formatting and never overwrites a job."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from cronwatch.config import load_config
from cronwatch.crontab import (
    CrontabEntry,
    entries_to_toml,
    merge_into_config,
    parse_crontab,
)
from cronwatch.errors import ConfigError
from tests.support.crontabs import (
    E2SCRUB_CRON_D,
    ETC_CRONTAB,
    EXISTING,
    PHP_CRON_D,
    USER_CRONTAB,
    parse_file,
)

# --- TOML ------------------------------------------------------------------------------------


@pytest.mark.parametrize("sample", [USER_CRONTAB, ETC_CRONTAB, PHP_CRON_D, E2SCRUB_CRON_D])
def test_toml_round_trips_through_load_config(sample: Path, tmp_path: Path) -> None:
    entries = parse_file(sample).entries
    assert entries
    path = tmp_path / "cronwatch.toml"
    path.write_text(entries_to_toml(entries, source=str(sample)), encoding="utf-8")
    config = load_config(path)
    assert {
        name: (job.schedule.expression if job.schedule else None, job.timezone)
        for name, job in config.jobs.items()
    } == {e.job_name: (e.schedule_expr, e.timezone) for e in entries}
    assert list(config.jobs) == [e.job_name for e in entries]


def test_toml_layout_comments_and_utc_default() -> None:
    text = entries_to_toml(parse_file(ETC_CRONTAB).entries[:1], source="/etc/crontab")
    assert text.startswith("# Jobs imported from /etc/crontab by cronwatch import-crontab.\n")
    assert (
        "# line 19 (user root): cd / && run-parts --report /etc/cron.hourly\n"
        '[jobs."cron.hourly"]\n'
        'schedule = "17 * * * *"\n'
    ) in text
    assert "timezone" not in text  # UTC is the config's default: not repeated
    london = entries_to_toml(parse_crontab("CRON_TZ=Europe/London\n0 7 * * * /bin/r\n").entries)
    assert 'timezone = "Europe/London"' in london
    assert entries_to_toml([]) == ""


def test_toml_stays_valid_with_hostile_commands_and_names(tmp_path: Path) -> None:
    entries = [
        CrontabEntry(1, "0 1 * * *", "UTC", "/bin/x \x00\x1b[31m\x7f\r\"'\\ #", 'we"ird\\ name'),
        CrontabEntry(2, "0 2 * * *", "UTC", "y" * 1000, "日次"),
        CrontabEntry(3, "0 3 * * *", "UTC", "/bin/z", "a.b", user="ro\x01ot"),
    ]
    text = entries_to_toml(entries, source="/tmp/\nevil")
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    assert list(load_config(path).jobs) == ['we"ird\\ name', "日次", "a.b"]
    assert max(len(line) for line in text.splitlines()) < 200  # long commands are shortened


# --- merging ---------------------------------------------------------------------------------


def entries_of(text: str) -> list[CrontabEntry]:
    return parse_crontab(text).entries


def test_merge_appends_new_jobs_and_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "cronwatch.toml"
    path.write_bytes(EXISTING.encode())
    entries = entries_of("0 3 * * * /usr/local/bin/backup.sh\n*/5 * * * * /srv/bin/poll.py\n")
    added, skipped = merge_into_config(path, entries, source="crontab -l")
    assert [e.job_name for e in added] == ["poll"]
    assert [e.job_name for e in skipped] == ["backup"]
    data = path.read_bytes()
    assert data.startswith(EXISTING.encode()), "the existing text must be kept byte for byte"
    config = load_config(path)
    backup = config.jobs["backup"]
    assert backup.schedule is not None and backup.schedule.expression == "0 4 * * *"
    assert str(backup.grace) == "2:00:00"
    assert config.jobs["poll"].schedule is not None
    assert config.jobs["poll"].schedule.expression == "*/5 * * * *"
    assert list(tmp_path.iterdir()) == [path], "no temporary file may be left behind"


def test_merging_again_changes_nothing_and_does_not_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "cronwatch.toml"
    path.write_text(EXISTING)
    entries = entries_of("*/5 * * * * /srv/bin/poll.py\n")
    merge_into_config(path, entries)
    before = path.read_bytes()
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    added, skipped = merge_into_config(path, entries)
    assert (added, [e.job_name for e in skipped]) == ([], ["poll"])
    assert path.read_bytes() == before
    assert path.stat().st_mtime_ns == 1_000_000_000, "an unchanged file must not be rewritten"


def test_merge_finishes_a_last_line_without_newline_and_keeps_crlf(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    original = b'[jobs.a]\r\nschedule = "every 1h"'
    path.write_bytes(original)
    merge_into_config(path, entries_of("0 1 * * * /bin/b\n"))
    data = path.read_bytes()
    assert data.startswith(original + b"\r\n\r\n")
    assert b"\n" not in data.replace(b"\r\n", b""), "appended lines use the file's CRLF"
    assert list(load_config(path).jobs) == ["a", "b"]


def test_merge_creates_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "new.toml"
    added, skipped = merge_into_config(path, entries_of("0 1 * * * /bin/b\n"))
    assert ([e.job_name for e in added], skipped) == (["b"], [])
    assert list(load_config(path).jobs) == ["b"]


def test_merge_keeps_the_mode_and_writes_through_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real.toml"
    real.write_text(EXISTING)
    real.chmod(0o640)
    link = tmp_path / "link.toml"
    link.symlink_to(real)
    merge_into_config(link, entries_of("0 1 * * * /bin/b\n"))
    assert link.is_symlink(), "the link must not be replaced by a plain file"
    assert "b" in load_config(real).jobs
    assert stat.S_IMODE(real.stat().st_mode) == 0o640


def test_merge_skips_repeated_names_within_the_entries(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    one = CrontabEntry(1, "0 1 * * *", "UTC", "/bin/a", "a")
    two = CrontabEntry(2, "0 2 * * *", "UTC", "/bin/a", "a")
    added, skipped = merge_into_config(path, [one, two])
    assert (added, skipped) == ([one], [two])
    assert load_config(path).jobs["a"].schedule.expression == "0 1 * * *"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[jobs.a\nschedule = 1", "invalid TOML"),
        # Valid TOML, but [jobs.b] cannot extend an inline table: the result would not parse.
        ('jobs = { a = { schedule = "every 1h" } }\n', "would not load"),
        # Valid TOML, but not a valid config: refuse rather than append to a broken file.
        ('[jobs.a]\nschedule = "every 1h"\nmax_runtme = "1h"\n', "max_runtme"),
    ],
)
def test_merge_into_a_bad_config_changes_nothing(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=fragment) as info:
        merge_into_config(path, entries_of("0 1 * * * /bin/b\n"))
    assert str(path) in str(info.value)
    assert path.read_text() == text
    assert list(tmp_path.iterdir()) == [path]


def test_merge_refuses_when_the_file_changes_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(EXISTING)
    import cronwatch.config

    real_load = cronwatch.config.load_config

    def load_then_someone_edits(file: str | os.PathLike[str]) -> object:
        result = real_load(file)
        path.write_text(EXISTING + "\n# edited meanwhile\n")
        return result

    monkeypatch.setattr(cronwatch.config, "load_config", load_then_someone_edits)
    with pytest.raises(ConfigError, match="changed while merging"):
        merge_into_config(path, entries_of("0 1 * * * /bin/b\n"))
    assert path.read_text() == EXISTING + "\n# edited meanwhile\n", "their edit must survive"
    assert list(tmp_path.iterdir()) == [path]
