"""zhengce beside its peers, in one run, on the same rules and the same projects: the 平凉
document's rules (policies/pingliang-2023.zc: who files, reviews or approves a project by
供地/非供地, the 1000万元 threshold, 一事一议, the park's plans …) encoded for
- zen-engine (GoRules JDM decision table, Rust): bench/peers/pingliang.json,
- cedarpy (Cedar policies, Rust): bench/peers/pingliang.cedar,
- regopy (OPA Rego, C++): bench/peers/pingliang.rego,
and 12 projects covering both sides of every threshold, 供地 and 非供地, and missing facts.

Before timing anything, the bench checks that every engine's answer (outcome and the ordered
authority/action steps) is zhengce's reference interpreter's, on the 12 projects and on a grid
of every combination of the facts the rules test (values on both sides of each threshold,
each field also missing); a peer that disagrees anywhere gets no ratio. zhengce decides from
validated facts (dsl.schema) and the peers get the same facts (Cedar, which has no fractions,
the amount in whole yuan: that conversion is timed as part of its decision). A peer gives no
explanation; the ratios "with explain" compare zhengce's explained decisions with the peer's
plain ones.

Install the peers with `pip install -e '.[peers]'`; run `python bench/peers.py`. Nothing is
asserted; every figure is time.perf_counter_ns on this machine, with the garbage collector
frozen after loading as `zhengce serve` does, and the engines timed by turns (see `timings`).
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Run as `python bench/peers.py`, this file's folder is sys.path[0], where bench/kb.py would
# shadow the kb package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from dsl.compile import ReteEngine  # noqa: E402
from dsl.compiled import CompiledEvaluator  # noqa: E402
from dsl.decide import Decision, Evaluator, decide  # noqa: E402
from dsl.interpret import Interpreter  # noqa: E402
from dsl.load import load_folder  # noqa: E402
from dsl.resolved import PolicySet  # noqa: E402
from dsl.schema import FactValue  # noqa: E402
from kb.corpus import Corpus  # noqa: E402

ROOT = _HERE.parent
ENCODINGS = _HERE / "peers"
DATE = "2024-01-01"
ZEN = "zen-engine (GoRules JDM, Rust)"
PLACE = "甘肃省/平凉市"

Facts = Mapping[str, FactValue]
Answer = tuple[str, tuple[tuple[str, str], ...]]  # outcome, (authority, action) in order

PROJECTS: list[dict[str, object]] = [
    {"land_use": "none", "investment_wan": 1500},  # 非供地, above: filed
    {"land_use": "none", "investment_wan": 1000},  # 以上 includes 1000
    {"land_use": "none", "investment_wan": 999.99},  # below: no rule decides
    {"land_use": "lease", "investment_wan": 3000},  # a lease supplies no land: 非供地
    {"land_use": "existing_renovation", "investment_wan": 200},
    {"land_use": "new_land", "investment_wan": 500},  # 供地: 汇总, 论证指导
    {"land_use": "new_land", "one_matter_one_discussion": True},  # the amount is not needed
    {"land_use": "none", "investment_wan": 999.99, "one_matter_one_discussion": True},
    {"land_use": "none", "investment_wan": 1000, "one_matter_one_discussion": True},
    {"investment_wan": 1500},  # land use missing: undetermined
    {"land_use": "none"},  # amount missing: undetermined
    {"subject": "park_plan", "park_level": "provincial"},
]

# The grid the encodings are checked on: every combination of these (None: left out).
GRID: dict[str, list[object]] = {
    "subject": [
        "project",
        "park_policy",
        "park_plan",
        "infrastructure_plan",
        "major_issue",
        "park_assessment",
        "planning_quota",
        "park_enterprise",
    ],
    "park_level": [None, "national", "provincial", "municipal", "other"],
    "land_use": [None, "new_land", "existing_renovation", "lease", "none"],
    "investment_wan": [None, 0, 999.9999, 1000, 3000],
    "one_matter_one_discussion": [False, True],
}


def answer(d: Decision) -> Answer:
    return str(d.outcome), tuple((s.authority, s.action) for s in d.steps)


@dataclass(frozen=True)
class Engine:
    name: str
    short: str  # its column in the table of ratios
    decide: Callable[[Facts], Any]  # what is timed
    answer: Callable[[Any], Answer]  # its result as an Answer (not timed)
    peer: bool = False


def zhengce_engines(policies: PolicySet) -> list[Engine]:
    evaluators: list[tuple[str, Evaluator]] = [
        ("compiled", CompiledEvaluator(policies)),
        ("interpreter", Interpreter(policies)),
        ("Rete", ReteEngine(policies)),
    ]

    def engine(name: str, evaluator: Evaluator, explain: bool) -> Engine:
        long = "Rete (durable-rules)" if name == "Rete" else name
        return Engine(
            f"zhengce {long}" + (", explain" if explain else ""),
            name + ("+explain" if explain else ""),
            lambda facts: decide(policies, evaluator, facts, DATE, explain),
            answer,
        )

    return [engine(n, e, x) for n, e in evaluators for x in (False, True)]


def zen_engine() -> Engine:
    import zen

    decision = zen.ZenEngine().create_decision((ENCODINGS / "pingliang.json").read_text("utf-8"))

    def read(result: Any) -> Answer:
        out = result["result"]
        return out["outcome"], tuple((a, b) for a, b in out["steps"])

    return Engine(ZEN, "zen-engine", decision.evaluate, read, peer=True)


def cedar_engine() -> Engine:
    import cedarpy

    text = (ENCODINGS / "pingliang.cedar").read_text("utf-8")
    policies = cedarpy.PolicySet.from_str(text)
    entities = cedarpy.Entities.from_json_str("[]")
    rows = {}
    for pid, p in json.loads(cedarpy.policies_to_json_str(text))["staticPolicies"].items():
        notes = p["annotations"]
        steps = [s.split("|") for s in notes["steps"].split(";") if s]
        rows[pid] = (notes["outcome"], tuple((a, b) for a, b in steps))
    fields = ("subject", "park_level", "land_use", "one_matter_one_discussion")

    def decide_(facts: Facts) -> Any:
        context: dict[str, object] = {k: facts[k] for k in fields if k in facts}
        amount = facts.get("investment_wan")
        if amount is not None:
            context["investment_yuan"] = round(float(amount) * 10_000)
        request = {
            "principal": 'Project::"p"',
            "action": 'Action::"decide"',
            "resource": 'Policy::"pingliang-2023"',
            "context": context,
        }
        return cedarpy.is_authorized(request, policies, entities)

    def read(result: Any) -> Answer:
        reasons = result.diagnostics.reasons
        if result.diagnostics.errors or len(reasons) > 1:
            return "error", ()
        return rows[reasons[0]] if reasons else ("none", ())

    return Engine("cedarpy (Cedar, Rust)", "cedarpy", decide_, read, peer=True)


def rego_engine() -> Engine:
    import regopy

    builder = regopy.Interpreter()
    builder.add_module("pingliang.rego", (ENCODINGS / "pingliang.rego").read_text("utf-8"))
    bundle = builder.build("data.pingliang.decision", ["pingliang/decision"])
    rego = regopy.Interpreter()

    def decide_(facts: Facts) -> Any:
        rego.set_input(dict(facts))
        return rego.query_bundle(bundle).results  # as Python values, timed too

    def read(result: Any) -> Answer:
        out = result[0].expressions[0]
        return out["outcome"], tuple((a, b) for a, b in out["steps"])

    return Engine("regopy (OPA Rego, C++)", "regopy", decide_, read, peer=True)


def peer_engines() -> tuple[list[Engine], list[str]]:
    """The peers installed, and a line for each one that is not."""
    found, missing = [], []
    for make, package in (
        (zen_engine, "zen-engine"),
        (cedar_engine, "cedarpy"),
        (rego_engine, "regopy"),
    ):
        try:
            found.append(make())
        except ImportError:
            missing.append(f"{package}: not installed (pip install -e '.[peers]')")
    return found, missing


def validated(policies: PolicySet, projects: list[dict[str, object]]) -> list[Facts]:
    out = []
    for p in projects:
        facts, errors = policies.schema.validate({"region": PLACE, **p})
        if errors:
            sys.exit(f"a bench project is invalid: {p}: {errors}")
        out.append(facts)
    return out


def grid() -> list[dict[str, object]]:
    names = list(GRID)
    return [
        {k: v for k, v in zip(names, values, strict=True) if v is not None}
        for values in itertools.product(*GRID.values())
    ]


def disagreements(engine: Engine, facts: list[Facts], want: list[Answer]) -> list[str]:
    wrong = []
    for f, w in zip(facts, want, strict=True):
        try:
            got = engine.answer(engine.decide(f))
        except Exception as e:  # a peer's error is a disagreement, reported
            got = ("error", ((type(e).__name__, str(e)[:80]),))
        if got != w:
            wrong.append(f"{dict(f)}: {got} instead of {w}")
    return wrong


@dataclass(frozen=True)
class Timing:
    rate: float  # decisions per second
    p50: float  # ns
    p99: float  # ns
    n: int


SLICE = 0.05  # seconds an engine runs in each round


def timings(
    engines: list[Engine], facts: list[Facts], seconds: float, at_least: int
) -> dict[str, Timing]:
    """Each decision timed alone, over `facts` in turn. The engines take turns in rounds of
    SLICE seconds each (at least one pass over `facts`), for about `seconds` each in all and
    `at_least` decisions each: on a machine shared with other work, every engine then meets
    the same load, and the ratios stay fair while the rates move."""
    for e in engines:
        for f in facts * 3:  # warm up (and let the compiled evaluator keep its parts)
            e.decide(f)
    gc.collect()
    gc.freeze()
    times: dict[str, list[int]] = {e.name: [] for e in engines}
    began = time.perf_counter()
    while True:
        for e in engines:
            mine, turn = times[e.name], time.perf_counter()
            while True:
                for f in facts:
                    start = time.perf_counter_ns()
                    e.decide(f)
                    mine.append(time.perf_counter_ns() - start)
                if time.perf_counter() - turn >= SLICE:
                    break
        enough = min(len(t) for t in times.values()) >= at_least
        if enough and time.perf_counter() - began >= seconds * len(engines):
            break
    gc.unfreeze()
    out = {}
    for name, mine in times.items():
        cuts = statistics.quantiles(mine, n=100, method="inclusive")
        out[name] = Timing(len(mine) / (sum(mine) / 1e9), cuts[49], cuts[98], len(mine))
    return out


@dataclass(frozen=True)
class Comparison:
    engines: list[Engine]
    timings: dict[str, Timing]
    wrong: dict[str, list[str]]  # engine name -> its disagreements (12 projects, then grid)
    checked: int  # projects each engine was checked on
    missing: list[str]


def compare(policies: PolicySet, seconds: float = 1.0, at_least: int = 240) -> Comparison:
    """Check every engine against the interpreter, then time each one."""
    projects = validated(policies, PROJECTS)
    checks = projects + validated(policies, grid())
    reference = Interpreter(policies)
    want = [answer(decide(policies, reference, f, DATE, explain=False)) for f in checks]
    peers, missing = peer_engines()
    engines = zhengce_engines(policies) + peers
    wrong = {e.name: disagreements(e, checks, want) for e in engines}
    return Comparison(
        engines, timings(engines, projects, seconds, at_least), wrong, len(checks), missing
    )


def ratio(c: Comparison, zhengce: str, peer: str) -> float | None:
    """zhengce's decisions/s over the peer's, None when either disagrees."""
    if c.wrong[zhengce] or c.wrong[peer]:
        return None
    return c.timings[zhengce].rate / c.timings[peer].rate


TARGETS = (
    ("decisions/s vs zen-engine, same run, no explain", "zhengce compiled", 10.0),
    ("decisions/s vs zen-engine, same run, with explain", "zhengce compiled, explain", 5.0),
)


def target_rows(c: Comparison) -> list[str]:
    """The issue's target rows this bench measures, as markdown table rows."""
    rows = []
    for figure, zhengce, target in TARGETS:
        r = ratio(c, zhengce, ZEN) if ZEN in c.wrong else None
        shown = f"{r:.1f}×" if r is not None else "— (zen-engine missing or disagrees)"
        rows.append(f"| {figure} | {shown} | ≥ {target:g}× |")
    return rows


