"""The compiled evaluator (dsl/compiled.py over dsl/codegen.py) where the differential test
does not look: the golden decisions, conditions deeper than Python's parser would nest, values
Python calls equal that a decision writes differently, full caches, and a policy set other
than its own. tests/test_differential.py compares it with the interpreter on thousands of
projects; tests/test_engine_threads.py shares one between threads."""

from __future__ import annotations

import dataclasses
import itertools
import json
import random
from collections.abc import Mapping
from pathlib import Path

import pytest

import dsl.cell_search
from dsl.compiled import CompiledEvaluator
from dsl.counterfactual import verdict_of
from dsl.decide import Decision, assemble, decide
from dsl.interpret import Interpreter
from dsl.load import load_files
from dsl.policytest import run_case
from dsl.resolved import AllOf, AnyOf, Cond, NotC, PolicySet
from dsl.schema import FactValue
from server.service import Service
from tests.conftest import ROOT, MemorySource
from tests.test_engine_threads import THREADS, random_project, run_together
from tests.test_policies import CASES, GOLDEN

PINGLIANG = "甘肃省/平凉市"
DAY = "2024-01-01"


def _json(d: Decision) -> str:
    return json.dumps(d.to_json(), ensure_ascii=False, sort_keys=True)


@pytest.mark.parametrize(
    "case", [c for c in CASES if "want" in c[2]], ids=lambda c: f"{c[0].stem}-{c[1]:02d}"
)
def test_golden_decision(service: Service, case: tuple[Path, int, dict[str, object]]) -> None:
    """The reviewed decisions of tests/golden, explanation and counterfactuals included."""
    path, index, body = case
    result = run_case(service.policies, service.engine("compiled"), body, str(path), index)
    assert result.decision is not None
    got = result.decision.to_json() | {"revision": "<masked>"}
    text = json.dumps(got, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    assert text == (GOLDEN / path.stem / f"{index:02d}.json").read_text(encoding="utf-8")


def _projects() -> list[dict[str, object]]:
    """平凉 projects over every value the rules tell apart, and each fact left out."""
    values: dict[str, list[object]] = {
        "subject": ["project", "park_plan", "planning_quota"],
        "land_use": [None, "new_land", "lease"],
        "investment_wan": [None, 999.9999, 1000],
        "one_matter_one_discussion": [False, True],
    }
    return [
        {"region": PINGLIANG} | {k: v for k, v in zip(values, combo, strict=True) if v is not None}
        for combo in itertools.product(*values.values())
    ]


def test_full_caches_are_emptied_without_mixing_parts(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With room for 3 entries, every cache empties again and again (dsl/cell_search.py's
    too: its codes, predictions and verifications)."""
    monkeypatch.setattr(dsl.cell_search, "LIMIT", 3)
    policies = service.policies
    compiled, interp = CompiledEvaluator(policies), Interpreter(policies)
    facts = [policies.schema.validate(p)[0] for p in _projects()]
    want = [_json(decide(policies, interp, f, DAY)) for f in facts]
    for _ in range(2):
        assert [_json(decide(policies, compiled, f, DAY)) for f in facts] == want


@pytest.mark.parametrize(
    ("field", "values"),
    [
        # 0.0 == -0.0, but the decision writes -0 (in the facts, why-not and the trace).
        ("investment_wan", [0.0, -0.0, 0.0]),
        # True == 1 == 1.0 for facts built by hand, not validated: written true, 1 and 1.0.
        ("one_matter_one_discussion", [True, 1, 1.0, True]),
    ],
)
def test_values_python_calls_equal_are_kept_apart(
    service: Service, field: str, values: list[FactValue]
) -> None:
    policies = service.policies
    compiled, interp = CompiledEvaluator(policies), Interpreter(policies)
    texts = set()
    for value in values:
        facts: Mapping[str, FactValue]
        if field == "investment_wan":
            facts, _ = policies.schema.validate(
                {"region": PINGLIANG, "land_use": "none", field: value}
            )
        else:
            facts = {"region": PINGLIANG, "subject": "project", "land_use": "none", field: value}
        want = _json(decide(policies, interp, facts, DAY))
        assert _json(decide(policies, compiled, facts, DAY)) == want
        texts.add(want)
    assert len(texts) == len(set(map(repr, values)))  # the values do read differently


def test_a_verdict_is_that_of_the_decision_assembled(service: Service) -> None:
    """dsl/cell_search.py verifies a change with a verdict that dsl/compiled.py makes from
    the generated code's firing and dsl.combine, without a whole decision (citations,
    parameters, next questions): it is the verdict of the decision `assemble` makes, whether
    made from nothing kept or from the kept skeleton."""
    policies = service.policies
    rng = random.Random(7)
    light, kept, interp = (
        CompiledEvaluator(policies),
        CompiledEvaluator(policies),
        Interpreter(policies),
    )
    results = set()
    for _ in range(300):
        facts = policies.schema.validate(random_project(rng, policies))[0]
        want = verdict_of(assemble(policies, interp, facts, DAY, explain=False))
        decide(policies, kept, facts, DAY, explain=False)  # its skeleton is kept now
        for evaluator in (light, kept):
            got = evaluator._verdict(facts, DAY)
            assert (got.result, got.missing_facts, got.rules) == (
                want.result,
                want.missing_facts,
                want.rules,
            )
        results.add((want.result, want.missing_facts))
    assert len(results) > 10  # decided, undetermined and uncovered ones, on several paths


def _deep(depth: int, leaf: Cond) -> Cond:
    """`leaf` under `depth` alternating 且 / 或 / 非, each beside a copy of the leaf."""
    cond = leaf
    for i in range(depth):
        if i % 3 == 0:
            cond = AllOf((cond, leaf))
        elif i % 3 == 1:
            cond = AnyOf((NotC(cond), leaf))
        else:
            cond = NotC(cond)
    return cond


def test_a_condition_deeper_than_pythons_parentheses_compiles(service: Service) -> None:
    """Every compound condition gets its own local, so nothing nests in the generated source
    (Python refuses more than 200 nested parentheses)."""
    policies = service.policies
    pilot = policies.policy("pingliang-2023")
    assert pilot is not None
    rule = next(r for r in pilot.rules if r.ast.name == "非供地项目备案")
    deep = dataclasses.replace(rule, cond=_deep(300, rule.cond))
    rules = tuple(deep if r is rule else r for r in pilot.rules)
    changed = dataclasses.replace(pilot, rules=rules)
    deeper = PolicySet(
        policies.schema, tuple(changed if p is pilot else p for p in policies.policies), "deep"
    )
    compiled, interp = CompiledEvaluator(deeper), Interpreter(deeper)
    for project in _projects():
        facts, _ = deeper.schema.validate(project)
        assert compiled.fire(facts, [pilot.id]) == interp.fire(facts, [pilot.id])


def test_another_policy_set_is_decided_step_by_step(service: Service) -> None:
    """Kept parts are its own set's: asked about another, it decides as `assemble` does."""
    other = dataclasses.replace(service.policies, revision="another")
    compiled = CompiledEvaluator(service.policies)
    for project in _projects()[:12]:
        facts, _ = other.schema.validate(project)
        got = decide(other, compiled, facts, DAY)
        assert got.revision == "another"
        assert got == decide(other, Interpreter(other), facts, DAY)


def test_threads_share_cells_while_their_dicts_empty(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight threads explain the same projects in different orders through one evaluator
    whose kept dicts hold 16 entries, so they empty under one another's feet: every decision
    is still the interpreter's."""
    monkeypatch.setattr(dsl.cell_search, "LIMIT", 16)
    policies = service.policies
    rng = random.Random(3)
    facts = [policies.schema.validate(random_project(rng, policies))[0] for _ in range(120)]
    want = [_json(decide(policies, Interpreter(policies), f, DAY)) for f in facts]
    compiled = CompiledEvaluator(policies)
    got: list[list[str]] = [[""] * len(facts) for _ in range(THREADS)]

    def work(k: int) -> None:
        order = list(range(len(facts)))
        random.Random(k).shuffle(order)
        for i in order:
            got[k][i] = _json(decide(policies, compiled, facts[i], DAY))

    run_together(work)
    assert all(g == want for g in got)


OPEN_AND_BOUND = """
政策 demo { 来源 doc 地区 "上海市/嘉定区" 施行 2017-01-01 }
参数 租赁界限 = 未规定 平方米
  依据 一 "租赁面积较大的"
规则 大面积租赁 依据 一 "租赁面积较大的,区经委会审"
  当 项目.租赁面积 超过 租赁界限
  则 审批 步骤 区经委 会审
规则 重大租赁 依据 二 "重大项目签订三方责任书"
  当 项目.重大项目 且 项目.租赁面积 超过 5000平方米
  则 义务 "签订三方责任书"
"""


def test_a_field_an_open_parameter_reads_is_missing_or_not(tmp_path: Path) -> None:
    """租赁面积 is read by an open parameter's test (unknown either way) and by another
    rule's bound, false for both projects: only that bound's test says whether the area is
    missing, and so whether the undetermined rule waits on it. Decided one after the other,
    the two must not share a skeleton."""
    (tmp_path / "demo.zc").write_text(OPEN_AND_BOUND, "utf-8")
    schema = ROOT / "policies" / "schema.zc"
    source = MemorySource(
        {"doc": {"一": "租赁面积较大的,区经委会审。", "二": "重大项目签订三方责任书。"}}
    )
    result = load_files([schema, tmp_path / "demo.zc"], schema, source, conflicts=False)
    assert result.policies is not None, result.render()
    policies = result.policies
    compiled, interp = CompiledEvaluator(policies), Interpreter(policies)
    region = "上海市/嘉定区/安亭镇"
    missing = [
        decide(policies, compiled, policies.schema.validate(p)[0], DAY).missing_facts
        for p in ({"region": region}, {"region": region, "lease_area_m2": 100})
    ]
    assert missing == [
        decide(policies, interp, policies.schema.validate(p)[0], DAY).missing_facts
        for p in ({"region": region}, {"region": region, "lease_area_m2": 100})
    ]
    assert missing[0] != missing[1]  # the two do differ
