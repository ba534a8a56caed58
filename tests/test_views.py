"""One answer, one shape: `zhengce X --json` prints exactly the body the HTTP API answers for
the same question, for every use case that has both (server.views serves both)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from kb.embed import HashEmbedder
from server.app import create_app
from server.cli import app as cli
from server.cli_common import Context
from server.runtime import Runtime
from tests.conftest import EXAMPLE, serving_settings

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
