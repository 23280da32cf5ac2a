"""The words of alerts: one line per event (its ``text``), and the whole message every channel
sends (:func:`compose`): the same facts everywhere, plain text for chat, short HTML for email.

backup is MISSING: backup didn't run on db2 since 03:00 UTC (last run 2026-11-27 03:00 UTC)
backup is still MISSING (for 4h 2m): backup didn't run on db2 since 03:00 UTC (...)
backup recovered after 5h 10m MISSING: ran 2m ago on db2, took 14m 2s
backup recovered after 1h MISSING, now SLOW: backup took 7m on db2 (max_runtime 5m)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape

from cronwatch.alerts.model import Details, Event
from cronwatch.durations import format_duration
from cronwatch.health.model import SEVERITY


def shout(status: str) -> str:
    """A status as alerts show it: ``MISSING``, ``TOO OFTEN``."""
    return status.replace("_", " ").upper()


def at(t: datetime) -> str:
    """``2026-11-28 03:00 UTC``: alerts are read later and elsewhere, so the date is kept."""
    t = t.astimezone(UTC)
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d} UTC"


def _for(since: datetime | None, now: datetime) -> str:
    if since is None:
        return ""
    return format_duration(max(now - since, timedelta(0)))


def problem_text(name: str, status: str, reason: str) -> str:
    return f"{name} is {shout(status)}: {reason}"


def reminder_text(
    name: str, status: str, reason: str, since: datetime | None, now: datetime, *, why: str = ""
) -> str:
    """``backup is still MISSING (for 4h): ...``; ``why`` goes before the reason."""
    lasting = _for(since, now)
    return (
        f"{name} is still {shout(status)}"
        + (f" (for {lasting})" if lasting else "")
        + f"{why}: {reason}"
    )


def escalation_text(
    name: str, status: str, reason: str, since: datetime | None, now: datetime
) -> str:
    return reminder_text(name, status, reason, since, now, why=" and nobody acknowledged it")


def recovery_text(
    name: str,
    was: str | None,
    reason: str,
    since: datetime | None,
    now: datetime,
    status: str = "ok",
) -> str:
    """``backup recovered after 5h MISSING: ...``; a job that recovered into a lesser
    problem says what it is now (``..., now SLOW: backup took 7m on db1 (max_runtime 5m)``),
    so that the reason is never read as a fine job's."""
    lasting = _for(since, now)
    after = f" after {lasting} {shout(was)}" if lasting and was else ""
    return f"{name} recovered{after}{_now(status)}: {reason}"


def _now(status: str) -> str:
    """``, now SLOW`` for a status that is a problem, else nothing."""
    level = SEVERITY.get(status, 0)  # type: ignore[call-overload]
    return f", now {shout(status)}" if level else ""


def change_text(name: str, hostname: str, old: str, new: str, reason: str) -> str:
    where = f" on {hostname}" if hostname else ""
    return f"{name}{where}: {old} -> {new}: {reason}"


# -- whole messages -----------------------------------------------------------------------------

#: The titles of messages, by event kind.
_TITLES = {
    "problem": "{name} is {status}",
    "reminder": "{name} is still {status}",
    "escalation": "{name} is still {status}, not acknowledged",
    "recovery": "{name} recovered",
    "test": "cronwatch test message",
}


