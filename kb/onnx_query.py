"""Query embeddings without torch: the e5 model's ONNX export, run by onnxruntime.

A search spends nearly all its time embedding the question, and a process that loads torch for
it holds about 1.4 GB. The export built here does the same in a few milliseconds with
onnxruntime, numpy and a pure-Python tokenizer, so a serving worker never imports torch (nor
`tokenizers`, which held 281 MB for e5's vocabulary):

    <home>/onnx-query-<key>/    home = kb.model.model_dir(cache); key = sha256 of the model
      manifest.json             fingerprint, EXPORT_FORMAT and the torch and onnxruntime
                                versions; precision, cosines, pieces kept, checksums
      model.onnx                int8 (fp32 when int8 strays; absent when the export failed),
                                its word embeddings sliced to the pruned vocabulary's rows
      vocab.json                kb.model.vocab's pruned vocabulary (138,240 of 250,002
                                pieces), read by kb.model.vocab_unigram
      probes.json               PROBES and their sentence-transformers query vectors

For text of kb.model.vocab's character set (Han, Latin, CJK and general punctuation, common
symbols, kana, Greek), the pruned tokenizer and graph give exactly the whole model's tokens and
vectors (tests/test_vocab.py); a character outside it that no kept piece holds reads as
<unk>, as a character unknown to the whole vocabulary does (kb.model.vocab_unigram).

`ensure_export` builds it from kb.model's folder (torch: kb.model.onnx_export) under the
model home's lock, like the model folder, and keeps it when a check fails, with `problem`
saying why, so that every process does not try again; `open_export` loads it without torch.
Both insist that the export reproduces the vectors of the sentence-transformers pipeline
(e5's "query: " prefix, mean pooling over every token, L2 normalisation) on PROBES, one at a
time and as a padded batch: for fp32 within FP32_TOLERANCE, for int8 at cosine INT8_COSINE
or more. Anything else raises ExportUnavailable, and kb.embed stays on torch. The export's
vectors are not bit-equal to torch's, so the index's fingerprint (the passages') stays the
model's: bench/embed.py prints recall and routing with either kind of query vector.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kb.filelock import lock
from kb.model import installed_version
from kb.model.cache import Progress, folder_problem, publish, read_manifest
from kb.model.config import QUERY_PROMPT
from kb.model.onnx_export import SESSION_UNFUSED
from kb.model.vocab_unigram import UnigramTokenizer

if TYPE_CHECKING:
    # Only a type: kb.embed imports this module, so importing it back would be circular.
    from kb.embed import FloatMatrix

__all__ = [
    "EXPORT_FORMAT",
    "ExportUnavailable",
    "OnnxQueries",
    "ensure_export",
    "export_dir",
    "open_export",
]

# Bump whenever the export's files or their meaning change: the folder's key includes it.
# 2: the pruned vocabulary; 3: without the fusions that cost time (kb.model.onnx_export's
# docstring: SkipLayerNormalization and BiasGelu unfused, 5.9 -> 5.0 ms of CPU a query)
EXPORT_FORMAT = 3
FP32_TOLERANCE = 1e-4  # on 1 - cosine; the fp32 graph is within 2e-7 of torch
INT8_COSINE = 0.99  # per probe; over the 63 evaluation questions the lowest was 0.9963
BATCH_TOKENS = 128  # probes this short are also checked as one padded batch

# Probe texts: short and long, Simplified, Traditional and English, a question with stray
# spaces, and one longer than the model's 512 tokens, so that truncation is checked too.
PROBES = (
    "园区规划",
    "一个不需要新占地、投资1200万元的项目该报到哪里备案？",
    "對投資額度在1000萬元以上的非供地類項目,由所在工業園區報市園區辦進行備案;對供地類項目,"
    "由所在工業園區報市園區辦彙總後,提交市工業園區領導小組研究分析、論證指導。",
    "  化工园区清理整顿由谁牵头  ",
    "Which department leads the review of investment projects in the park?",
    "园区企业招用应届高校毕业生，每人给予一次性就业补贴3000元。" * 40,
)

_PREFIX = "onnx-query-"
_MODEL, _VOCABULARY, _PROBES = "model.onnx", "vocab.json", "probes.json"
_TOKENISING = ("prompt", "max_length")  # manifest keys OnnxQueries takes


class ExportUnavailable(Exception):
    """The ONNX export cannot embed queries here; the message says why."""


class OnnxQueries:
    """Embeds queries as the sentence-transformers pipeline does, with one onnxruntime
    session; safe to share between threads (onnxruntime's `run` is)."""

    def __init__(
        self,
        graph: Path,
        vocabulary: Path,
        *,
        precision: str,
        prompt: str,
        max_length: int,
        threads: int = 1,
    ) -> None:
        import onnxruntime as ort

        self.precision = precision
        self._prompt = prompt
        self.tokenizer = UnigramTokenizer(vocabulary, max_length=max_length)
        options = ort.SessionOptions()
        # One short query does not parallelise: more threads only spin on shared cores.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(graph),
            options,
            providers=["CPUExecutionProvider"],
            # What the export left unfused, because fused it is slower (kb.model.onnx_export).
            disabled_optimizers=list(SESSION_UNFUSED),
        )
        self.dim = int(self._session.get_outputs()[0].shape[-1])

    @classmethod
    def from_folder(cls, folder: Path, *, threads: int = 1) -> OnnxQueries:
        """The export in `folder` as its manifest describes it (unchecked: see `open_export`)."""
        manifest = read_manifest(folder)
        return cls(
            folder / _MODEL,
            folder / _VOCABULARY,
            precision=manifest["precision"],
            threads=threads,
            **{key: manifest[key] for key in _TOKENISING},
        )

    def encode(self, texts: Sequence[str]) -> FloatMatrix:
        """Unit query vectors, one row per text (a batch is padded to its longest text)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encoded = [self.tokenizer.encode(self._prompt + t) for t in texts]
        width = max(map(len, encoded))
        ids = np.full((len(encoded), width), self.tokenizer.pad, dtype=np.int64)
        mask = np.zeros((len(encoded), width), dtype=np.int64)
        for row, tokens in enumerate(encoded):
            ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1
        (hidden,) = self._session.run(None, {"input_ids": ids, "attention_mask": mask})
        # sentence-transformers' mean pooling and Normalize, with their epsilons.
        weights = mask[:, :, None].astype(np.float32)
        mean = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)
        return np.ascontiguousarray(mean / norms, dtype=np.float32)

    def worst_cosine(self, texts: Sequence[str], reference: FloatMatrix) -> float:
        """The lowest cosine between `reference` and this export's vectors of `texts`,
        embedded one at a time, and those of up to BATCH_TOKENS tokens as one padded batch
        (padding them all to a 512-token probe would take seconds at every start)."""
        cosines = [float(self.encode([t])[0] @ r) for t, r in zip(texts, reference, strict=True)]
        lengths = [len(self.tokenizer.encode(t)) for t in texts]
        short = [i for i, n in enumerate(lengths) if n <= BATCH_TOKENS]
        batch = self.encode([texts[i] for i in short])
        cosines += [float(row @ reference[i]) for row, i in zip(batch, short, strict=True)]
        return min(cosines)

    def reproduces(self, texts: Sequence[str], reference: FloatMatrix) -> tuple[bool, float]:
        """Whether this export's vectors of `texts` are close enough to `reference` for its
        precision, and the worst cosine."""
        worst = self.worst_cosine(texts, reference)
        floor = 1.0 - FP32_TOLERANCE if self.precision == "fp32" else INT8_COSINE
        return worst >= floor, worst


def export_dir(home: Path, fingerprint: str) -> Path:
    """The export's folder under the model home `home` for the model `fingerprint`."""
    key = [fingerprint, EXPORT_FORMAT, installed_version("torch"), installed_version("onnxruntime")]
    digest = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:12]
    return Path(home) / f"{_PREFIX}{digest}"


