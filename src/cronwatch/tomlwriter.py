"""Writing TOML: keys, values and comments, for the files cronwatch writes (the importers'
``[jobs.NAME]`` tables) and the key paths its messages show (``jobs."nightly report".grace``).

The standard library reads TOML (:mod:`tomllib`) but does not write it; cronwatch writes only
keys, strings, booleans, integers, lists of strings and comments, so this is all of it.
Control characters never appear raw: strings and quoted keys escape them as ``\\uXXXX``
(visible in a message, valid in a file) and comments show them as ``\\xNN`` (a comment cannot
hold them at all).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

#: The values :func:`value` writes.
Value = str | bool | int | Sequence[str]
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_COMMENT_FORBIDDEN = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def string(value: str) -> str:
    """``value`` as a TOML basic string: ``"`` and ``\\`` escaped by a backslash, control
    characters (U+0000-U+001F, U+007F-U+009F) as ``\\uXXXX``."""
    out = ['"']
    for char in value:
        if char in '"\\':
            out.append("\\" + char)
        elif ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def key(name: str, *, max_chars: int | None = None) -> str:
    """``name`` as one key of a dotted TOML key: bare when it can be, else a quoted string.

    ``max_chars`` shortens a long name to that many characters (``...`` at the end), for
    messages: the result is then for people to read, not for a file.
    """
    if _BARE_KEY.fullmatch(name):
        return name
    if max_chars is not None and len(name) > max_chars:
        name = name[: max_chars - 3] + "..."
    return string(name)


def comment(text: str, *, max_chars: int | None = None) -> str:
    """``text`` made safe for one TOML comment line (what follows ``# ``): control characters
    other than tab shown as ``\\xNN``, blanks at either end removed, and at most ``max_chars``
    characters (``...`` at the end)."""
    text = _COMMENT_FORBIDDEN.sub(lambda m: f"\\x{ord(m.group()):02x}", text).strip()
    if max_chars is not None and len(text) > max_chars:
        text = text[: max_chars - 3] + "..."
    return text


def value(item: Value) -> str:
    """``item`` as a TOML value: a string (:func:`string`), ``true``/``false``, an integer, or
    an inline array of strings."""
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int):
        return str(item)
    if isinstance(item, str):
        return string(item)
    return "[" + ", ".join(string(each) for each in item) + "]"