@dataclass(frozen=True)
class Message:
    """What every channel says about one event: the same facts, as a ``title``, the one-line
    ``summary`` (the event's text), the plain ``text`` (chat, SMS gateways, the webhook's
    ``text``) and a short ``html`` (the email's HTML part). ``url`` is the job's page."""

    event: Event
    title: str
    text: str
    html: str
    url: str | None
    severity: str

    @property
    def summary(self) -> str:
        return self.event.text

    def placeholders(self) -> dict[str, str]:
        """The values of a webhook template's placeholders
        (:data:`cronwatch.specs.template.PLACEHOLDERS`)."""
        event, details = self.event, self.event.details or Details()
        hosts = [host for host, _ in details.hosts] or ([event.hostname] if event.hostname else [])
        return {
            "job": event.name,
            "host": ", ".join(hosts),
            "status": event.new_status,
            "previous_status": event.old_status,
            "kind": event.kind,
            "reason": event.reason,
            "summary": event.text,
            "text": self.text,
            "title": self.title,
            "at": event.at.isoformat(),
            "since": event.since.isoformat() if event.since else "",
            "incident": event.incident or "",
            "url": self.url or "",
            "exit_code": "" if details.exit_code is None else str(details.exit_code),
            "output_tail": details.output_tail or "",
            "tags": ", ".join(details.tags),
            "severity": self.severity,
        }


def severity(event: Event) -> str:
    """``critical`` (missing, failing, hung), ``warning`` (other problems) or ``info``
    (recoveries, tests): what PagerDuty and other receivers rank by."""
    if event.kind in ("recovery", "test"):
        return "info"
    level = SEVERITY.get(event.new_status, 0)  # type: ignore[call-overload]
    return "critical" if level >= 2 else "warning"


def compose(event: Event, url: str | None = None) -> Message:
    """The message about ``event``, linking to ``url`` (the job's page) when there is one."""
    template = _TITLES.get(event.kind, "{name}: {status}")
    title = template.format(name=event.name, status=shout(event.new_status))
    if event.kind == "recovery":
        title += _now(event.new_status)
    rows = _facts(event, url) if event.kind != "test" else []
    tail = event.details.output_tail if event.details else None
    text = event.text
    if rows:
        text += "\n\n" + "\n".join(f"{label + ':':<10} {value}" for label, value in rows)
    if tail:
        text += "\nOutput (last lines):\n" + "\n".join("    " + line for line in tail.splitlines())
    return Message(event, title, text, _html(event, rows, tail, url), url, severity(event))


def _facts(event: Event, url: str | None) -> list[tuple[str, str]]:
    """The message's facts, one (label, value) per line."""
    details = event.details or Details()
    rows = [("Job", event.name)]
    if details.hosts:
        rows.append(("Hosts", ", ".join(f"{host} ({status})" for host, status in details.hosts)))
    elif event.hostname:
        rows.append(("Host", event.hostname))
    if event.since is not None:
        lasting = _for(event.since, event.at)
        if event.kind == "recovery":
            rows.append(("Down", f"from {at(event.since)} to {at(event.at)} ({lasting})"))
        else:
            ago = f" ({lasting} ago)" if event.at - event.since >= timedelta(minutes=1) else ""
            rows.append(("Since", at(event.since) + ago))
    if details.last_completed is not None:
        code = "?" if details.exit_code is None else str(details.exit_code)
        rows.append(
            ("Last run", f"exit code {code} on {details.last_host}, {at(details.last_completed)}")
        )
    if details.tags:
        rows.append(("Tags", ", ".join(details.tags)))
    if event.incident:
        rows.append(("Incident", event.incident))
    if url:
        rows.append(("Job page", url))
    return rows


def _html(event: Event, rows: list[tuple[str, str]], tail: str | None, url: str | None) -> str:
    """A short HTML version of the message (every value escaped)."""
    cells = "".join(
        f'<tr><th align="left">{escape(label)}</th><td>'
        + (f'<a href="{escape(value)}">{escape(value)}</a>' if value == url else escape(value))
        + "</td></tr>"
        for label, value in rows
    )
    parts = [f"<p><strong>{escape(event.text)}</strong></p>", f"<table>{cells}</table>"]
    if tail:
        parts.append(f"<p>Output (last lines):</p><pre>{escape(tail)}</pre>")
    if url:
        parts.append(f'<p><a href="{escape(url)}">Open {escape(event.name)} in cronwatch</a></p>')
    return "<html><body>" + "".join(parts) + "</body></html>"
