"""Which cron is installed, told from the files its package installs."""

from __future__ import annotations

from pathlib import Path

import pytest

from cronwatch.crontab.daemon import honours_cron_tz, installed_cron


def _touch(root: Path, *parts: str) -> None:
    path = root.joinpath(*parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")


def test_cronie_debian_and_neither(tmp_path: Path) -> None:
    assert installed_cron(str(tmp_path)) == "cronie"  # nothing: the most common cron
    _touch(tmp_path, "usr", "sbin", "cron")
    assert installed_cron(str(tmp_path)) == "cronie"  # a `cron` that is not Debian's package
    (tmp_path / "usr" / "share" / "doc" / "cron").mkdir(parents=True)
    assert installed_cron(str(tmp_path)) == "debian"
    _touch(tmp_path, "usr", "sbin", "crond")
    assert installed_cron(str(tmp_path)) == "cronie"


def test_only_cronie_honours_cron_tz() -> None:
    assert honours_cron_tz("cronie") and not honours_cron_tz("debian")


def test_this_host() -> None:
    if not Path("/usr/sbin/cron").exists():
        pytest.skip("Debian's cron is not installed here")
    assert installed_cron() == "debian"
