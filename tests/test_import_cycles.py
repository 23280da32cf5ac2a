"""No import cycle in ``src/cronwatch``: the graph of :mod:`tests.support.imports` (function-level
imports and lazy loaders count, ``TYPE_CHECKING`` imports do not) has no cycle; and that graph
does see the cycles the tree once had, rebuilt here with the statements that made them."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.support.imports import cycles, import_graph, main
from tests.support.paths import SRC


def tree(tmp_path: Path, files: dict[str, str]) -> Path:
    """A package ``pkg`` under ``tmp_path`` with ``files`` (path -> source), and an
    ``__init__.py`` in every folder that has none."""
    root = tmp_path / "pkg"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    for folder in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        (folder / "__init__.py").touch()
    return root


def test_the_source_tree_has_no_import_cycle() -> None:
    found = cycles(import_graph(SRC))
    assert found == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_the_graph_covers_the_whole_source_tree() -> None:
    graph = import_graph(SRC)
    assert len(graph) == len(list(SRC.rglob("*.py")))
    assert "cronwatch.storage.runs" in graph["cronwatch.monitor"]  # a module-level import
    assert "cronwatch.retention" in graph["cronwatch.monitor"]  # inside Monitor.prune
    assert "cronwatch.cli.run_cmd" in graph["cronwatch.cli.main"]  # the lazy command table
    assert "cronwatch.health.model" not in graph["cronwatch.monitor"]  # TYPE_CHECKING only


def test_a_cycle_through_a_function_level_import_is_found(tmp_path: Path) -> None:
    """config -> retention -> alerts/store -> alerts/rules -> config (before issue 10)."""
    root = tree(
        tmp_path,
        {
            "config.py": "from pkg.retention import Retention\n",
            "retention.py": """\
                class Retention: ...
                def prune(db):
                    from pkg.alerts.store import AlertStore
                """,
            "alerts/store.py": "from pkg.alerts.rules import Decision\n",
            "alerts/rules.py": """\
                from pkg.alerts import messages
                from pkg.config import JobAlerting
                """,
            "alerts/messages.py": "",
        },
    )
    assert cycles(import_graph(root)) == [
        ["pkg.alerts.rules", "pkg.config", "pkg.retention", "pkg.alerts.store", "pkg.alerts.rules"]
    ]


def test_a_cycle_through_an_import_at_the_end_of_a_module_is_found(tmp_path: Path) -> None:
    """storage/schema <-> alerts/schema (before issue 10)."""
    root = tree(
        tmp_path,
        {
            "storage/schema.py": """\
                metadata = object()
                from pkg.alerts import schema as _alerts  # noqa: E402, F401
                """,
            "alerts/schema.py": "from pkg.storage.schema import metadata\n",
        },
    )
    assert cycles(import_graph(root)) == [
        ["pkg.alerts.schema", "pkg.storage.schema", "pkg.alerts.schema"]
    ]


def test_a_cycle_between_two_modules_through_a_method_is_found(tmp_path: Path) -> None:
    """monitor <-> remote (before issue 10)."""
    root = tree(
        tmp_path,
        {
            "monitor.py": """\
                class Monitor:
                    pass
                def connect(url=None):
                    from pkg.remote import connect as connect_remote
                    return connect_remote(url)
                """,
            "remote.py": "from pkg.monitor import Monitor\n",
        },
    )
    assert cycles(import_graph(root)) == [["pkg.monitor", "pkg.remote", "pkg.monitor"]]


def test_type_checking_imports_are_not_edges(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {
            "a.py": "from pkg.b import B\n",
            "b.py": """\
                from typing import TYPE_CHECKING
                import typing
                if TYPE_CHECKING:
                    from pkg.a import A
                if typing.TYPE_CHECKING:
                    import pkg.a
                else:
                    C = 1
                class B: ...
                """,
        },
    )
    assert import_graph(root)["pkg.b"] == set()
    assert cycles(import_graph(root)) == []


def test_a_lazy_loader_hides_no_cycle(tmp_path: Path) -> None:
    """A PEP 562 ``__getattr__`` re-export is an import that happens later: storage importing
    ``alerts.model`` runs ``alerts/__init__``, whose loader imports the cycle, which imports
    storage. (cronwatch.alerts had this shape; its ``__init__`` now imports nothing.)"""
    root = tree(
        tmp_path,
        {
            "alerts/__init__.py": """\
                import importlib
                _EXPORTS = {"run_alert_cycle": "pkg.alerts.cycle"}
                def __getattr__(name):
                    return getattr(importlib.import_module(_EXPORTS[name]), name)
                """,
            "alerts/model.py": "class Event: ...\n",
            "alerts/cycle.py": "from pkg.storage.events import EventStore\n",
            "storage/events.py": "from pkg.alerts.model import Event\nclass EventStore: ...\n",
        },
    )
    graph = import_graph(root)
    assert graph["pkg.storage.events"] == {"pkg.alerts.model", "pkg.alerts"}
    assert cycles(graph) == [["pkg.alerts", "pkg.alerts.cycle", "pkg.storage.events", "pkg.alerts"]]


def test_a_package_init_and_its_module_importing_each_other_is_a_cycle(tmp_path: Path) -> None:
    """A submodule importing a name its package's ``__init__`` defines while that ``__init__``
    imports the submodule (the channels package had this shape: its senders now import
    ``channels.base``). A submodule importing a sibling is not one."""
    root = tree(
        tmp_path,
        {
            "channels/__init__.py": """\
                class DeliveryError(Exception): ...
                def build():
                    from pkg.channels.command import Command
                """,
            "channels/command.py": """\
                from pkg.channels import DeliveryError
                from pkg.channels.base import timeout_of
                """,
            "channels/base.py": "def timeout_of(): ...\n",
        },
    )
    assert cycles(import_graph(root)) == [["pkg.channels", "pkg.channels.command", "pkg.channels"]]


def test_relative_imports_are_resolved(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {
            "web/api.py": "from .jobs import job_json\nfrom ..core import thing\n",
            "web/jobs.py": "from . import api\n",
            "core.py": "",
        },
    )
    graph = import_graph(root)
    assert graph["pkg.web.api"] == {"pkg.web.jobs", "pkg.core"}
    assert cycles(graph) == [["pkg.web.api", "pkg.web.jobs", "pkg.web.api"]]


def test_the_command_prints_each_cycle_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tree(tmp_path, {"a.py": "import pkg.b\n", "b.py": "import pkg.a\n"})
    assert main([str(root)]) == 1
    assert capsys.readouterr().out == "pkg.a -> pkg.b -> pkg.a\n"
    assert main([str(SRC)]) == 0
