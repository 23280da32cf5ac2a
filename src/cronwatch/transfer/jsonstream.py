"""Reading one large JSON object a piece at a time: its members in order, and the elements of
its array members one by one, so that an export of millions of runs is imported in constant
memory. Any valid JSON layout is read (not only the one ``cronwatch export`` writes); what is
not valid JSON, or ends early, raises :class:`InvalidInput` saying where.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, TextIO

from cronwatch.errors import InvalidInput

#: The largest single value (one run, one job) read: beyond it the input is refused rather
#: than buffered without bound.
MAX_VALUE = 16 * 1024 * 1024

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


class Elements(Iterator[Any]):
    """The elements of an array member: an iterator, read on demand (before the reader moves
    on to the next member); ``count`` is how many were read."""

    def __init__(self, reader: JsonObjectReader, key: str) -> None:
        self._reader = reader
        self.key = key
        self.count = 0
        self._items = self._read()

    def __next__(self) -> Any:
        return next(self._items)

    def _read(self) -> Iterator[Any]:
        reader = self._reader
        if reader.peek() == "]":
            reader.pos += 1
            return
        while True:
            value = reader.value(f"{self.key}[{self.count}]")
            self.count += 1
            yield value
            char = reader.peek()
            if char == ",":
                reader.pos += 1
            elif char == "]":
                reader.pos += 1
                return
            else:
                reader.fail(f"after {self.key}[{self.count - 1}]", char, "',' or ']'")

    def drain(self) -> None:
        for _ in self:
            pass


class JsonObjectReader:
    """The members of the JSON object that ``stream`` holds: ``(key, value)`` pairs, where the
    value of an array member is an :class:`Elements` to iterate."""

    def __init__(self, stream: TextIO, chunk: int = 1 << 16) -> None:
        self.stream = stream
        self.chunk = chunk
        self.text = ""
        self.pos = 0
        self.offset = 0  # characters read before ``text`` begins (for error positions)
        self.eof = False

    def members(self) -> Iterator[tuple[str, Any]]:
        if self.peek() != "{":
            self.fail("at the start", self.peek(), "a JSON object ('{')")
        self.pos += 1
        if self.peek() == "}":
            self.pos += 1
        else:
            while True:
                key = self.value("a member name")
                if not isinstance(key, str):
                    self.fail("in the object", repr(key), "a member name")
                if self.peek() != ":":
                    self.fail(f"after {key!r}", self.peek(), "':'")
                self.pos += 1
                if self.peek() == "[":
                    self.pos += 1
                    elements = Elements(self, key)
                    yield key, elements
                    elements.drain()
                else:
                    yield key, self.value(key)
                char = self.peek()
                if char == ",":
                    self.pos += 1
                    continue
                if char == "}":
                    self.pos += 1
                    break
                self.fail(f"after {key!r}", char, "',' or '}'")
        if self.peek() != "":
            raise InvalidInput(f"unexpected data after the end of the document {self._where()}")

    # -- the buffer ---------------------------------------------------------------------------

    def peek(self) -> str:
        """The next character that is not whitespace ('' at the end of the input)."""
        while True:
            self.pos = _WHITESPACE.match(self.text, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self._more():
                return ""

    def value(self, what: str) -> Any:
        """The JSON value starting at the next character, read whole."""
        self.peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as exc:
                if self.eof or len(self.text) - self.pos > MAX_VALUE:
                    raise self._invalid(what, exc) from None
            else:
                # A value that ends with the buffer may go on in the next chunk (a number).
                if end < len(self.text) or self.eof:
                    self.pos = end
                    return value
            self._more()

    def _more(self) -> bool:
        if self.eof:
            return False
        chunk = self.stream.read(self.chunk)
        if not chunk:
            self.eof = True
            return False
        self.offset += self.pos
        self.text = self.text[self.pos :] + chunk
        self.pos = 0
        return True

    # -- errors -------------------------------------------------------------------------------

    def fail(self, where: str, found: str, expected: str) -> None:
        if found == "":
            raise InvalidInput(f"the document ends early {where} (is it truncated?)")
        raise InvalidInput(f"expected {expected} {where}, found {found!r} {self._where()}")

    def _invalid(self, what: str, exc: json.JSONDecodeError) -> InvalidInput:
        if not self.eof:
            return InvalidInput(f"{what} is larger than {MAX_VALUE:,} characters, or not JSON")
        if exc.pos >= len(self.text) - 1 or "Unterminated" in exc.msg:
            return InvalidInput(f"the document ends inside {what} (is it truncated?)")
        at = self.offset + exc.pos
        return InvalidInput(f"{what} is not valid JSON: {exc.msg} (character {at})")

    def _where(self) -> str:
        return f"(character {self.offset + self.pos})"
