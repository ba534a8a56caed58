"""Every policy test case in policies/tests/, with both evaluators, plus golden decisions.

Golden files (tests/golden/<file>/<case>.json) are the full JSON decisions, reviewed by hand;
regenerate with ZHENGCE_UPDATE_GOLDEN=1 and review the diff. The revision is masked so that
editing an unrelated policy does not churn every file.
"""

from __future__ import annotations

import json
import os
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
