"""The rule every job name (and similar identifier: host, tag, channel) must follow.

A name is shown in alerts, dashboards, URLs (``/ping/<key>/<name>``) and statsd metric names,
and it is typed by people into crontabs. So it must be:

- a string, non-empty, at most :data:`MAX_NAME_LENGTH` characters;
- free of control characters (U+0000-U+001F, U+007F-U+009F): they break log lines, terminals
  and email headers, and are never what the user meant;
- free of ``/``, which would make ``/ping/<key>/<name>`` ambiguous;
- without leading or trailing whitespace, which is invisible in every display and would make
  ``"backup"`` and ``"backup "`` two different jobs.

Anything else, including spaces inside, dots and non-ASCII letters, is allowed.
"""

from __future__ import annotations

import re

from cronwatch.errors import InvalidInput

MAX_NAME_LENGTH = 200


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def _show(value: str) -> str:
    # Quote with repr() so control characters and spaces are visible; cut it short so that an
    # oversized value does not flood the error message.
    return repr(value) if len(value) <= 60 else repr(value[:57]) + "..."


def validate_name(value: str, field: str = "name", *, max_length: int = MAX_NAME_LENGTH) -> str:
    """Return ``value`` unchanged if it is a valid name; raise :class:`InvalidInput` otherwise.

    The error message names ``field`` and shows the offending value (truncated, quoted).
    ``max_length`` overrides the length limit for identifiers with their own (host names: 255).
    """
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string, not {type(value).__name__}")
    if not value:
        raise InvalidInput(f"{field} must not be empty")
    if len(value) > max_length:
        raise InvalidInput(
            f"{field} is too long ({len(value)} characters, at most {max_length}): {_show(value)}"
        )
    if _CONTROL.search(value):
        raise InvalidInput(f"{field} must not contain control characters: {_show(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (from a bad decode somewhere upstream) cannot be stored by either
        # database nor sent in a URL.
        raise InvalidInput(f"{field} is not valid Unicode text: {_show(value)}") from None
    if "/" in value:
        raise InvalidInput(f"{field} must not contain '/': {_show(value)}")
    if value != value.strip():
        raise InvalidInput(f"{field} must not start or end with whitespace: {_show(value)}")
    return value
