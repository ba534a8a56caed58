"""kb.onnx_query: queries embedded by the e5 model's ONNX export, without torch, as the
sentence-transformers pipeline embeds them.

The export is built once per session into the session's e5 cache (tests/conftest.py `e5`), the
same cache the quality guards (tests/test_kb_eval.py) search through it; the failure paths work
on their own copies.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from kb import embed, onnx_query
from kb.embed import Embedder, LazyE5, Prepared
from kb.evaluate import load_questions
from kb.model import model_dir, model_fingerprint
from kb.model.cache import publish, read_manifest
from kb.model.onnx_export import SESSION_UNFUSED
from kb.onnx_query import (
    EXPORT_FORMAT,
    INT8_COSINE,
    ExportUnavailable,
    export_dir,
    open_export,
)
from server.search import Searcher
from server.service import Service
from tests.conftest import EXAMPLE, ROOT

pytestmark = pytest.mark.slow

QUESTIONS = [q.question for q in load_questions(ROOT / "tests" / "data" / "kb_questions.yaml")]


@pytest.fixture(scope="module")
def lazy(e5: tuple[Path, Embedder]) -> LazyE5:
    _, embedder = e5
    assert isinstance(embedder, LazyE5)
    return embedder


@pytest.fixture(scope="module")
def prepared(lazy: LazyE5) -> Prepared:
    return lazy.prepare()


def test_queries_go_through_the_int8_export(lazy: LazyE5, prepared: Prepared) -> None:
    assert prepared.queries == lazy.queries == "onnx int8"
    manifest = read_manifest(export_dir(lazy.home, lazy.fingerprint))
    assert (manifest["precision"], manifest["problem"]) == ("int8", None)
    assert manifest["model_fingerprint"] == model_fingerprint()
    assert manifest["cosine"]["int8"] >= INT8_COSINE
    # The fused graph (the speed): one Attention per layer of the model, and not the fusions
    # that are slower here (kb.model.onnx_export).
    config = json.loads((prepared.folder / "config.json").read_text())
    assert manifest["fused"]["Attention"] == config["num_hidden_layers"]
    assert not {"SkipLayerNormalization", "BiasGelu"} & set(manifest["fused"])
    assert sorted(manifest["files"]) == [
        "model.onnx",
        "model.onnx.data",
        "probes.json",
        "vocab.json",
    ]
    kept = len(open_export(lazy.home, lazy.fingerprint).tokenizer)
    assert manifest["vocabulary"] == {"kept": kept, "of": 250_002}


def test_the_export_embeds_as_sentence_transformers_does(lazy: LazyE5, prepared: Prepared) -> None:
    on_torch = lazy.load().encode_queries(QUESTIONS)
    queries = open_export(lazy.home, lazy.fingerprint)
    alone = np.vstack([queries.encode([q]) for q in QUESTIONS])
    batch = queries.encode(QUESTIONS)
    for vectors in (alone, batch):
        assert vectors.shape == on_torch.shape and vectors.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
        cosines = (vectors * on_torch).sum(axis=1)
        assert cosines.min() >= INT8_COSINE and cosines.mean() >= 0.995
    # What the index sees is the export's vector, not torch's.
    assert np.array_equal(lazy.encode_queries(QUESTIONS[:1]), alone[:1])
    assert queries.encode([]).shape == (0, lazy.dim)


def test_a_process_that_only_searches_never_imports_torch(
    e5: tuple[Path, Embedder], prepared: Prepared, service: Service
) -> None:
    cache, embedder = e5
    # Both indexes built (passages on torch), as `zhengce kb build` leaves them.
    built = Searcher(
        replace(service.settings, cache_dir=cache), service.corpus, service.policies, embedder
    )
    built.knowledge_base()
    built.route_index()
    code = f"""
import json, sys
from pathlib import Path
from kb.embed import default_embedder
from server.config import Settings
from server.service import Service
embedder, _ = default_embedder({str(cache)!r})
settings = Settings.from_env({{"ZHENGCE_CACHE": {str(cache)!r}}}, root=Path({str(ROOT)!r}))
service = Service.load(settings, embedder=embedder)
hits = service.search("租赁厂房的项目由谁审核", 3).hits
found = service.route("化工园区清理整顿由谁牵头", "江西省", "2019-06-01", 3)
explained = service.evaluate({EXAMPLE["project"]!r}, {EXAMPLE["date"]!r}, True, "rete")
print(json.dumps({{
    "loaded": [m for m in ("torch", "sentence_transformers", "transformers", "tokenizers")
               if m in sys.modules],
    "queries": embedder.queries,
    "hits": len(hits), "rule": found.answer.rule if found.answer else None,
    "related": len(explained.related),
}}))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["loaded"] == []
    assert seen["queries"] == "onnx int8"
    assert seen["hits"] == 3 and seen["rule"] == "jiangxi-2019/化工园区清理整顿"
    assert seen["related"] > 0


