"""`POST /v1/route` through server.direct_route and `GET /v1/search`: a remembered answer is the
answer given without any cache, errors keep their shape, a reload drops the kept JSON, and
questions to embed take the worker's one embedding thread in turn."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from server.runtime import Runtime
from tests.conftest import ROOT, assert_error_shape, fast_runtime

KEY = "test-admin-key"
ASKED: list[dict[str, Any]] = [
    {"matter": "化工园区清理整顿由谁牵头", "region": "江西省", "date": "2019-06-01"},
    {"matter": "化工园区清理整顿谁负责", "region": "江西省", "date": "2019-06-01"},
    {"matter": "化工园区清理整顿由谁牵头", "region": "江西省", "date": "2019-06-01", "k": 2},
    {"matter": "化工园区清理整顿由谁牵头", "region": "江西省/南昌市", "date": "2019-06-01"},
    {"matter": "化工园区清理整顿由谁牵头", "region": "江西省", "date": "2024-06-01"},
    {"matter": "园区重大事项和困难问题找谁协调", "region": "甘肃省/平凉市"},  # today
    {"matter": "我想办理结婚登记", "region": "甘肃省/平凉市", "date": "2024-06-01"},
    {"matter": "pingliang-2023/重大事项包抓", "region": "甘肃省/平凉市", "date": "2024-06-01"},
    {"matter": "重大事项包抓", "region": "甘肃省/平凉市", "date": "2024-06-01"},
]


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, TestClient]]:
    """(a server that remembers, one with ZHENGCE_SEARCH_CACHE=0)."""
    tmp = tmp_path_factory.mktemp("route-http")
    runtimes = [fast_runtime(tmp / "on"), fast_runtime(tmp / "off", ZHENGCE_SEARCH_CACHE="0")]
    try:
        with (
            TestClient(create_app(runtime=runtimes[0])) as on,
            TestClient(create_app(runtime=runtimes[1])) as off,
        ):
            yield on, off
    finally:
        for runtime in runtimes:
            runtime.close()


@pytest.mark.parametrize("body", ASKED, ids=lambda b: f"{b['matter']}-{b['region']}")
def test_a_remembered_answer_is_the_answer(
    clients: tuple[TestClient, TestClient], body: dict[str, Any]
) -> None:
    on, off = clients
    want = off.post("/v1/route", json=body)
    assert want.status_code == 200, want.text
    for _ in range(3):  # computed, then the kept match, then the kept JSON
        got = on.post("/v1/route", json=body)
        assert (got.status_code, got.headers["content-type"]) == (200, "application/json")
        assert got.content == want.content


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ('{"matter": "x"', 400),
        ('{"matter": "x", "region": "江西省", "extra": 1}', 422),
        ('{"matter": "x", "region": "江西省", "k": "5"}', 422),
        ('{"matter": "x", "region": "江西省", "date": "2019-02-30"}', 422),
        ('{"matter": "", "region": "江西省"}', 422),
    ],
)
def test_a_refused_body_is_answered_by_the_api_in_its_shape(
    clients: tuple[TestClient, TestClient], body: str, status: int
) -> None:
    on, off = clients
    answers = []
    for client in (on, off):
        r = client.post(
            "/v1/route", content=body.encode(), headers={"content-type": "application/json"}
        )
        assert r.status_code == status, r.text
        assert_error_shape(r.json())
        answers.append(r.json())
    assert answers[0] == answers[1]


def test_a_reload_drops_the_kept_answers(tmp_path: Path) -> None:
    root = tmp_path / "project"
    shutil.copytree(ROOT / "policies", root / "policies")
    runtime: Runtime = fast_runtime(tmp_path, root, ZHENGCE_ADMIN_KEY=KEY)
    ask = {"matter": "园区重大事项和困难问题找谁协调", "region": "甘肃省/平凉市"}
    try:
        with TestClient(create_app(runtime=runtime)) as c:
            before = [c.post("/v1/route", json=ask).json() for _ in range(3)]
            assert before[0] == before[2] and before[0]["match"]["notes"][0].startswith("句子")
            path = root / "policies" / "pingliang-2023.zc"
            old = '注 "句子主语是市园区办'
            text = path.read_text("utf-8").replace(old, '注 "已改：句子主语是市园区办')
            path.write_text(text, "utf-8")
            assert c.post("/v1/admin/reload", headers={"X-API-Key": KEY}).status_code == 200
            for _ in range(3):  # computed, then remembered by the new set's Searcher
                after = c.post("/v1/route", json=ask).json()
                assert after["match"]["rule"] == before[0]["match"]["rule"]
                assert after["match"]["notes"][0].startswith("已改")
    finally:
        runtime.close()


def test_route_and_search_misses_share_one_embedding_thread(
    clients: tuple[TestClient, TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Route misses and clause searches that must embed their question are run by the
    worker's one embedding thread, in turn: never two embeddings at once on a worker's core,
    whichever endpoint asked (server/direct_route.py says why), and every one answered."""
    from server import direct_route
    from server.service import Service

    _, off = clients  # remembers nothing: every request is a miss
    running, most = 0, 0
    lock = threading.Lock()

    def counting(inner: Any) -> Any:
        def counted(*args: Any) -> Any:
            nonlocal running, most
            with lock:
                running += 1
                most = max(most, running)
            try:
                time.sleep(0.02)  # long enough for the others to arrive
                return inner(*args)
            finally:
                with lock:
                    running -= 1

        return counted

    monkeypatch.setattr(direct_route, "routed", counting(direct_route.routed))
    monkeypatch.setattr(Service, "search", counting(Service.search))
    routes = [{**ASKED[0], "matter": f"{ASKED[0]['matter']}{i}"} for i in range(8)]
    searches = [{"q": f"园区规划由谁审批{i}", "k": 3} for i in range(6)]
    with ThreadPoolExecutor(max_workers=14) as pool:
        routed = pool.map(lambda b: off.post("/v1/route", json=b), routes)
        found = pool.map(lambda q: off.get("/v1/search", params=q), searches)
        answers = [*routed, *found]
    assert [a.status_code for a in answers] == [200] * 14
    assert most == 1


@pytest.mark.parametrize("q", ["园区规划由谁审批", "不用拿地的项目去哪备案", "食堂的菜单由谁定"])
def test_a_remembered_search_is_the_search(clients: tuple[TestClient, TestClient], q: str) -> None:
    on, off = clients
    first = on.get("/v1/search", params={"q": q, "region": "甘肃省/平凉市"})
    again = on.get("/v1/search", params={"q": q, "region": "甘肃省/平凉市"})  # on the loop
    fresh = off.get("/v1/search", params={"q": q, "region": "甘肃省/平凉市"})
    assert first.status_code == again.status_code == fresh.status_code == 200
    assert first.json() == again.json() == fresh.json()
    assert on.get("/v1/search", params={"q": ""}).status_code == 422
