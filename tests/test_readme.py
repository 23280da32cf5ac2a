"""The README's examples, as written: every fenced block of README.md is either run here (or by
the test named for it) or listed in :data:`SKIPPED` with the reason it cannot run in a test.
A block added or changed without being classified fails :func:`test_every_block_is_classified`,
so the README cannot drift from the program.

- ``console`` blocks: each ``$ command`` runs in bash with a fresh home (so the default
  database is new), ``cronwatch`` on PATH and nothing else of this environment's
  ``CRONWATCH_*``; it must exit 0 and, when the README shows its output, print exactly that
  (stdout and stderr together; ``...`` stands for any text within a line).
- ``crontab`` blocks and crontab lines quoted in the prose: every program a line runs is an
  absolute path, on cron's own ``PATH`` (``/usr/bin:/bin``) or a shell builtin, so that it runs
  under Debian's cron as shown (the README's first block is also run by Debian's cron daemon,
  in ``tests/crontab/test_wrapping.py``); ``import-crontab`` imports each job line.
- ``toml`` blocks load as config files; ``python`` runs; ``json`` and ``yaml`` parse.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from cronwatch.config import load_config
from cronwatch.crontab import parse_crontab
from cronwatch.crontab.lines import classify, schedule_width, split_fields
from cronwatch.crontab.shell import basename, programs, runnable_part
from tests.support.readme import README, README_CRONWATCH, Block, blocks, this_cronwatch

# --- what cannot run in a test, and why (keyed by the block's first line) ---------------------

SKIPPED = {
    "pip install . && cronwatch serve": "installs the package and serves until stopped",
    "$ cronwatch status": "its ages and due times are relative to the clock of the day it was "
    "written; status and check are tested in tests/cli/test_check_cmd.py",
    "$ cronwatch import-systemd                         # review: this host's timers as TOML": (
        "reads this host's timer units; backup.timer is an example name"
    ),
    "$ cronwatch import-systemd --wrap-into /etc/systemd/system --env-file "
    "/etc/cronwatch/hook.env apt-daily.timer": "writes into /etc/systemd/system and runs "
    "systemctl (tests/cli/test_systemd_cmd.py writes the same drop-in into a temporary folder)",
    "$ kubectl get cronjobs -A -o yaml | cronwatch import-kubernetes -": "needs a Kubernetes "
    "cluster (tests/cli/test_kubernetes_cmd.py imports manifests)",
    "cronwatch key create --scope ping --name crontabs   # prints the key, once: store it": (
        "serves until stopped (on 0.0.0.0)"
    ),
    "python -m bench.bench_ping     # pings/s vs a bare ASGI and a Starlette hello world, "
    "SQLite and PostgreSQL": "a benchmark: minutes of CPU",
    "python -m bench.bench_metrics                                    # 1,000 and 20,000 jobs, "
    "SQLite": "a benchmark: minutes of CPU",
    "cronwatch serve --systemd-unit --host 0.0.0.0 --port 8000 | sudo tee "
    "/etc/systemd/system/cronwatch.service": "installs a system service with sudo and systemctl",
    "cronwatch serve --proxy-headers          # listens on 127.0.0.1:8000; trusts 127.0.0.1 only": (
        "serves until stopped"
    ),
    "server {": "an nginx configuration",
    "cronwatch import-healthchecks --url https://hc.example.com --api-key hcw_...            "
    "# lists, writes nothing": "needs a running Healthchecks (tests/cli/"
    "test_healthchecks_cmd.py imports from the real one)",
    '$ cronwatch alerts ack backup --note "disk full on db2, cleaning up"': "needs a server at "
    "cron.example.com and an open incident",
    "$ cronwatch --config jobs.toml alerts                 # the loop, until SIGTERM "
    "(--interval 30s)": "the alert loop runs until stopped",
    "$ cronwatch backup /backups/cronwatch.db            # SQLite, while the server runs": (
        "writes /backups and stops a systemd service"
    ),
    "pg_dump --format=custom --file=cronwatch.dump --dbname='postgresql://cronwatch:***@"
    "db.example.com/cronwatch'": "an example database host",
    "cronwatch --database-url sqlite:////var/lib/cronwatch/cronwatch.db export --runs "
    "cronwatch.json": "an example database host",
    "python3 -m venv .venv && .venv/bin/pip install -e '.[test]'": "installs the package and "
    "runs the whole test suite",
    "python -m bench.bench_record          # record_success vs bare INSERT+COMMIT "
    "(target <= 2x)": "benchmarks: minutes of CPU",
}

# Console blocks run here: the first line -> what else the block needs (stand-ins, a check).
Setup = Callable[[Path], None]


def _crontab_stand_in(home: Path) -> None:
    """A `crontab` command that keeps the user's crontab in a file instead of the system's."""
    bin_dir = home / "bin"
    bin_dir.mkdir(exist_ok=True)
    saved = home / "crontab.installed"
    (home / "crontab.current").write_text(
        "MAILTO=me@example.com\n0 3 * * * /usr/local/bin/backup.sh --full\n"
        "@hourly cd /srv/app && ./manage.py clearsessions\n"
    )
    script = bin_dir / "crontab"
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "-l" ]; then cat "{home}/crontab.current"; else cp "$1" "{saved}"; fi\n'
    )
    script.chmod(0o755)


def _wrapped_crontab_installed(home: Path) -> None:
    installed = (home / "crontab.installed").read_text()
    assert installed.startswith("MAILTO=me@example.com\n")
    assert (
        f"0 3 * * * {this_cronwatch()} run backup -- /usr/local/bin/backup.sh --full" in installed
    )
    assert (
        f"@hourly {this_cronwatch()} run manage-clearsessions -- "
        "/bin/sh -c 'cd /srv/app && ./manage.py clearsessions'" in installed
    )


RUN: dict[str, tuple[Setup | None, Setup | None]] = {
    "$ cronwatch import-crontab --wrap > wrapped.crontab   # your crontab, each job under "
    "cronwatch run": (_crontab_stand_in, _wrapped_crontab_installed),
    "$ cronwatch record backup --host db1 --started 2026-11-27T03:00:00Z --completed "
    "2026-11-27T03:00:31Z --exit-code 2 --output 'disk full'": (None, None),
    "$ cronwatch schedule 'Mon..Fri 09:00' --timezone America/New_York --from "
    "2026-03-06T15:00:00Z -n 3": (None, None),
}

OTHER_LANGUAGES = {"crontab", "toml", "python", "json", "yaml"}


def _key(block: Block) -> str:
    return block.text.split("\n", 1)[0]


def test_every_block_is_classified() -> None:
    keys = [_key(block) for block in blocks()]
    assert len(keys) == len(set(keys)), "two blocks start alike: make their first lines differ"
    for block in blocks():
        key = _key(block)
        known = key in SKIPPED or key in RUN or block.language in OTHER_LANGUAGES
        assert known, (
            f"README.md line {block.line}: a new or changed {block.language or 'plain'} block "
            f"({key!r}): run it in tests/test_readme.py or list it in SKIPPED with a reason"
        )
        assert not (key in SKIPPED and key in RUN)
    stale = (set(SKIPPED) | set(RUN)) - set(keys)
    assert not stale, f"no longer in README.md (update tests/test_readme.py): {sorted(stale)}"


# --- console blocks ------------------------------------------------------------------------


def _commands(block: Block) -> list[tuple[str, list[str]]]:
    """``(command, expected output lines)`` for each ``$ `` line (``\\`` continues it)."""
    found: list[tuple[str, list[str]]] = []
    lines = block.text.rstrip("\n").split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        assert line.startswith("$ "), f"README.md line {block.line + index}: output before a $"
        command = line[2:]
        while command.endswith("\\"):
            index += 1
            command = command[:-1] + lines[index]
        index += 1
        output: list[str] = []
        while index < len(lines) and not lines[index].startswith("$ "):
            output.append(lines[index])
            index += 1
        found.append((command, output))
    return found


def _matches(expected: str, actual: str) -> bool:
    pattern = ".*".join(re.escape(part) for part in expected.rstrip().split("..."))
    return re.fullmatch(pattern, actual.rstrip()) is not None


def _environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRONWATCH_", "XDG_"))}
    env["HOME"] = str(home)
    cronwatch_dir = str(Path(this_cronwatch()).parent)
    env["PATH"] = os.pathsep.join([str(home / "bin"), cronwatch_dir, "/usr/bin", "/bin"])
    return env


@pytest.mark.parametrize("key", sorted(RUN), ids=lambda key: " ".join(key.split()[1:4]))
def test_console_block_runs_as_written(key: str, tmp_path: Path) -> None:
    (block,) = [b for b in blocks("console") if _key(b) == key]
    setup, check = RUN[key]
    home = tmp_path / "home"
    (home / "bin").mkdir(parents=True)
    if setup is not None:
        setup(home)
    for command, expected in _commands(block):
        result = subprocess.run(
            ["bash", "-c", command],
            cwd=home,
            env=_environment(home),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=120,
        )
        shown = f"README.md line {block.line}: $ {command}\n{result.stdout}"
        assert result.returncode == 0, shown
        if expected:
            actual = result.stdout.rstrip("\n").split("\n")
            assert len(actual) == len(expected), shown
            for want, got in zip(expected, actual, strict=True):
                assert _matches(want, got), f"{shown}\nexpected: {want}\nprinted:  {got}"
    if check is not None:
        check(home)


def test_the_ellipsis_matches_within_a_line_only() -> None:
    assert _matches(
        "  started    2026-11-28 03:00:00 UTC (...ago)",
        "  started    2026-11-28 03:00:00 UTC (3d 2h ago)",
    )
    assert not _matches(
        "recorded failure of 'backup' on db1 (31s)", "recorded success of 'backup' on db1 (31s)"
    )
    assert not _matches("a (...)", "b (x)")


# --- crontab lines ---------------------------------------------------------------------------

# Inline crontab lines in the prose: `0 4 * * * command...` (possibly over a line break).
_INLINE_CRON = re.compile(r"`((?:[0-9*/,-]+\s+){5}[^`]+)`")
#: Inline crontab text that is not a line to copy, and why.
NOT_TO_COPY = {"* * * * * * cmd": "the mistake import-crontab warns about"}
_BUILTINS = frozenset({"cd", "test", "[", "rid", "exit", "true", "false", "echo", "export"})
CRON_PATH = ("/usr/bin", "/bin")


def _crontab_texts() -> list[tuple[int, str]]:
    texts = [(block.line, block.text) for block in blocks("crontab")]
    readme = README.read_text(encoding="utf-8")
    for match in _INLINE_CRON.finditer(readme):
        line = readme.count("\n", 0, match.start()) + 1
        text = " ".join(match.group(1).split())
        if text not in NOT_TO_COPY:
            texts.append((line, text + "\n"))
    return texts


def _runs_under_cron(word: str) -> bool:
    if "/" in word:
        return word.startswith("/")
    if word in _BUILTINS or "=" in word:
        return True
    return any(os.access(os.path.join(folder, word), os.X_OK) for folder in CRON_PATH)


def test_crontab_lines_run_under_crons_own_path() -> None:
    texts = _crontab_texts()
    assert len(texts) >= 3  # the two blocks and `0 4 * * * ... cronwatch backup ...`
    for line_no, text in texts:
        path_lines = [line for line in text.split("\n") if line.startswith("PATH=")]
        assert not path_lines, f"README.md line {line_no}: say the full path instead of PATH="
        for line in classify(text):
            if line.kind != "entry":
                continue
            split = split_fields(line.text, schedule_width(line.text))
            assert split is not None
            for program in programs(runnable_part(split[1])):
                if program.name.startswith("$"):
                    continue
                assert _runs_under_cron(program.name), (
                    f"README.md line {line_no}: {program.name!r} is not found by cron "
                    f"(PATH=/usr/bin:/bin): {line.text}"
                )
                if basename(program.name) == "cronwatch":
                    assert program.name == README_CRONWATCH, line.text


def test_crontab_blocks_import() -> None:
    for block in blocks("crontab"):
        parsed = parse_crontab(block.text, cron_tz=False)
        entries = [line for line in classify(block.text) if line.kind == "entry"]
        assert len(parsed.entries) == len(entries), (block.line, parsed.warnings)
    first = parse_crontab(blocks("crontab")[0].text)
    assert [(e.job_name, e.wrapped) for e in first.entries] == [
        ("backup", True),
        ("sync-feeds", True),
    ]


# --- config files, Python, data ----------------------------------------------------------------


@pytest.mark.parametrize("block", blocks("toml"), ids=lambda b: f"line{b.line}")
def test_toml_blocks_load_as_config_files(block: Block, tmp_path: Path) -> None:
    path = tmp_path / "cronwatch.toml"
    path.write_text(block.text, encoding="utf-8")
    load_config(path)  # a ConfigError names the file, the job and the field


def test_python_block_runs(tmp_path: Path) -> None:
    (block,) = blocks("python")
    (tmp_path / "cronwatch.toml").write_text(blocks("toml")[0].text, encoding="utf-8")
    # The block calls the reader's own function; everything else is cronwatch's.
    program = "def reindex():\n    pass\n\n" + block.text
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRONWATCH_")}
    env["CRONWATCH_DATABASE_URL"] = f"sqlite:///{tmp_path / 'api.db'}"
    result = subprocess.run(
        [sys.executable, "-c", program],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("backup ")  # the status loop printed the declared job


def test_json_and_yaml_blocks_parse() -> None:
    for block in blocks("json"):
        json.loads(block.text)
    for block in blocks("yaml"):
        yaml.safe_load(block.text)
