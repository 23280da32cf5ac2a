"""The rules for identifiers: names (of jobs, hosts, tags, channels) and run ids.

Names
    A name is shown in alerts, dashboards, URLs (``/ping/<key>/<name>``) and statsd metric
    names, and it is typed by people into crontabs. So it must be:

    - a string, non-empty, at most :data:`MAX_NAME_LENGTH` characters;
    - free of control characters (U+0000-U+001F, U+007F-U+009F): they break log lines,
      terminals and email headers, and are never what the user meant;
    - free of invisible format characters (Unicode category Cf, :data:`FORMAT_CHARACTERS`):
      ``"backup"`` and ``"backup"`` + U+200B (zero width space) would be two jobs that look
      the same, and the bidi controls among them (U+061C, U+200E, U+200F, U+202A-U+202E,
      U+2066-U+2069) make a name display as another;
    - valid Unicode (no lone surrogates: neither database can store one);
    - free of ``/``, which would make ``/ping/<key>/<name>`` ambiguous;
    - without leading or trailing whitespace, which is invisible in every display and would
      make ``"backup"`` and ``"backup "`` two different jobs.

    Anything else, including spaces inside, dots and non-ASCII letters, is allowed. A valid
    name comes back in Unicode normalisation form NFC, so that ``"café"`` typed with a
    combining accent and with a precomposed ``é`` is one job; the length limit holds for the
    name as given and for its NFC form.

Run ids
    A run id pairs a start with its finish. It is 1 to :data:`MAX_RUN_ID_LENGTH` characters of
    ``A-Z a-z 0-9 . _ : ~ -`` (:data:`RUN_ID_CHARACTERS`), for the library, the ping URLs
    (``?rid=``) and ``POST /api/v1/runs`` alike: a run id travels in URLs unescaped, names
    the run's file in the spool and is printed in logs, and a run recorded locally must be
    recordable through a server. A UUID's hex digits, a timestamp or ``host:pid`` fit.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from cronwatch.errors import InvalidInput

MAX_NAME_LENGTH = 200
#: Host names follow DNS's limit.
MAX_HOST_LENGTH = 255
MAX_RUN_ID_LENGTH = 64
#: The characters of a run id, as a regular expression character class's content.
RUN_ID_CHARACTERS = "A-Za-z0-9._:~-"
_RUN_ID = re.compile(f"[{RUN_ID_CHARACTERS}]{{1,{MAX_RUN_ID_LENGTH}}}")

#: Unicode category Cf (format characters), as inclusive code point ranges: Unicode 15.1's,
#: which holds every earlier version's (tests check it against :mod:`unicodedata`).
FORMAT_CHARACTERS: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD),  # soft hyphen
    (0x0600, 0x0605),  # Arabic number signs
    (0x061C, 0x061C),  # Arabic letter mark (bidi)
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),  # Mongolian vowel separator
    (0x200B, 0x200F),  # zero width space, non-joiner, joiner; LRM, RLM (bidi)
    (0x202A, 0x202E),  # bidi embeddings and overrides
    (0x2060, 0x2064),  # word joiner, invisible operators
    (0x2066, 0x206F),  # bidi isolates, deprecated format characters
    (0xFEFF, 0xFEFF),  # zero width no-break space (BOM)
    (0xFFF9, 0xFFFB),  # interlinear annotation
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),  # Egyptian hieroglyph format controls
    (0x1BCA0, 0x1BCA3),  # shorthand format controls
    (0x1D173, 0x1D17A),  # musical symbol format controls
    (0xE0001, 0xE0001),  # language tag
    (0xE0020, 0xE007F),  # tag characters
)
#: The characters no name may hold, as a regular expression character class's content:
#: controls and :data:`FORMAT_CHARACTERS` (the OpenAPI document's name pattern uses it too).
FORBIDDEN_NAME_CHARACTERS = "\\x00-\\x1f\\x7f-\\x9f" + "".join(
    chr(low) if low == high else f"{chr(low)}-{chr(high)}" for low, high in FORMAT_CHARACTERS
)

#: :func:`validate_name` as a regular expression (for the OpenAPI document): no control or
#: format character, no "/", no whitespace at either end. NFC is not a pattern's business.
NAME_PATTERN = (
    rf"^[^\s/{FORBIDDEN_NAME_CHARACTERS}](?:[^/{FORBIDDEN_NAME_CHARACTERS}]*"
    rf"[^\s/{FORBIDDEN_NAME_CHARACTERS}])?$"
)

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


@functools.cache
def _format_characters() -> frozenset[str]:
    # Built on first use: only names that are not ASCII need it.
    return frozenset(chr(code) for low, high in FORMAT_CHARACTERS for code in range(low, high + 1))


def _show(value: str) -> str:
    # Quote with repr() so control characters and spaces are visible; cut it short so that an
    # oversized value does not flood the error message.
    return repr(value) if len(value) <= 60 else repr(value[:57]) + "..."


def validate_name(value: str, field: str = "name", *, max_length: int = MAX_NAME_LENGTH) -> str:
    """``value`` in NFC if it is a valid name (see the module docstring); raise
    :class:`InvalidInput` otherwise.

    The error message starts with ``field`` and shows the offending value (truncated,
    quoted). ``max_length`` overrides the length limit for identifiers with their own (host
    names: :data:`MAX_HOST_LENGTH`).
    """
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string, not {type(value).__name__}")
    if not value:
        raise InvalidInput(f"{field} must not be empty")
    if len(value) > max_length:
        raise _too_long(value, field, max_length)
    if _CONTROL.search(value):
        raise InvalidInput(f"{field} must not contain control characters: {_show(value)}")
    if not value.isascii():  # ASCII is NFC and has no format characters: the common case
        value = _normalised(value, field)
        if len(value) > max_length:
            raise _too_long(value, field, max_length)
    if "/" in value:
        raise InvalidInput(f"{field} must not contain '/': {_show(value)}")
    if value != value.strip():
        raise InvalidInput(f"{field} must not start or end with whitespace: {_show(value)}")
    return value


def _too_long(value: str, field: str, max_length: int) -> InvalidInput:
    return InvalidInput(
        f"{field} is too long ({len(value)} characters, at most {max_length}): {_show(value)}"
    )


def _normalised(value: str, field: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (from a bad decode somewhere upstream) cannot be stored by either
        # database nor sent in a URL.
        raise InvalidInput(f"{field} is not valid Unicode text: {_show(value)}") from None
    invisible_characters = _format_characters()
    if not invisible_characters.isdisjoint(value):
        invisible = next(char for char in value if char in invisible_characters)
        raise InvalidInput(
            f"{field} must not contain invisible format or bidi control characters "
            f"(U+{ord(invisible):04X}): {_show(value)}"
        )
    return unicodedata.normalize("NFC", value)


def validate_run_id(value: object, field: str = "run_id") -> str:
    """``value`` if it is a valid run id (see the module docstring); raise
    :class:`InvalidInput` starting with ``field`` otherwise."""
    if not isinstance(value, str) or _RUN_ID.fullmatch(value) is None:
        shown = _show(value) if isinstance(value, str) else type(value).__name__
        raise InvalidInput(
            f"{field} {shown} must be 1-{MAX_RUN_ID_LENGTH} characters of A-Z a-z 0-9 . _ : ~ -"
        )
    return value


#: A job's ping UUID as Healthchecks writes check UUIDs (and its URLs accept them): lowercase
#: hex digits in the 8-4-4-4-12 form.
UUID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def new_uuid() -> str:
    """A fresh random (version 4) ping UUID."""
    import uuid

    return str(uuid.uuid4())


def validate_uuid(value: object, field: str = "uuid") -> str:
    """``value`` if it is a UUID in :data:`UUID_PATTERN`'s form; :class:`InvalidInput` if not."""
    if not isinstance(value, str) or not UUID_PATTERN.fullmatch(value):
        raise InvalidInput(f"{field} must be a UUID in lowercase (8-4-4-4-12 hex digits)")
    return value
