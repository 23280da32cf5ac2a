"""``wrap_crontab``: each job under ``cronwatch run NAME``, everything else kept byte for byte;
and the wrapped crontab run by Debian's real cron daemon."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from pathlib import Path

import pytest

import cronwatch
from cronwatch.crontab import parse_crontab, wrap_crontab
from cronwatch.crontab.wrapping import unreachable_cronwatch, wrapped_command
from cronwatch.model import Run
from cronwatch.monitor import connect_database
from tests.support.cron import RootCrontab, debian_cron, wait_for
from tests.support.crontabs import USER_CRONTAB
from tests.support.readme import as_installed_here, blocks, this_cronwatch
from tests.support.server import create_key, serve

__all__ = ["debian_cron"]  # the fixture, used by name

CW = ["/opt/cw/bin/cronwatch"]


def wrap(text: str, **kwargs: object) -> str:
    return wrap_crontab(text, parse_crontab(text, **kwargs), CW)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("command", "wrapped"),
    [
        ("/usr/local/bin/backup.sh --full", "run backup -- /usr/local/bin/backup.sh --full"),
        # redirections stay: they now apply to cronwatch run, which passes the output on
        ("/bin/job >/dev/null 2>&1", "run job -- /bin/job >/dev/null 2>&1"),
        ('sync.sh --host "$(hostname)"', 'run sync -- sync.sh --host "$(hostname)"'),
        # a command line: the whole of it under the shell, or only its first part would count
        (
            "cd /srv/app && ./manage.py clearsessions",
            "run manage-clearsessions -- /bin/sh -c 'cd /srv/app && ./manage.py clearsessions'",
        ),
        ("a.sh | logger", "run a -- /bin/sh -c 'a.sh | logger'"),
        ("FOO=1 /bin/job", "run job -- /bin/sh -c 'FOO=1 /bin/job'"),
        # a builtin has no program cronwatch run could start
        ("exec /usr/bin/job", "run job -- /bin/sh -c 'exec /usr/bin/job'"),
        ("time /usr/bin/job", "run job -- /bin/sh -c 'time /usr/bin/job'"),
        ("nice -n 5 /usr/bin/job", "run job -- nice -n 5 /usr/bin/job"),  # a program: as is
        ("echo 'it''s' ; b", "run echo -- /bin/sh -c 'echo '\\''it'\\'''\\''s'\\'' ; b'"),
        # cron's %: the standard input stays outside, \% stays escaped inside the quotes
        ("cat%line1%line2", "run cat -- cat%line1%line2"),
        (
            'cd /x && mail -s "\\%F" a@b%body',
            "run mail -- /bin/sh -c 'cd /x && mail -s \"\\%F\" a@b'%body",
        ),
    ],
)
def test_wrapped_command(command: str, wrapped: str) -> None:
    assert wrap(f"0 3 * * * {command}\n") == f"0 3 * * * /opt/cw/bin/cronwatch {wrapped}\n"


def test_everything_but_the_jobs_is_kept_byte_for_byte() -> None:
    text = USER_CRONTAB.read_text()
    out = wrap(text)
    before, after = text.split("\n"), out.split("\n")
    assert len(before) == len(after)
    changed = {n for n, (a, b) in enumerate(zip(before, after, strict=True), 1) if a != b}
    # the jobs that were not under cronwatch run, and nothing else: not the comments, the
    # MAILTO/SHELL/PATH/CRON_TZ lines, the lines already wrapped, @reboot, the skipped lines
    assert changed == {8, 9, 11, 15, 16, 20}
    assert after[8] == (
        "@hourly /opt/cw/bin/cronwatch run manage-clearsessions -- "
        "/bin/bash -c 'cd /srv/app && ./manage.py clearsessions >/dev/null 2>&1'"
    )  # SHELL=/bin/bash is the shell in force
    # the names are the ones import-crontab gives, so the runs land on the imported jobs
    names = {e.line_no: e.job_name for e in parse_crontab(text).entries}
    rewrapped = parse_crontab(out)
    assert {e.line_no: e.job_name for e in rewrapped.entries} == names
    assert all(e.wrapped for e in rewrapped.entries)
    # wrapping twice changes nothing
    assert wrap(out) == out


def test_system_crontab_keeps_its_user_field_and_line_endings() -> None:
    text = "SHELL=/bin/sh\r\n17 * * * * root cd / && run-parts --report /etc/cron.hourly\r\n"
    out = wrap(text, system=True)
    assert out == (
        "SHELL=/bin/sh\r\n17 * * * * root /opt/cw/bin/cronwatch run cron.hourly -- "
        "/bin/sh -c 'cd / && run-parts --report /etc/cron.hourly'\r\n"
    )


def test_the_cronwatch_words_are_quoted_for_shell_and_cron() -> None:
    line = wrapped_command(
        ["/opt/my cw/cronwatch", "--database-url", "sqlite:///a%b.db"], "j", "x", "/bin/sh"
    )
    assert line == "'/opt/my cw/cronwatch' --database-url sqlite:///a\\%b.db run j -- x"


def test_lines_that_run_cronwatch_by_a_name_cron_cannot_find_are_named(tmp_path: Path) -> None:
    bare = "0 3 * * * cronwatch run backup -- /bin/backup\n"
    text = "# the README's old line\n" + bare + "5 3 * * * /opt/cw/bin/cronwatch run b -- x\n"
    parsed = parse_crontab(text)
    (warning,) = unreachable_cronwatch(text, parsed, CW)
    assert warning.line_no == 2
    assert "PATH=/usr/bin:/bin" in warning.message and "/opt/cw/bin/cronwatch" in warning.message
    assert wrap(text) == text  # left as it is: only said
    # A PATH line that holds a cronwatch makes the bare name fine.
    (tmp_path / "cronwatch").write_text("#!/bin/sh\n")
    (tmp_path / "cronwatch").chmod(0o755)
    with_path = f"PATH={tmp_path}:/usr/bin:/bin\n" + bare
    assert unreachable_cronwatch(with_path, parse_crontab(with_path), CW) == []
    empty_path = f"PATH={tmp_path / 'nothing'}\n" + bare
    assert len(unreachable_cronwatch(empty_path, parse_crontab(empty_path), CW)) == 1


# --- under Debian's cron ----------------------------------------------------------------------


def _runs(url: str, name: str) -> list[Run]:
    monitor = connect_database(url, statsd=False)
    try:
        return monitor.history(name)
    finally:
        monitor.close()


@pytest.mark.slow
def test_wrapped_crontabs_and_readme_lines_run_under_debian_cron(
    tmp_path: Path, debian_cron: RootCrontab
) -> None:
    with contextlib.ExitStack() as stack:
        _under_cron(tmp_path, debian_cron, stack)


def _under_cron(tmp_path: Path, debian_cron: RootCrontab, stack: contextlib.ExitStack) -> None:
    database = tmp_path / "cron.db"
    url = f"sqlite:///{database}"
    src = Path(cronwatch.__file__).resolve().parents[1]
    # The README's crontab lines as written, where the README installs cronwatch, every minute.
    readme_lines = [
        "* * * * * " + as_installed_here(line).split(None, 5)[5]
        for line in blocks("crontab")[0].text.splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert len(readme_lines) == 2
    crontab = "\n".join(
        [
            "# cronwatch's test crontab: no PATH line, cron's own (/usr/bin:/bin) is in force",
            f"CRONWATCH_DATABASE_URL={url}",
            f"CRONWATCH_SPOOL_DIR={tmp_path / 'spool'}",
            f"PYTHONPATH={src}",  # this tree's code, not the installed one's
            "* * * * * /bin/echo plain",
            "* * * * * cd /tmp && ls -d /tmp | tr a-z A-Z",
            "* * * * * cat%from stdin",
            *readme_lines,
            "",
        ]
    )
    wrapped = subprocess.run(
        [this_cronwatch(), "import-crontab", "--wrap", "-"],
        input=crontab.encode(),
        capture_output=True,
        check=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("CRONWATCH_")},
    )
    text = wrapped.stdout.decode()
    for line in readme_lines:  # already under cronwatch run: left alone
        assert line in text.splitlines()
    assert f"{this_cronwatch()} run echo -- /bin/echo plain" in text
    # The README's ping lines (its second crontab block) after the wrapped jobs, as written but
    # for the server's address and key, every minute: they report to a live server.
    server_url = f"sqlite:///{tmp_path / 'server.db'}"
    base, _ = stack.enter_context(serve(server_url))
    key = create_key(server_url, "ping")
    server_block = blocks("crontab")[1].text
    assert "http://cron.example.com:8000" in server_block and "cwp_..." in server_block
    server_block = server_block.replace("http://cron.example.com:8000", base)
    server_block = re.sub(
        r"(?m)^0 [34] \* \* \*", "* * * * *", server_block.replace("cwp_...", key)
    )
    log = Path("/tmp/backup.log")  # the README's line writes it
    if not log.exists():
        stack.callback(log.unlink, missing_ok=True)
    debian_cron.install(text + server_block)
    # And a system crontab of the kind Debian packages ship (certbot's random delay, a test -x
    # guard, a user field), wrapped and installed in /etc/cron.d.
    scripts = {"renew-certs": "renewed", "sauvegarde-données": "données"}
    for name, words in scripts.items():
        script = tmp_path / f"{name}.sh"
        script.write_text(f"#!/bin/sh\necho {words}\n", encoding="utf-8")
        script.chmod(0o755)
    cron_d = "\n".join(
        [
            "SHELL=/bin/sh",
            f"CRONWATCH_DATABASE_URL={url}",
            f"CRONWATCH_SPOOL_DIR={tmp_path / 'spool'}",
            f"PYTHONPATH={src}",
            f"* * * * * root test -x {tmp_path}/renew-certs.sh && perl -e 'sleep 1' && "
            f"{tmp_path}/renew-certs.sh",
            f"* * * * * root nice -n 5 {tmp_path}/sauvegarde-données.sh",
            "",
        ]
    )
    wrapped_d = subprocess.run(
        [this_cronwatch(), "import-crontab", "--system", "--wrap", "-"],
        input=cron_d.encode(),
        capture_output=True,
        check=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("CRONWATCH_")},
    ).stdout.decode()
    assert f"* * * * * root {this_cronwatch()} run renew-certs -- /bin/sh -c " in wrapped_d
    debian_cron.install_cron_d(wrapped_d)

    def recorded() -> dict[str, Run] | None:
        if not database.exists():  # the first run creates it
            return None
        names = ("echo", "ls", "cat", "backup", "sync-feeds", *scripts)
        found = {name: _runs(url, name) for name in names}
        if not all(found.values()):
            return None
        latest = {name: runs[0] for name, runs in found.items()}
        return latest if all(run.date_completed for run in latest.values()) else None

    def pinged() -> Run | None:
        found = _runs(server_url, "backup")
        return found[0] if found and found[0].date_completed else None

    runs = wait_for(recorded)
    ping = wait_for(pinged, within=30)
    assert runs is not None, "no runs recorded within two minutes under cron"
    assert runs["echo"].outcome == "success" and "plain" in (runs["echo"].output or "")
    assert runs["ls"].outcome == "success" and "/TMP" in (runs["ls"].output or "")
    assert runs["cat"].outcome == "success" and "from stdin" in (runs["cat"].output or "")
    # The README's lines ran (their scripts are examples: not found, exit 127), recorded as such
    # rather than "cronwatch: not found" with nothing recorded.
    assert runs["backup"].exit_code == 127
    assert runs["sync-feeds"].hostname == os.uname().nodename
    assert "renewed" in (runs["renew-certs"].output or "")
    assert runs["sauvegarde-données"].outcome == "success"
    assert "données" in (runs["sauvegarde-données"].output or "")
    # The README's timed curl line: its start, then the exit code ($?) and the output, under
    # cron's % escaping. Its script is an example, so the run is a failure with exit 127.
    assert ping is not None, "the README's curl lines reported nothing"
    assert (ping.hostname, ping.outcome, ping.exit_code) == ("db1", "failure", 127)
    assert "backup.sh: not found" in (ping.output or "")
    assert ping.duration is not None and ping.duration.total_seconds() > 0  # start and finish
    # Nothing was left in the spool: every run reached the database.
    assert not any((tmp_path / "spool").rglob("*.json"))
