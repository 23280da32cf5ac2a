"""The facts an alert message gives beyond its line: the hosts concerned, the last run (its
host, exit code and, when it failed, the end of its output) and the job's tags, taken from
what the cycle observed (one query more, for the output, and only for a failed last run)."""

from __future__ import annotations

from cronwatch.alerts.model import OUTPUT_TAIL_CHARS, OUTPUT_TAIL_LINES, Details
from cronwatch.alerts.observe import Observation
from cronwatch.health.model import SEVERITY
from cronwatch.storage.connection import Database
from cronwatch.storage.runs import RunStore


def event_details(db: Database, obs: Observation) -> Details:
    """The details of a message about ``obs``'s job, as it is now."""
    facts, status = obs.facts, obs.status
    concerned = tuple(
        (host.hostname, host.status)
        for host in status.hosts
        if host.hostname and SEVERITY.get(host.status, 0) > 0
    )
    declared = set(facts.spec.hosts)
    finished = [
        row
        for row in facts.hosts
        if row.last_completed is not None and (not declared or row.hostname in declared)
    ]
    if not finished:
        return Details(hosts=concerned, tags=facts.spec.tags)
    last = max(finished, key=lambda row: row.last_completed or facts.created)
    tail = None
    if last.last_outcome == "failure":
        run = RunStore(db).last_finished(facts.spec.name, last.hostname)
        if run is not None and run.output:
            tail = output_tail(run.output)
    return Details(
        hosts=concerned,
        last_host=last.hostname,
        exit_code=last.last_exit_code,
        last_completed=last.last_completed,
        output_tail=tail,
        tags=facts.spec.tags,
    )


def output_tail(output: str) -> str | None:
    """The last lines of ``output`` worth reading: at most :data:`OUTPUT_TAIL_LINES` lines and
    :data:`OUTPUT_TAIL_CHARS` characters, trailing blank lines dropped."""
    lines = output.rstrip().splitlines()[-OUTPUT_TAIL_LINES:]
    text = "\n".join(line.rstrip() for line in lines)
    if len(text) > OUTPUT_TAIL_CHARS:
        text = "..." + text[-(OUTPUT_TAIL_CHARS - 3) :]
    return text or None
