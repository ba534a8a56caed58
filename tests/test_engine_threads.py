"""Stress tests for ReteEngine: one engine shared by 8 threads, and 20,000 evaluations in a row
(each under its own session id, whose state the engine must delete); and for the compiled
evaluator, whose kept decision parts 8 threads share.

durable-rules' stock Host runs a background dispatcher (two timer threads) that runs actions
outside ReteEngine's lock and now and then drops a firing or crashes the process; ReteEngine
uses a Host that never starts it. The tests at the end pin that, in a child process (the race
can segfault), and that no engine leaves threads behind.
"""

from __future__ import annotations

import gc
import random
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest

from dsl.compile import ReteEngine
from dsl.compiled import CompiledEvaluator
from dsl.decide import Decision, decide
from dsl.interpret import Firing, Interpreter
from dsl.load import load_folder
from dsl.resolved import PolicySet
from dsl.schema import FactValue
from kb.corpus import Corpus

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow

THREADS = 8
PER_THREAD = 500
SEQUENTIAL = 20_000

REGIONS = [
    "甘肃省/平凉市",
    "甘肃省/平凉市/崆峒区",
    "甘肃省/兰州市",
    "上海市/嘉定区/安亭镇",
    "四川省/成都市",
    "江西省",
    "浙江省/温州市/鹿城区",
]
DATES = ["2016-06-30", "2017-06-30", "2019-07-01", "2023-08-01", "2023-08-02", "2025-01-01"]


@cache
def seed() -> PolicySet:
    result = load_folder(ROOT / "policies", Corpus(ROOT))
    assert result.policies is not None, result.render()
    return result.policies


def random_project(rng: random.Random, policies: PolicySet) -> dict[str, object]:
    """A project over every schema field, optional fields often left out, numbers on and
    around the thresholds the seed policies use."""
    project: dict[str, object] = {}
    for f in policies.schema.fields:
        if not f.required and rng.random() < 0.4:
            continue
        kind = f.type.kind
        if kind == "region":
            project[f.name] = rng.choice(REGIONS)
        elif kind == "text":
            project[f.name] = rng.choice(["平凉工业园区", "装备制造", "化工", "", 'a"b\\c'])
        elif kind == "enum":
            project[f.name] = rng.choice([v.name for v in f.type.values])
        elif kind == "bool":
            project[f.name] = rng.random() < 0.5
        elif kind == "date":
            project[f.name] = rng.choice(DATES)
        else:
            project[f.name] = rng.choice(
                [0, 1, 2, 3, 10, 11, 20, 99.99, 100, 999.99, 1000, 1000.01, 5000, 50000.5]
            )
    return project


def varied_facts(n: int, seed_value: int) -> list[dict[str, FactValue]]:
    policies = seed()
    rng = random.Random(seed_value)
    out: list[dict[str, FactValue]] = []
    for _ in range(n):
        facts, errors = policies.schema.validate(random_project(rng, policies))
        assert errors == [], errors
        out.append(facts)
    return out


def run_together(work: Callable[[int], None]) -> None:
    """Run `work(k)` for k in range(THREADS), each in its own thread, all released at once;
    fails the test on any thread's error or a thread that does not finish."""
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def run(k: int) -> None:
        start.wait()
        try:
            work(k)
        except BaseException as e:  # collected, so the main thread can fail the test
            errors.append(e)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []


def test_eight_threads_share_one_engine() -> None:
    policies = seed()
    ids = [p.id for p in policies.policies]
    engine = ReteEngine(policies)
    interp = Interpreter(policies)
    facts = varied_facts(THREADS * PER_THREAD, seed_value=8)
    want = [interp.fire(f, ids) for f in facts]
    # Sanity: the facts are varied enough that the answers are.
    assert len({(w.definite, w.possible) for w in want}) > 20

    got: list[Firing | None] = [None] * len(facts)

    def work(k: int) -> None:
        # Interleaved slices, so that neighbouring facts run on different threads.
        for i in range(k, len(facts), THREADS):
            got[i] = engine.fire(facts[i], ids)

    run_together(work)
    wrong = [i for i, (g, w) in enumerate(zip(got, want, strict=True)) if g != w]
    assert wrong == [], f"{len(wrong)} of {len(facts)} differ, first {facts[wrong[0]]}"


