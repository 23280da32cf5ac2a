"""``cronwatch backup`` and ``cronwatch restore``: a consistent copy of the SQLite database, and
a checked one put back (:mod:`cronwatch.storage.backup`). On PostgreSQL both say which
``pg_dump`` / ``pg_restore`` command to run instead (an error: nothing was copied)."""

from __future__ import annotations

from pathlib import Path

import click

from cronwatch.cli.common import ProgressLine

#: What a terminal shows progress for: a database of 32 MB, a restore of 100,000 rows.
BIG_COPY, BIG_RESTORE = 32_000_000, 100_000


def size(n: float) -> str:
    """``n`` bytes for people: ``917.5 kB``, ``48.2 MB``."""
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@click.pass_context
def backup(ctx: click.Context, file: Path, force: bool) -> None:
    """Copy the SQLite database to FILE while it is in use: the copy is the database as of one
    instant, every run recorded before it included, in one file. On PostgreSQL, prints the
    pg_dump command to use instead."""
    from cronwatch.storage.backup import backup as backup_database

    with ProgressLine(size, BIG_COPY) as show:
        report = backup_database(
            ctx.find_root().obj.resolved_database_url(),
            file,
            force=force,
            progress=lambda done, total: show("backup", done, total),
        )
    click.echo(
        f"backed up to {report.path}: {size(report.size)}, {report.runs:,} runs, "
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

    with ProgressLine(lambda n: f"{n:,} rows", BIG_RESTORE) as show:
        report = restore_database(
            ctx.find_root().obj.resolved_database_url(),
            file,
            progress=lambda done, total: show("restore", done, total),
        )
    migrated = f" (migrated from {report.migrated_from})" if report.migrated_from else ""
    click.echo(
        f"restored {file} into {report.database}: {report.runs:,} runs, {report.jobs:,} jobs, "
        f"schema revision {report.revision}{migrated}"
    )
    if report.replaced is not None:
        click.echo(f"the database it replaced is kept at {report.replaced}")
