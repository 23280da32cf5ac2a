"""The dashboard's cost does not grow with the number of jobs: the overview is one request
whose queries are the same in number for 10 jobs and for 1,000 (on SQLite and PostgreSQL),
and the sparkline query returns exactly each job's latest finished runs."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from cronwatch.storage import dashboard as queries
from cronwatch.storage import open_database
from cronwatch.storage.connection import Database
from cronwatch.timeutil import to_us
from cronwatch.web.dashboard.overview import Filters, load_overview
from tests.support.server import LiveServer

T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
_INSERT = (
    "INSERT INTO runs (name, hostname, run_id, outcome, exit_code, started_us, completed_us,"
    " duration_us, output) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def add_jobs(db: Database, first: int, count: int, runs: int = 5) -> None:
    """Jobs ``job-<first>`` .. with ``runs`` hourly runs each (the triggers create the jobs'
    rows and summaries, as a real write does)."""
    rows = []
    for j in range(first, first + count):
        for r in range(runs):
            start = to_us(T0 + timedelta(hours=r))
            outcome, code = ("failure", 1) if r == runs - 1 and j % 7 == 0 else ("success", 0)
            took = 60_000_000 + j * 1000 + r
            rows.append(
                (
                    f"job-{j:04d}",
                    f"host-{j % 9}",
                    f"r{r}",
                    outcome,
                    code,
                    start,
                    start + took,
                    took,
                    None,
                )
            )
    with db.transaction() as cur:
        cur.executemany(db.sql(_INSERT), rows)  # type: ignore[attr-defined]


@contextmanager
def counting(target: Any) -> Iterator[Callable[[], int]]:
    """Count the calls of ``target.query`` (an instance, or the Database class to count every
    connection in the process, the server's included) and of ``target.transaction``."""
    calls = [0]
    originals = {name: getattr(target, name) for name in ("query", "transaction")}

    def wrap(original: Any) -> Any:
        def counted(*args: Any, **kwargs: Any) -> Any:
            calls[0] += 1
            return original(*args, **kwargs)

        return counted

    for name, original in originals.items():
        setattr(target, name, wrap(original))
    try:
        yield lambda: calls[0]
    finally:
        for name, original in originals.items():
            if isinstance(target, type):
                setattr(target, name, original)
            else:
                delattr(target, name)


def test_recent_runs_are_each_jobs_latest_finished_runs_oldest_first(database_url: str) -> None:
    with open_database(database_url) as db:
        rows = []
        for r in range(30):  # "many": more than a sparkline holds
            start = to_us(T0 + timedelta(minutes=r))
            rows.append(("many", "h", f"m{r}", "success", 0, start, start + r, r, None))
        for r in range(3):  # "few": fewer; two of them start at the same instant
            start = to_us(T0 + timedelta(minutes=min(r, 1)))
            rows.append(("few", f"h{r}", f"f{r}", "failure", 2, start, start + 5, 5, None))
        # "tied": 25 runs that all start at once: the query's boundary is a tie
        stamp = to_us(T0)
        rows += [
            ("tied", f"h{r}", f"t{r}", "success", 0, stamp, stamp + r, r, None) for r in range(25)
        ]
        with db.transaction() as cur:
            cur.executemany(db.sql(_INSERT), rows)  # type: ignore[attr-defined]
            cur.execute(
                db.sql(
                    "INSERT INTO runs (name, hostname, run_id, outcome, started_us)"
                    " VALUES ('many', 'h', 'live', 'running', ?)"
                ),
                (to_us(T0 + timedelta(hours=1)),),
            )
        recent = queries.recent_runs(db)
        assert set(queries.recent_runs(db, ["few", "tied", "nothing"])) == {"few", "tied"}
        assert queries.recent_runs(db, []) == {}
    many = recent["many"]
    assert [p.duration for p in many] == [timedelta(microseconds=r) for r in range(10, 30)]
    assert [p.started for p in many] == sorted(p.started for p in many)
    assert all(p.outcome == "success" for p in many)  # the running run is not among them
    assert len(recent["few"]) == 3 and {p.outcome for p in recent["few"]} == {"failure"}
    assert len(recent["tied"]) == queries.SPARK_RUNS


def test_the_overview_makes_as_many_queries_for_300_jobs_as_for_10(database_url: str) -> None:
    now = T0 + timedelta(days=1)
    with open_database(database_url) as db:
        add_jobs(db, 0, 10)
        with counting(db) as calls:
            small = load_overview(db, None, Filters(), now)
        few = calls()
        add_jobs(db, 10, 290)
        with counting(db) as calls:
            large = load_overview(db, None, Filters(), now)
        many = calls()
    assert (len(small.rows), len(large.rows)) == (10, 100), "a page of 100 jobs"
    assert (small.next, large.shown, large.total) == (None, 300, 300)
    assert large.next is not None, "the next page's cursor"
    assert all(str(row.spark).startswith("<svg") for row in large.rows)
    assert few == many, f"{few} queries for 10 jobs, {many} for 300"
    assert many <= 8


def test_a_thousand_jobs_page_in_one_request_without_a_query_per_job(
    database_url: str,
) -> None:
    with open_database(database_url) as db:
        add_jobs(db, 0, 10)
    with LiveServer(database_url) as live, httpx.Client(base_url=live.url, timeout=60) as http:
        http.get("/")  # warm: first-request costs are not what is measured
        with counting(Database) as calls:
            small = http.get("/")
        few = calls()
        with open_database(database_url) as db:
            add_jobs(db, 10, 990)
        http.get("/")
        with counting(Database) as calls:
            began = time.perf_counter()
            large = http.get("/")
            took = time.perf_counter() - began
        many = calls()
    assert small.status_code == large.status_code == 200
    assert len(re.findall(r'<tr class="job ', large.text)) == 100, "one page of 1,000 jobs"
    assert large.text.count('<svg class="spark"') == 100
    assert 'class="next-page"' in large.text and "1000 of 1000 jobs" in large.text
    assert few == many, f"{few} queries for 10 jobs, {many} for 1,000"
    print(
        f"\n1,000 jobs on {live.settings.database_url.split(':')[0]}: {took * 1000:.0f} ms, "
        f"{many} queries, {len(large.content) // 1024} KiB"
    )


@pytest.mark.parametrize("status", ["failing", "problems"])
def test_filtering_does_not_add_queries(database_url: str, status: str) -> None:
    now = T0 + timedelta(days=1)
    with open_database(database_url) as db:
        add_jobs(db, 0, 50)
        with counting(db) as calls:
            everything = load_overview(db, None, Filters(), now)
        unfiltered = calls()
        with counting(db) as calls:
            page = load_overview(db, None, Filters(statuses=(status,), host="host-0"), now)
        assert calls() <= unfiltered
    shown = {row.status.name for row in page.rows}
    expected = {
        row.status.name
        for row in everything.rows
        if row.status.severity > 0
        and any(h.hostname == "host-0" for h in row.status.hosts)
        and (status == "problems" or row.status.status == status)
    }
    assert shown == expected == {"job-0000"}  # the one that failed last on host-0


def _every_page(
    db: Database, filters: Filters, now: datetime, between: Callable[[int], None]
) -> list[str]:
    names: list[str] = []
    after = None
    for page_number in range(1, 100):
        page = load_overview(db, None, filters, now, after=after, page_size=40)
        assert len(page.rows) <= 40
        names += [row.status.name for row in page.rows]
        between(page_number)
        if page.next is None:
            return names
        after = page.next
    raise AssertionError("the pages never end")


@pytest.mark.parametrize("with_loop", [False, True], ids=["evaluated", "settled"])
def test_pages_show_every_job_exactly_once_while_jobs_are_added(
    database_url: str, with_loop: bool
) -> None:
    """Keyset pages by (status, name), worst first: each job there at the start is on exactly
    one page whatever is added between two pages; none twice, none skipped. Both ways of
    reading statuses: every job evaluated, and what an alert loop settled."""
    from cronwatch.alerts.cycle import run_alert_cycle
    from cronwatch.health.model import PRIORITY

    now = T0 + timedelta(hours=5, minutes=30)
    with open_database(database_url) as db:
        add_jobs(db, 0, 150)
        if with_loop:
            run_alert_cycle(db, None, now, worker="w")
        first = {
            row.status.name for row in load_overview(db, None, Filters(), now, page_size=500).rows
        }
        added: list[str] = []

        def add(page_number: int) -> None:
            start = 150 + page_number * 3
            add_jobs(db, start, 3)  # names after the first jobs; some fail (sorted first)
            added.extend(f"job-{j:04d}" for j in range(start, start + 3))

        names = _every_page(db, Filters(), now, add)
        pages = [load_overview(db, None, Filters(), now, page_size=40)]
        assert pages[0].rows[0].status.severity > 0, "problems first"
    assert len(names) == len(set(names)), "no job twice"
    assert first <= set(names), "every job there from the start, once"
    assert set(names) <= first | set(added)
    ranks = {status: n for n, status in enumerate(PRIORITY)}
    assert pages[0].counts and sum(pages[0].counts.values()) == pages[0].total
    assert list(pages[0].counts) == sorted(pages[0].counts, key=ranks.__getitem__)


def test_a_filtered_page_keeps_its_filters_in_the_next_link(database_url: str) -> None:
    now = T0 + timedelta(hours=5, minutes=30)
    with open_database(database_url) as db:
        add_jobs(db, 0, 120)
        failing = Filters(statuses=("failing",))
        names = _every_page(db, failing, now, lambda page: None)
        page = load_overview(db, None, failing, now, page_size=5)
    assert names == sorted(f"job-{j:04d}" for j in range(0, 120, 7)), "only failing, each once"
    assert page.next is not None and "status=failing" in failing.query(after=page.next)


@pytest.mark.parametrize("statuses", [(), ("problems",), ("ok", "failing")])
@pytest.mark.parametrize("stateless", [True, False], ids=["new-jobs", "every-job-stored"])
def test_settled_pages_are_the_evaluated_order_and_counts(
    database_url: str, statuses: tuple[str, ...], stateless: bool
) -> None:
    """With an alert loop beating, the pages come from the stored statuses (an index range
    per status) and the due jobs evaluated: together they must list exactly the jobs, in
    exactly the order, and count exactly what evaluating every job gives; no job twice, none
    missing, no stale stored status where a run changed the job after the cycle. Both ways
    of counting: jobs without a stored status (the join), every job stored (the aggregate
    of stored statuses less the due jobs')."""
    from collections import Counter

    from cronwatch.alerts.cycle import run_alert_cycle
    from cronwatch.health.model import PRIORITY
    from cronwatch.health.service import job_statuses, settled_page

    now = T0 + timedelta(hours=4, minutes=30)
    filters = Filters(statuses=statuses)
    with open_database(database_url) as db:
        add_jobs(db, 0, 90 if stateless else 100)
        run_alert_cycle(db, None, now, worker="w")
        # After the cycle: new jobs (never looked at) and new runs of settled jobs, one a
        # failure of a job stored "ok": all due, to evaluate, not to take from the store.
        if stateless:
            add_jobs(db, 90, 10)
        start = to_us(T0 + timedelta(hours=4, minutes=10))
        failure = ("job-0001", "host-1", "r5", "failure", 1, start, start + 60_000_000)
        db.execute(db.sql(_INSERT), (*failure, 60_000_000, None))
        assert (
            settled_page(db, None, now=now, statuses=PRIORITY, after=None, limit=5) is not None
        ), "the loop's statuses are used"
        truth = job_statuses(db, None, now=now, learn=False)
        names: list[str] = []
        after = None
        for _ in range(20):
            page = load_overview(db, None, filters, now, after=after, page_size=17)
            names += [row.status.name for row in page.rows]
            assert page.total == len(truth)
            assert page.counts == {
                status: n
                for status, n in sorted(
                    Counter(s.status for s in truth).items(), key=lambda i: PRIORITY.index(i[0])
                )
            }
            if page.next is None:
                break
            after = page.next
    expected = [s.name for s in truth if filters.shows(s)]
    assert "job-0001" in {s.name for s in truth if s.status == "failing"}
    assert names == expected


@pytest.mark.parametrize("case", ["deleted-job", "lost-status"])
def test_settled_counts_leave_out_deleted_jobs_and_count_jobs_without_a_stored_status(
    database_url: str, case: str
) -> None:
    """The kept counts (migration 0014) against what evaluating every job gives, where the
    stored statuses and the jobs differ: a deleted job whose stored status stays (it must not
    be counted, though as many statuses are stored as there are jobs once a new job came),
    or a settled job whose stored status is gone (it must be evaluated and counted)."""
    from collections import Counter

    from cronwatch.alerts.cycle import run_alert_cycle
    from cronwatch.health.service import job_statuses
    from cronwatch.storage.jobs import JobStore

    now = T0 + timedelta(hours=4, minutes=30)
    with open_database(database_url) as db:
        add_jobs(db, 0, 60)
        run_alert_cycle(db, None, now, worker="w")
        if case == "deleted-job":
            JobStore(db).delete("job-0007")  # failing; its stored status stays behind
            add_jobs(db, 60, 1)  # a new job, due: as many stored statuses as jobs again
        else:
            db.execute("DELETE FROM job_states WHERE name = 'job-0014' AND hostname = ''")
        truth = job_statuses(db, None, now=now, learn=False)
        page = load_overview(db, None, Filters(), now, page_size=100)
    assert page.total == len(truth) == 60
    assert page.counts == dict(Counter(s.status for s in truth))
    assert [row.status.name for row in page.rows] == [s.name for s in truth]
    assert "job-0007" not in {row.status.name for row in page.rows} or case != "deleted-job"


_FILTERED_CONFIG = """
[jobs.declared-db]
schedule = "0 * * * *"
tags = ["db"]

[jobs.declared-web]
schedule = "0 * * * *"
hosts = ["web-1"]
"""

SCOPES = [
    Filters(tag="db"),
    Filters(tag="c_fé%"),  # LIKE's wildcards and a non-ASCII letter, stored escaped or plain
    Filters(tag="nowhere"),
    Filters(host="host-1"),  # seen running: jobs without declared hosts
    Filters(host="web-1"),  # declared: a declared host is listed even before any run
    Filters(host="db"),  # a host named like a tag: the tag's jobs must not come with it
    Filters(q="-00"),
    Filters(q="API"),  # ignoring case
    Filters(q="SS"),  # ignoring case beyond ASCII: "Straße" folds to "strasse"
    Filters(tag="db", host="host-1"),
    Filters(tag="db", statuses=("problems",)),
    Filters(q="api", tag="web", statuses=("ok", "late")),
]


@pytest.mark.parametrize("filters", SCOPES, ids=lambda f: f.query() or "none")
def test_filtered_settled_pages_are_the_evaluated_ones(
    database_url: str, tmp_path: Path, filters: Filters
) -> None:
    """With an alert loop beating, a tag, host or name filter reads the stored statuses of its
    candidates (and evaluates the jobs that can have changed): its pages and counts must be
    exactly those of every job evaluated and filtered. Candidates are found by text (specs
    mentioning the tag or host), so a job that mentions the text elsewhere (a host named like
    the tag, a description) must be checked out, and a job whose spec was stored with the
    tag escaped must be found."""
    import json
    from collections import Counter

    from cronwatch.alerts.cycle import run_alert_cycle
    from cronwatch.health.service import job_statuses, settled_rest
    from cronwatch.jobs import JobsService
    from tests.support.alerting import write_config

    config = write_config(tmp_path, _FILTERED_CONFIG)
    now = T0 + timedelta(hours=4, minutes=30)
    with open_database(database_url) as db:
        add_jobs(db, 0, 40)
        service = JobsService(db, config)
        kinds: list[dict[str, Any]] = [
            {"tags": ["db"]},
            {"tags": ["web", "c_fé%"], "description": '"db" is mentioned here'},
            {"hosts": ["web-1", "db"], "tags": ["web"]},
            {"hosts": ["host-1"]},
            {},
        ]
        for j in range(20):
            service.create(f"api-{j:02d}", {"schedule": "0 * * * *", **kinds[j % 5]})
        service.create("Straße", {"schedule": "0 * * * *", "tags": ["db"]})
        # A spec stored with the tag unescaped (another writer's JSON): found all the same.
        db.execute(
            "UPDATE jobs SET spec = ? WHERE name = 'api-01'",
            (json.dumps({"schedule": "0 * * * *", "tags": ["c_fé%"]}, ensure_ascii=False),),
        )
        run_alert_cycle(db, config, now, worker="w")
        # After the cycle: new jobs and a new failure, due (evaluated, not read as stored).
        add_jobs(db, 40, 8)
        start = to_us(T0 + timedelta(hours=4, minutes=10))
        failure = ("api-03", "host-1", "x1", "failure", 1, start, start + 60_000_000)
        db.execute(db.sql(_INSERT), (*failure, 60_000_000, None))
        assert settled_rest(db, config, now) is not None, "the loop's statuses are used"
        every = job_statuses(db, config, now=now, learn=False)
        truth = [s for s in every if filters.in_scope(s)]
        names: list[str] = []
        after = None
        for _ in range(30):
            page = load_overview(db, config, filters, now, after=after, page_size=4)
            names += [row.status.name for row in page.rows]
            assert (page.total, page.in_scope) == (len(every), len(truth))
            assert page.counts == dict(Counter(s.status for s in truth))
            if page.next is None:
                break
            after = page.next
    assert names == [s.name for s in truth if filters.shows(s)]
    if filters.tag == "c_fé%":
        assert {"api-01", "api-06"} <= set(names)
    if filters.q == "SS":
        assert names == ["Straße"]
