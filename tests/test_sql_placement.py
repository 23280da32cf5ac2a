"""Every SQL statement lives in ``cronwatch.storage``; dialect variations live in its dialect
classes. These tests read the source (``ast``), so they fail the moment a statement or an
``if db.dialect == ...`` branch is written anywhere else in ``src/cronwatch``.

Docstrings are documentation, not statements, and are not read. Alembic's folder
(``storage/migrations``: frozen history and Alembic's own environment) is left alone.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "cronwatch"
STORAGE = SRC / "storage"
DIALECT_MODULE = STORAGE / "dialect.py"
MIGRATIONS = STORAGE / "migrations"

# The shapes of SQL text, whole or in pieces (statements are often built from fragments).
_SQL = [
    re.compile(r"^\s*SELECT\s+(\d+\b|\*|[A-Z]+\(|DISTINCT\b)"),  # a statement's start
    re.compile(r"^\s*PRAGMA\s+[a-z_]+"),
    re.compile(r"^\s*WITH\s+\w+\s+AS\s*\("),
    re.compile(r"\bSELECT\b.*\bFROM\b", re.DOTALL),
    re.compile(r"\bINSERT\s+INTO\b"),
    re.compile(r"\bUPDATE\s+\w+\s+SET\b"),
    re.compile(r"\bDELETE\s+FROM\b"),
    re.compile(r"\bFROM\s+\w+(\s+\w+)?\s+(WHERE|ORDER\s+BY|GROUP\s+BY|JOIN|LIMIT)\b"),
    re.compile(r"\bON\s+CONFLICT\b"),
    re.compile(r"\bWHERE\s+\w+(\.\w+)?\s*(=|<|>|<>|IN|IS)\s*(\?|%s|\(|NULL\b)"),
]


def sql_shaped(text: str) -> bool:
    """Whether ``text`` looks like SQL (or a piece of a statement)."""
    return any(pattern.search(text) for pattern in _SQL)


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def sql_literals(path: Path) -> Iterator[tuple[int, str]]:
    """``(line, text)`` of every string literal of ``path`` that looks like SQL."""
    tree = ast.parse(path.read_text(), str(path))
    skip = _docstrings(tree)
    lines = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
            continue
        if id(node) not in skip and node.lineno not in lines and sql_shaped(node.value):
            lines.add(node.lineno)
            yield node.lineno, node.value


def dialect_branches(path: Path) -> Iterator[tuple[int, str]]:
    """``(line, source)`` of every comparison of something named ``dialect`` with a string."""
    source = path.read_text()
    for node in ast.walk(ast.parse(source, str(path))):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        names = " ".join(ast.unparse(side) for side in sides)
        strings = [s for s in sides if isinstance(s, ast.Constant) and isinstance(s.value, str)]
        if "dialect" in names and strings:
            yield node.lineno, ast.get_source_segment(source, node) or names


def _modules(*, outside: Path) -> list[Path]:
    return sorted(
        path
        for path in SRC.rglob("*.py")
        if not path.is_relative_to(outside) and not path.is_relative_to(MIGRATIONS)
    )


def test_no_sql_outside_storage() -> None:
    found = [
        f"{path.relative_to(SRC)}:{line}: {text.strip()[:70]!r}"
        for path in _modules(outside=STORAGE)
        for line, text in sorted(sql_literals(path))
    ]
    assert not found, "SQL belongs in cronwatch.storage, behind a named store method:\n" + (
        "\n".join(found)
    )


def test_no_dialect_branches_outside_the_dialect_module() -> None:
    found = [
        f"{path.relative_to(SRC)}:{line}: {text}"
        for path in _modules(outside=DIALECT_MODULE)
        for line, text in sorted(dialect_branches(path))
    ]
    assert not found, (
        "a SQLite/PostgreSQL variation is a method of the dialect classes in "
        "cronwatch.storage.dialect, not an if-branch:\n" + "\n".join(found)
    )


@pytest.mark.parametrize(
    "text",
    [
        "SELECT 1",
        "SELECT MAX(completed_us) FROM runs WHERE name = ?",
        "INSERT INTO jobs (name) VALUES (?) ON CONFLICT (name) DO NOTHING",
        "UPDATE deliveries SET claim = NULL WHERE event_id = ?",
        "DELETE FROM events",
        "FROM runs WHERE name = ? AND started_us < ?",
        " ON CONFLICT (name) DO UPDATE SET x = excluded.x",
        " WHERE revoked_us IS NULL",
        "\nUPDATE deliveries SET claim = ?, next_attempt_us = ?\nWHERE (event_id, channel) IN (",
        "PRAGMA integrity_check",
    ],
)
def test_sql_is_recognised(text: str) -> None:
    assert sql_shaped(text)


@pytest.mark.parametrize(
    "text",
    [
        "select a job from the list",
        "the run was deleted from the database",
        "backup didn't run on db2 since 03:00 UTC",
        "UPDATE",
        "a key revoked by `cronwatch key revoke` in another process is refused",
        "SELECT your channels with care",
    ],
)
def test_prose_is_not_sql(text: str) -> None:
    assert not sql_shaped(text)


def test_the_checks_read_what_they_claim(tmp_path: Path) -> None:
    """The scanners themselves: a statement in an f-string or a concatenation is found, a
    docstring is not; a dialect branch is found however it is spelled."""
    module = tmp_path / "offender.py"
    module.write_text(
        '"""SELECT x FROM runs WHERE name = ? (a docstring)."""\n'
        "def f(db, table):\n"
        '    """DELETE FROM runs (a docstring)."""\n'
        '    db.query(f"DELETE FROM {table} WHERE name = ?")\n'
        '    db.query("SELECT COUNT(*) " + "FROM runs WHERE name = ?")\n'
        '    same = "a" if db.dialect == "sqlite" else "b"\n'
        '    if "postgresql" != db.dialect.name:\n'
        "        pass\n"
    )
    assert sorted(line for line, _ in sql_literals(module)) == [4, 5]
    assert sorted(line for line, _ in dialect_branches(module)) == [6, 7]
