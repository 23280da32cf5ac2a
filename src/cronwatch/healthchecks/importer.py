"""``cronwatch import-healthchecks``: a running Healthchecks' checks (read through its API v3)
as cronwatch jobs, each keeping its ping UUID so that every client keeps working unchanged.

:func:`fetch_checks` reads the checks (a read-write API key: a read-only one hides the UUIDs),
:func:`plan` turns each into an :class:`Imported` job or says why it cannot be carried over,
and lists what of a carried check is lost (:attr:`Imported.notes`); :func:`apply` creates the
jobs (declared as through the API, ``source`` ``api``) with their UUIDs. A check becomes:

- name: the check's slug, else its name (a check with neither is skipped);
- ``timeout`` -> ``schedule = "every <timeout>s"``; a cron ``schedule`` with ``tz`` ->
  ``schedule`` and ``timezone``; an ``OnCalendar`` one -> ``on_calendar``;
- ``grace`` -> ``grace``, ``tags`` -> ``tags``, ``desc`` -> ``description``, a paused check
  -> ``paused = true``.

Not carried over, and said so per check: the integrations (cronwatch's
channels are its config file's), ``manual_resume``, ``methods = "POST"``, the keyword filters
(email pings and body keywords), and the check's history (pings, flips).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cronwatch.errors import CronwatchError, InvalidInput
from cronwatch.healthchecks.fields import calendar_lines, is_cron, split_tags
from cronwatch.names import UUID_PATTERN, validate_name
from cronwatch.storage.connection import Database
from cronwatch.storage.jobs import JobStore
from cronwatch.timeutil import utcnow

#: Seconds to wait for the Healthchecks server.
TIMEOUT = 30


@dataclass(frozen=True)
class Imported:
    """A check as a cronwatch job: its ``name``, its ping ``uuid``, its ``fields`` (the config
    file's names) and ``notes``: what of it is not carried over."""

    name: str
    uuid: str
    fields: dict[str, Any]
    notes: tuple[str, ...] = ()


@dataclass
class Plan:
    """What an import does: the jobs to create, and the checks it cannot carry over with the
    reason (``(check name or uuid, why)``)."""

    jobs: list[Imported] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def fetch_checks(url: str, api_key: str) -> list[dict[str, Any]]:
    """The checks of the Healthchecks at ``url`` (its base URL) that ``api_key`` sees;
    :class:`InvalidInput` saying what went wrong."""
    request = urllib.request.Request(
        url.rstrip("/") + "/api/v3/checks/", headers={"X-Api-Key": api_key}
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            data = json.load(response)
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:200]
        raise InvalidInput(f"{url} answered {exc.code}: {detail}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise InvalidInput(f"cannot read the checks of {url}: {exc}") from None
    checks = data.get("checks") if isinstance(data, dict) else None
    if not isinstance(checks, list):
        raise InvalidInput(f"{url} did not answer a list of checks")
    return [check for check in checks if isinstance(check, dict)]


def plan(checks: Iterable[Mapping[str, Any]]) -> Plan:
    """Each check as a job, or the reason it cannot be one."""
    result = Plan()
    seen: set[str] = set()
    for check in checks:
        label = str(check.get("name") or check.get("uuid") or "?")
        code = check.get("uuid")
        if not isinstance(code, str) or not UUID_PATTERN.fullmatch(code):
            result.skipped.append((label, "no UUID shown: use a read-write API key"))
            continue
        raw_name = check.get("slug") or check.get("name")
        try:
            name = validate_name(str(raw_name), "name") if raw_name else None
        except CronwatchError as exc:
            result.skipped.append((label, str(exc)))
            continue
        if name is None:
            result.skipped.append((code, "neither a slug nor a name to name the job by"))
            continue
        if name in seen:
            result.skipped.append((label, f"another check is named {name!r} already"))
            continue
        fields, notes = _fields(check)
        seen.add(name)
        result.jobs.append(Imported(name, code, fields, tuple(notes)))
    return result


def _fields(check: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    fields: dict[str, Any] = {}
    notes: list[str] = []
    schedule = check.get("schedule")
    if isinstance(schedule, str) and schedule.strip():
        if is_cron(schedule):
            fields["schedule"] = schedule.strip()
        else:
            lines = calendar_lines(schedule)
            fields["on_calendar"] = lines if len(lines) > 1 else lines[0]
        if check.get("tz"):
            fields["timezone"] = check["tz"]
    elif isinstance(check.get("timeout"), int):
        fields["schedule"] = f"every {check['timeout']}s"
    if isinstance(check.get("grace"), int):
        fields["grace"] = check["grace"]
    tags = split_tags(str(check.get("tags") or ""))
    if tags:
        fields["tags"] = tags
    if check.get("status") == "paused":
        fields["paused"] = True
    if isinstance(check.get("desc"), str) and check["desc"]:
        fields["description"] = check["desc"]
    if check.get("channels"):
        notes.append("integrations not carried over (use the config file's channels)")
    if check.get("manual_resume"):
        notes.append("manual_resume not carried over (a ping never resumes a paused job)")
    if check.get("methods") == "POST":
        notes.append('methods = "POST" not carried over (every method counts)')
    keywords = [k for k in ("start_kw", "success_kw", "failure_kw") if check.get(k)]
    filters = [f for f in ("filter_subject", "filter_body", "filter_http_body") if check.get(f)]
    if keywords or filters:
        notes.append("keyword filters (email pings, body keywords) not carried over")
    return fields, notes


def apply(db: Database, imported: Sequence[Imported]) -> list[tuple[str, str]]:
    """Create each job with its UUID; ``(name, what happened)`` for each: ``created``, or
    why not (a job of that name exists, its UUID belongs to another job, invalid fields)."""
    from cronwatch.jobs import JobsService

    service = JobsService(db)
    store = JobStore(db)
    report: list[tuple[str, str]] = []
    for job in imported:
        owner = store.by_uuid(job.uuid)
        if owner is not None:
            same = owner.name == job.name
            report.append(
                (
                    job.name,
                    "exists already"
                    if same
                    else f"not created: its UUID belongs to job {owner.name!r}",
                )
            )
            continue
        if store.record(job.name) is not None:
            report.append((job.name, "not created: a job of that name exists"))
            continue
        try:
            service.create(job.name, job.fields)
            store.set_uuid(job.name, job.uuid, utcnow())
        except CronwatchError as exc:
            if store.record(job.name) is not None:  # created, but its UUID could not be set
                store.delete(job.name)
            report.append((job.name, f"not created: {exc}"))
            continue
        report.append((job.name, "created"))
    return report
