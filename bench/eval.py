"""Benchmark the three evaluators on the seed policies (the five documents): load cost,
decision latency and throughput, memory over many evaluations, a batch over two processes
(`--batch`), and the peers of bench/peers.py on the 平凉 rules in the same run. Run from
anywhere: `python bench/eval.py`; `--batch 200000` for the batch only, `--explained 3` for
the explained decisions by cell only.

Every number is measured with time.perf_counter_ns on this machine; nothing is asserted.
Run it with the project's venv (the package is installed editable), as `make bench` does.
Answers are compared with the interpreter's, and any evaluation that raises or differs is
counted. Projects are validated before timing: a decision here is `decide()` on valid facts.
The compiled evaluator keeps decision parts by what they depend on (dsl/compiled.py), so its
figures are given twice: the first time each kind of project is seen, and once kept; and its
explained decisions once more in CPU time, split by whether the project's cell (the values of
the tests of the policies in force) was seen before: the counterfactual search runs per cell.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import multiprocessing
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

# Run as `python bench/eval.py`, this file's folder is sys.path[0], where bench/kb.py would
# shadow the kb package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from dsl.codegen import generate  # noqa: E402
from dsl.compile import SENTINEL, ReteEngine, compile_policies  # noqa: E402
from dsl.compiled import CompiledEvaluator  # noqa: E402
from dsl.decide import (  # noqa: E402
    Decision,
    Evaluator,
    decide,
    evaluation_date,
    policies_in_force,
)
from dsl.interpret import Interpreter  # noqa: E402
from dsl.load import load_folder, policy_files  # noqa: E402
from dsl.parser import parse  # noqa: E402
from dsl.resolved import PolicySet  # noqa: E402
from dsl.schema import FactValue  # noqa: E402
from kb.corpus import Corpus  # noqa: E402

ROOT = _HERE.parent
T = TypeVar("T")

REGIONS = [
    "甘肃省/平凉市",
    "甘肃省/平凉市/崆峒区",
    "甘肃省/兰州市",
    "上海市/嘉定区/安亭镇",
    "四川省/成都市",
    "江西省",
    "浙江省/温州市/鹿城区",
]
NUMBERS = [0, 1, 2, 3, 10, 11, 20, 50, 60, 99.99, 100, 999.99, 1000, 1000.01, 3000, 50000]
DATES = ["2016-06-30", "2018-01-01", "2019-07-01", "2023-08-01", "2023-08-02", "2025-01-01"]


def ms(ns: int) -> str:
    return f"{ns / 1e6:8.1f} ms"


def us(ns: float) -> str:
    return f"{ns / 1e3:8.1f} µs"


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def timed(fn: Callable[[], T]) -> tuple[T, int]:
    start = time.perf_counter_ns()
    result = fn()
    return result, time.perf_counter_ns() - start


def projects(policies: PolicySet, n: int, seed: int) -> list[dict[str, FactValue]]:
    """Varied valid projects: optional fields often left out, numbers around thresholds."""
    rng = random.Random(seed)
    out: list[dict[str, FactValue]] = []
    while len(out) < n:
        project: dict[str, object] = {}
        for f in policies.schema.fields:
            if not f.required and rng.random() < 0.4:
                continue
            kind = f.type.kind
            if kind == "region":
                project[f.name] = rng.choice(REGIONS)
            elif kind == "text":
                project[f.name] = rng.choice(["平凉工业园区", "装备制造", "化工", "物流", ""])
            elif kind == "enum":
                project[f.name] = rng.choice(f.type.values).name
            elif kind == "bool":
                project[f.name] = rng.random() < 0.5
            elif kind == "date":
                project[f.name] = rng.choice(DATES)
            else:
                project[f.name] = rng.choice(NUMBERS)
        facts, errors = policies.schema.validate(project)
        if not errors:
            out.append(facts)
    return out


def latency(
    policies: PolicySet,
    evaluator: Evaluator,
    facts: list[dict[str, FactValue]],
    explain: bool,
    passes: int = 1,
) -> tuple[list[int], list[Decision | None], int]:
    """Per-decision nanoseconds over `passes` passes, the last pass's decisions (None where
    it raised), and how many raised. The garbage collector's objects so far are frozen, as
    `zhengce serve` freezes what it loads."""
    times: list[int] = []
    decisions: list[Decision | None] = []
    failures = 0
    gc.collect()
    gc.freeze()
    for _ in range(passes):
        decisions = []
        for f in facts:
            start = time.perf_counter_ns()
            try:
                decisions.append(decide(policies, evaluator, f, explain=explain))
            except Exception:  # the durable race: counted and reported, the run goes on
                decisions.append(None)
                failures += 1
            times.append(time.perf_counter_ns() - start)
    gc.unfreeze()
    return times, decisions, failures


def summary(times: list[int]) -> tuple[float, float, float]:
    """Evaluations per second, p50 and p99 in nanoseconds."""
    cuts = statistics.quantiles(times, n=100, method="inclusive")
    return len(times) / (sum(times) / 1e9), cuts[49], cuts[98]


def cells(policies: PolicySet, facts: list[dict[str, FactValue]]) -> list[object]:
    """Each project's cell: the policies in force and T, the values of their tests
    (dsl/codegen.py); None where none is in force. An explanation depends on nothing else
    beside the values of the fields tested (dsl/cell_search.py)."""
    codes = {c.policy.id: c for c in generate(policies)}
    out: list[object] = []
    for f in facts:
        day = evaluation_date(f, None)
        _, active = policies_in_force(policies, str(f.get("region", "")), day)
        out.append(tuple((p.id, codes[p.id].run(f)[1]) for p in active) or None)
    return out


def explained_by_cell(
    policies: PolicySet, facts: list[dict[str, FactValue]]
) -> dict[str, tuple[int, float, float, float]]:
    """Explained decisions of a fresh compiled evaluator, in CPU time (time.process_time_ns:
    the other processes of a shared machine do not count), split by whether the project's
    cell was seen before in the run: per kind, how many, p50, p99 and the mean, in ns."""
    compiled = CompiledEvaluator(policies)
    times: dict[str, list[int]] = {"first sight": [], "seen": [], "not in force": []}
    seen: set[object] = set()
    gc.collect()
    gc.freeze()
    for f, cell in zip(facts, cells(policies, facts), strict=True):
        start = time.process_time_ns()
        decide(policies, compiled, f, explain=True)
        spent = time.process_time_ns() - start
        kind = "not in force" if cell is None else "seen" if cell in seen else "first sight"
        seen.add(cell)
        times[kind].append(spent)
    gc.unfreeze()
    out = {}
    for kind, ns in times.items():
        if len(ns) >= 2:
            cuts = statistics.quantiles(ns, n=100, method="inclusive")
            out[kind] = (len(ns), cuts[49], cuts[98], sum(ns) / len(ns))
    return out


def explained_runs(n: int, seed: int, runs: int) -> None:
    """`explained_by_cell` alone, `runs` times, with what a compiled evaluator costs to build
    (CPU time): the figures a change to the counterfactual search moves, in a few seconds."""
    loaded = load_folder(ROOT / "policies", Corpus(ROOT)).policies
    if loaded is None:
        sys.exit("the seed policies do not load")
    start = time.process_time_ns()
    for _ in range(20):
        CompiledEvaluator(loaded)
    build = (time.process_time_ns() - start) / 20
    facts = projects(loaded, n, seed)
    print(f"CompiledEvaluator() {ms(int(build))} CPU; {n} projects, seed {seed}")
    print(f"{'':24}{'n':>6}{'p50':>12}{'p99':>12}{'mean':>12}")
    for run in range(runs):
        for kind, (count, p50, p99, mean) in explained_by_cell(loaded, facts).items():
            print(f"{f'run {run + 1}, {kind}':24}{count:6}{us(p50):>12}{us(p99):>12}{us(mean):>12}")


def load_peers() -> Any:
    """bench/peers.py as a module (this folder is not on sys.path: see above)."""
    spec = importlib.util.spec_from_file_location("bench_peers", _HERE / "peers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _batch_worker(
    k: int, policies: PolicySet, facts: list[dict[str, FactValue]], start: Any, out: Any
) -> None:
    """One process's slice: its own evaluator (nothing kept yet), then every decision; the
    wall-clock and the CPU time it took."""
    compiled = CompiledEvaluator(policies)
    start.wait()
    began, cpu = time.perf_counter_ns(), time.process_time_ns()
    for f in facts:
        decide(policies, compiled, f, explain=False)
    out.put((k, (time.perf_counter_ns() - began, time.process_time_ns() - cpu)))


def batch(policies: PolicySet, n: int, seed: int, processes: int = 2) -> tuple[float, float]:
    """Decisions/s over `n` generated projects split between `processes` forked processes,
    each timing its own slice from a common start: n over the slowest slice's wall-clock
    time, and over its CPU time (what the processes would do with a core each to themselves:
    on a shared machine the two differ by the other load)."""
    facts = projects(policies, n, seed)
    context = multiprocessing.get_context("fork")
    start, out = context.Barrier(processes + 1), context.Queue()
    slices = [facts[k::processes] for k in range(processes)]
    workers = [
        context.Process(target=_batch_worker, args=(k, policies, s, start, out))
        for k, s in enumerate(slices)
    ]
    for w in workers:
        w.start()
    start.wait()
    elapsed = dict(out.get(timeout=600) for _ in workers)
    for w in workers:
        w.join()
    wall = n / (max(ns for ns, _ in elapsed.values()) / 1e9)
    cpu = n / (max(ns for _, ns in elapsed.values()) / 1e9)
    print(
        f"batch: {n:,} generated projects on {processes} processes (compiled, no explanation, "
        f"nothing kept at the start): {wall:,.0f} decisions/s by the clock, {cpu:,.0f} by CPU time"
    )
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=3000, help="projects per latency run")
    parser.add_argument("--leak-n", type=int, default=20_000, help="evaluations for the RSS check")
    parser.add_argument("--seed", type=int, default=1, help="seed of the project generator")
    parser.add_argument(
        "--batch", type=int, default=0, metavar="N", help="only the batch, of N projects"
    )
    parser.add_argument("--no-peers", action="store_true", help="leave out bench/peers.py")
    parser.add_argument(
        "--explained",
        type=int,
        default=0,
        metavar="RUNS",
        help="only the explained decisions by cell, RUNS times, each from a fresh evaluator",
    )
    args = parser.parse_args()
    if args.explained:
        explained_runs(args.n, args.seed, args.explained)
        return
    if args.batch:
        corpus = Corpus(ROOT)
        loaded = load_folder(ROOT / "policies", corpus).policies
        if loaded is None:
            sys.exit("the seed policies do not load")
        batch(loaded, args.batch, args.seed)
        return

    # ---- loading --------------------------------------------------------------------------
    files = [ROOT / "policies" / "schema.zc", *policy_files(ROOT / "policies")]
    texts = [p.read_text("utf-8") for p in files]
    # The first parse builds the LALR tables (once per process); time it apart.
    _, grammar_ns = timed(lambda: parse("", "empty.zc"))

    def parse_all() -> None:
        for text, path in zip(texts, files, strict=True):
            parse(text, str(path))

    _, parse_cold_ns = timed(parse_all)  # lark still compiles lexer states on first use
    _, parse_ns = timed(parse_all)
    corpus = Corpus(ROOT)
    result, cold_ns = timed(lambda: load_folder(ROOT / "policies", corpus))
    _, warm_ns = timed(lambda: load_folder(ROOT / "policies", corpus))
    policies = result.policies
    if policies is None:
        sys.exit("the seed policies do not load:\n" + result.render())
    compiled, compile_ns = timed(lambda: compile_policies(policies))
    rete, rete_ns = timed(lambda: ReteEngine(policies))
    interp, interp_ns = timed(lambda: Interpreter(policies))
    fast, fast_ns = timed(lambda: CompiledEvaluator(policies))

    targets = rete.compiled.targets
    modes = Counter(mode for _, mode in targets.values())
    per_rule = Counter(key for key, _ in targets.values())
    print(f"policies {len(policies.policies)}, rules {len(policies.rules)}, files {len(files)}")
    print(
        f"compiled: {len(targets)} durable rules (conjuncts) in {len(rete.compiled.rulesets)} "
        f"rulesets, each with a {SENTINEL}: "
        f"{modes['definite']} definite, {modes['possible']} possible; "
        f"per rule max {max(per_rule.values(), default=0)}, "
        f"mean {len(targets) / max(len(per_rule), 1):.1f}; "
        f"{len(rete.compiled.features)} string features"
    )
    print(f"grammar (lark)    {ms(grammar_ns)}  (first parse of the process)")
    print(f"parse only cold   {ms(parse_cold_ns)}  ({len(files)} files)")
    print(f"parse only warm   {ms(parse_ns)}")
    print(f"parse+check cold  {ms(cold_ns)}  (first load: reads the source documents)")
    print(f"parse+check warm  {ms(warm_ns)}")
    print(f"compile           {ms(compile_ns)}  ({len(compiled.targets)} conjuncts)")
    print(f"ReteEngine()      {ms(rete_ns)}  (compile + durable registration)")
    print(f"Interpreter()     {ms(interp_ns)}")
    print(f"CompiledEvaluator() {ms(fast_ns)}  (generate + compile() the Python source)")

    # ---- latency ----------------------------------------------------------------------------
    facts = projects(policies, args.n, args.seed)
    for f in facts[:100]:  # warm the interpreter and the Rete engine up: first calls allocate
        decide(policies, interp, f)
        decide(policies, rete, f)
    in_force = sum(1 for f in facts if decide(policies, interp, f, explain=False).policies)
    print(f"\ndecide() over {len(facts)} varied projects, {in_force} with a policy in force")
    print(f"{'':36}{'eval/s':>10}{'p50':>12}{'p99':>12}{'raised':>8}{'differ':>8}")
    rates: dict[tuple[str, bool], tuple[float, float, float]] = {}
    for explain in (True, False):
        base_times, base, _ = latency(policies, interp, facts, explain)
        runs = [("interpreter", base_times, 0, 0)]
        for name, evaluator, passes in (
            ("compiled, first sight", fast, 1),
            # Several passes: one takes a fraction of a second, which one burst of another
            # process's work on this shared machine would fill.
            ("compiled, parts kept", fast, 5),
            ("rete", rete, 1),
        ):
            times, got, raised = latency(policies, evaluator, facts, explain, passes)
            differ = sum(1 for g, b in zip(got, base, strict=True) if g is not None and g != b)
            runs.append((name, times, raised, differ))
        for name, times, n_raised, n_differ in runs:
            rate, p50, p99 = rates[(name, explain)] = summary(times)
            label = f"{name} explain={explain}"
            print(f"{label:36}{rate:10.0f}{us(p50):>12}{us(p99):>12}{n_raised:8}{n_differ:8}")
        fast = CompiledEvaluator(policies)  # nothing kept, for the next "first sight"
    for explain in (True, False):
        base_rate = rates[("interpreter", explain)]
        for name in ("compiled, parts kept", "rete"):
            ratios = [x / y for x, y in zip(rates[(name, explain)], base_rate, strict=True)]
            print(
                f"{name}/interp explain={explain}: throughput x{ratios[0]:.3f}, "
                f"p50 x{ratios[1]:.2f}, p99 x{ratios[2]:.2f}"
            )

    split = explained_by_cell(policies, facts)
    every = sum(n * mean for n, _, _, mean in split.values())
    rate = sum(n for n, _, _, _ in split.values()) / (every / 1e9)
    print(
        f"\ncompiled, explained, nothing kept at the start, CPU time per decision: "
        f"{split['first sight'][0]} cells seen for the first time among {len(facts)} projects "
        f"({rate:,.0f} explained decisions/s by CPU time)"
    )
    print(f"{'':36}{'n':>10}{'p50':>12}{'p99':>12}{'mean':>12}")
    for kind, (n, p50, p99, mean) in split.items():
        print(f"{kind:36}{n:10}{us(p50):>12}{us(p99):>12}{us(mean):>12}")

    # ---- memory -------------------------------------------------------------------------------
    print(f"\nRSS over {args.leak_n} decide(explain=True) calls (MB)")
    for name, evaluator in (("interpreter", interp), ("compiled", fast), ("rete", rete)):
        gc.collect()
        before = rss_mb()
        start = time.perf_counter_ns()
        raised = 0
        for k in range(args.leak_n):
            try:
                decide(policies, evaluator, facts[k % len(facts)])
            except Exception:
                raised += 1
        elapsed = time.perf_counter_ns() - start
        gc.collect()
        after = rss_mb()
        print(
            f"{name:12} before {before:7.1f}  after {after:7.1f}  growth {after - before:+6.1f}"
            f"  ({elapsed / 1e9:.1f} s, {raised} raised)"
        )

    # ---- batch and peers ----------------------------------------------------------------------
    print()
    wall, cpu = batch(policies, 100_000, args.seed)
    rows = []
    if not args.no_peers:
        print("\npeers (bench/peers.py), same run:")
        peers = load_peers()
        comparison = peers.compare(peers.load())
        peers.report(comparison, targets=False)
        rows = peers.target_rows(comparison)
    kept = rates[("compiled, parts kept", True)][2]
    first = split["first sight"][2]
    print("\n| figure | measured | target |\n|---|---|---|")
    if rows:  # the peers' ratio rows; none with --no-peers
        print("\n".join(rows))
    print(
        f"| p99 of one decision with explain, five-document set | {us(kept).strip()} with "
        f"its parts kept ({us(first).strip()} CPU for a cell seen the first time) | ≤ 100 µs |"
    )
    print(
        f"| batch decisions/s, 2 cores (`bench/eval.py --batch`) | {wall:,.0f} by the clock, "
        f"{cpu:,.0f} by CPU time | ≥ 50,000 |"
    )


if __name__ == "__main__":
    main()
