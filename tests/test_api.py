"""The HTTP API: every endpoint, the one error shape on every failing path, the reload
guard, the decision log behind each decision, and the OpenAPI document."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kb.embed import Embedder, HashEmbedder
from kb.normalize import normalize
from server.app import create_app
from server.decision_log import DecisionLogError
from server.runtime import Runtime
from tests.conftest import EXAMPLE, ROOT, assert_error_shape, fast_runtime, serving_settings

PROJECT: dict[str, Any] = EXAMPLE["project"]
KEY = "test-admin-key"


@pytest.fixture(scope="module")
def client(
    e5: tuple[Path, Embedder], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """The app over the seed policies with the real model (routing and related clauses
    depend on it); warming is off so that tests see the lazy paths too."""
    cache, embedder = e5
    tmp = tmp_path_factory.mktemp("api")
    settings = serving_settings(tmp, ZHENGCE_ADMIN_KEY=KEY, ZHENGCE_CACHE=str(cache))
    app = create_app(settings, embedder=embedder)
    with TestClient(app) as c:
        yield c


# ------------------------------------------------------------------------------ evaluate


def test_evaluate_gives_the_decision_with_full_clauses(client: TestClient) -> None:
    r = client.post("/v1/evaluate", json={"project": PROJECT, "date": EXAMPLE["date"]})
    assert r.status_code == 200
    d = r.json()
    assert d["outcome"] == "file"
    assert [(s["authority"], s["action"]) for s in d["steps"]] == [
        ("所在工业园区(高新区、集中区)", "报送"),
        ("市园区办", "备案"),
    ]
    assert [r["id"] for r in d["rules"]] == ["pingliang-2023/非供地项目备案"]
    assert d["date"] == "2024-03-01" and d["revision"]
    assert d["why_not"] == [] and d["related"] == []  # not asked to explain
    assert d["citations"]
    for c in d["citations"]:
        full = client.get(f"/v1/clauses/{c['document']}/{c['clause']}").json()["full_text"]
        assert c["text"] == full
        start, end = c["quote_at"]
        assert normalize(c["text"][start:end]) == normalize(c["quote"])


@pytest.mark.slow
def test_explain_adds_why_not_and_related_clauses_of_other_documents(client: TestClient) -> None:
    r = client.post("/v1/evaluate", json={"project": PROJECT, "explain": True})
    d = r.json()
    assert r.status_code == 200
    fired = {x["id"] for x in d["rules"]}
    assert d["why_not"] and not fired & {w["rule"] for w in d["why_not"]}
    assert d["related"]
    cited = {(c["document"], c["clause"]) for c in d["citations"]}
    for rel in d["related"]:
        assert (rel["near"]["document"], rel["near"]["clause"]) in cited
        assert rel["document"] != rel["near"]["document"]
        assert rel["text"]


@pytest.mark.slow
def test_the_engines_agree(client: TestClient) -> None:
    bodies = [
        client.post("/v1/evaluate", json={"project": PROJECT, "engine": e, "explain": True})
        for e in ("compiled", "rete", "interpret")
    ]
    a, b, c = (x.json() for x in bodies)
    assert len({a["decision_id"], b["decision_id"], c["decision_id"]}) == 3
    for body in (a, b, c):
        body.pop("decision_id"), body.pop("page_url")
    assert a == b == c


@pytest.mark.slow
def test_every_decision_is_in_the_log(client: TestClient) -> None:
    body = {"project": PROJECT, "date": "2024-03-01", "explain": True}
    d = client.post("/v1/evaluate", json=body).json()
    r = client.get(f"/v1/decisions/{d['decision_id']}")
    assert r.status_code == 200
    logged = r.json()
    assert logged["result"] == d
    assert logged["input"] == body | {"engine": "compiled"}
    assert logged["revision"] == d["revision"]


def test_decision_ids_sort_by_time(client: TestClient) -> None:
    ids = []
    for _ in range(3):
        ids.append(client.post("/v1/evaluate", json={"project": PROJECT}).json()["decision_id"])
        time.sleep(0.002)
    assert ids == sorted(ids) and len(set(ids)) == 3


# --------------------------------------------------------------------------------- batch


def test_batch_keeps_order_and_isolates_bad_projects(client: TestClient) -> None:
    projects = [PROJECT, {"region": 5}, 7, {**PROJECT, "land_use": "new_land"}]
    r = client.post("/v1/evaluate/batch", json={"projects": projects, "date": "2024-03-01"})
    assert r.status_code == 200
    body = r.json()
    assert (body["count"], body["failed"]) == (4, 2)
    assert [x["index"] for x in body["results"]] == [0, 1, 2, 3]
    ok = [x["decision"] for x in body["results"] if "decision" in x]
    assert [d["outcome"] for d in ok] == ["file", "approve"]
    bad = body["results"][1]["error"]
    assert_error_shape(bad)
    assert bad["errors"][0]["location"] == "projects.1.region"
    assert body["results"][2]["error"]["errors"][0]["location"] == "projects.2"
    for d in ok:  # each decision of a batch is logged too
        assert client.get(f"/v1/decisions/{d['decision_id']}").status_code == 200


@pytest.mark.slow
def test_batch_takes_ten_thousand_projects(client: TestClient) -> None:
    projects = [{**PROJECT, "investment_wan": 500 + i % 1000} for i in range(10_000)]
    r = client.post("/v1/evaluate/batch", json={"projects": projects, "date": "2024-03-01"})
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 10_000 and body["failed"] == 0
    outcomes = [x["decision"]["outcome"] for x in body["results"]]
    # 1000万元以上 files; below it no rule applies (二.4).
    assert outcomes == ["file" if p["investment_wan"] >= 1000 else "none" for p in projects]


# ---------------------------------------------------------------------- route and search


@pytest.mark.slow
def test_route_free_text_names_lead_and_responsible_units(client: TestClient) -> None:
    body = {"matter": "园区遇到重大困难找谁协调", "region": "甘肃省/平凉市"}
    r = client.post("/v1/route", json=body)
    assert r.status_code == 200
    m = r.json()["match"]
    assert m["rule"] == "pingliang-2023/重大事项包抓"
    assert m["lead"] == ["市园区办"]
    assert m["score"] >= r.json()["threshold"]
    assert m["citations"] and all(c["quote_at"] for c in m["citations"])


@pytest.mark.slow
def test_route_without_a_confident_match_lists_candidates(client: TestClient) -> None:
    r = client.post("/v1/route", json={"matter": "我想办理结婚登记", "region": "甘肃省/平凉市"})
    body = r.json()
    assert r.status_code == 200
    assert body["match"] is None and body["candidates"]
    assert all(c["score"] < body["threshold"] for c in body["candidates"])


@pytest.mark.slow
def test_route_respects_the_date(client: TestClient) -> None:
    body = {"matter": "开发区条例由谁起草出台", "region": "江西省"}
    in_force = client.post("/v1/route", json=body | {"date": "2019-06-01"}).json()
    assert in_force["match"]["rule"] == "jiangxi-2019/开发区条例"
    later = client.post("/v1/route", json=body | {"date": "2024-06-01"}).json()
    assert later["match"] is None and later["candidates"] == []
    assert "no routing rules are in force" in later["message"]


@pytest.mark.slow
def test_search_finds_clauses_with_highlights(client: TestClient) -> None:
    r = client.get("/v1/search", params={"q": "三库一平台", "k": 3})
    assert r.status_code == 200
    hits = r.json()["hits"]
    # The task table's row 表.15 restates 五.15 (tests/data/kb_questions.yaml accepts either).
    assert (hits[0]["document"], hits[0]["clause"]) in {
        ("jiading-2017", "五.15"),
        ("jiading-2017", "表.15"),
    }
    for h in hits:
        for start, end in h["highlights"]:
            assert h["text"][start:end]
    region = client.get("/v1/search", params={"q": "牵头单位", "k": 20, "region": "江西省"})
    assert {h["document"] for h in region.json()["hits"]} == {"jiangxi-2019"}


def test_clause_lookup(client: TestClient) -> None:
    r = client.get("/v1/clauses/pingliang-2023/二.4")
    body = r.json()
    assert r.status_code == 200
    assert body["status"] == "encoded" and body["encoded_by"]
    assert "1000万元以上的非供地类项目" in body["text"]
    assert body["full_text"].startswith(body["text"])


# ------------------------------------------------------------------------------- policies


def test_policies_list_agrees_with_coverage(client: TestClient) -> None:
    service = client.app.state.runtime.service  # type: ignore[attr-defined]
    body = client.get("/v1/policies").json()
    assert body["revision"] == service.policies.revision
    assert [p["id"] for p in body["policies"]] == [p.id for p in service.policies.policies]
    for p in body["policies"]:
        cov = next(d for d in service.coverage if d.policy == p["id"])
        assert p["coverage"]["encoded"] == cov.count("encoded")
        assert p["coverage"]["open"] == cov.count("open")


def test_policy_detail_has_rules_source_and_clause_coverage(client: TestClient) -> None:
    body = client.get("/v1/policies/jiading-2017").json()
    assert body["doc_number"] == "嘉委发〔2017〕2号" and body["trial"] is True
    assert len(body["rules_detail"]) == body["rules"]
    assert len(body["routes_detail"]) == body["routes"]
    statuses = {c["clause"]: c["status"] for c in body["clauses"]}
    for rule in body["rules_detail"]:
        for cite in rule["cites"]:
            assert statuses[cite["clause"]] == "encoded"


# ---------------------------------------------------------------------- health and ready


def test_health_and_ready(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] in ("ready", "degraded")
    assert len(body["policies"]) == 5


def test_not_ready_while_warming(tmp_path: Path) -> None:
    runtime = fast_runtime(tmp_path)
    runtime.warm_state = "warming"  # as it is while the indexes open
    with TestClient(create_app(runtime=runtime)) as c:
        r = c.get("/readyz")
        assert r.status_code == 503
        assert_error_shape(r.json())
        runtime.warm()
        assert c.get("/readyz").status_code == 200


# ----------------------------------------------------------------- errors: one shape each

BIG = "x" * (1024 * 1024 + 1)

FAILING: list[tuple[str, str, str, dict[str, Any], int, str, str | None]] = [
    # (name, method, path, request kwargs, status, code, first error's location)
    ("wrong field name", "POST", "/v1/evaluate",
     {"json": {"project": {**PROJECT, "regoin": "x"}}}, 422, "invalid_project", "project.regoin"),
    ("wrong type", "POST", "/v1/evaluate",
     {"json": {"project": {**PROJECT, "investment_wan": "many"}}},
     422, "invalid_project", "project.investment_wan"),
    ("unknown enum value", "POST", "/v1/evaluate",
     {"json": {"project": {**PROJECT, "land_use": "borrowed"}}},
     422, "invalid_project", "project.land_use"),
    ("missing required fact", "POST", "/v1/evaluate",
     {"json": {"project": {"park": "x"}}}, 422, "invalid_project", "project.region"),
    ("negative number", "POST", "/v1/evaluate",
     {"json": {"project": {**PROJECT, "investment_wan": -1}}},
     422, "invalid_project", "project.investment_wan"),
    ("project not an object", "POST", "/v1/evaluate",
     {"json": {"project": [1, 2]}}, 422, "invalid_request", "project"),
    ("unknown request field", "POST", "/v1/evaluate",
     {"json": {"project": PROJECT, "explian": True}}, 422, "invalid_request", "explian"),
    ("no project", "POST", "/v1/evaluate", {"json": {}}, 422, "invalid_request", "project"),
    ("bad date", "POST", "/v1/evaluate",
     {"json": {"project": PROJECT, "date": "2024-02-30"}}, 422, "invalid_request", "date"),
    ("date as a number", "POST", "/v1/evaluate",
     {"json": {"project": PROJECT, "date": 1700000000}}, 422, "invalid_request", "date"),
    ("unknown engine", "POST", "/v1/evaluate",
     {"json": {"project": PROJECT, "engine": "magic"}}, 422, "invalid_request", "engine"),
    ("not JSON", "POST", "/v1/evaluate",
     {"content": b"{project:", "headers": {"content-type": "application/json"}},
     400, "invalid_json", "body"),
    ("oversized body", "POST", "/v1/evaluate",
     {"json": {"project": {**PROJECT, "park": BIG}}}, 413, "body_too_large", "body"),
    ("oversized chunked body", "POST", "/v1/evaluate",
     {"content": iter([b'{"project": {"park": "', BIG.encode(), b'"}}']),
      "headers": {"content-type": "application/json"}},
     413, "body_too_large", "body"),
    ("empty batch", "POST", "/v1/evaluate/batch",
     {"json": {"projects": []}}, 422, "invalid_request", "projects"),
    ("batch over 10,000", "POST", "/v1/evaluate/batch",
     {"json": {"projects": [{}] * 10_001}}, 422, "invalid_request", "projects"),
    ("empty matter", "POST", "/v1/route",
     {"json": {"matter": "", "region": "江西省"}}, 422, "invalid_request", "matter"),
    ("route without region", "POST", "/v1/route",
     {"json": {"matter": "化工园区"}}, 422, "invalid_request", "region"),
    ("search without q", "GET", "/v1/search", {}, 422, "invalid_request", "q"),
    ("search k = 0", "GET", "/v1/search",
     {"params": {"q": "园区", "k": 0}}, 422, "invalid_request", "k"),
    ("search k not a number", "GET", "/v1/search",
     {"params": {"q": "园区", "k": "ten"}}, 422, "invalid_request", "k"),
    ("unknown document", "GET", "/v1/clauses/nowhere-2020/一", {}, 404, "not_found", "document"),
    ("unknown clause", "GET", "/v1/clauses/pingliang-2023/九.9", {}, 404, "not_found", "clause"),
    ("unknown policy", "GET", "/v1/policies/nope", {}, 404, "not_found", "policy_id"),
    ("unknown decision", "GET", "/v1/decisions/0000", {}, 404, "not_found", "decision_id"),
    ("unknown path", "GET", "/v1/nothing", {}, 404, "not_found", None),
    ("wrong method", "DELETE", "/v1/evaluate", {}, 405, "method_not_allowed", None),
    ("reload without key", "POST", "/v1/admin/reload", {}, 401, "unauthorized", "X-API-Key"),
    ("reload with wrong key", "POST", "/v1/admin/reload",
     {"headers": {"X-API-Key": "guess"}}, 401, "unauthorized", "X-API-Key"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code", "location"),
    [case[1:] for case in FAILING],
    ids=[case[0] for case in FAILING],
)
def test_every_failing_path_has_the_error_shape(
    client: TestClient,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
    code: str,
    location: str | None,
) -> None:
    r = client.request(method, path, **kwargs)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert_error_shape(body)
    assert body["code"] == code
    if location is not None:
        assert body["errors"][0]["location"] == location
        assert location.split(".")[-1] in body["message"] or status != 422


def test_admin_is_off_without_a_key(tmp_path: Path) -> None:
    app = create_app(runtime=fast_runtime(tmp_path))
    with TestClient(app) as c:
        r = c.post("/v1/admin/reload", headers={"X-API-Key": ""})
        assert r.status_code == 403
        assert_error_shape(r.json())
        assert r.json()["code"] == "admin_disabled"


class BrokenLog:
    """A decision log whose database refuses every write."""

    async def write(self, _: Any) -> None:
        raise DecisionLogError("the decision log could not be written: disk full")

    def get(self, _: str) -> Any:
        raise DecisionLogError("the decision log could not be read: database is locked")

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_decision_log_failures_answer_503(tmp_path: Path) -> None:
    runtime = Runtime(
        serving_settings(tmp_path),
        embedder=HashEmbedder(),
        decision_log=BrokenLog(),  # type: ignore[arg-type]
    )
    with TestClient(create_app(runtime=runtime)) as c:
        for r in (
            c.post("/v1/evaluate", json={"project": PROJECT}),
            c.post("/v1/evaluate/batch", json={"projects": [PROJECT]}),
            c.get("/v1/decisions/abc"),
        ):
            assert r.status_code == 503
            assert_error_shape(r.json())
            assert r.json()["code"] == "decision_log_unavailable"


def test_an_unexpected_failure_answers_500_in_the_shape(tmp_path: Path) -> None:
    runtime = fast_runtime(tmp_path)

    def explode(*_: Any, **__: Any) -> Any:
        raise RuntimeError("a bug")

    runtime.decide = explode  # type: ignore[method-assign]
    with TestClient(create_app(runtime=runtime), raise_server_exceptions=False) as c:
        r = c.post("/v1/evaluate", json={"project": PROJECT})
        assert r.status_code == 500
        assert_error_shape(r.json())
        assert r.json()["code"] == "internal_error" and "a bug" not in r.text


# --------------------------------------------------------------------------------- reload


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(ROOT / "policies", root / "policies")
    return root


def test_reload_picks_up_a_changed_policy(project_copy: Path, tmp_path: Path) -> None:
    app = create_app(runtime=fast_runtime(tmp_path, project_copy, ZHENGCE_ADMIN_KEY=KEY))
    headers = {"X-API-Key": KEY}
    with TestClient(app) as c:
        before = c.post("/v1/evaluate", json={"project": PROJECT}).json()
        same = c.post("/v1/admin/reload", headers=headers).json()
        assert same["changed"] is False and same["revision"] == before["revision"]
        path = project_copy / "policies/pingliang-2023.zc"
        text = path.read_text("utf-8").replace("门槛 = 1000万元", "门槛 = 2000万元")
        path.write_text(text, "utf-8")
        r = c.post("/v1/admin/reload", headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["changed"] is True
        after = c.post("/v1/evaluate", json={"project": PROJECT}).json()
        assert after["revision"] == r.json()["revision"] != before["revision"]
        assert (before["outcome"], after["outcome"]) == ("file", "none")  # 1200 < 2000


def test_reload_refuses_a_broken_set_and_keeps_serving(project_copy: Path, tmp_path: Path) -> None:
    app = create_app(runtime=fast_runtime(tmp_path, project_copy, ZHENGCE_ADMIN_KEY=KEY))
    with TestClient(app) as c:
        before = c.post("/v1/evaluate", json={"project": PROJECT}).json()
        path = project_copy / "policies/pingliang-2023.zc"
        lines = path.read_text("utf-8").splitlines()
        lines.insert(5, "规则 坏 {")
        path.write_text("\n".join(lines) + "\n", "utf-8")
        r = c.post("/v1/admin/reload", headers={"X-API-Key": KEY})
        assert r.status_code == 409
        body = r.json()
        assert_error_shape(body)
        assert body["code"] == "policy_errors"
        assert body["errors"][0]["location"].startswith("policies/pingliang-2023.zc:")
        assert before["revision"] in body["message_en"]
        still = c.post("/v1/evaluate", json={"project": PROJECT})
        assert still.status_code == 200
        assert still.json()["revision"] == before["revision"]


# -------------------------------------------------------------------------------- OpenAPI


def test_openapi_documents_the_project_from_the_fact_schema(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schema = client.app.state.runtime.service.policies.schema  # type: ignore[attr-defined]
    project = spec["components"]["schemas"]["Project"]
    assert set(project["properties"]) == {f.name for f in schema.fields}
    assert project["required"] == [f.name for f in schema.fields if f.required]
    assert project["additionalProperties"] is False
    land_use = project["properties"]["land_use"]["anyOf"][0]["enum"]
    assert "new_land" in land_use and "新增建设用地" in land_use
    for path in ("/v1/evaluate", "/v1/evaluate/batch", "/v1/route"):
        op = spec["paths"][path]["post"]
        assert op["requestBody"]["content"]["application/json"]["schema"]
        for status in ("400", "413", "422", "500"):
            ref = op["responses"][status]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/ErrorBody")
    request = spec["components"]["schemas"]["EvaluateRequest"]
    assert request["examples"][0]["project"]["region"]


def test_every_operation_documents_its_error_shape(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            for status, response in op["responses"].items():
                if status.startswith(("4", "5")):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema["$ref"].endswith("/ErrorBody"), (method, path, status)


def test_the_api_docs_need_no_cdn(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    scripts = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert scripts and all(s.startswith("/") for s in scripts), scripts
    for asset in scripts:
        assert client.get(asset).status_code == 200, asset
