"""Naming imported crontab jobs: the name of a `cronwatch run` command, or one derived from
the command line, unique within the file."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cronwatch import crontab
from cronwatch.crontab import (
    cronwatch_run_name,
    derive_job_name,
    parse_crontab,
)
from cronwatch.names import validate_name

# --- job names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "name"),
    [
        ("cronwatch run backup -- /usr/local/bin/backup.sh", "backup"),
        ("/usr/local/bin/cronwatch run backup -- /usr/local/bin/backup.sh", "backup"),
        ("cronwatch run --host db1 backup -- ./backup.sh", "backup"),
        ("cronwatch run --host=db1 backup -- ./backup.sh", "backup"),
        ("cronwatch run backup --host db1 -- ./backup.sh", "backup"),
        ("cronwatch run --no-capture backup -- ./backup.sh", "backup"),
        ("cronwatch run -- backup ./backup.sh", "backup"),
        ("cronwatch --config /etc/cw.toml run db-dump -- pg_dump app", "db-dump"),
        ("cronwatch --database-url=sqlite:///x.db run db-dump -- pg_dump", "db-dump"),
        ("CRONWATCH_URL=https://cw.example.com cronwatch run ping -- /bin/true", "ping"),
        ("cd /srv && nice -n 10 /opt/venv/bin/cronwatch run report -- ./report.py", "report"),
        ("flock -n /tmp/x.lock cronwatch run locked -- /bin/x", "locked"),
        ("flock -n /tmp/x.lock -c 'cronwatch run locked -- /bin/x'", "locked"),
        ("/bin/sh -c 'cronwatch run shelled -- /bin/x'", "shelled"),
        ("python3 -m cronwatch run as-module -- /bin/x", "as-module"),
        ("cronwatch run 'nightly report' -- /bin/x", "nightly report"),
        ("cronwatch run backup -- /bin/x >> /var/log/x.log 2>&1", "backup"),
    ],
)
def test_cronwatch_run_name_is_found(command: str, name: str) -> None:
    assert cronwatch_run_name(command) == name
    (entry,) = parse_crontab(f"0 3 * * * {command}\n").entries
    assert (entry.job_name, entry.wrapped) == (name, True)


@pytest.mark.parametrize(
    "command",
    [
        "/usr/local/bin/backup.sh",
        "cronwatch last backup",  # not `run`
        "cronwatch run",  # no name
        "cronwatch run --host db1",  # still no name
        "echo cronwatch run backup",  # cronwatch is an argument here, not the program
        "/opt/notcronwatch run backup -- x",
        "/bin/x # cronwatch run backup",  # a shell comment
    ],
)
def test_commands_that_do_not_run_under_cronwatch(command: str) -> None:
    assert cronwatch_run_name(command) is None


def test_an_invalid_cronwatch_run_name_skips_the_line() -> None:
    parsed = parse_crontab("0 3 * * * cronwatch run db/backup -- x\n0 4 * * * /bin/ok\n")
    # Importing it under another name would create a job that never gets a run.
    assert [e.job_name for e in parsed.entries] == ["ok"]
    (warning,) = parsed.warnings
    assert warning.line_no == 1 and "must not contain '/'" in warning.message


@pytest.mark.parametrize(
    ("command", "name"),
    [
        ("/usr/local/bin/backup.sh --full", "backup"),
        ("cd /srv && ./manage.py clearsessions", "manage-clearsessions"),
        ("cd /srv/app; /srv/venv/bin/python manage.py send_mail >/dev/null", "manage-send_mail"),
        ("php /var/www/artisan schedule:run >> /dev/null 2>&1", "artisan-schedule-run"),
        ("/usr/bin/php8.2 -d memory_limit=1G -f /var/www/cron.php", "cron"),
        ("python3 -u /opt/jobs/sync_users.py --all", "sync_users"),
        ("python3 -m app.tasks.cleanup --days 7", "cleanup"),
        ("/usr/bin/python3 -c 'import app; app.run()'", "python3"),
        ("bash -lc 'source ~/.profile && ~/bin/sync-mail.sh'", "sync-mail"),
        ("sleep $((RANDOM \\% 90)) && /usr/bin/certbot renew -q", "certbot-renew"),
        (
            "test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.daily )",
            "cron.daily",
        ),
        ("timeout 2h ionice -c3 nice /opt/bin/Reindex_All.PL", "Reindex_All"),
        ("sudo -u www-data /usr/bin/php /var/www/html/occ files:scan --all", "occ-files-scan"),
        ("env -i HOME=/root /usr/sbin/logrotate /etc/logrotate.conf", "logrotate"),
        ("java -Xmx1g -jar /opt/reports/reports.jar --daily", "reports"),
        ("/usr/bin/find /tmp -mtime +7 -delete", "find"),
        ("tar czf /backup/etc.tgz /etc", "tar"),
        ("curl -fsS -m 10 https://hc-ping.com/abc > /dev/null", "curl"),
        ("`which backup` --now", "job"),
        ("%only stdin", "job"),
        ("'unbalanced quote", "unbalanced-quote"),
        ("/opt/" + "x" * 300 + ".sh", "x" * 60),
        ("'/opt/weird name!/(run)*.sh' --x", "run"),
        ("/opt/weird name!/(run)*.sh", "weird"),  # unquoted: the shell runs /opt/weird
        ("/opt/日本/バックアップ.sh", "バックアップ"),
        ("/usr/local/bin/ünïcode-script.sh", "ünïcode-script"),  # NFC, letters kept
        ("/usr/local/bin/su\u0308ss.sh", "süss"),  # a combining diaeresis composed
        ("/opt/x²/v²", "v"),  # letters and 0-9 only: no superscripts
        # certbot's cron.d line: a random delay in perl, then the job
        (
            "test -x /usr/bin/certbot -a \\! -d /run/systemd/system && "
            "perl -e 'sleep int(rand(43200))' && certbot -q renew --no-random-sleep-on-renew",
            "certbot-renew",
        ),
        ("python3 -c 'import time; time.sleep(30)'; /opt/poll.py", "poll"),
        ("sleep 30; /opt/poll.py", "poll"),
        ("[ -x /usr/sbin/x ] && /usr/sbin/x", "x"),
        ("chronic flock -n /run/l.lock ionice -c3 /opt/bin/rebuild-index", "rebuild-index"),
        ("munin-cron --debug", "munin-cron"),  # a long option does not hide a subcommand...
        ("/usr/bin/php -q /srv/cron.php", "cron"),
        ("/perl -e 'print 1'", "perl"),  # ...and inline code that does more than sleep is the job
    ],
)
def test_derived_names(command: str, name: str) -> None:
    assert derive_job_name(command) == name


@given(st.text(max_size=200))
def test_derived_names_are_always_valid_and_plain(command: str) -> None:
    name = derive_job_name(command)
    assert validate_name(name) == name
    assert 0 < len(name) <= crontab.naming.MAX_DERIVED_NAME
    assert all(char.isalpha() or char in "0123456789._-" for char in name)


@given(
    st.lists(st.text(alphabet=st.characters(blacklist_characters="\n"), max_size=80), max_size=8)
)
def test_any_text_parses_without_raising(lines: list[str]) -> None:
    parsed = parse_crontab("\n".join(lines))
    names = [entry.job_name for entry in parsed.entries]
    assert len(names) == len(set(names))
    for entry in parsed.entries:
        assert validate_name(entry.job_name) == entry.job_name


def test_duplicate_derived_names_get_suffixes_in_file_order() -> None:
    text = "".join(
        f"{minute} * * * * /usr/local/bin/backup.sh --part {minute}\n" for minute in range(4)
    )
    assert [e.job_name for e in parse_crontab(text).entries] == [
        "backup",
        "backup-2",
        "backup-3",
        "backup-4",
    ]


def test_explicit_names_are_never_renamed_and_win_over_derived_ones() -> None:
    text = (
        "0 1 * * * /usr/local/bin/backup.sh\n"  # derived "backup", but line 2 names it
        "0 2 * * * cronwatch run backup -- /usr/local/bin/backup.sh --full\n"
        "0 3 * * * /usr/local/bin/backup-2.sh\n"  # derived "backup-2" is a real name too
        "0 2 * * * cronwatch run backup -- /usr/local/bin/backup.sh --full\n"  # repeat
    )
    parsed = parse_crontab(text)
    assert [(e.line_no, e.job_name, e.wrapped) for e in parsed.entries] == [
        (1, "backup-3", False),
        (2, "backup", True),
        (3, "backup-2", False),
    ]
    ((line_no, message),) = [(w.line_no, w.message) for w in parsed.warnings]
    assert line_no == 4 and "repeats line 2" in message
