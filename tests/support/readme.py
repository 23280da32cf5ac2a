"""The README's examples as the tests read them: its fenced blocks by language, and its crontab
lines with the documented install prefix (``/opt/cronwatch``) put where this cronwatch is."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
#: Where the README installs cronwatch (``python3 -m venv /opt/cronwatch``).
README_CRONWATCH = "/opt/cronwatch/bin/cronwatch"

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Block:
    """A fenced block of the README: its language, text and first line number."""

    language: str
    text: str
    line: int


def blocks(language: str | None = None) -> list[Block]:
    """The README's fenced blocks, in order (only ``language``'s when given)."""
    text = README.read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        line = text.count("\n", 0, match.start(2)) + 1
        if language is None or match.group(1) == language:
            found.append(Block(match.group(1), match.group(2), line))
    return found


def this_cronwatch() -> str:
    """The absolute path of the ``cronwatch`` script on PATH (the one these tests run)."""
    path = shutil.which("cronwatch")
    assert path is not None, "cronwatch is not on PATH"
    return str(Path(path).absolute())


def as_installed_here(line: str) -> str:
    """A README crontab line with this machine's cronwatch where the README installs it."""
    return line.replace(README_CRONWATCH, this_cronwatch())
