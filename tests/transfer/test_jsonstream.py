"""The streaming reader of exports: one JSON object's members in order, an array's elements one
at a time (constant memory whatever the size of a section), whatever the chunk boundaries."""

from __future__ import annotations

import io
import json

from cronwatch.transfer.jsonstream import JsonObjectReader


class _CountingStream(io.StringIO):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.read_so_far = 0

    def read(self, size: int | None = -1) -> str:
        chunk = super().read(size)
        self.read_so_far += len(chunk)
        return chunk


def test_the_reader_streams_large_sections() -> None:
    """The first run of a 20 MB export is in hand after reading a few kilobytes of it: runs
    are read one at a time, never the whole section."""
    runs = ",\n".join(json.dumps({"name": "j", "output": "x" * 1000, "n": i}) for i in range(20000))
    text = '{"format": "cronwatch-export",\n"runs": [\n' + runs + "\n]}"
    stream = _CountingStream(text)
    members = JsonObjectReader(stream, chunk=4096).members()
    assert next(members) == ("format", "cronwatch-export")
    key, elements = next(members)
    first = next(iter(elements))
    assert key == "runs" and first["n"] == 0
    assert stream.read_so_far < 10_000 < len(text)
    assert sum(1 for _ in elements) == 19_999
    assert list(members) == []


def test_a_number_split_between_two_reads_is_read_whole() -> None:
    text = '{"version": 12345678, "runs": [1234, 5678]}'
    for chunk in range(1, len(text) + 1):
        members = JsonObjectReader(io.StringIO(text), chunk=chunk).members()
        found = [(k, list(v) if not isinstance(v, int) else v) for k, v in members]
        assert found == [("version", 12345678), ("runs", [1234, 5678])], chunk
