"""The job that watches a Kubernetes CronJob.

- Name: ``NAMESPACE.NAME``. Job names cannot hold ``/`` (they are URL path segments), and
  ``.`` is unambiguous here: a namespace is a DNS label, which never has a dot (the CronJob's
  own name may). A manifest without a namespace is in ``default_namespace`` (what ``kubectl
  apply`` would use: ``default`` unless told otherwise).
- ``spec.schedule``: a cron expression or macro (``@hourly`` ... ``@yearly``; ``@every 1h``,
  which Kubernetes' cron parser also takes, is an interval), in ``spec.timeZone`` or the zone
  of a ``CRON_TZ=``/``TZ=`` prefix (which Kubernetes before 1.29 honoured); else in the
  controller's zone, ``default_timezone`` (UTC unless told otherwise).
- ``spec.suspend: true``: ``paused``.
- ``spec.startingDeadlineSeconds``: the grace (a run that cannot start by then is skipped by
  Kubernetes, so it is missing), at least 1 minute (a pod takes a while to start).
- ``jobTemplate.spec.activeDeadlineSeconds``: ``max_runtime`` (Kubernetes kills the job then).
- ``concurrencyPolicy: Forbid``: two runs at once must not happen, so ``too_often`` alerts
  (``alert_on`` is the default statuses and ``too_often``).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from cronwatch.configmerge import ImportedJob
from cronwatch.durations import format_duration
from cronwatch.errors import InvalidInput
from cronwatch.names import validate_name
from cronwatch.schedule import CronSchedule, parse_schedule
from cronwatch.specs.alerting import DEFAULT_ALERT_ON

SEPARATOR = "."
MIN_GRACE = timedelta(minutes=1)
_TZ_PREFIX = re.compile(r"\s*(CRON_TZ|TZ)=(\S+)\s+(.*)", re.DOTALL)


def job_name(namespace: str, name: str) -> str:
    """The cronwatch job of CronJob ``name`` in ``namespace``: ``namespace.name``."""
    return f"{namespace}{SEPARATOR}{name}"


def cronjob_job(
    cronjob: dict[str, Any], *, default_namespace: str = "default", default_timezone: str = "UTC"
) -> ImportedJob:
    """The job that watches ``cronjob`` (a mapping as in a manifest); :class:`InvalidInput`
    saying what is wrong with it when it cannot be watched."""
    metadata = _mapping(cronjob.get("metadata"), "metadata")
    spec = _mapping(cronjob.get("spec"), "spec")
    name, namespace = metadata.get("name"), metadata.get("namespace") or default_namespace
    if not isinstance(name, str) or not name:
        raise InvalidInput("metadata.name: missing")
    if not isinstance(namespace, str):
        raise InvalidInput("metadata.namespace: expected a string")
    job = validate_name(job_name(namespace, name), "job name")
    fields: list[tuple[str, str | bool | list[str]]] = []
    comments = [f"CronJob {namespace}/{name} ({cronjob.get('apiVersion')})"]
    expression, timezone = _schedule(spec, default_timezone, comments)
    fields.append(("schedule", expression))
    if timezone != "UTC":
        fields.append(("timezone", timezone))
    deadline = _seconds(spec, "startingDeadlineSeconds", "spec")
    if deadline is not None:
        grace = max(MIN_GRACE, deadline)
        fields.append(("grace", format_duration(grace)))
        comments.append(f"grace: startingDeadlineSeconds={int(deadline.total_seconds())}")
    template = _mapping(
        _mapping(spec.get("jobTemplate"), "spec.jobTemplate").get("spec"), "spec.jobTemplate.spec"
    )
    active = _seconds(template, "activeDeadlineSeconds", "spec.jobTemplate.spec")
    if active is not None and active > timedelta(0):
        fields.append(("max_runtime", format_duration(active)))
        comments.append(
            f"max_runtime: activeDeadlineSeconds={int(active.total_seconds())} "
            "(Kubernetes stops the job then)"
        )
    suspend = spec.get("suspend")
    if suspend is True:
        fields.append(("paused", True))
        comments.append("paused: suspend is true")
    policy = spec.get("concurrencyPolicy", "Allow")
    if policy == "Forbid":
        fields.append(("alert_on", [*DEFAULT_ALERT_ON, "too_often"]))
        comments.append(
            "concurrencyPolicy: Forbid: two runs at once must not happen, so too_often alerts "
            "(a run still going at the next slot makes Kubernetes skip that slot: missing)"
        )
    elif policy == "Replace":
        comments.append("concurrencyPolicy: Replace: a run still going at the next slot is killed")
    comments.extend(_containers(template))
    return ImportedJob(job, tuple(fields), tuple(comments))


def _schedule(spec: dict[str, Any], default_timezone: str, comments: list[str]) -> tuple[str, str]:
    """``(expression, timezone)`` of ``spec.schedule`` and ``spec.timeZone``."""
    text = spec.get("schedule")
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("spec.schedule: missing")
    zone = spec.get("timeZone")
    if zone is not None and not isinstance(zone, str):
        raise InvalidInput("spec.timeZone: expected a string")
    prefixed = _TZ_PREFIX.fullmatch(text)
    if prefixed is not None:
        if zone is not None and zone != prefixed[2]:
            raise InvalidInput(
                f"spec.schedule has {prefixed[1]}={prefixed[2]} and spec.timeZone is {zone}: "
                "Kubernetes refuses both together"
            )
        zone, text = prefixed[2], prefixed[3]
        comments.append(f"timezone: from {prefixed[1]}= in spec.schedule")
    timezone = zone or default_timezone
    # Kubernetes reads "?" as "*" (its documentation says so); cron here does not know it.
    text = " ".join("*" if word == "?" else word for word in text.split())
    if text.lower().startswith("@every "):
        text = "every " + text[len("@every ") :].strip()
    schedule = parse_schedule(text, timezone, field="spec.schedule")
    if isinstance(schedule, CronSchedule) or text.startswith("every "):
        return schedule.expression, timezone
    raise InvalidInput(f"spec.schedule: {text[:60]!r} is not a cron schedule")


def _seconds(mapping: dict[str, Any], key: str, where: str) -> timedelta | None:
    value = mapping.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"{where}.{key}: expected a whole number of seconds, not {value!r}")
    return timedelta(seconds=value)


def _mapping(value: object, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"{where}: expected a mapping, not {type(value).__name__}")
    return value


def _containers(template: dict[str, Any]) -> list[str]:
    """A comment line per container: its image and command."""
    pod = _mapping(_mapping(template.get("template"), "template").get("spec"), "template.spec")
    lines = []
    containers = pod.get("containers")
    for container in containers if isinstance(containers, list) else []:
        if not isinstance(container, dict):
            continue
        argv = [*(container.get("command") or []), *(container.get("args") or [])]
        command = " ".join(str(arg) for arg in argv) or "(the image's entrypoint)"
        lines.append(f"container {container.get('name')}: {container.get('image')}: {command}")
    return lines
