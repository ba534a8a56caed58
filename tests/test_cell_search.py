"""dsl/cell_search.py's predictions, where tests/test_differential.py sees them only through
whole explanations (a wrong one is mostly caught there by its verification, which then hands
the search to dsl.counterfactual.Search): a prediction, kept by the rules' states S, and
shared by the states that differ only in the tests of unknown rules without an outcome, is
the result of deciding any project in that state."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from dsl.cell_search import CellSpace
from dsl.counterfactual import result_of
from dsl.decide import decide, evaluation_date, policies_in_force
from dsl.load import load_files
from dsl.schema import FactValue
from tests.conftest import ROOT, MemorySource, examples
from tests.test_differential import (
    Evaluators,
    decision_dates,
    projects,
    seed,
    synthetic,
)

# One space per policy set and policies in force, kept across examples: a prediction kept
# for one project is then what another project in a state alike is given.
_SPACES: dict[tuple[int, tuple[str, ...]], CellSpace] = {}


def _space(evaluators: Evaluators, ids: tuple[str, ...]) -> CellSpace:
    key = (id(evaluators), ids)
    if key not in _SPACES:
        policies = evaluators.policies
        codes = [evaluators.codes[i] for i in ids]
        _SPACES[key] = CellSpace(codes, policies.policies, policies.schema)
    return _SPACES[key]


def _predicted_and_decided(
    evaluators: Evaluators, facts: Mapping[str, FactValue], date: str | None
) -> tuple[int, int] | None:
    policies = evaluators.policies
    day = evaluation_date(facts, date)
    _, active = policies_in_force(policies, str(facts.get("region", "")), day)
    if not active:
        return None
    space = _space(evaluators, tuple(p.id for p in active))
    vector = [v for p in active for v in evaluators.codes[p.id].run(facts)[1]]
    predicted = space.predict(space.states(space.packed(vector)), facts, ())
    decided = decide(policies, evaluators.interp, facts, date, explain=False)
    return predicted, space.number(result_of(decided))


@settings(max_examples=examples(3000), deadline=None)
@given(st.data())
def test_a_prediction_is_what_any_project_in_its_state_is_decided(data: st.DataObject) -> None:
    evaluators, project_strategy = data.draw(
        st.sampled_from([(seed(), st.deferred(lambda: projects(seed().policies))), *synthetic()])
    )
    facts, errors = evaluators.policies.schema.validate(data.draw(project_strategy))
    assert errors == []
    found = _predicted_and_decided(
        evaluators, facts, data.draw(decision_dates(evaluators.policies))
    )
    if found is not None:
        predicted, decided = found
        assert predicted == decided


# Two rules with one outcome, both unknown while 符合规划 is missing: which of their other
# tests hold decides whether one of them applies whatever it is (the outcome is settled) or
# not (undetermined); and a rule without an outcome, whose tests' values no prediction reads.
SETTLED_OR_NOT = """
政策 demo { 来源 doc 地区 "上海市/嘉定区" 施行 2017-01-01 }
规则 甲 依据 一 "符合规划的备案"
  当 项目.符合规划 且 (项目.位于主平台 或 项目.新上项目)
  则 备案 步骤 区经委 备案
规则 乙 依据 一 "符合规划的备案"
  当 非 项目.符合规划 且 (项目.位于主平台 或 项目.位于园区)
  则 备案 步骤 区经委 备案
规则 丙 依据 一 "符合规划的备案"
  当 项目.符合规划 且 (项目.属于主导产业 或 项目.位于环境敏感区域)
  则 义务 "备案"
"""


def test_only_the_tests_of_rules_without_an_outcome_are_shared(tmp_path: Path) -> None:
    (tmp_path / "demo.zc").write_text(SETTLED_OR_NOT, "utf-8")
    schema = ROOT / "policies" / "schema.zc"
    source = MemorySource({"doc": {"一": "符合规划的备案。"}})
    result = load_files([schema, tmp_path / "demo.zc"], schema, source, conflicts=False)
    assert result.policies is not None, result.render()
    evaluators = Evaluators(result.policies)
    fields = [
        "conforms_to_plan",
        "in_main_platform",
        "new_project",
        "in_park",
        "in_leading_industry",
        "in_sensitive_area",
    ]
    outcomes = set()
    for values in itertools.product([None, True, False], repeat=len(fields)):
        project = {"region": "上海市/嘉定区"} | {
            k: v for k, v in zip(fields, values, strict=True) if v is not None
        }
        facts, errors = evaluators.policies.schema.validate(project)
        assert errors == []
        found = _predicted_and_decided(evaluators, facts, "2024-01-01")
        assert found is not None
        assert found[0] == found[1], project
        outcomes.add(found[1])
    assert len(outcomes) >= 3  # settled by the two rules, undetermined, none
    space = _space(evaluators, ("demo",))
    assert len(space._by_outcomes) < len(space.predicted)  # some states did share one
