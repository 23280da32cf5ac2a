"""cronwatch's jobs as Healthchecks' API v3 shows and changes checks: :class:`ChecksApi`.

A job is a check: its ``uuid`` is the job's ping UUID, its ``name`` and ``slug`` the job's
name (the name is what a slug ping, ``/ping/<ping_key>/<name>``, names), ``tags`` its tags
joined by spaces, ``grace`` its grace in seconds, and its schedule is ``timeout`` (an
``every ...`` interval: Healthchecks' "simple" kind) or ``schedule`` with ``tz`` (a cron or
``OnCalendar`` expression). A job without a schedule (cronwatch learns one) shows the learned
interval, or a day, as ``timeout``.

Statuses: cronwatch's richer ones map onto Healthchecks' words (:data:`STATUS_WORDS`); the
word is ``status``, cronwatch's own is ``cronwatch_status`` with its reason
``cronwatch_reason``. A run in progress is ``"started": true`` (API v3 never says
``started`` as a status, as Healthchecks' v3 does not).

Changes (create, update) take Healthchecks' fields, checked as Healthchecks checks them (the
same ``{"error": "json validation error: ..."}`` answers), and write the job's cronwatch
fields (:mod:`cronwatch.healthchecks.fields`); a job is not renamed (a different ``name`` or
``slug`` on update is refused). Errors are :class:`~cronwatch.healthchecks.fields.HcError`:
the status code and message Healthchecks answers.

One concept, hence its length (a little over 400 lines): the checks as the API shows them,
each read and change the API offers (checks, pings, flips, badges, channels) mapped onto
cronwatch's jobs, runs and events; the request fields live in ``fields``.
"""

from __future__ import annotations

import hashlib
import json
import uuid as uuidlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cronwatch.errors import Conflict, CronwatchError, LimitReached, NotFound
from cronwatch.health.evaluate import evaluate
from cronwatch.health.model import JobFacts, JobStatus, Status
from cronwatch.healthchecks.fields import (
    DEFAULT_TIMEOUT,
    MAX_SECONDS,
    HcError,
    cronwatch_fields,
    validate,
)
from cronwatch.jobs import JobsService
from cronwatch.names import UUID_PATTERN, validate_name
from cronwatch.schedule import CronSchedule, IntervalSchedule, OnCalendarSchedule
from cronwatch.specs import Config
from cronwatch.storage.alerts.events import EventStore
from cronwatch.storage.connection import Database
from cronwatch.storage.jobs import JobStore
from cronwatch.storage.runs import RunStore
from cronwatch.timeutil import utcnow

#: cronwatch's statuses as Healthchecks' words (``new``, ``up``, ``grace``, ``down``,
#: ``paused``): late is Healthchecks' grace period; missing, failing and hung are down; the
#: runtime warnings (slow, fast, too_often) and a run in progress are up.
STATUS_WORDS: dict[Status, str] = {
    "new": "new",
    "paused": "paused",
    "ok": "up",
    "running": "up",
    "slow": "up",
    "fast": "up",
    "too_often": "up",
    "late": "grace",
    "missing": "down",
    "failing": "down",
    "hung": "down",
}

#: How many pings ``pings`` lists (Healthchecks' default ping log limit).
PING_LOG_LIMIT = 100


@dataclass(frozen=True, slots=True)
class _Check:
    facts: JobFacts
    status: JobStatus


