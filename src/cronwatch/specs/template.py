"""Webhook templates: a URL or a request body with ``{placeholder}`` fields filled in per event.

A placeholder is ``{name}`` with ``name`` one of :data:`PLACEHOLDERS`; any other ``{word}``
(lower-case letters and ``_``) is refused when the config is loaded, naming the field, so that
a misspelt ``{jbo}`` never reaches a receiver. Every other brace is literal, so a JSON body
needs no escaping: ``{"text": "{text}"}``.

Each value is escaped for where it goes (:data:`Escape`):

- ``json``: a JSON body; the value is JSON-escaped without its quotes, so placeholders go
  *inside* JSON strings (``"{job}"``). A body that is not valid JSON once filled in (a
  placeholder outside a string, a missing quote) is refused at load time.
- ``form``: an ``application/x-www-form-urlencoded`` body; values are form-encoded.
- ``url``: a URL; values are percent-encoded (``/`` too), so a job name cannot change the path.
- ``raw``: any other body (``text/plain``): values as they are.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, quote_plus

from cronwatch.errors import InvalidInput

Escape = Literal["json", "form", "url", "raw"]

#: The placeholders, and what each holds (the README and the error messages list them).
PLACEHOLDERS: Mapping[str, str] = {
    "job": "the job's name",
    "host": "the hosts concerned, comma-separated, or empty",
    "status": "the job's status now: missing, failing, ..., ok",
    "previous_status": "the status before",
    "kind": "problem, reminder, escalation, recovery or test",
    "reason": "why, in words",
    "summary": "the one-line message",
    "text": "the whole plain-text message (several lines)",
    "title": "a short title",
    "at": "when, ISO 8601 in UTC",
    "since": "when the incident started, ISO 8601, or empty",
    "incident": "the incident's id, the same for its problem, reminders and recovery",
    "url": "the job's page ([server] public_url), or empty",
    "exit_code": "the last run's exit code, or empty",
    "output_tail": "the last lines of the last failed run's output, or empty",
    "tags": "the job's tags, comma-separated",
    "severity": "critical, warning or info",
}

_FIELD = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True)
class Template:
    """A parsed template: literal text and placeholders, and how values are escaped."""

    source: str
    escape: Escape

    def fields(self) -> frozenset[str]:
        return frozenset(_FIELD.findall(self.source))

    def render(self, values: Mapping[str, str]) -> str:
        """The text with every placeholder replaced by its escaped value (missing: empty)."""
        escape = _ESCAPES[self.escape]

        def fill(match: re.Match[str]) -> str:
            return escape(values.get(match.group(1), ""))

        return _FIELD.sub(fill, self.source)


def _json_escape(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)[1:-1]


_ESCAPES: Mapping[str, Callable[[str], str]] = {
    "json": _json_escape,
    "form": lambda value: quote_plus(value, safe=""),
    "url": lambda value: quote(value, safe=""),
    "raw": lambda value: value,
}

#: Values that a JSON body must survive: quotes, backslashes, newlines, braces, Unicode.
_AWKWARD = 'a "quoted" \\ back\\slash,\nnew line\t{brace} ünïcødé ☃ \u2028'


def parse_template(where: str, text: str, escape: Escape) -> Template:
    """``text`` as a template escaped by ``escape``; :class:`InvalidInput` naming ``where`` for
    an unknown placeholder, or a JSON body that is not JSON once filled in."""
    for match in _FIELD.finditer(text):
        if match.group(1) not in PLACEHOLDERS:
            import difflib  # only on this error path

            close = difflib.get_close_matches(match.group(1), PLACEHOLDERS, n=1)
            hint = f' (did you mean "{{{close[0]}}}"?)' if close else ""
            raise InvalidInput(
                f"{where}: unknown placeholder {match.group(0)}{hint}; "
                f"placeholders: {', '.join('{' + name + '}' for name in PLACEHOLDERS)}"
            )
    template = Template(text, escape)
    if escape == "json":
        filled = template.render(dict.fromkeys(PLACEHOLDERS, _AWKWARD))
        try:
            json.loads(filled)
        except ValueError as exc:
            raise InvalidInput(
                f"{where}: not valid JSON once filled in ({exc}); placeholders go inside "
                'JSON strings, e.g. {"text": "{text}"}'
            ) from None
    return template


def body_escape(content_type: str | None) -> Escape:
    """How a body sent with ``content_type`` escapes its values (default: JSON)."""
    kind = (content_type or "application/json").split(";")[0].strip().lower()
    if kind == "application/json" or kind.endswith("+json"):
        return "json"
    if kind == "application/x-www-form-urlencoded":
        return "form"
    return "raw"
