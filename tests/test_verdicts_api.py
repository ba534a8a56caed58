"""The API never answers a silent "none": not covered, undetermined and none are told apart,
each with its reason, and a region that is not a proper path is refused."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from tests.conftest import EXAMPLE, fast_runtime

PROJECT: dict[str, Any] = EXAMPLE["project"]
DATE: str = EXAMPLE["date"]
JIADING = {"region": "上海市/嘉定区", "category": "industrial"}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=fast_runtime(tmp_path_factory.mktemp("v")))) as c:
        yield c


def decide(client: TestClient, project: dict[str, Any], date: str = DATE) -> dict[str, Any]:
    r = client.post("/v1/evaluate", json={"project": project, "date": date})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


VERDICTS = [
    # (note, project, date, outcome, words the reason must contain, missing facts)
    ("a region no policy covers", {**PROJECT, "region": "广东省/深圳市"}, DATE, "not_covered",
     ["未覆盖"], []),
    ("before the policy is in force", PROJECT, "2023-01-01", "not_covered",
     ["2023-08-02"], []),
    ("a fact that would decide is missing", {k: v for k, v in PROJECT.items()
     if k != "investment_wan"}, DATE, "undetermined", [], ["investment_wan"]),
    ("covered, in force, every fact known, no rule applies", {**PROJECT, "investment_wan": 999.5},
     DATE, "none", [], []),
    ("a rule applies", PROJECT, DATE, "file", [], []),
]  # fmt: skip


@pytest.mark.parametrize(
    ("note", "project", "date", "outcome", "reason_words", "missing"),
    VERDICTS,
    ids=[v[0] for v in VERDICTS],
)
def test_the_verdict_says_which(
    client: TestClient,
    note: str,
    project: dict[str, Any],
    date: str,
    outcome: str,
    reason_words: list[str],
    missing: list[str],
) -> None:
    d = decide(client, project, date)
    assert d["outcome"] == outcome, note
    assert d["reason"], "every outcome says why"
    assert all(w in d["reason"] for w in reason_words), d["reason"]
    assert set(missing) <= set(d["missing_facts"])
    if outcome == "undetermined":
        assert d["missing_facts"]
    if outcome in ("not_covered", "none"):
        assert not d["steps"] and not d["rules"]


def test_a_presumptive_prohibition_says_so(client: TestClient) -> None:
    # 鹿城 二.(六) 原则上 and 二.(七) 一般: presumptions, not bans.
    project = {
        "region": "浙江省/温州市/鹿城区",
        "subject": "project",
        "category": "industrial",
        "land_use": "new_land",
        "in_main_platform": False,
    }
    d = decide(client, project, "2017-01-01")
    assert d["outcome"] == "prohibit"
    assert d["strength"] == "presumptive"
    assert d["qualifiers"] and set(d["qualifiers"]) <= {"原则上", "一般"}
    assert "可例外" in d["reason"]


def test_a_mandatory_prohibition_names_what_it_overrides(client: TestClient) -> None:
    project = {**JIADING, "land_use": "new_land", "conforms_to_plan": False}
    d = decide(client, project, "2018-01-01")
    assert d["outcome"] == "prohibit" and d["strength"] == "mandatory"
    assert d["decided_by"] == "jiading-2017/不符合规划不予准入"
    assert d["overridden"] and all(o["by"] == d["decided_by"] for o in d["overridden"])


@pytest.mark.parametrize(
    "region",
    ["甘肃省/平凉市/../../江西省", "甘肃省/./平凉市", "甘肃省//平凉市", "/甘肃省", "甘肃省/"],
)
def test_a_region_that_is_not_a_path_is_422(client: TestClient, region: str) -> None:
    r = client.post("/v1/evaluate", json={"project": {**PROJECT, "region": region}})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["location"] == "project.region"


def test_openapi_documents_strength_assisting_and_the_verdicts(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    outcomes = schemas["Outcome"]["enum"]
    assert {"not_covered", "undetermined", "none", "prohibit"} <= set(outcomes)
    assert set(schemas["Strength"]["enum"]) == {
        "mandatory",
        "presumptive",
        "by_law",
        "discretionary",
    }
    assert "assisting" in schemas["RouteMatch"]["properties"]
    examples = schemas["Decision"]["examples"]
    assert {e["strength"] for e in examples} >= {"mandatory", "presumptive"}
    assert {e["outcome"] for e in examples} >= {"not_covered", "undetermined"}
    assert schemas["RouteMatch"]["examples"][0]["assisting"]


def test_authorities_have_ids_that_only_their_text_decides(client: TestClient) -> None:
    filed = decide(client, PROJECT)
    approved = decide(client, {**PROJECT, "one_matter_one_discussion": True})
    ids = {}
    for d in (filed, approved):
        for s in d["steps"]:
            assert s["authority_id"].startswith("authority:")
            assert ids.setdefault(s["authority"], s["authority_id"]) == s["authority_id"]
    assert len(set(ids.values())) == len(ids)  # different authorities, different ids
    assert filed["page_url"] == f"/decisions/{filed['decision_id']}"


def test_errors_speak_chinese_and_keep_the_english(client: TestClient) -> None:
    r = client.post("/v1/evaluate", json={"project": {**PROJECT, "colour": "red"}})
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "invalid_project"
    assert body["message"] == "项目的事实有误，请按各项错误修改：project.colour"
    assert "project.colour" in body["message_en"]
    [error] = body["errors"]
    assert error["code"] == "unknown_field" and error["location"] == "project.colour"
    assert error["message"] == "project.colour：事实模式中没有这个字段"
    assert error["message_en"] and error["message_en"] != error["message"]
