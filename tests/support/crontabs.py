"""The sample crontabs (``tests/crontab/samples``) and reading them, for the crontab tests."""

from __future__ import annotations

from pathlib import Path

from cronwatch import crontab
from cronwatch.crontab import CrontabEntry, parse_crontab

SAMPLES = Path(__file__).resolve().parents[1] / "crontab" / "samples"
USER_CRONTAB = SAMPLES / "user.crontab"
ETC_CRONTAB = SAMPLES / "etc" / "crontab"
PHP_CRON_D = SAMPLES / "cron.d" / "php"
E2SCRUB_CRON_D = SAMPLES / "cron.d" / "e2scrub_all"


def summary(entries: list[CrontabEntry]) -> list[tuple[int, str, str, str, bool]]:
    return [(e.line_no, e.job_name, e.schedule_expr, e.timezone, e.wrapped) for e in entries]


def parse_file(path: Path, **kwargs: object) -> crontab.ParsedCrontab:
    return parse_crontab(path.read_bytes(), path=path, **kwargs)  # type: ignore[arg-type]


# A config file as people write them: the merge must keep it byte for byte.
EXISTING = """\
# Our jobs.   Hand-edited: keep   this   formatting!
[jobs.backup]
schedule = "0 4 * * *"     # moved from 03:00 on purpose
grace    = "2h"

[channels.ops]
type = "webhook"
url = "https://hooks.example.com/x"
"""
