"""What an alert loop's decisions and deadlines depend on in its config, as a fingerprint that
loops sharing a database compare.

Every loop stores the next deadline of the jobs it evaluated, computed from *its* config: the
declared jobs' schedules, graces, hosts and alert fields, the ``[alerts]`` defaults and the
maintenance windows. A loop whose config differs (a replica whose file was not updated yet)
writes deadlines that another loop's incremental cycles would trust: with a longer grace, a
job the other loop should find missing at slot + 2 minutes would not be due for it before
slot + 30 minutes. So each loop beats with the fingerprint of its config
(:class:`ConfigFingerprint`, stored in ``workers.config``), and a loop that finds a recent
beat with another fingerprint evaluates every job each cycle while it lasts
(:mod:`cronwatch.alerts.cycle`), and warns naming what differs (:data:`KINDS`).

A fingerprint is one digest per kind of setting, so that the difference can be named without
storing the config. Settings that change no decision are left out: ``[alerts] interval``, the
channels' addresses, the jobs' descriptions, ``[retention]``, ``[server]``, ``[limits]``,
``[metrics]``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from cronwatch.specs import AlertSettings, Config

#: The kinds of settings a fingerprint tells apart, and how messages name them.
KINDS: Mapping[str, str] = {
    "jobs": "declared jobs ([jobs.*])",
    "alerts": "[alerts] settings",
    "maintenance": "maintenance windows ([[maintenance]])",
}


@dataclass(frozen=True)
class ConfigFingerprint:
    """One digest per kind of :data:`KINDS`."""

    digests: Mapping[str, str]

    def text(self) -> str:
        """As stored: ``{"alerts": "...", "jobs": "...", "maintenance": "..."}``."""
        return json.dumps(dict(sorted(self.digests.items())), separators=(",", ":"))

    @classmethod
    def parse(cls, text: str | None) -> ConfigFingerprint | None:
        """A stored fingerprint (``None``: none stored, or not one of ours)."""
        if not text:
            return None
        try:
            value = json.loads(text)
        except ValueError:
            return None
        if not isinstance(value, dict):
            return None
        return cls({str(k): str(v) for k, v in value.items()})

    def differences(self, other: ConfigFingerprint) -> tuple[str, ...]:
        """The kinds (keys of :data:`KINDS`) whose settings differ from ``other``'s, in
        :data:`KINDS` order; a kind only one of the two knows differs."""
        kinds = [*KINDS, *sorted((set(self.digests) | set(other.digests)) - set(KINDS))]
        return tuple(k for k in kinds if self.digests.get(k) != other.digests.get(k))


def describe(kinds: Iterable[str]) -> str:
    """``kinds`` as words: "declared jobs ([jobs.*]) and [alerts] settings"."""
    words = [KINDS.get(kind, kind) for kind in kinds]
    return " and ".join(filter(None, [", ".join(words[:-1]), words[-1]])) if words else ""


def config_fingerprint(config: Config | None) -> ConfigFingerprint:
    """The fingerprint of what ``config`` (``None``: no config file) gives the alert loop to
    decide with. Equal settings give equal fingerprints whatever their order in the file."""
    settings = config.alerts if config is not None else AlertSettings()
    jobs = sorted(config.jobs.values(), key=lambda spec: spec.name) if config else []
    windows = config.maintenance if config is not None else ()
    return ConfigFingerprint(
        {
            # A description is for people: it changes no decision.
            "jobs": _digest(repr(replace(spec, description=None)) for spec in jobs),
            # The interval changes when a loop looks, not what it decides.
            "alerts": _digest([repr(replace(settings, interval=AlertSettings.interval))]),
            # A window's place in the file ("maintenance[0]") is for messages only.
            "maintenance": _digest(sorted(repr(replace(w, where="")) for w in windows)),
        }
    )


def _digest(lines: Iterable[str]) -> str:
    # The reprs of the frozen specs: every field that defines them (a schedule's expression
    # and timezone, durations, instants), none of their caches.
    hasher = hashlib.sha256()
    for line in lines:
        hasher.update(line.encode())
        hasher.update(b"\n")
    return hasher.hexdigest()[:16]


def config_groups(
    configs: Mapping[str, str | None],
) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """The loops of ``configs`` (loop name: stored fingerprint) grouped by config: ``(loop
    names, kinds that differ from the first group's config)``, the largest group first (its
    kinds empty). Loops that stored no fingerprint are left out. One group: they agree."""
    groups: dict[str, list[str]] = {}
    for name, text in sorted(configs.items()):
        if ConfigFingerprint.parse(text) is not None and text is not None:
            groups.setdefault(text, []).append(name)
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[1][0]))
    if not ordered:
        return []
    first = ConfigFingerprint.parse(ordered[0][0])
    assert first is not None
    found = []
    for text, names in ordered:
        theirs = ConfigFingerprint.parse(text)
        assert theirs is not None
        found.append((tuple(names), first.differences(theirs)))
    return found
