"""``cronwatch export`` and ``cronwatch import``: everything a database holds but the runs'
history (and, asked to, the runs too) as one JSON document, to move between SQLite and
PostgreSQL or between machines. The format is described in ``docs/export-format.md``.

An export is read in one snapshot (:meth:`Database.snapshot
<cronwatch.storage.connection.Database.snapshot>`): runs arriving meanwhile are either wholly
in it, summaries included, or not at all. Every section is streamed, a page of rows at a time,
one element per line, so neither side holds more than a page of runs in memory.

An import is one transaction: a document that is not a cronwatch export, of a newer format
version, truncated, or with one bad element, is refused with the reason and changes nothing.
Into a database that already holds jobs, runs, keys or alert history it needs ``merge``: then
what the database has wins, what it lacks is added, and runs are added by ``(name, run_id)``,
never twice (importing the same export again adds nothing).

The alert state of a job in neither the document nor the database is not imported (but for
the snooze of a job declared in the config file and not stored yet): cronwatch left a deleted
job's state behind until migration 0016, so an export taken before may hold such states, and a
job recorded later under the name would take one over (its first problem announced to nobody).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields
from typing import Any, TextIO

from cronwatch import __version__
from cronwatch.alerts.model import JobState
from cronwatch.errors import InvalidInput
from cronwatch.storage.alerts.states import unseen_snooze
from cronwatch.storage.connection import Cursor, Database
from cronwatch.storage.exchange import (
    EVENTS,
    JOB_HOSTS,
    JOB_STATES,
    JOBS,
    RUNS,
    TABLES,
    ExchangeStore,
    Record,
    Table,
)
from cronwatch.timeutil import utcnow
from cronwatch.transfer.jsonstream import Elements, JsonObjectReader
from cronwatch.transfer.records import from_json, to_json

FORMAT = "cronwatch-export"
#: The version of the document this cronwatch writes, and the newest it reads.
VERSION = 1
#: Elements written per insert statement of an import.
BATCH = 500

#: ``progress(section, done, total)``, called along the way.
Progress = Callable[[str, int, int], None]

_BY_SECTION = {table.section: table for table in TABLES}
_HEADER = (
    "format",
    "version",
    "exported_at",
    "cronwatch_version",
    "schema_revision",
    "database",
    "runs_included",
    "counts",
)


@dataclass
class ExportReport:
    """What an export wrote: the elements of each section."""

    counts: dict[str, int]
    runs_included: bool


@dataclass
class ImportReport:
    """What an import found in the document (``read``), added to the database (``added``:
    new rows; summaries replaced count as added) and left out as no job's (``skipped``: the
    alert states of jobs in neither the document nor the database) per section; the rest of
    what was read was there already."""

    read: dict[str, int] = field(default_factory=dict)
    added: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    merged: bool = False


# -- export ---------------------------------------------------------------------------------------


def export_database(
    db: Database, out: TextIO, *, runs: bool = False, progress: Progress | None = None
) -> ExportReport:
    """Write the export of ``db`` to ``out`` (text): every table but the finished runs (the
    history), or with ``runs`` every run too."""
    store = ExchangeStore(db)
    with db.snapshot():
        counts = store.counts(all_runs=runs)
        header = {
            "format": FORMAT,
            "version": VERSION,
            "exported_at": utcnow().isoformat(),
            "cronwatch_version": __version__,
            "schema_revision": db.schema_revision(),
            "database": db.dialect.name,
            "runs_included": runs,
            "counts": counts,
        }
        out.write("{\n")
        for key, value in header.items():
            out.write(f"{_dumps(key)}: {_dumps(value)},\n")
        for index, table in enumerate(TABLES):
            if table is EVENTS:
                items = store.read_events()
            elif table is RUNS and not runs:
                items = store.read_running_runs()
            else:
                items = store.read(table)
            out.write(f"{_dumps(table.section)}: [")
            total = counts[table.section]
            for done, record in enumerate(items, 1):
                out.write(("\n" if done == 1 else ",\n") + _dumps(to_json(table, record)))
                if progress is not None and (done % 1000 == 0 or done == total):
                    progress(table.section, done, total)
            out.write("\n]" + (",\n" if index < len(TABLES) - 1 else "\n"))
        out.write("}\n")
    return ExportReport(counts, runs)


def _dumps(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# -- import ---------------------------------------------------------------------------------------


def import_database(
    db: Database, stream: TextIO, *, merge: bool = False, progress: Progress | None = None
) -> ImportReport:
    """Import the export read from ``stream`` into ``db``, in one transaction (see the module
    docstring); :class:`InvalidInput` with the reason, and nothing changed, when it cannot."""
    try:
        return _import(db, stream, merge=merge, progress=progress)
    except UnicodeDecodeError:
        raise InvalidInput("the file is not text (UTF-8): not a cronwatch export") from None


def _import(
    db: Database, stream: TextIO, *, merge: bool, progress: Progress | None
) -> ImportReport:
    members = JsonObjectReader(stream).members()
    header: dict[str, Any] = {}
    first: list[tuple[str, Any]] = []
    for key, value in members:
        if isinstance(value, Elements):
            first.append((key, value))
            break
        header[key] = value
    counts = _check_header(header)
    report = ImportReport(merged=merge)
    with db.transaction() as cur:
        importer = _Importer(ExchangeStore(db), cur, merge, counts, report, progress)
        importer.check_target()
        importer.sections(itertools.chain(first, members))
    return report


def _check_header(header: dict[str, Any]) -> dict[str, int]:
    """The counts the header promises; :class:`InvalidInput` when it is not a header of a
    version this cronwatch reads."""
    if header.get("format") != FORMAT:
        raise InvalidInput(
            f'not a cronwatch export: the document has no "format": "{FORMAT}" before its '
            "first section"
        )
    version = header.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidInput(f"the export's version is {version!r}; expected a positive integer")
    if version > VERSION:
        raise InvalidInput(
            f"this export is format version {version}, newer than this cronwatch reads "
            f"({VERSION}); import it with the cronwatch version that wrote it "
            f"({header.get('cronwatch_version', 'unknown')}) or a newer one"
        )
    unknown = sorted(set(header) - set(_HEADER))
    if unknown:
        raise InvalidInput(f"unknown header field(s) {', '.join(map(repr, unknown))}")
    counts = header.get("counts")
    if not isinstance(counts, dict) or any(
        section not in _BY_SECTION or isinstance(n, bool) or not isinstance(n, int) or n < 0
        for section, n in counts.items()
    ):
        raise InvalidInput('the header\'s "counts" must map section names to counts')
    return counts


class _Importer:
    """One import's sections into one transaction."""

    def __init__(
        self,
        store: ExchangeStore,
        cur: Cursor,
        merge: bool,
        counts: dict[str, int],
        report: ImportReport,
        progress: Progress | None,
    ) -> None:
        self.store, self.cur, self.merge = store, cur, merge
        self.counts, self.report, self.progress = counts, report, progress
        self.known_jobs: set[str] = set()
        self.known_summaries: set[tuple[str, str]] = set()
        self.document_jobs: set[str] = set()  # the jobs section's names, read so far

    def check_target(self) -> None:
        held = {k: n for k, n in self.store.contents(self.cur).items() if n}
        if held and not self.merge:
            listed = ", ".join(f"{n} {section.replace('_', ' ')}" for section, n in held.items())
            raise InvalidInput(
                f"the database is not empty ({listed}); import into an empty database, or "
                "pass --merge to add what it lacks (what it holds wins; runs are added by "
                "name and run id, never twice)"
            )
        if self.merge:
            self.known_jobs = self.store.job_names(self.cur)
            self.known_summaries = self.store.summary_keys(self.cur)

    def sections(self, members: Iterable[tuple[str, Any]]) -> None:
        last = -1
        order = [t.section for t in TABLES]
        for key, value in members:
            table = _BY_SECTION.get(key)
            if table is None or not isinstance(value, Elements):
                raise InvalidInput(
                    f"unexpected member {key!r} after the header (sections: {', '.join(order)})"
                )
            if order.index(key) <= last:
                raise InvalidInput(
                    f"section {key!r} is out of order; sections come in this order: "
                    + ", ".join(order)
                )
            last = order.index(key)
            self.section(table, value)
        for section, expected in self.counts.items():
            found = self.report.read.get(section, 0)
            if found != expected:
                raise InvalidInput(
                    f"the export's header promises {expected} {section} but it holds {found}: "
                    "it is incomplete or was edited"
                )

    def section(self, table: Table, elements: Elements) -> None:
        if table.section not in self.counts:
            raise InvalidInput(f"section {table.section!r} is not counted in the header")
        total = self.counts[table.section]
        added, skipped, batch = 0, 0, []
        seen: set[tuple[str, str]] = set()
        for index, element in enumerate(elements):
            record = from_json(table, element, f"{table.section}[{index}]")
            if table is JOB_HOSTS:
                key = (record["name"], record["hostname"])
                if key in seen:
                    raise InvalidInput(f"{table.section}[{index}]: {key} appears twice")
                seen.add(key)
            elif table is JOBS:
                self.document_jobs.add(record["name"])
            if self._orphan(table, record):
                skipped += 1
            elif self._wanted(table, record):
                if table is EVENTS:
                    self.store.write_event(self.cur, record)
                    added += 1
                else:
                    batch.append(record)
            if len(batch) >= BATCH:
                added += self.store.write(self.cur, table, batch)
                batch = []
            if self.progress is not None and ((index + 1) % 1000 == 0 or index + 1 == total):
                self.progress(table.section, index + 1, total)
        if batch:
            added += self.store.write(self.cur, table, batch)
        self.report.read[table.section] = elements.count
        self.report.added[table.section] = added
        self.report.skipped[table.section] = skipped

    def _orphan(self, table: Table, record: Record) -> bool:
        """An alert state whose job is in neither the document nor the database: a deleted
        job's, which an export taken before migration 0016 may hold. The snooze of a job
        declared in the config file and not stored yet is no deleted job's, and is kept."""
        if table is not JOB_STATES:
            return False
        name = record["name"]
        if name in self.document_jobs or name in self.known_jobs:
            return False
        return not unseen_snooze(_job_state(record))

    def _wanted(self, table: Table, record: Record) -> bool:
        """Merging: the history and summaries of jobs the database had are its own."""
        if table is EVENTS:
            return record["name"] not in self.known_jobs
        if table is JOB_HOSTS:
            return (record["name"], record["hostname"]) not in self.known_summaries
        return True


def _job_state(record: Record) -> JobState:
    """The :class:`JobState` of an element of ``job_states`` (which has ``updated`` too)."""
    return JobState(**{f.name: record[f.name] for f in fields(JobState)})


def sections_of(report: ImportReport | ExportReport) -> Iterator[str]:
    """The sections of ``report`` in the document's order."""
    present = report.read if isinstance(report, ImportReport) else report.counts
    return (t.section for t in TABLES if t.section in present)