class ChecksApi:
    """The checks of one database (with the server's config file), as API v3 shows them;
    ``site`` is the server's base URL for the URLs in the answers."""

    def __init__(
        self,
        db: Database,
        config: Config | None,
        site: str,
        version: int = 3,
        *,
        max_jobs: int | None = None,
    ) -> None:
        self.db = db
        self.config = config
        self.site = site.rstrip("/")
        self.version = version  # 1, 2 or 3: the API version of the URLs (and v1's "started")
        self.jobs = JobsService(db, config, max_jobs=max_jobs)
        self.store = JobStore(db)

    # -- reading ------------------------------------------------------------------------------

    def list_checks(
        self, *, tags: Iterable[str] = (), slug: str | None = None, readonly: bool = False
    ) -> list[dict[str, Any]]:
        """Every check, or those with every tag of ``tags`` and the slug ``slug``."""
        wanted = set(tags)
        return [
            self.to_json(check, readonly=readonly)
            for check in self._checks()
            if wanted.issubset(check.facts.spec.tags)
            and (not slug or check.facts.spec.name == slug)
        ]

    def get(self, uuid: str, *, readonly: bool = False) -> dict[str, Any]:
        return self.to_json(self._by_uuid(uuid), readonly=readonly)

    def get_by_unique_key(self, unique_key: str) -> dict[str, Any]:
        for check in self._checks():
            if check.facts.uuid and unique_key_of(check.facts.uuid) == unique_key:
                return self.to_json(check, readonly=True)
        raise HcError(404, "not found")

    def uuid_of_unique_key(self, unique_key: str) -> str:
        for record in self.store.records():
            if record.uuid and unique_key_of(record.uuid) == unique_key:
                return record.uuid
        raise HcError(404, "not found")

    def pings(self, uuid: str) -> list[dict[str, Any]]:
        """The check's latest pings, newest first: each run is its start (when it was
        started apart) and its finish, each ``/log`` line a ``log`` ping. ``n`` tells them
        apart, so that a ping's body is found by it: ``3 * id`` of the run for a finish (its
        output), one less for its start, ``3 * id - 2`` of the event for a log line."""
        check = self._by_uuid(uuid)
        name, code = check.facts.spec.name, str(check.facts.uuid)
        base = f"{self.site}/api/v{self.version}/checks/{code}/pings"
        page, _ = RunStore(self.db).page(name, limit=PING_LOG_LIMIT)
        pings: list[dict[str, Any]] = []
        for run_key, run in page:
            rid = run.run_id if UUID_PATTERN.fullmatch(run.run_id) else None
            common = {"scheme": "http", "remote_addr": run.hostname, "method": "", "ua": "",
                      "rid": rid}  # fmt: skip
            if run.date_completed is not None:
                n = 3 * run_key
                finish: dict[str, Any] = {
                    "type": "success" if run.outcome == "success" else "fail",
                    "date": run.date_completed.isoformat(),
                    "n": n,
                    **common,
                    "body_url": f"{base}/{n}/body" if run.output else None,
                }
                if run.date_completed > run.date_started:
                    seconds = (run.date_completed - run.date_started).total_seconds()
                    finish["duration"] = round(seconds, 2)
                if run.exit_code is not None:
                    finish["exitstatus"] = run.exit_code
                pings.append(finish)
            if run.date_completed is None or run.date_completed > run.date_started:
                pings.append({"type": "start", "date": run.date_started.isoformat(),
                              "n": 3 * run_key - 1, **common, "body_url": None})  # fmt: skip
        for event in EventStore(self.db).log_lines(name, limit=PING_LOG_LIMIT):
            assert event.id is not None
            n = 3 * event.id - 2
            pings.append({"type": "log", "date": event.at.isoformat(), "n": n, "scheme": "http",
                          "remote_addr": event.hostname, "method": "", "ua": "", "rid": None,
                          "body_url": f"{base}/{n}/body" if event.text else None})  # fmt: skip
        pings.sort(key=lambda ping: ping["date"], reverse=True)
        return pings[:PING_LOG_LIMIT]

    def ping_body(self, uuid: str, n: int) -> str:
        """The body of ping ``n`` (a run's output, a log line's text); 404 when it has none."""
        check = self._by_uuid(uuid)
        name = check.facts.spec.name
        body = None
        if n > 0 and n % 3 == 0:
            body = RunStore(self.db).output_by_key(name, n // 3)
        elif n > 0 and n % 3 == 1:
            found = EventStore(self.db).events_by_id([(n + 2) // 3]).get((n + 2) // 3)
            if found is not None and found.name == name and found.kind == "log":
                body = found.text
        if not body:
            raise HcError(404, "not found")
        return body

    def flips(self, uuid: str, query: Mapping[str, str]) -> list[dict[str, Any]]:
        """The check's status changes, newest first, as ``{"timestamp", "up"}``; ``seconds``,
        ``start`` and ``end`` (Unix times) narrow them as in Healthchecks."""
        check = self._by_uuid(uuid)
        bounds: dict[str, int] = {}
        for field in ("seconds", "start", "end"):
            if field in query:
                value = query[field]
                if not value.isdigit() or (field == "seconds" and int(value) > MAX_SECONDS):
                    raise HcError(400, "bad request")
                bounds[field] = int(value)
        now = utcnow()
        flips = []
        for event in EventStore(self.db).events(check.facts.spec.name, limit=1000):
            if event.hostname or event.kind in ("log", "ack") or event.old_status == "":
                continue
            at = event.at
            if "start" in bounds and at < _unix(bounds["start"]):
                continue
            if "end" in bounds and at >= _unix(bounds["end"]):
                continue
            if "seconds" in bounds and at < now - timedelta(seconds=bounds["seconds"]):
                continue
            up = STATUS_WORDS.get(event.new_status, "down") == "up"  # type: ignore[call-overload]
            flips.append({"timestamp": at.replace(microsecond=0).isoformat(), "up": int(up)})
        return flips

    def channels(self) -> list[dict[str, str]]:
        """The config file's alert channels: ``id`` (a UUID derived from the name), ``name``,
        ``kind`` (the channel's type)."""
        channels = self.config.channels if self.config is not None else {}
        return [
            {"id": channel_id(name), "name": name, "kind": str(spec.type)}
            for name, spec in channels.items()
        ]

    def badge(self, tag: str) -> tuple[str, int, int, int]:
        """The badge of the checks with ``tag`` (``*``: all): its status (``up``, ``late``
        when one is in its grace period, ``down`` when one is down), and the numbers of
        checks, of those in their grace period and of those down."""
        status, total, grace, down = "up", 0, 0, 0
        for check in self._checks():
            if tag != "*" and tag not in check.facts.spec.tags:
                continue
            total += 1
            word = STATUS_WORDS[check.status.status]
            if word == "down":
                down += 1
                status = "down"
            elif word == "grace":
                grace += 1
                if status == "up":
                    status = "late"
        return status, total, grace, down

    # -- changing -----------------------------------------------------------------------------

    def create(self, body: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
        """Create a check, or with ``unique`` update the first one matching those fields;
        the check and whether it was created (201) rather than updated (200)."""
        fields = validate(body)
        existing = self._lookup(fields)
        if existing is not None:
            return self._update(existing, fields), False
        name = fields.get("slug") or fields.get("name") or str(uuidlib.uuid4())
        try:
            name = validate_name(name, "name")
        except CronwatchError as exc:
            raise HcError(400, f"json validation error: {exc}") from None
        spec = cronwatch_fields(fields, {}, creating=True)
        try:
            self.jobs.create(name, spec)
        except Conflict as exc:
            raise HcError(409, str(exc)) from None
        except LimitReached as exc:  # Healthchecks: 403 when the checks limit is reached
            raise HcError(403, str(exc)) from None
        except CronwatchError as exc:
            raise HcError(400, str(exc)) from None
        return self._json_of(name), True

    def update(self, uuid: str, body: Mapping[str, Any]) -> dict[str, Any]:
        fields = validate(body)
        return self._update(self._by_uuid(uuid).facts.spec.name, fields)

    def pause(self, uuid: str) -> dict[str, Any]:
        name = self._by_uuid(uuid).facts.spec.name
        self._change(lambda: self.jobs.set_paused(name, True))
        return self._json_of(name)

    def resume(self, uuid: str) -> dict[str, Any]:
        check = self._by_uuid(uuid)
        if not check.facts.spec.paused:
            raise HcError(409, "check is not paused")
        name = check.facts.spec.name
        self._change(lambda: self.jobs.set_paused(name, False))
        return self._json_of(name)

    def delete(self, uuid: str) -> dict[str, Any]:
        check = self._by_uuid(uuid)
        shown = self.to_json(check)
        self._change(lambda: self.jobs.delete(check.facts.spec.name))
        return shown

    # -- helpers ------------------------------------------------------------------------------

    def _checks(self) -> list[_Check]:
        now = utcnow()
        declared = dict(self.config.jobs) if self.config is not None else {}
        if declared:
            self.store.sync_declared(declared.values(), now)
        self.store.refresh_baselines(now)
        facts = sorted(self.store.facts(declared), key=lambda f: f.created)
        return [_Check(f, evaluate(f, now)) for f in facts]

    def _by_uuid(self, uuid: str) -> _Check:
        record = self.store.by_uuid(uuid)
        if record is None:
            raise HcError(404, "not found")
        for check in self._checks():
            if check.facts.spec.name == record.name:
                return check
        raise HcError(404, "not found")

    def _json_of(self, name: str) -> dict[str, Any]:
        for check in self._checks():
            if check.facts.spec.name == name:
                return self.to_json(check)
        raise HcError(404, "not found")

    def _lookup(self, fields: Mapping[str, Any]) -> str | None:
        unique = fields.get("unique")
        if not unique or any(fields.get(f) is None for f in unique):
            return None
        for check in self._checks():
            spec = check.facts.spec
            shown = self.to_json(check)
            matches = {
                "name": spec.name == fields.get("name"),
                "slug": spec.name == fields.get("slug"),
                "tags": shown["tags"] == fields.get("tags"),
                "timeout": shown.get("timeout") == fields.get("timeout"),
                "grace": shown["grace"] == fields.get("grace"),
            }
            if all(matches[f] for f in unique):
                return spec.name
        return None

    def _update(self, name: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        for field in ("slug", "name"):
            if fields.get(field) and fields[field] != name:
                raise HcError(400, f"cronwatch cannot rename a job ({name!r}); {field} differs")
        record = self.store.record(name)
        current = json.loads(record.spec) if record is not None and record.spec else {}
        patch = cronwatch_fields(fields, current, creating=False)
        if patch:
            self._change(lambda: self.jobs.update(name, patch))
        return self._json_of(name)

    @staticmethod
    def _change(change: Any) -> None:
        try:
            change()
        except NotFound:
            raise HcError(404, "not found") from None
        except Conflict as exc:
            raise HcError(409, str(exc)) from None
        except CronwatchError as exc:
            raise HcError(400, str(exc)) from None

    def to_json(self, check: _Check, *, readonly: bool = False) -> dict[str, Any]:
        """One check as Healthchecks' API v3 shows it (``readonly``: to a read-only key, with
        ``unique_key`` instead of the UUID and the URLs), plus ``cronwatch_status`` and
        ``cronwatch_reason``."""
        facts, status = check.facts, check.status
        code = facts.uuid or ""
        result = self._shown(facts, status, code)
        if status.last_duration:
            result["last_duration"] = int(status.last_duration.total_seconds())
        if readonly:
            result["unique_key"] = unique_key_of(code)
        else:
            result.update(self._urls(code, facts.spec.alerts))
        result.update(_schedule_fields(facts))
        result["cronwatch_status"] = status.status
        result["cronwatch_reason"] = status.reason
        return result

    def _shown(self, facts: JobFacts, status: JobStatus, code: str) -> dict[str, Any]:
        """The fields every key sees: the job's, its status in Healthchecks' word, its pings."""
        spec = facts.spec
        last = [t for h in facts.hosts for t in (h.last_started, h.last_completed) if t]
        word = STATUS_WORDS[status.status]
        if self.version == 1 and facts.running and word != "down":
            word = "started"  # API v1 still says so; v2 and v3 say "started": true
        return {
            "name": spec.name,
            "slug": spec.name,
            "tags": " ".join(spec.tags),
            "desc": spec.description or "",
            "grace": int(spec.grace.total_seconds()),
            "n_pings": sum(h.runs_total for h in facts.hosts),
            "status": word,
            "started": bool(facts.running),
            "last_ping": _iso(max(last, default=None)),
            # Healthchecks expects a next ping only of a check that is up (or in its grace)
            "next_ping": _iso(status.next_due) if word in ("up", "grace") else None,
            **_UNUSED_FIELDS,
            "badge_url": f"{self.site}/b/2/{badge_id(code)}.svg",
        }

    def _urls(self, code: str, alerts: Iterable[str]) -> dict[str, Any]:
        """What only a read-write key sees: the UUID, the check's URLs, its channels."""
        update_url = f"{self.site}/api/v{self.version}/checks/{code}"
        return {
            "uuid": code,
            "ping_url": f"{self.site}/ping/{code}",
            "update_url": update_url,
            "pause_url": update_url + "/pause",
            "resume_url": update_url + "/resume",
            "channels": ",".join(channel_id(name) for name in alerts),
        }


#: The fields of a check cronwatch has no use for, as Healthchecks shows them unset.
_UNUSED_FIELDS: dict[str, Any] = {
    "manual_resume": False,
    "methods": "",
    "subject": "",
    "subject_fail": "",
    "start_kw": "",
    "success_kw": "",
    "failure_kw": "",
    "filter_subject": False,
    "filter_body": False,
    "filter_http_body": False,
    "filter_default_fail": False,
}


def _schedule_fields(facts: JobFacts) -> dict[str, Any]:
    """``schedule`` and ``tz`` of a cron or OnCalendar job, else ``timeout``: the job's
    interval, the learned one, or Healthchecks' default."""
    spec = facts.spec
    schedule = spec.schedule
    if isinstance(schedule, CronSchedule):
        return {"schedule": schedule.expression, "tz": spec.timezone}
    if isinstance(schedule, OnCalendarSchedule):
        return {"schedule": schedule.expression.removeprefix("OnCalendar="), "tz": spec.timezone}
    period = schedule.period if isinstance(schedule, IntervalSchedule) else None
    if period is None and facts.baseline is not None:
        period = facts.baseline.interval
    return {"timeout": int(period.total_seconds()) if period else DEFAULT_TIMEOUT}


def unique_key_of(code: str) -> str:
    """Healthchecks' ``unique_key`` of a check: the SHA-1 of the first half of its UUID's hex
    digits (what a read-only key sees instead of the UUID)."""
    return hashlib.sha1(code.replace("-", "")[:16].encode()).hexdigest()


def badge_id(code: str) -> str:
    """A check's badge id: a UUID derived from its ping UUID, which it does not reveal."""
    return str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"cronwatch-badge:{code}"))


def channel_id(name: str) -> str:
    """A channel's ``id`` in API v3: a UUID derived from its name (stable across restarts)."""
    return str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"cronwatch-channel:{name}"))


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).replace(microsecond=0).isoformat()


def _unix(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
