"""``cronwatch export`` and ``cronwatch import``: the database as one JSON document, to move it
between SQLite and PostgreSQL (:mod:`cronwatch.transfer`; the format: docs/export-format.md)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import click

from cronwatch.cli.common import ProgressLine, fail, open_monitor

#: What a terminal shows progress for: a section of 20,000 elements.
BIG_SECTION = 20_000


def _count(n: int) -> str:
    return f"{n:,}"


@click.command("export")
@click.argument("file", required=False, type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--runs", is_flag=True, help="Include every run (the history), streamed.")
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@click.pass_context
def export(ctx: click.Context, file: str | None, runs: bool, force: bool) -> None:
    """Write jobs (declared through the API, or seen running), keys (hashed), snoozes, alert
    states, events and deliveries, the job summaries and the runs still running as one JSON
    document to FILE (or stdout); with --runs, every run too. `cronwatch import` reads it into
    any database."""
    from cronwatch.transfer import export_database, sections_of

    if file not in (None, "-"):
        _refuse_database_files(ctx.find_root().obj.resolved_database_url(), Path(file))
    with (
        open_monitor(ctx) as monitor,
        _output(file, force) as out,
        ProgressLine(_count, BIG_SECTION) as show,
    ):
        report = export_database(
            monitor.store.db,
            out,
            runs=runs,
            progress=lambda section, done, total: show(f"export: {section}", done, total),
        )
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
@click.option(
    "--merge",
    is_flag=True,
    help="Import into a database that is not empty: add what it lacks (what it holds "
    "wins; runs are added by name and run id, never twice).",
)
@click.pass_context
def import_(ctx: click.Context, file: TextIO, merge: bool) -> None:
    """Read an export of `cronwatch export` (FILE, or - for stdin) into the database, in one
    transaction: a bad, truncated or newer-format file changes nothing."""
    from cronwatch.transfer import import_database, sections_of

    with open_monitor(ctx) as monitor, ProgressLine(_count, BIG_SECTION) as show:
        report = import_database(
            monitor.store.db,
            file,
            merge=merge,
            progress=lambda section, done, total: show(f"import: {section}", done, total),
        )
    parts = []
    for section in sections_of(report):
        read, added, skipped = report.read[section], report.added[section], report.skipped[section]
        notes = [f"{read - added - skipped:,} already there"] if read != added + skipped else []
        if skipped:
            notes.append(f"{skipped:,} skipped: their job is gone")
        there = f" ({'; '.join(notes)})" if notes else ""
        parts.append(f"{added:,} {section.replace('_', ' ')}{there}")
    click.echo("imported " + ", ".join(parts))
