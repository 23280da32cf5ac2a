"""CronJobs from Kubernetes manifests: YAML documents (``---`` between them; JSON is YAML
too), each a ``CronJob``, or a ``List`` (``kind: List``, ``CronJobList``: what ``kubectl get
cronjobs -A -o yaml`` prints) of them. Other kinds are counted and left alone; a ``CronJob``
of an API group other than ``batch`` (a custom resource) is skipped with its reason."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from cronwatch.errors import InvalidInput

#: The CronJob API versions Kubernetes has served (v1 since 1.21; v1beta1 until 1.25).
BATCH_VERSIONS = ("batch/v1", "batch/v1beta1", "batch/v2alpha1")


@dataclass
class Manifests:
    """What a file held: ``cronjobs`` (each a mapping, as written), ``skipped`` (``(what,
    why)``) and ``others`` (how many documents of each other kind)."""

    cronjobs: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    others: Counter[str] = field(default_factory=Counter)


def read_manifests(text: str, source: str) -> Manifests:
    """The CronJobs of ``text``; :class:`InvalidInput` naming ``source`` and the line when it
    is not YAML."""
    import yaml  # only this command needs a YAML parser

    found = Manifests()
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InvalidInput(f"{source}{where}: not YAML: {problem}") from None
    for number, document in enumerate(documents, start=1):
        _collect(document, f"{source}, document {number}", found)
    return found


def _collect(document: object, where: str, found: Manifests) -> None:
    if document is None:
        return  # an empty document ("---" at the end)
    if not isinstance(document, dict):
        found.skipped.append((where, f"not a Kubernetes object but a {type(document).__name__}"))
        return
    kind = document.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(document.get("items"), list):
        for index, item in enumerate(document["items"]):
            _collect(item, f"{where}, item {index}", found)
        return
    if kind != "CronJob":
        found.others[str(kind)] += 1
        return
    version = document.get("apiVersion")
    if version not in BATCH_VERSIONS:
        found.skipped.append(
            (
                where,
                f"apiVersion {str(version)[:40]!r} is not Kubernetes' CronJob "
                f"({', '.join(BATCH_VERSIONS)})",
            )
        )
        return
    found.cronjobs.append(document)
