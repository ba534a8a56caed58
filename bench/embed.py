"""Benchmark query embeddings and what a serving worker holds (issue 15's search figures).

    python bench/embed.py [--cache DIR] [--passes N] [--workers N] [--skip-scale] [--skip-serve]

Prints, measured on this machine (nothing is asserted; tests/test_onnx_query.py checks the
vectors, tests/test_kb_eval.py the recall):

1. The cache as `zhengce kb build` leaves it (model, ONNX export, both indexes), built in
   --cache (default: a new temporary folder, so everything is built from scratch), and the
   ONNX graphs compared below: fp32 and int8, exported into <cache>/bench-onnx once.
2. Query embedding, one question at a time over the 63 evaluation questions: p50/p95 wall
   time (and CPU time, which a busy machine disturbs less) on torch (sentence-transformers),
   ONNX fp32 and int8 with the pruned vocabulary (int8 is the export), and int8 with the whole
   vocabulary and `tokenizers` (the export before kb.model.vocab), each one's cosine to torch.
   Then the pruned export against the whole vocabulary: pieces kept, graph MB, the RSS each
   tokenizer and each opened export adds, query CPU time in one run, the largest difference
   of their vectors, and the cosine between them for questions with characters outside the
   kept set (Cyrillic, Hangul, Thai, an emoji), which the pruned vocabulary reads as <unk>.
3. The same index searched with each variant's query vectors: recall@1/@5 (hybrid and the
   fitted pipeline) on tests/data/kb_questions.yaml, and free-text routing on
   tests/data/route_queries.yaml (right matches, false matches, the weakest right score).
4. KB query latency (KnowledgeBase.search, k=10, as served: LazyE5) on the seed corpus and on
   bench/kb.py's synthetic 5,000-clause corpus.
5. `zhengce serve --workers N` over a copy of policies/ and this cache: process start to every
   worker's /readyz ready (warming included), then each worker's RSS after routing and
   explained decisions, and whether torch or onnxruntime is mapped into it.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
# Run as `python bench/embed.py`, this folder is sys.path[0], where bench/kb.py and
# bench/http.py would shadow the kb package and the standard library's http.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.error  # noqa: E402
import urllib.request  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from types import ModuleType  # noqa: E402

import numpy as np  # noqa: E402

from kb.embed import Embedder, FloatMatrix, LazyE5, default_embedder  # noqa: E402
from kb.evaluate import evaluate, evaluate_routes, load_questions, load_route_cases  # noqa: E402
from kb.model.config import QUERY_PROMPT  # noqa: E402
from kb.model.onnx_export import (  # noqa: E402
    SESSION_UNFUSED,
    export_fp32,
    quantize_int8,
    slice_word_embeddings,
)
from kb.onnx_query import PROBES, OnnxQueries, export_dir  # noqa: E402
from kb.search import KnowledgeBase  # noqa: E402
from server.config import Settings  # noqa: E402
from server.search import Searcher  # noqa: E402
from server.service import Service, build_search  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may be downloaded
ROOT = _HERE.parent
QUESTIONS = ROOT / "tests" / "data" / "kb_questions.yaml"
ROUTES = ROOT / "tests" / "data" / "route_queries.yaml"
# A worker answers these between start and the RSS reading: routing and explained decisions
# (related clauses) are the query paths a server has.
EXAMPLE = json.loads((ROOT / "policies" / "examples" / "pingliang-non-land.json").read_text())


def section(title: str) -> None:
    print(f"\n== {title}", flush=True)


def timed(encode: Callable[[str], object], texts: Sequence[str], passes: int) -> str:
    for text in texts[:10]:  # warm-up: first-call allocations, lazy loading
        encode(text)
    wall, cpu = [], []
    for _ in range(passes):
        for text in texts:
            started, started_cpu = time.perf_counter(), time.process_time()
            encode(text)
            cpu.append(time.process_time() - started_cpu)
            wall.append(time.perf_counter() - started)
    (w50, w95), (c50, c95) = percentiles(wall), percentiles(cpu)
    return (
        f"p50 {w50:6.1f} ms  p95 {w95:6.1f} ms  (CPU p50 {c50:5.1f}, p95 {c95:5.1f})"
        f"  {len(wall)} calls"
    )


def one_at_a_time(encode: Callable[[Sequence[str]], FloatMatrix]) -> Callable[[str], object]:
    return lambda text: encode([text])


def percentiles(samples: Sequence[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


class QueriesBy:
    """The served embedder's passages with another way of embedding queries: the same
    fingerprint, so the same index folders, searched with other query vectors."""

    def __init__(self, base: LazyE5, encode: Callable[[Sequence[str]], FloatMatrix]) -> None:
        self._base = base
        self.encode_queries = encode

    @property
    def dim(self) -> int:
        return self._base.dim

    @property
    def fingerprint(self) -> str:
        return self._base.fingerprint

    def encode_passages(self, texts: Sequence[str]) -> FloatMatrix:
        return self._base.encode_passages(texts)


def build_cache(cache: Path) -> LazyE5:
    section(f"the cache, as `zhengce kb build` leaves it ({cache})")
    settings = Settings.from_env({"ZHENGCE_CACHE": str(cache)}, root=ROOT)
    started = time.perf_counter()
    report = build_search(settings, say=lambda m: print("  ", m, flush=True))
    queries = report.model.queries if report.model else "BM25 only: no model"
    print(f"ready in {time.perf_counter() - started:.1f} s; queries by {queries}")
    embedder, reason = default_embedder(cache)
    if embedder is None:
        raise SystemExit(f"no model: {reason}")
    manifest = json.loads(
        (export_dir(embedder.home, embedder.fingerprint) / "manifest.json").read_text()
    )
    print(
        f"ONNX export: {manifest['precision']}, built in {manifest['build_seconds']:.0f} s, "
        f"probe cosines {manifest['cosine']}, fused {manifest['fused']}"
    )
    return embedder


class WholeVocabulary:
    """A graph of the whole vocabulary with `tokenizers`: the export before the pruning."""

    def __init__(self, graph: Path, tokenizer: Path) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(tokenizer))
        self.tokenizer.enable_truncation(max_length=512)
        self.tokenizer.enable_padding(pad_id=self.tokenizer.token_to_id("<pad>"))
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        # Loaded as kb.onnx_query loads the export, so that only the vocabulary differs.
        self._session = ort.InferenceSession(
            str(graph), options, disabled_optimizers=list(SESSION_UNFUSED)
        )

    def encode(self, texts: Sequence[str]) -> FloatMatrix:
        encodings = self.tokenizer.encode_batch([QUERY_PROMPT + t for t in texts])
        ids = np.asarray([e.ids for e in encodings], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64)
        (hidden,) = self._session.run(None, {"input_ids": ids, "attention_mask": mask})
        mean = (hidden * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        return np.asarray(mean / np.linalg.norm(mean, axis=1, keepdims=True), dtype=np.float32)


def graphs(cache: Path, model: LazyE5) -> dict[str, Callable[[Sequence[str]], FloatMatrix]]:
    """The whole-vocabulary fp32 and int8 graphs, exported once into <cache>/bench-onnx, the
    fp32 one pruned as the export prunes it, and the export itself (pruned int8)."""
    folder = cache / "bench-onnx"
    folder.mkdir(exist_ok=True)
    fp32, int8, pruned = folder / "fp32.onnx", folder / "int8.onnx", folder / "fp32-pruned.onnx"
    model_folder = model.load().folder
    export = export_dir(model.home, model.fingerprint)
    if not fp32.exists():
        started = time.perf_counter()
        export_fp32(model_folder, fp32, PROBES[1])
        print(f"fp32 exported and fused in {time.perf_counter() - started:.1f} s")
    if not int8.exists():
        started = time.perf_counter()
        quantize_int8(fp32, int8)
        print(f"int8 quantised in {time.perf_counter() - started:.1f} s")
    if not pruned.exists():
        rows = json.loads((export / "vocab.json").read_text(encoding="utf-8"))["ids"]
        slice_word_embeddings(fp32, pruned, rows)
    vocabulary = export / "vocab.json"
    fp32_pruned = OnnxQueries(
        pruned, vocabulary, precision="fp32", prompt=QUERY_PROMPT, max_length=512
    )
    return {
        "onnx fp32": fp32_pruned.encode,
        "onnx int8": OnnxQueries.from_folder(export).encode,
        "int8 whole": WholeVocabulary(int8, model_folder / "tokenizer.json").encode,
    }


def pruning(cache: Path, model: LazyE5, texts: Sequence[str], passes: int) -> None:
    """The pruned export against the whole vocabulary: pieces, memory, time and vectors."""
    section("the pruned vocabulary (the export) against the whole one (tokenizers, int8 graph)")
    export = export_dir(model.home, model.fingerprint)
    whole_graph = cache / "bench-onnx" / "int8.onnx"
    tokenizer = model.load().folder / "tokenizer.json"
    kept = json.loads((export / "manifest.json").read_text())["vocabulary"]
    print(f"pieces kept: {kept['kept']:,} of {kept['of']:,}")
    pruned_mb = sum(f.stat().st_size for f in export.glob("model.onnx*")) / 2**20
    print(f"graph: {pruned_mb:.0f} MB pruned, {whole_graph.stat().st_size / 2**20:.0f} MB whole")
    opened = {
        "tokenizers, whole vocabulary": "from tokenizers import Tokenizer\n"
        f"Tokenizer.from_file({str(tokenizer)!r}).encode('园区')",
        "pure Python, pruned vocabulary": "from kb.model.vocab_unigram import UnigramTokenizer\n"
        f"UnigramTokenizer(Path({str(export / 'vocab.json')!r}), max_length=512).encode('园区')",
        "whole export, opened + 1 query": "import onnxruntime as ort\n"
        "from tokenizers import Tokenizer\n"
        "o = ort.SessionOptions()\no.intra_op_num_threads = o.inter_op_num_threads = 1\n"
        f"session = ort.InferenceSession({str(whole_graph)!r}, o)\n"
        f"e = Tokenizer.from_file({str(tokenizer)!r}).encode('query: 园区')\n"
        "ids, mask = numpy.asarray([e.ids]), numpy.asarray([e.attention_mask])\n"
        "session.run(None, {'input_ids': ids, 'attention_mask': mask})",
        "pruned export, opened + 1 query": "from kb.onnx_query import OnnxQueries\n"
        f"OnnxQueries.from_folder(Path({str(export)!r})).encode(['园区'])",
    }
    for name, code in opened.items():
        print(f"{name:32} RSS {rss_of(code):+5.0f} MB (over Python with numpy)")
    served = OnnxQueries.from_folder(export)
    whole = WholeVocabulary(whole_graph, tokenizer)
    for name, encode in (("int8 whole", whole.encode), ("int8 pruned", served.encode)):
        print(f"{name:12}", timed(one_at_a_time(encode), texts, passes))
    same = max(float(np.abs(whole.encode([t]) - served.encode([t])).max()) for t in texts)
    print(f"largest difference of a vector component, whole - pruned: {same:.1e}")
    print("characters outside the kept set (read as <unk>) mid-question, cosine to the whole:")
    for foreign in ("😀", "Москва", "서울시", "ภาษี"):
        mixed = [f"{t[: len(t) // 2]}{foreign}{t[len(t) // 2 :]}" for t in texts]
        cos = [float(whole.encode([t])[0] @ served.encode([t])[0]) for t in mixed]
        print(f"  {foreign:8} min {min(cos):.4f}, mean {np.mean(cos):.4f}")


def rss_of(code: str) -> float:
    """What running `code` adds to the RSS of a Python process that imported numpy (MB)."""
    probe = (
        "import sys, numpy\nfrom pathlib import Path\n"
        "rss = lambda: int(open('/proc/self/status').read().split('VmRSS:')[1].split()[0])\n"
        f"before = rss()\n{code}\nprint((rss() - before) / 1024)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return float(done.stdout.split()[-1])


def compare(cache: Path, model: LazyE5, texts: Sequence[str], passes: int) -> None:
    section("query embedding, one question at a time")
    on_torch = model.load()
    reference = on_torch.encode_queries(texts)
    encoders = {"torch": on_torch.encode_queries, **graphs(cache, model)}
    for name, encode in encoders.items():
        print(f"{name:10}", timed(one_at_a_time(encode), texts, passes))
    vectors = {name: np.vstack([e([t]) for t in texts]) for name, e in encoders.items()}
    for name in ("onnx fp32", "onnx int8", "int8 whole"):
        cos = (vectors[name] * reference).sum(axis=1)
        print(f"{name}: cosine to torch min {cos.min():.5f}, mean {cos.mean():.5f}")
    cos = (vectors["onnx int8"] * vectors["onnx fp32"]).sum(axis=1)
    print(f"onnx int8: cosine to onnx fp32 min {cos.min():.5f}, mean {cos.mean():.5f}")

    section("retrieval with each variant's query vectors (one index)")
    questions = load_questions(QUESTIONS)
    service = Service.load(Settings.from_env({"ZHENGCE_CACHE": str(cache)}, root=ROOT))
    print(f"{'queries':10} {'mode':9} {'recall@1':>9} {'recall@5':>9} {'MRR':>7}")
    for name, encode in encoders.items():
        embedder = QueriesBy(model, encode)
        kb = KnowledgeBase.open(ROOT, cache, embedder, progress=False)
        for mode in ("hybrid", "pipeline"):
            s = evaluate(kb, questions, mode)
            print(f"{name:10} {mode:9} {s.recall_at_1:9.3f} {s.recall_at_5:9.3f} {s.mrr:7.3f}")
        searcher = Searcher(service.settings, service.corpus, service.policies, embedder)
        for part in ("calibration", "held_out"):
            r = evaluate_routes(searcher.match_routes, load_route_cases(ROUTES, part))
            print(
                f"{'':10} routes {part:11} {r.correct}/{r.matches} right, {r.false_matches} "
                f"false in {r.cases}; weakest right {r.lowest_right:.3f}, strongest off-topic "
                f"{r.highest_wrong:.3f} (threshold {r.threshold:.2f})"
            )


def bench_kb() -> ModuleType:
    """bench/kb.py, for its synthetic corpus (its file name would shadow the kb package)."""
    spec = importlib.util.spec_from_file_location("bench_kb", _HERE / "kb.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def latency(cache: Path, model: Embedder, texts: Sequence[str], passes: int, scale: bool) -> None:
    section("KB query latency as served (KnowledgeBase.search, k=10; LazyE5's query path)")
    kb = KnowledgeBase.open(ROOT, cache, model, progress=False)
    print(f"seed corpus, {len(kb.index.entries)} passages:", timed(kb.search, texts, passes))
    if not scale:
        return
    synthetic = bench_kb()
    with tempfile.TemporaryDirectory(prefix="zhengce-scale-") as tmp:
        root = Path(tmp)
        sentences = synthetic.seed_sentences(kb.corpus)
        started = time.perf_counter()
        recombined = synthetic.Recombined(model, sentences)
        synthetic.write_synthetic_project(root, kb.corpus, sentences)
        big = KnowledgeBase.open(root, root / "cache", recombined, progress=False)
        print(f"synthetic corpus built in {time.perf_counter() - started:.0f} s")
        print(
            f"{synthetic.SYNTHETIC_CLAUSES:,} clauses, {len(big.index.entries):,} passages:",
            timed(big.search, texts, max(1, passes - 1)),
        )


def serve(cache: Path, workers: int, texts: Sequence[str]) -> None:
    section(f"a served process: zhengce serve --workers {workers}")
    with tempfile.TemporaryDirectory(prefix="zhengce-serve-") as tmp:
        root = Path(tmp)
        shutil.copytree(ROOT / "policies", root / "policies")
        env = os.environ | {
            "ZHENGCE_ROOT": str(root),
            "ZHENGCE_CACHE": str(cache),
            "ZHENGCE_DECISION_LOG": f"sqlite:///{root / 'log.db'}",
        }
        env.pop("ZHENGCE_SERVER", None)
        port = free_port()
        command = [str(Path(sys.executable).parent / "zhengce"), "serve", "--port", str(port)]
        started = time.perf_counter()
        process = subprocess.Popen(
            [*command, "--workers", str(workers), "--log-level", "warning"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            ready = wait_ready(base, workers, process)
            print(f"process start to every worker ready (warm): {ready - started:.1f} s")
            for text in texts:
                ask(base, "/v1/route", {"matter": text, "region": "江西省", "date": "2019-06-01"})
            for _ in range(10 * workers):
                ask(base, "/v1/evaluate", {**EXAMPLE, "explain": True})
            for pid in sorted(ready_workers(base, workers)):
                status = Path(f"/proc/{pid}/status").read_text()
                rss = next(line.split()[1] for line in status.splitlines() if "VmRSS" in line)
                maps = Path(f"/proc/{pid}/maps").read_text()
                loaded = [lib for lib in ("libtorch", "onnxruntime") if lib in maps]
                print(f"worker {pid}: RSS {int(rss) / 1024:.0f} MB; mapped: {loaded or 'neither'}")
        finally:
            os.killpg(process.pid, 15)
            process.wait(timeout=60)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ask(base: str, path: str, body: dict[str, object]) -> dict[str, object]:
    request = urllib.request.Request(
        base + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        found: dict[str, object] = json.load(answer)
        return found


def ready_workers(base: str, workers: int, tries: int = 200) -> set[int]:
    """The workers that answered /readyz with 200, over up to `tries` new connections."""
    seen: set[int] = set()
    for _ in range(tries):
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=5) as answer:
                seen.add(int(json.load(answer)["worker"]))
        except (urllib.error.URLError, OSError):
            pass
        if len(seen) == workers:
            break
    return seen


def wait_ready(base: str, workers: int, process: subprocess.Popen[bytes]) -> float:
    """When every worker answered /readyz with 200 (warming done)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server stopped: {process.stderr and process.stderr.read()!r}")
        if len(ready_workers(base, workers, tries=4 * workers)) == workers:
            return time.perf_counter()
        time.sleep(0.05)
    raise SystemExit("the server was not ready within 300 s")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, help="a kb cache to build or reuse")
    parser.add_argument("--passes", type=int, default=3, help="passes over the questions")
    parser.add_argument("--workers", type=int, default=2, help="workers of the served process")
    parser.add_argument("--skip-scale", action="store_true", help="no 5,000-clause corpus")
    parser.add_argument("--skip-serve", action="store_true", help="no served process")
    args = parser.parse_args(argv)
    cache = args.cache or Path(tempfile.mkdtemp(prefix="zhengce-bench-"))
    texts = [q.question for q in load_questions(QUESTIONS)]
    try:
        print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
        model = build_cache(cache)
        compare(cache, model, texts, args.passes)
        pruning(cache, model, texts, args.passes)
        served, _ = default_embedder(cache)  # a fresh one: what a worker has, no torch
        assert served is not None
        latency(cache, served, texts, args.passes, not args.skip_scale)
        if not args.skip_serve:
            serve(cache, args.workers, texts)
        print(f"\nload average at the end {os.getloadavg()[0]:.1f}")
    finally:
        if args.cache is None:
            shutil.rmtree(cache, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
