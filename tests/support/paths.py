"""The repository's folders, for tests that read its files."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
SRC = REPO / "src" / "cronwatch"
ARTIFACTS = REPO / "test-artifacts"
