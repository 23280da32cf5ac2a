"""Database URLs in messages and logs: every password replaced by ``***``."""

from __future__ import annotations

import pytest

from cronwatch.storage.url import parse_database_url, redact


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:pw@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:p%40ss@h:5433/db", "postgresql://u:***@h:5433/db"),
        (
            "postgresql://u@h/db?password=pw&sslmode=require",
            "postgresql://u@h/db?password=***&sslmode=require",
        ),
        (
            "postgresql://u@h/db?sslmode=require&PASSWORD=pw",
            "postgresql://u@h/db?sslmode=require&PASSWORD=***",
        ),
        # nothing secret: unchanged
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        (
            "sqlite:////var/lib/cronwatch/password=x.db",
            "sqlite:////var/lib/cronwatch/password=x.db",
        ),
    ],
)
def test_redact(url: str, shown: str) -> None:
    assert redact(url) == shown


@pytest.mark.parametrize(
    ("url", "has"),
    [
        ("postgresql://u:pw@h/db", True),
        ("postgresql://u@h/db?sslmode=require&PASSWORD=x", True),
        ("postgresql://u@h/db", False),
        ("sqlite:////var/lib/cronwatch/cronwatch.db", False),
    ],
)
def test_has_password(url: str, has: bool) -> None:
    assert parse_database_url(url).has_password is has