def us(ns: float) -> str:
    return f"{ns / 1e3:,.1f} µs"


def report(c: Comparison, targets: bool = True) -> None:
    print(f"{c.checked} projects checked per engine (12 timed + the grid), date {DATE}")
    for e in c.engines:
        wrong = c.wrong[e.name]
        verdict = "agrees" if not wrong else f"DISAGREES on {len(wrong)}: {wrong[0]}"
        print(f"  {e.name:40} {verdict}")
    for line in c.missing:
        print(f"  {line}")
    print(f"\n{'engine':40}{'decisions/s':>13}{'p50':>12}{'p99':>12}{'timed':>9}")
    for e in c.engines:
        t = c.timings[e.name]
        print(f"{e.name:40}{t.rate:13,.0f}{us(t.p50):>12}{us(t.p99):>12}{t.n:9,}")
    zhengce = [e for e in c.engines if not e.peer]
    print("\nzhengce's decisions/s ÷ the peer's (— where either disagrees):")
    print(f"{'':12}" + "".join(f"{z.short:>21}" for z in zhengce))
    for p in (e for e in c.engines if e.peer):
        cells = [ratio(c, z.name, p.name) for z in zhengce]
        shown = "".join(f"{f'{r:.2f}×' if r is not None else '—':>21}" for r in cells)
        print(f"{p.short:12}{shown}")
    if targets:
        print("\n| figure | measured | target |\n|---|---|---|")
        print("\n".join(target_rows(c)))


def load() -> PolicySet:
    result = load_folder(ROOT / "policies", Corpus(ROOT))
    if result.policies is None:
        sys.exit("the policies do not load:\n" + result.render())
    return result.policies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="timing per engine")
    parser.add_argument("--at-least", type=int, default=240, help="decisions per engine")
    args = parser.parse_args()
    report(compare(load(), args.seconds, args.at_least))


if __name__ == "__main__":
    main()