def open_export(home: Path, fingerprint: str, *, threads: int = 1) -> OnnxQueries:
    """The export of `fingerprint` under `home`, checked (files, then probes), loaded without
    torch. Raises ExportUnavailable when it is not built, is damaged, recorded a failed
    build, or does not reproduce its probe vectors here."""
    folder = export_dir(home, fingerprint)
    if not folder.exists():
        raise ExportUnavailable(f"no ONNX export in {home} yet")
    problem = folder_problem(folder, _wrong(fingerprint))
    if problem is None:
        problem = read_manifest(folder)["problem"]
    if problem is not None:
        raise ExportUnavailable(f"{folder.name}: {problem}")
    probes = json.loads((folder / _PROBES).read_text(encoding="utf-8"))
    try:
        queries = OnnxQueries.from_folder(folder, threads=threads)
        good, worst = queries.reproduces(probes["texts"], np.asarray(probes["vectors"], np.float32))
    except Exception as exc:  # onnxruntime's own errors derive from Exception alone
        raise ExportUnavailable(f"{folder.name}: onnxruntime cannot run it ({exc!r})") from exc
    if not good:
        raise ExportUnavailable(
            f"{folder.name}: its {queries.precision} vectors are at cosine {worst:.6f} to "
            "sentence-transformers' here, too far"
        )
    return queries


