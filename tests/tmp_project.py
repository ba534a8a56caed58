"""A small copy of the project for tests that add documents and write policy files: the fact
schema, the industry classification and one seed (its policy, source and tests), so that one
document's results can be told from another's, and loading stays cheap."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner, Result

from kb.embed import Embedder
from server.cli import app
from server.cli_common import Context
from server.config import Settings
from tests.conftest import ROOT

SYNTHETIC_PAGE = ROOT / "tests" / "data" / "yunling-2024.html"
SYNTHETIC_REGION = "示例省/云岭市"
RUNNER = CliRunner()


def small_project(root: Path, seed: str = "pingliang-2023") -> Path:
    """`root` as a project holding the schema, the classification and one seed."""
    policies = ROOT / "policies"
    (root / "policies" / "sources").mkdir(parents=True)
    (root / "policies" / "tests").mkdir()
    shutil.copy(policies / "schema.zc", root / "policies")
    shutil.copytree(policies / "data", root / "policies" / "data")
    shutil.copy(policies / f"{seed}.zc", root / "policies")
    shutil.copy(policies / "tests" / f"{seed}.yaml", root / "policies" / "tests")
    for suffix in (".txt", ".yaml"):
        shutil.copy(policies / "sources" / f"{seed}{suffix}", root / "policies" / "sources")
    return root


def zhengce(
    root: Path, *args: str, embedder: Embedder | None = None, cache: Path | None = None
) -> Result:
    """`zhengce ARGS` in-process on the project at `root`, as a user runs it there."""
    env = {"ZHENGCE_CACHE": str(cache or root / "var" / "index")}
    context = Context(Settings.from_env(env, root=root), embedder)
    return RUNNER.invoke(app, list(args), obj=context)
