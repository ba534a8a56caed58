"""One answer, one shape: `zhengce X --json` prints exactly the body the HTTP API answers for
the same question, for every use case that has both (server.views serves both); and a
decision's JSON, written without its pydantic model, is the text that model gives."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from dsl.compiled import CompiledEvaluator
from dsl.decide import decide
from dsl.resolved import PolicySet
from kb.embed import HashEmbedder
from server import api_models as m
from server import views
from server.app import create_app
from server.cli import app as cli
from server.cli_common import Context
from server.results import CitedText, Evaluation
from server.runtime import Runtime
from server.service import ENGINES, Service
from tests.conftest import EXAMPLE, examples, serving_settings
from tests.test_differential import decision_dates, projects, seed, synthetic_policy_set

RUNNER = CliRunner()


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Context]]:
    """The HTTP app and the CLI's context over the same settings and search model."""
    tmp = tmp_path_factory.mktemp("views")
    settings = serving_settings(tmp)
    embedder = HashEmbedder()
    with TestClient(create_app(runtime=Runtime(settings, embedder=embedder))) as client:
        yield client, Context(settings, embedder)


def project_file(tmp: Path) -> str:
    path = tmp / "project.json"
    path.write_text(json.dumps(EXAMPLE, ensure_ascii=False), "utf-8")
    return str(path)


# (use case, CLI arguments, HTTP method, path, JSON body or query)
CASES: list[tuple[str, list[str], str, str, dict[str, Any]]] = [
    (
        "evaluate",
        ["eval", "{project}", "--explain"],
        "POST",
        "/v1/evaluate",
        {"project": EXAMPLE["project"], "date": EXAMPLE["date"], "explain": True},
    ),
    (
        "evaluate without explain",
        ["eval", "{project}"],
        "POST",
        "/v1/evaluate",
        {"project": EXAMPLE["project"], "date": EXAMPLE["date"]},
    ),
    (
        "route in plain words",
        ["route", "园区遇到重大困难找谁协调", "--region", "甘肃省/平凉市"],
        "POST",
        "/v1/route",
        {"matter": "园区遇到重大困难找谁协调", "region": "甘肃省/平凉市"},
    ),
    (
        "route by id",
        ["route", "pingliang-2023/重大事项包抓", "--region", "甘肃省/平凉市"],
        "POST",
        "/v1/route",
        {"matter": "pingliang-2023/重大事项包抓", "region": "甘肃省/平凉市"},
    ),
    (
        "search",
        ["search", "非供地项目备案", "-k", "5", "--region", "甘肃省"],
        "GET",
        "/v1/search",
        {"q": "非供地项目备案", "k": 5, "region": "甘肃省"},
    ),
    (
        "clause",
        ["kb", "show", "pingliang-2023", "二.4"],
        "GET",
        "/v1/clauses/pingliang-2023/二.4",
        {},
    ),
    ("policy list", ["policies"], "GET", "/v1/policies", {}),
    ("policy", ["policies", "jiading-2017"], "GET", "/v1/policies/jiading-2017", {}),
    ("coverage", ["coverage"], "GET", "/v1/coverage", {}),
]


@pytest.mark.parametrize(
    ("case", "args", "method", "path", "payload"), CASES, ids=[c[0] for c in CASES]
)
def test_cli_json_is_the_http_body(
    both: tuple[TestClient, Context],
    tmp_path: Path,
    case: str,
    args: list[str],
    method: str,
    path: str,
    payload: dict[str, Any],
) -> None:
    client, context = both
    argv = [a.replace("{project}", project_file(tmp_path)) for a in args] + ["--json"]
    result = RUNNER.invoke(cli, argv, obj=context)
    printed = json.loads(result.stdout)
    if method == "POST":
        response = client.post(path, json=payload)
    else:
        response = client.get(path, params=payload)
    assert response.status_code == 200, response.text
    body = response.json()
    if case.startswith("evaluate"):
        # The CLI logs nothing, so it has no decision id; all else is the same.
        assert printed["decision_id"] is None and body["decision_id"]
        assert printed["page_url"] is None
        assert body["page_url"] == f"/decisions/{body['decision_id']}"
        body["decision_id"] = body["page_url"] = None
        assert body["citations"] and all(c["text"] for c in body["citations"])
        assert bool(body["related"]) == ("--explain" in args)
    assert printed == body
    # A route with no match is still an answer, and the CLI's exit code says it is none.
    assert result.exit_code == (1 if body.get("match", True) is None else 0), result.stderr


# ------------------------------------------------- a decision's JSON, written without pydantic


def assert_written_as_its_model(evaluation: Evaluation, decision_id: str | None) -> None:
    """views.decision_json writes the decision's dataclasses straight to JSON: the text must
    be what m.Decision validates and dumps, to the byte (the fields, their order, every
    number's spelling), and hold what the decision holds."""
    text = views.decision_json(evaluation, decision_id)
    assert views.dump(m.Decision.model_validate_json(text)) == text
    got = json.loads(text)
    want = json.loads(json.dumps(evaluation.decision.to_json(), ensure_ascii=False))
    added = {"decision_id", "page_url", "related"}
    assert {k: v for k, v in got.items() if k not in added} | {
        "steps": [drop(s, "authority_id", "action_id") for s in got["steps"]],
        "citations": [drop(c, "text", "quote_at", "backs") for c in got["citations"]],
    } == want
    assert [(c["text"], c["backs"]) for c in got["citations"]] == [
        (c.text, list(c.backs)) for c in evaluation.citations
    ]
    assert len(got["related"]) == len(evaluation.related)
    assert got["decision_id"] == decision_id


def drop(item: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in names}


@pytest.fixture(scope="module")
def service(both: tuple[TestClient, Context]) -> Service:
    client, _ = both
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    return runtime.service


@pytest.mark.parametrize("explain", [False, True], ids=["plain", "explained"])
@pytest.mark.parametrize("engine", ENGINES)
def test_every_example_is_written_as_its_model(
    service: Service, explain: bool, engine: str
) -> None:
    related = 0
    for example in service.examples:
        evaluation = service.evaluate(example.project, example.date, explain, engine)
        related += len(evaluation.related)
        assert_written_as_its_model(evaluation, "0123456789ab/?#")  # quoted in page_url
        assert_written_as_its_model(evaluation, None)
    assert bool(related) == explain


@settings(max_examples=examples(500), deadline=None)
@given(st.data())
def test_generated_decisions_are_written_as_their_model(data: st.DataObject) -> None:
    """Over the seed policies and the synthetic sets of tests/test_differential.py (every
    outcome, strength, override, undetermined verdict and counterfactual they produce)."""
    policies, evaluator = data.draw(st.sampled_from(generated_sets()))
    project = data.draw(projects(policies))
    facts, errors = policies.schema.validate(project)
    assume(not errors)
    date = data.draw(decision_dates(policies))
    decision = decide(policies, evaluator, facts, date, data.draw(st.booleans()))
    cited = tuple(CitedText(c, "条款全文", None, ("r",)) for c in decision.citations)
    assert_written_as_its_model(Evaluation(decision, cited, ()), "d")


@functools.cache
def generated_sets() -> tuple[tuple[PolicySet, CompiledEvaluator], ...]:
    sets = (seed().policies, *(synthetic_policy_set(n, size=3) for n in (1, 2, 3, 4)))
    return tuple((p, CompiledEvaluator(p)) for p in sets)