def test_the_session_does_not_fuse_back_what_the_export_left_unfused(
    lazy: LazyE5, prepared: Prepared, tmp_path: Path
) -> None:
    import onnx
    import onnxruntime as ort

    def operators(disabled: Sequence[str]) -> set[str]:
        """The operators of the export's graph as a session loaded with `disabled` runs it."""
        options = ort.SessionOptions()
        options.optimized_model_filepath = str(tmp_path / f"loaded-{len(disabled)}.onnx")
        graph = export_dir(lazy.home, lazy.fingerprint) / "model.onnx"
        ort.InferenceSession(str(graph), options, disabled_optimizers=list(disabled))
        loaded = onnx.load(options.optimized_model_filepath, load_external_data=False)
        return {node.op_type for node in loaded.graph.node}

    # onnxruntime would fuse Add + LayerNormalization back into the slower kernel when it loads
    # the graph; the session kb.onnx_query opens turns that off.
    assert "SkipLayerNormalization" in operators(())
    unfused = operators(SESSION_UNFUSED)
    assert not {"SkipLayerNormalization", "BiasGelu"} & unfused
    assert {"LayerNormalization", "Gelu", "QAttention"} <= unfused


@pytest.fixture
def home(lazy: LazyE5, prepared: Prepared, tmp_path: Path) -> Path:
    """A model home of its own: the session's model folder (linked) and a copy of its export."""
    home = model_dir(tmp_path)
    home.mkdir()
    (home / prepared.folder.name).symlink_to(prepared.folder)
    export = export_dir(lazy.home, lazy.fingerprint)
    shutil.copytree(export, home / export.name)
    return home


def test_a_damaged_export_is_refused_with_the_reason(lazy: LazyE5, home: Path) -> None:
    folder = export_dir(home, lazy.fingerprint)
    with (folder / "model.onnx.data").open("r+b") as fh:  # the weights
        fh.seek(1_000_000)
        byte = fh.read(1)
        fh.seek(1_000_000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ExportUnavailable, match=r"model\.onnx\.data does not match its checksum"):
        open_export(home, lazy.fingerprint)


def test_probes_this_machine_does_not_reproduce_are_refused(lazy: LazyE5, home: Path) -> None:
    folder = export_dir(home, lazy.fingerprint)
    probes = json.loads((folder / "probes.json").read_text())
    probes["vectors"][0] = list(-np.asarray(probes["vectors"][0]))
    _rewrite(folder, "probes.json", json.dumps(probes))
    with pytest.raises(ExportUnavailable, match="int8 vectors are at cosine -"):
        open_export(home, lazy.fingerprint)


def test_a_failed_export_leaves_queries_on_torch_and_is_not_retried(
    lazy: LazyE5, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = export_dir(home, lazy.fingerprint)
    shutil.rmtree(folder)
    problem = "the export failed (RuntimeError('planted'))"
    failed = {"model_fingerprint": lazy.fingerprint, "export_format": EXPORT_FORMAT}
    publish(folder, lambda _tmp: failed | {"precision": None, "problem": problem}, lambda _: None)
    # The session's torch model stands in for loading another copy of the same folder.
    monkeypatch.setattr(embed, "load_embedder", lambda _home: lazy.load())
    fallback = LazyE5(home, lazy.fingerprint)
    vectors = fallback.encode_queries(QUESTIONS[:2])
    assert fallback.queries.startswith("torch (") and "planted" in fallback.queries
    assert np.array_equal(vectors, lazy.load().encode_queries(QUESTIONS[:2]))
    assert read_manifest(folder)["problem"] == problem  # recorded, not rebuilt


def test_an_export_of_another_format_is_refused(
    lazy: LazyE5, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = export_dir(home, lazy.fingerprint)
    with monkeypatch.context() as patched:  # the format is part of the folder's key
        patched.setattr(onnx_query, "EXPORT_FORMAT", EXPORT_FORMAT + 1)
        assert export_dir(home, lazy.fingerprint) != folder
    manifest = read_manifest(folder)
    (folder / "manifest.json").write_text(json.dumps(manifest | {"export_format": 1}))
    with pytest.raises(ExportUnavailable, match=f"built by format 1, need {EXPORT_FORMAT}"):
        open_export(home, lazy.fingerprint)


def _rewrite(folder: Path, name: str, text: str) -> None:
    """Change a file of an export and its manifest's checksum, as a build would have."""
    manifest = read_manifest(folder)
    (folder / name).write_text(text)
    data = (folder / name).read_bytes()
    manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (folder / "manifest.json").write_text(json.dumps(manifest))
