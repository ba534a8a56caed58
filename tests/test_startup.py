"""A server's start: the checked policy set is read back from the cache only while nothing it
depends on changed, jieba's dictionary is read from the copy kept of it, and a worker says
how its start went while readiness still waits for the search indexes and model."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import jieba
import pytest

from dsl.load import LoadResult, load_folder
from kb.corpus import Corpus
from kb.lexical import _load_prefix_dictionary
from server import policy_cache
from server.policy_cache import load_checked
from server.runtime import Runtime
from tests.conftest import ROOT, fast_runtime
from tests.tmp_project import small_project


class Checks:
    """Counts the checks load_checked runs (dsl.load.load_folder), as they really run."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        monkeypatch.setattr(policy_cache, "load_folder", self)

    def __call__(self, folder: Path, source: Corpus, *, conflicts: bool = True) -> LoadResult:
        self.count += 1
        return load_folder(folder, source, conflicts=conflicts)


def load(root: Path, cache: Path) -> LoadResult:
    return load_checked(root, cache, Corpus(root))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return small_project(tmp_path / "project")


def test_an_unchanged_set_is_read_back_as_checking_it_gives(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = Checks(monkeypatch)
    first = load(project, tmp_path / "cache")
    again = load(project, tmp_path / "cache")
    assert checks.count == 1
    assert again == first == load_folder(project / "policies", Corpus(project))
    assert again.policies is not None and first.policies is not None
    assert again.policies.revision == first.policies.revision


def test_the_same_files_in_another_folder_are_read_back_under_that_folder(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server's second worker loads the snapshot the first accepted: the same files
    elsewhere. The result names the snapshot's files, as checking it would."""
    checks = Checks(monkeypatch)
    load(project, tmp_path / "cache")
    snapshot = tmp_path / "snapshot"
    shutil.copytree(project / "policies", snapshot / "policies")
    found = load(snapshot, tmp_path / "cache")
    assert checks.count == 1
    assert found == load_folder(snapshot / "policies", Corpus(snapshot))
    assert all(path.startswith(str(snapshot / "policies")) for path in found.texts)


@pytest.mark.parametrize(
    ("changed", "old", "new"),
    [
        ("pingliang-2023.zc", "1000万元", "1200万元"),
        # The source no longer says what a rule quotes: the set has an error now.
        ("sources/pingliang-2023.txt", "内控制度、服务制度及运行机制", "内控制度"),
        ("data/industries.yaml", '"97": 国际组织', '"97": 国际机构'),
    ],
)
def test_a_changed_rule_source_or_classification_is_checked_again(
    project: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    changed: str,
    old: str,
    new: str,
) -> None:
    checks = Checks(monkeypatch)
    before = load(project, tmp_path / "cache")
    path = project / "policies" / changed
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    after = load(project, tmp_path / "cache")
    assert checks.count == 2
    assert after == load_folder(project / "policies", Corpus(project))
    assert after != before


def test_a_set_with_errors_is_not_kept(project: Path, tmp_path: Path) -> None:
    rules = project / "policies" / "pingliang-2023.zc"
    rules.write_text(rules.read_text(encoding="utf-8") + "\n规则 坏了 {\n", encoding="utf-8")
    result = load(project, tmp_path / "cache")
    assert result.policies is None and result.errors
    assert not list((tmp_path / "cache").rglob("*.pickle"))


def test_a_torn_cache_file_is_checked_again(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = Checks(monkeypatch)
    first = load(project, tmp_path / "cache")
    (kept,) = (tmp_path / "cache").rglob("*.pickle")
    kept.write_bytes(kept.read_bytes()[:100])
    assert load(project, tmp_path / "cache") == first
    assert checks.count == 2


def test_jieba_reads_the_dictionary_kept_and_it_is_jiebas_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = jieba.Tokenizer()
    built.tmp_dir = str(tmp_path)
    _load_prefix_dictionary(built, "test")  # nothing kept yet: jieba builds it, and it is kept
    assert (tmp_path / "zhengce-jieba-test.marshal").is_file()

    def refused(*_: object) -> None:
        raise AssertionError("the dictionary kept was not read")

    read = jieba.Tokenizer()
    read.tmp_dir = str(tmp_path)
    monkeypatch.setattr(read, "initialize", refused)
    _load_prefix_dictionary(read, "test")
    assert read.initialized
    assert (read.FREQ, read.total) == (built.FREQ, built.total)
    assert list(read.cut("园区管委会负责审核", HMM=False)) == list(
        built.cut("园区管委会负责审核", HMM=False)
    )


def test_a_worker_tells_its_start_and_is_ready_only_once_search_is_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = fast_runtime(tmp_path)
    seen: list[tuple[str, float | None]] = []
    open_search = Runtime._open_search

    def watched(self: Runtime, *args: object) -> None:
        seen.append((self.warm_state, self.startup.ready_after))
        open_search(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(Runtime, "_open_search", watched)
    try:
        runtime.warm()
    finally:
        runtime.close()
    assert seen == [("warming", None)]
    view = runtime.startup.view()
    names = [p["name"] for p in view["phases"]]
    assert names == [
        "imports",
        "policies",
        "decision log",
        "indexes",
        "tokenizer",
        "first search",
        "related clauses",
    ]
    after_ready = {p["name"] for p in view["phases"] if p["after_ready"]}
    assert after_ready == {"related clauses"}
    assert view["ready_after"] > 0
    assert all(p["cpu"] >= 0 and p["wall"] >= 0 for p in view["phases"])


def test_serve_checks_the_set_before_the_workers_without_the_other_commands(
    tmp_path: Path,
) -> None:
    """`zhengce serve` (up to where uvicorn would start the workers) imports neither every
    command's modules (server.cli) nor the service: the workers wait for it."""
    code = (
        "import sys\n"
        "import uvicorn\n"
        "uvicorn.run = lambda *_, **__: print([m for m in HEAVY if m in sys.modules])\n"
        "sys.argv = ['zhengce', 'serve']\n"
        "from server.cli_main import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
    )
    env = os.environ | {
        "ZHENGCE_ROOT": str(ROOT),
        "ZHENGCE_CACHE": str(tmp_path / "cache"),
        "ZHENGCE_DECISION_LOG": f"sqlite:///{tmp_path / 'log.db'}",
    }
    heavy = "HEAVY = ('server.cli', 'server.service', 'server.app')\n"
    done = subprocess.run(
        [sys.executable, "-c", heavy + code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    banner, imported = done.stdout.strip().splitlines()[-2:]
    assert banner.startswith("zhengce on http://127.0.0.1:8000/")
    assert imported == "[]"
    assert list((tmp_path / "cache").rglob("*.pickle"))  # the workers read the set back
