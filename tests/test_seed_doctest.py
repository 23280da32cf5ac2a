"""The original spec (Launchpad's script-monitoring doctest), ported, must pass as a doctest on
both databases."""

from __future__ import annotations

import doctest
from pathlib import Path

SEED = Path(__file__).resolve().parent.parent / "docs" / "script-monitoring.rst"


def test_seed_doctest_passes(database_url: str) -> None:
    result = doctest.testfile(
        str(SEED),
        module_relative=False,
        globs={"DATABASE_URL": database_url},
        optionflags=doctest.ELLIPSIS,
        raise_on_error=False,
        verbose=False,
    )
    assert result.attempted >= 20, "the doctest ran far fewer examples than it holds"
    assert result.failed == 0
