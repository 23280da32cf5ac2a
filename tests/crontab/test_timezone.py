"""The host's timezone, as cron reads it: /etc/localtime's link or /etc/timezone."""

from __future__ import annotations

from pathlib import Path

import pytest

from cronwatch.crontab import (
    local_timezone,
)

# --- the host's timezone ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("link", "timezone_file", "expected"),
    [
        ("../usr/share/zoneinfo/Europe/Paris", None, "Europe/Paris"),
        ("/usr/share/zoneinfo/posix/America/New_York", None, "America/New_York"),
        ("/usr/share/zoneinfo/Etc/UTC", None, "UTC"),
        (None, "Asia/Tokyo\n", "Asia/Tokyo"),
        (None, "Etc/Universal\n", "UTC"),
        ("/usr/share/zoneinfo/Not/AZone", "Europe/Rome\n", "Europe/Rome"),
        (None, "garbage zone\n", None),
        (None, None, None),
    ],
)
def test_local_timezone(
    tmp_path: Path, link: str | None, timezone_file: str | None, expected: str | None
) -> None:
    if link is not None:
        (tmp_path / "localtime").symlink_to(link)
    if timezone_file is not None:
        (tmp_path / "timezone").write_text(timezone_file)
    assert local_timezone(tmp_path) == expected
