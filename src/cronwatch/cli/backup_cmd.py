"""``cronwatch backup``, ``restore``, ``export`` and ``import``: copies of the database.

Each command calls one library function (:mod:`cronwatch.storage.backup`,
:mod:`cronwatch.transfer`) and renders what it did; progress goes to stderr on a terminal.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

import click

from cronwatch.cli.common import fail, open_monitor
from cronwatch.errors import CronwatchError


class ProgressLine:
    """One line of progress rewritten in place on stderr, on a terminal only, and only for
    big work (a total of at least ``min_total``): a small database shows nothing."""

    def __init__(self, unit: Callable[[int], str], min_total: int) -> None:
        self.enabled = sys.stderr.isatty()
        self.unit = unit
        self.min_total = min_total
        self.shown = False

    def __call__(self, what: str, done: int, total: int) -> None:
        if self.enabled and total >= self.min_total:
            percent = 100 * done // max(total, 1)
            text = f"{what}: {self.unit(done)} of {self.unit(total)} ({percent}%)"
            click.echo(f"\r{text}\x1b[K", err=True, nl=False)
            self.shown = True
        elif self.shown:  # the next section is small: end the line of the last one
            self.done()

    def done(self) -> None:
        if self.shown:
            click.echo(err=True)
            self.shown = False


def _size(n: float) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def _count(n: int) -> str:
    return f"{n:,}"


#: What a terminal shows progress for: a database of 32 MB, 100,000 rows, a section of 20,000.
BIG_COPY, BIG_RESTORE, BIG_SECTION = 32_000_000, 100_000, 20_000


@contextlib.contextmanager
def _reporting(show: ProgressLine) -> Iterator[None]:
    """The progress line ended; an error said in one line (exit 2); the advice to use another
    program (PostgreSQL's pg_dump) said as it is (exit 2: nothing was copied)."""
    from cronwatch.storage.backup import ExternalTool

    try:
        yield
    except ExternalTool as exc:
        show.done()
        click.echo(f"cronwatch: {exc}", err=True)
        raise SystemExit(2) from None
    except CronwatchError as exc:
        show.done()
        fail(str(exc))
    show.done()


def _url(ctx: click.Context) -> str:
    return str(ctx.find_root().obj.resolved_database_url())


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@click.pass_context
def backup(ctx: click.Context, file: Path, force: bool) -> None:
    """Copy the SQLite database to FILE while it is in use: the copy is the database as of one
    instant, every run recorded before it included. On PostgreSQL, prints the pg_dump command
    to use instead."""
    from cronwatch.storage.backup import backup as backup_database

    show = ProgressLine(_size, BIG_COPY)
    with _reporting(show):
        report = backup_database(
            _url(ctx), file, force=force,
            progress=lambda done, total: show("backup", done, total),
        )  # fmt: skip
    click.echo(
        f"backed up to {report.path}: {_size(report.size)}, {report.runs:,} runs, "
        f"{report.jobs:,} jobs, schema revision {report.revision}"
    )


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def restore(ctx: click.Context, file: Path) -> None:
    """Put the backup FILE in place of the SQLite database, after checking it (PRAGMA
    integrity_check, a known schema revision; an older one is migrated). Refused while a
    cronwatch server or alert loop uses the database. The database it replaces is kept next
    to it (NAME.replaced-<time>); FILE is not changed."""
    from cronwatch.storage.backup import restore as restore_database

    show = ProgressLine(lambda n: f"{n:,} rows", BIG_RESTORE)
    with _reporting(show):
        report = restore_database(
            _url(ctx), file,
            progress=lambda done, total: show("restore", done, total),
        )  # fmt: skip
    migrated = f" (migrated from {report.migrated_from})" if report.migrated_from else ""
    click.echo(
        f"restored {file} into {report.database}: {report.runs:,} runs, {report.jobs:,} jobs, "
        f"schema revision {report.revision}{migrated}"
    )
    if report.replaced is not None:
        click.echo(f"the database it replaced is kept at {report.replaced}")


@click.command("export")
@click.argument("file", required=False, type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--runs", is_flag=True, help="Include every run (the history), streamed.")
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@click.pass_context
def export(ctx: click.Context, file: str | None, runs: bool, force: bool) -> None:
    """Write jobs (declared through the API, or seen running), keys (hashed), snoozes, alert
    states, events and deliveries, and the job summaries as one JSON document to FILE (or
    stdout); with --runs, every run too. `cronwatch import` reads it into any database."""
    from cronwatch.transfer import export_database, sections_of

    show = ProgressLine(_count, BIG_SECTION)
    if file not in (None, "-"):
        _refuse_database_files(_url(ctx), Path(file))
    with open_monitor(ctx) as monitor, _output(file, force) as out:
        report = export_database(
            monitor.store.db, out, runs=runs,
            progress=lambda section, done, total: show(f"export: {section}", done, total),
        )  # fmt: skip
    show.done()
    counts = ", ".join(f"{report.counts[s]:,} {s.replace('_', ' ')}" for s in sections_of(report))
    where = "stdout" if file in (None, "-") else file
    click.echo(f"exported to {where}: {counts}", err=True)


def _refuse_database_files(url: str, path: Path) -> None:
    """An export written over the SQLite database it reads would replace it: refused."""
    from cronwatch.storage.url import parse_database_url

    database = parse_database_url(url).sqlite_path
    if database is None or not path.exists():
        return
    for suffix in ("", "-wal", "-shm"):
        own = Path(f"{database}{suffix}")
        if own.exists() and os.path.samefile(own, path):
            fail(f"cannot export to {path}: it is the database's own file")


@contextlib.contextmanager
def _output(file: str | None, force: bool) -> Iterator[TextIO]:
    """stdout, or ``file`` written whole or not at all (a temporary file renamed into place)."""
    if file in (None, "-"):
        yield sys.stdout
        sys.stdout.flush()
        return
    path = Path(file)
    if path.exists() and not force:
        fail(f"{path} exists; pass --force to replace it")
    if not path.parent.is_dir():
        fail(f"cannot write {path}: directory {path.parent} does not exist")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        fail(f"could not write {path}: {exc.strerror or exc}")
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


@click.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8", lazy=False))
@click.option("--merge", is_flag=True,
              help="Import into a database that is not empty: add what it lacks (what it holds "
              "wins; runs are added by name and run id, never twice).")  # fmt: skip
@click.pass_context
def import_(ctx: click.Context, file: TextIO, merge: bool) -> None:
    """Read an export of `cronwatch export` (FILE, or - for stdin) into the database, in one
    transaction: a bad, truncated or newer-format file changes nothing."""
    from cronwatch.transfer import import_database, sections_of

    show = ProgressLine(_count, BIG_SECTION)
    with open_monitor(ctx) as monitor:
        try:
            report = import_database(
                monitor.store.db, file, merge=merge,
                progress=lambda section, done, total: show(f"import: {section}", done, total),
            )  # fmt: skip
        finally:
            show.done()
    parts = []
    for section in sections_of(report):
        read, added = report.read[section], report.added[section]
        name = section.replace("_", " ")
        parts.append(f"{added:,} {name}" + (f" ({read - added:,} already there)"
                                             if read != added else ""))  # fmt: skip
    click.echo("imported " + ", ".join(parts))
