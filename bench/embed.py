"""Benchmark query embeddings and what a serving worker holds (issue 15's search figures).

    python bench/embed.py [--cache DIR] [--passes N] [--workers N] [--skip-scale] [--skip-serve]

Prints, measured on this machine (nothing is asserted; tests/test_onnx_query.py checks the
vectors, tests/test_kb_eval.py the recall):

1. The cache as `zhengce kb build` leaves it (model, ONNX export, both indexes), built in
   --cache (default: a new temporary folder, so everything is built from scratch), and the
   ONNX graphs compared below: fp32 and int8, exported into <cache>/bench-onnx once.
2. Query embedding, one question at a time over the 63 evaluation questions: p50/p95 wall
   time (and CPU time, which a busy machine disturbs less) on torch (sentence-transformers),
   ONNX fp32 and ONNX int8, and each ONNX variant's cosine to the torch vectors.
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
from kb.model.onnx_export import export_fp32, quantize_int8  # noqa: E402
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


def graphs(cache: Path, model: LazyE5) -> dict[str, OnnxQueries]:
    """The fp32 and int8 graphs, exported once into <cache>/bench-onnx."""
    folder = cache / "bench-onnx"
    folder.mkdir(exist_ok=True)
    fp32, int8 = folder / "fp32.onnx", folder / "int8.onnx"
    model_folder = model.load().folder
    if not fp32.exists():
        started = time.perf_counter()
        export_fp32(model_folder, fp32, PROBES[1])
        print(f"fp32 exported and fused in {time.perf_counter() - started:.1f} s")
    if not int8.exists():
        started = time.perf_counter()
        quantize_int8(fp32, int8)
        print(f"int8 quantised in {time.perf_counter() - started:.1f} s")
    tokenising = {"prompt": "query: ", "max_length": 512, "pad_token": "<pad>"}
    out = {}
    for name, graph in (("fp32", fp32), ("int8", int8)):
        started = time.perf_counter()
        out[name] = OnnxQueries(
            graph, model_folder / "tokenizer.json", precision=name, **tokenising
        )
        print(
            f"{name}: {graph.stat().st_size / 2**20:.0f} MB, session opened in "
            f"{time.perf_counter() - started:.2f} s"
        )
    return out


def compare(cache: Path, model: LazyE5, texts: Sequence[str], passes: int) -> None:
    section("query embedding, one question at a time")
    variants = graphs(cache, model)
    on_torch = model.load()
    reference = on_torch.encode_queries(texts)
    encoders: dict[str, Callable[[Sequence[str]], FloatMatrix]] = {
        "torch": on_torch.encode_queries,
        **{f"onnx {name}": q.encode for name, q in variants.items()},
    }
    for name, encode in encoders.items():
        print(f"{name:10}", timed(lambda t, e=encode: e([t]), texts, passes))
    vectors = {name: np.vstack([e([t]) for t in texts]) for name, e in encoders.items()}
    for name in ("onnx fp32", "onnx int8"):
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
