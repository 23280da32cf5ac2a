"""Files a test writes."""

from __future__ import annotations

from pathlib import Path


def write(path: Path, text: str) -> Path:
    """``text`` written to ``path`` (its directories made); ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
