"""The layer rule (README, Layout): `server` may import `dsl` and `kb`; `dsl` and `kb` import
neither each other nor `server`. `make lint` checks it with import-linter; this checks it again
in the test suite, from the source text alone, so a red build names the line.

Every import counts: at module level, inside functions, under `if TYPE_CHECKING:` (a type-only
import still ties a layer to another's code), relative ones, and `importlib.import_module` /
`__import__` of a literal name."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

# What each layer may import, among the project's own packages.
ALLOWED = {"dsl": {"dsl"}, "kb": {"kb"}, "server": {"server", "dsl", "kb"}}
DYNAMIC = {"import_module", "__import__"}


def _package(path: Path, root: Path) -> list[str]:
    """The package a module's relative imports start from: its folder, for `pkg/mod.py` and
    for `pkg/__init__.py` alike."""
    return list(path.relative_to(root).parent.parts)


def _targets(node: ast.AST, package: list[str]) -> list[str]:
    """The top-level packages an import node reaches ([] when it is not an import)."""
    if isinstance(node, ast.Import):
        return [alias.name.split(".")[0] for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        base = package[: max(0, len(package) - node.level + 1)] if node.level else []
        if node.module:
            base = [*base, *node.module.split(".")]
        # `from .. import server` from a top-level package names the packages themselves.
        return [base[0]] if base else [alias.name.split(".")[0] for alias in node.names]
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name in DYNAMIC and isinstance(node.args[0].value, str):
            return [node.args[0].value.split(".")[0]]
    return []


def violations(root: Path) -> list[str]:
    """Every import under `root`'s layer packages that breaks ALLOWED, as `file:line: a -> b`."""
    found = []
    for layer, allowed in ALLOWED.items():
        for path in sorted((root / layer).rglob("*.py")):
            package = _package(path, root)
            tree = ast.parse(path.read_text("utf-8"), filename=str(path))
            for node in ast.walk(tree):
                for target in _targets(node, package):
                    if target in ALLOWED and target not in allowed:
                        where = path.relative_to(root).as_posix()
                        found.append(f"{where}:{getattr(node, 'lineno', 0)}: {layer} -> {target}")
    return sorted(found)


def test_the_layers_import_only_downwards() -> None:
    assert violations(ROOT) == []


def test_the_check_sees_every_kind_of_import(tmp_path: Path) -> None:
    files = {
        "kb/__init__.py": "from . import corpus\n",
        "kb/corpus.py": (
            "from typing import TYPE_CHECKING\n"
            "import kb.normalize\n"
            "if TYPE_CHECKING:\n"
            "    from dsl.sources import ClauseSource\n"
        ),
        "kb/lazy.py": "def f():\n    import server.app\n",
        "kb/sub/__init__.py": "from ... import dsl\nfrom ..corpus import x\n",
        "dsl/check.py": "import importlib\nM = importlib.import_module('kb.search')\n",
        "dsl/up.py": "from ..kb import search\n",
        "dsl/dunder.py": "M = __import__('server')\n",
        "server/service.py": "import dsl.check\nfrom kb import search\nfrom .app import create\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert violations(tmp_path) == [
        "dsl/check.py:2: dsl -> kb",
        "dsl/dunder.py:1: dsl -> server",
        "dsl/up.py:1: dsl -> kb",
        "kb/corpus.py:4: kb -> dsl",
        "kb/lazy.py:2: kb -> server",
        "kb/sub/__init__.py:1: kb -> dsl",
    ]
