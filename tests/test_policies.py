"""Every policy test case in policies/tests/, with both evaluators, plus golden decisions.

Golden files (tests/golden/<file>/<case>.json) are the full JSON decisions, reviewed by hand;
regenerate with ZHENGCE_UPDATE_GOLDEN=1 and review the diff. The revision is masked so that
editing an unrelated policy does not churn every file.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from dsl.policytest import (
    load_cases,
    load_routes,
    rule_coverage,
    run_case,
    run_files,
    run_route_case,
)
from server.service import Service
from tests.conftest import ROOT

CASE_FILES = sorted((ROOT / "policies" / "tests").glob("*.yaml"))
CASES = [(f, i, c) for f in CASE_FILES for i, c in enumerate(load_cases(f), 1)]
GOLDEN = ROOT / "tests" / "golden"


def _id(case: tuple[Path, int, dict[str, object]]) -> str:
    return f"{case[0].stem}-{case[1]:02d}"


@pytest.mark.parametrize("engine", ["rete", "interpret"])
@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_policy_case(
    service: Service, case: tuple[Path, int, dict[str, object]], engine: str
) -> None:
    path, index, body = case
    result = run_case(service.policies, service.engine(engine), body, str(path), index)
    assert result.passed, f"{body.get('note')}: " + "; ".join(result.failures)


ROUTES = [(f, i, r) for f in CASE_FILES for i, r in enumerate(load_routes(f), 1)]


@pytest.mark.parametrize("case", ROUTES, ids=[_id(c) for c in ROUTES])
def test_route_case(service: Service, case: tuple[Path, int, dict[str, object]]) -> None:
    path, index, body = case
    result = run_route_case(service.policies, body, str(path), index)
    assert result.passed, f"{body.get('note', body['id'])}: " + "; ".join(result.failures)


def test_every_route_is_tested_by_id(service: Service) -> None:
    tested = {run_route_case(service.policies, b, str(p), i).route for p, i, b in ROUTES}
    assert {r.key for r in service.policies.routes} <= tested


def test_case_counts() -> None:
    assert len([c for c in CASES if c[0].stem == "pingliang-2023"]) >= 15


def test_every_rule_is_fired_by_some_case(service: Service) -> None:
    results = run_files(service.policies, service.engine("interpret"), CASE_FILES)
    _, uncovered = rule_coverage(service.policies, results)
    assert not uncovered


@pytest.mark.parametrize("case", [c for c in CASES if "want" in c[2]], ids=_id)
def test_golden_decision(service: Service, case: tuple[Path, int, dict[str, object]]) -> None:
    path, index, body = case
    result = run_case(service.policies, service.engine("rete"), body, str(path), index)
    assert result.decision is not None
    got = result.decision.to_json() | {"revision": "<masked>"}
    golden = GOLDEN / path.stem / f"{index:02d}.json"
    text = json.dumps(got, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    if os.environ.get("ZHENGCE_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"no golden file {golden}: run with ZHENGCE_UPDATE_GOLDEN=1"
    assert text == golden.read_text(encoding="utf-8")


def test_failing_expectation_is_reported(service: Service) -> None:
    """The runner must be able to fail: a wrong outcome, path and citation are each named."""
    case = {
        "input": {"region": "甘肃省/平凉市", "land_use": "none", "investment_wan": 1000},
        "date": "2024-01-01",
        "want": {
            "outcome": "approve",
            "steps": [["市园区办", "审批"]],
            "citations": ["pingliang-2023:三.1"],
        },
    }
    result = run_case(service.policies, service.engine("rete"), case, "inline", 1)
    text = "\n".join(result.failures)
    assert not result.passed
    assert "outcome" in text and "steps" in text and "三.1" in text


# ---- the reading principles (../shared/notes/reading.md), on the seeds -----------------------

# Each principle of reading.md and the words a case's `note` names it by; every one must be
# tested on a real clause of a seed (policies/tests/*.yaml), cases or routes.
PRINCIPLES = {
    "strength: presumptive prohibition beside the path": "强度（原则上禁止，路径保留）",
    "strength: mandatory prohibition overrides the path": "强度与优先",
    "strength: by law": "依法取缔（依法禁止）",
    "strength: discretionary": "“优先”为酌定",
    "scope: a partition covers everything": "划分原则",
    "scope: a qualifier binds what it precedes": "限定语范围",
    "scope: 以上 / 超 bounds": "以上/不低于含本数",
    "scope: a category by meaning": "按含义归类",
    "who: the grammatical subject": "主语原则",
    "who: full unit lists": "完整单位列表",
    "who: three roles": "三种角色",
    "who: a generic body tied only by the document": "泛称只在本文件写明时代入",
    "who: a generic body stays generic": "泛称保持泛称",
    "who: no invented unit": "不虚构单位",
    "time: not before issue": "时间原则",
    "time: 试行": "时间原则（试行）",
    "two rules: both reported, no undeclared priority": "文件未声明一事一议优先",
    "notes: assumptions stated": "假设须写明",
}


def _notes_of_cases() -> list[str]:
    return [str(c.get("note", "")) for _, _, c in CASES] + [
        str(r.get("note", "")) for _, _, r in ROUTES
    ]


@pytest.mark.parametrize("principle", sorted(PRINCIPLES))
def test_every_reading_principle_is_tested_on_a_seed(principle: str) -> None:
    words = PRINCIPLES[principle]
    assert any(words in note for note in _notes_of_cases()), f"no case names {words!r}"


def _all_notes(service: Service) -> list[tuple[str, str]]:
    found = []
    for p in service.policies.policies:
        for r in p.rules:
            found += [(r.key, n) for n in r.ast.notes]
        for route in p.routes:
            found += [(route.key, n) for n in route.ast.notes]
        for name, pv in p.params.items():
            found += [(f"{p.id}/{name}", n) for n in pv.notes]
    return found


def test_every_note_is_in_chinese(service: Service) -> None:
    """Reviewers read the notes: no English sentence is left (codes such as C26, ppp as the
    text writes it, stay)."""
    english = [
        (key, note)
        for key, note in _all_notes(service)
        if any(w.lower() != "ppp" for w in re.findall(r"[A-Za-z]{3,}", note))
    ]
    assert english == []


def test_assumptions_are_marked_as_such(service: Service) -> None:
    """The readings reading.md asks to state as assumptions say 假设 in a note."""
    by_key: dict[str, list[str]] = {}
    for key, note in _all_notes(service):
        by_key.setdefault(key, []).append(note)
    for key in (
        "jiading-2017/租赁面积分界",  # direction and inclusive side of the lease boundary
        "pingliang-2023/非供地项目备案",  # renovation on one's own land supplies no land
        "pingliang-2023/一事一议供地类项目",  # both sentences apply, in this order
        "lucheng-2016/主平台外零星新增工业用地",  # 零星 not defined by size
    ):
        assert any("假设" in n for n in by_key[key]), key


# ---- provenance travels with every citation ---------------------------------------------------

PROVENANCE = {
    "chengdu-2018": "news_report",
    "jiading-2017": "reprint",
    "jiangxi-2019": "unofficial_copy",
    "lucheng-2016": "official",
    "pingliang-2023": "unofficial_copy",
}


def test_each_source_states_its_provenance(service: Service) -> None:
    from kb.ingest import PROVENANCES

    for doc, provenance in PROVENANCE.items():
        meta = service.corpus.document(doc).meta
        assert meta.provenance == provenance in PROVENANCES
        assert meta.provenance_note  # why, in Chinese


@pytest.mark.parametrize("engine", ["rete", "interpret"])
def test_every_citation_says_what_its_document_is(service: Service, engine: str) -> None:
    """A decision cites a news report, a reprint or an unofficial copy as such: each citation
    carries its document's provenance, with both evaluators and in a route's answer."""
    from dsl.decide import decide
    from dsl.routing import find_route

    seen = set()
    for path, _, body in CASES:
        if "want" not in body:
            continue
        result = run_case(service.policies, service.engine(engine), body, str(path), 0)
        assert result.decision is not None
        for c in result.decision.citations:
            assert c.provenance == PROVENANCE[c.document], (path.stem, c)
            seen.add(c.document)
    assert seen == set(PROVENANCE)
    # the news report, decided and routed
    facts, _ = service.policies.schema.validate(
        {"region": "四川省/成都市", "in_park": True, "investor_type": "enterprise"}
    )
    decision = decide(service.policies, service.engine(engine), facts, "2018-06-01")
    assert {c.provenance for c in decision.citations} == {"news_report"}
    assert decision.to_json()["citations"][0]["provenance"] == "news_report"
    found = find_route(service.policies, "总体规划编制", "四川省/成都市", "2018-06-01")
    assert found is not None
    assert {c.provenance for c in found.citations} == {"news_report"}


# ---- conflicts: none left unresolved ----------------------------------------------------------


def test_the_seed_set_has_no_unresolved_conflict(service: Service) -> None:
    """Each pair of rules meeting on one project is settled: a mandatory prohibition prevails
    by the language's rule, or a declared priority cites its clause; the 平凉 二.2 and 二.4
    readings make the rules meet nowhere (no priority the text does not give is declared)."""
    from dsl.analyze import Kind, analyze

    found = analyze(service.policies)
    assert found.conflicts == ()
    assert {f.kind for f in found.findings} <= {Kind.PREVAILS, Kind.RESOLVED}
    declared = [r.key for r in service.policies.rules if r.ast.exception_to or r.ast.prevails_over]
    assert declared == []  # no text of the seeds declares a priority; none is invented