def ensure_export(
    home: Path,
    model_folder: Path,
    fingerprint: str,
    reference: Callable[[Sequence[str]], FloatMatrix],
    *,
    progress: Progress | None = None,
) -> Path:
    """Build the export of kb.model's folder `model_folder` under `home` unless a sound one
    (or a recorded failure) is there. `reference` embeds queries with sentence-transformers
    on torch: the vectors the export must reproduce. Raises OSError when the cache cannot be
    written; a failed export is recorded, not raised."""
    say = progress or (lambda _message: None)
    folder = export_dir(home, fingerprint)
    with lock(Path(home) / ".lock"):
        problem = folder_problem(folder, _wrong(fingerprint)) if folder.exists() else "not built"
        if problem is not None:
            say(f"building the ONNX query model {folder.name}: {problem}")
            publish(folder, lambda tmp: _build(tmp, model_folder, fingerprint, reference, say), say)
            for stale in Path(home).glob(f"{_PREFIX}*"):
                if stale != folder:
                    shutil.rmtree(stale, ignore_errors=True)
    return folder


def _wrong(fingerprint: str) -> Callable[[Mapping[str, Any]], str | None]:
    def wrong(manifest: Mapping[str, Any]) -> str | None:
        if manifest["export_format"] != EXPORT_FORMAT:
            return f"built by format {manifest['export_format']}, need {EXPORT_FORMAT}"
        if manifest["model_fingerprint"] != fingerprint:
            return "built from another model"
        return None

    return wrong


def _build(
    tmp: Path,
    model_folder: Path,
    fingerprint: str,
    reference: Callable[[Sequence[str]], FloatMatrix],
    say: Progress,
) -> dict[str, Any]:
    """Export, quantise, prune and check into `tmp`; what the manifest says about the result."""
    from kb.model.fileformat import parse
    from kb.model.onnx_export import export_fp32, quantize_int8, slice_word_embeddings
    from kb.model.source import read_source
    from kb.model.vocab import write_vocabulary

    max_length = json.loads((model_folder / "sentence_bert_config.json").read_text())
    tokenising = {"prompt": QUERY_PROMPT, "max_length": max_length["max_seq_length"]}
    manifest: dict[str, Any] = {
        "model_fingerprint": fingerprint,
        "export_format": EXPORT_FORMAT,
        **tokenising,
        "versions": {
            name: installed_version(name)
            for name in ("torch", "transformers", "onnx", "onnxruntime")
        },
        "precision": None,
        "problem": None,
        "cosine": {},
    }
    source = read_source()  # the file the model folder was built from (the fingerprint's)
    contents = parse(source.data, source.path)
    kept = write_vocabulary(tmp / _VOCABULARY, contents)
    manifest["vocabulary"] = {"kept": len(kept), "of": len(contents.pieces)}
    vectors = reference(list(PROBES))
    probes = {"texts": list(PROBES), "vectors": vectors.tolist()}
    (tmp / _PROBES).write_text(json.dumps(probes, ensure_ascii=False), encoding="utf-8")
    graphs = {"fp32": tmp / "fp32.onnx", "int8": tmp / "int8.onnx"}
    try:
        say("exporting the model to ONNX")
        manifest["fused"] = export_fp32(model_folder, graphs["fp32"], PROBES[1])
        say("quantising it to int8")
        quantize_int8(graphs["fp32"], graphs["int8"])
        # int8 first: the fp32 graph is checked (a few seconds more) only when it is needed.
        for precision in ("int8", "fp32"):
            say(f"keeping {len(kept):,} of the {precision} graph's word embeddings")
            slice_word_embeddings(graphs[precision], tmp / _MODEL, kept)
            queries = OnnxQueries(
                tmp / _MODEL, tmp / _VOCABULARY, precision=precision, **tokenising
            )
            good, worst = queries.reproduces(PROBES, vectors)
            manifest["cosine"][precision] = round(worst, 7)
            if good:
                manifest["precision"] = precision
                break
        if manifest["precision"] is None:
            manifest["problem"] = (
                f"its vectors differ from sentence-transformers' ({manifest['cosine']})"
            )
    except OSError:
        raise  # a full disk is not the export's fault: nothing is recorded, a later build retries
    except Exception as exc:  # any exporter or quantiser failure: torch keeps working
        manifest["problem"] = f"the export failed ({exc!r})"
    if manifest["precision"] is None:
        (tmp / _MODEL).unlink(missing_ok=True)
    for graph in graphs.values():
        graph.unlink(missing_ok=True)
    return manifest