def test_eight_threads_share_one_compiled_evaluator() -> None:
    """Its kept parts are dicts the threads share: each thread starts at another project and
    meets the others' kinds of project while they are being kept."""
    policies = seed()
    compiled = CompiledEvaluator(policies)
    interp = Interpreter(policies)
    facts = varied_facts(240, seed_value=15)
    want = [[decide(policies, interp, f, explain=e) for e in (False, True)] for f in facts]
    got: list[list[Decision | None]] = [[None, None] for _ in facts]

    def work(k: int) -> None:
        for n in range(len(facts)):
            i = (n + k * len(facts) // THREADS) % len(facts)
            explain = (n + k) % 2
            got[i][explain] = decide(policies, compiled, facts[i], explain=bool(explain))

    run_together(work)
    decided = [(i, e) for i, pair in enumerate(got) for e, d in enumerate(pair) if d is not None]
    assert len(decided) > len(facts)  # both kinds of decision, for most projects
    wrong = [(i, e) for i, e in decided if got[i][e] != want[i][e]]
    assert wrong == [], f"{len(wrong)} differ, first {facts[wrong[0][0]]}"


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def test_twenty_thousand_sequential_evaluations() -> None:
    policies = seed()
    ids = [p.id for p in policies.policies]
    engine = ReteEngine(policies)
    interp = Interpreter(policies)
    facts = varied_facts(2_000, seed_value=20)
    want = [interp.fire(f, ids) for f in facts]
    for f in facts[:200]:  # the first evaluations allocate what the engine keeps
        engine.fire(f, ids)
    gc.collect()
    before = _rss_mb()
    for n in range(SEQUENTIAL):
        i = n % len(facts)
        assert engine.fire(facts[i], ids) == want[i], facts[i]
    gc.collect()
    # Each evaluation has a session of its own; kept sessions ran out of memory at about
    # 2,000 in an earlier design. Measured here: well under 1 MB for 20,000.
    assert _rss_mb() - before < 32


# ---- known bugs -------------------------------------------------------------------------------

RACE = textwrap.dedent(
    """
    import logging, sys, time
    from pathlib import Path
    from dsl.compile import ReteEngine
    from dsl.interpret import Interpreter
    from dsl.load import load_folder
    from kb.corpus import Corpus

    logging.disable(logging.CRITICAL)  # durable logs each failed action; the count is enough
    policies = load_folder(Path("policies"), Corpus(Path("."))).policies
    engine, interp = ReteEngine(policies), Interpreter(policies)
    ids = [p.id for p in policies.policies]
    facts, _ = policies.schema.validate({"region": "甘肃省/平凉市"})
    want = interp.fire(facts, ids)
    # A short switch interval lets the dispatcher's threads in between Python steps of an
    # evaluation: the race is the same, it only shows sooner.
    sys.setswitchinterval(1e-4)
    began, n = time.monotonic(), 0
    while time.monotonic() - began < 8:
        n += 1
        try:
            got = engine.fire(facts, ids)
        except Exception as e:
            sys.exit(f"evaluation {n} raised {e!r}")
        if got != want:
            lost = (want.definite | want.possible) - (got.definite | got.possible)
            sys.exit(f"evaluation {n} differs: {len(lost)} rules lost, e.g. {sorted(lost)[:2]}")
    print(f"ok {n}")
    """
)


class RaceObserved(AssertionError):
    pass


def test_background_dispatch_does_not_race_evaluations() -> None:
    # In a child process because the race can segfault. The loop stops at the first wrong
    # answer; with the stock Host that took 0.1 to 10 s (about 4 s typically), so 8 s of
    # clean evaluations is a fair guard against the dispatcher coming back.
    done = subprocess.run(
        [sys.executable, "-c", RACE], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    if done.returncode < 0 or "evaluation " in done.stderr:  # a signal, or the loop's verdict
        raise RaceObserved(done.stderr.strip()[-500:] or f"killed by signal {-done.returncode}")
    # Anything else (an import error, say) is a broken test, not the race: fail for real.
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("ok")


def test_a_dropped_engine_leaves_no_thread_behind() -> None:
    def steady_thread_count() -> int:
        # A durable timer thread starts its successor before it ends, so a single count can
        # catch one thread twice: the least of a few samples is the steady count.
        counts = []
        for _ in range(5):
            counts.append(threading.active_count())
            time.sleep(0.05)
        return min(counts)

    policies = seed()
    before = steady_thread_count()
    engines = [ReteEngine(policies) for _ in range(3)]
    del engines
    gc.collect()
    assert steady_thread_count() == before
