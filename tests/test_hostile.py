"""Hostile input (issue 14): what a tester playing an attacker or a careless client sent, each
with the status and error code the service must answer. No case may give a 5xx, every error
is in the one shape, every answer carries the security headers, and no 5xx body or /readyz
names a path, SQL or another client's input."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import text

from server import tcp
from server.app import create_app
from server.limits import BatchLimits
from server.runtime import Runtime
from server.security import HEADERS
from tests.conftest import EXAMPLE, ROOT, assert_error_shape, fast_runtime

PROJECT: dict[str, Any] = EXAMPLE["project"]
SURROGATE = "\ud800"
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    runtime = fast_runtime(tmp_path_factory.mktemp("hostile"), ZHENGCE_BATCH_EXPLAIN_MAX="3")
    yield runtime
    runtime.close()


@pytest.fixture(scope="module")
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=runtime), base_url="http://zhengce.test") as c:
        yield c


def raw(body: Any) -> dict[str, Any]:
    """The request as JSON text with every non-ASCII character escaped, so that a lone
    surrogate travels as `\\ud800`, as a hostile client writes it."""
    return {"content": json.dumps(body).encode(), "headers": JSON}


def literal(text: str) -> dict[str, Any]:
    return {"content": text.encode(), "headers": JSON}


def nested(depth: int) -> str:
    return '{"project": {"region": "甘肃省", "park": ' + "[" * depth + "]" * depth + "}}"


BIG_INT = 10**400
CROSS = {"origin": "http://evil.example"}

# (name, method, path, request kwargs, status, code, first error's code, its location)
CASES: list[tuple[str, str, str, dict[str, Any], int, str, str | None, str | None]] = [
    # 1: text that is not Unicode, anywhere
    ("surrogate in a value", "POST", "/v1/evaluate",
     raw({"project": {**PROJECT, "industry": SURROGATE}}),
     422, "invalid_request", "wrong_type", "project.industry"),
    ("surrogate as a field name", "POST", "/v1/evaluate",
     raw({"project": {**PROJECT, SURROGATE: 1}}),
     422, "invalid_request", "wrong_type", "project.\\ud800"),
    ("surrogate as a request key", "POST", "/v1/evaluate",
     raw({"project": PROJECT, "\udfff": 1}), 422, "invalid_request", "wrong_type", "\\udfff"),
    ("surrogate in a nested list", "POST", "/v1/evaluate",
     raw({"project": {**PROJECT, "park": ["ok", {"x": SURROGATE}]}}),
     422, "invalid_request", "wrong_type", "project.park.1.x"),
    ("surrogate in a route matter", "POST", "/v1/route",
     raw({"matter": f"化工{SURROGATE}", "region": "江西省"}),
     422, "invalid_request", "wrong_type", "matter"),
    ("invalid UTF-8 bytes", "POST", "/v1/evaluate",
     {"content": b'{"project": {"region": "\xff\xfe"}}', "headers": JSON},
     400, "bad_request", None, None),
    # 5: numbers of any size
    ("400-digit integer", "POST", "/v1/evaluate",
     raw({"project": {**PROJECT, "investment_wan": BIG_INT}}),
     422, "invalid_project", "out_of_range", "project.investment_wan"),
    ("negative 400-digit integer", "POST", "/v1/evaluate",
     raw({"project": {**PROJECT, "investment_wan": -BIG_INT}}),
     422, "invalid_project", "out_of_range", "project.investment_wan"),
    ("1e400, infinite as a float", "POST", "/v1/evaluate",
     literal('{"project": {"region": "甘肃省/平凉市", "investment_wan": 1e400}}'),
     422, "invalid_project", "wrong_type", "project.investment_wan"),
    ("NaN", "POST", "/v1/evaluate",
     literal('{"project": {"region": "甘肃省/平凉市", "investment_wan": NaN}}'),
     422, "invalid_project", "wrong_type", "project.investment_wan"),
    ("400-digit date", "POST", "/v1/evaluate",
     raw({"project": PROJECT, "date": BIG_INT}), 422, "invalid_request", "wrong_type", "date"),
    # 10: regions, content types
    ("region climbing out with ..", "POST", "/v1/evaluate",
     raw({"project": {**PROJECT, "region": "甘肃省/平凉市/../../江西省"}}),
     422, "invalid_project", "bad_region", "project.region"),
    ("body as text/plain", "POST", "/v1/evaluate",
     {"content": json.dumps(EXAMPLE).encode(), "headers": {"content-type": "text/plain"}},
     415, "unsupported_media_type", "unsupported_media_type", "content-type"),
    ("body as a form", "POST", "/v1/evaluate",
     {"data": {"project": "x"}}, 415, "unsupported_media_type", None, "content-type"),
    ("body without a content type", "POST", "/v1/route",
     {"content": b'{"matter": "x", "region": "y"}'}, 415, "unsupported_media_type", None, None),
    ("JSON with a charset", "POST", "/v1/evaluate",
     {"content": json.dumps(EXAMPLE).encode(),
      "headers": {"content-type": "application/json; charset=utf-8"}}, 200, "", None, None),
    # 9: other sites
    ("page form posted from another site", "POST", "/decide",
     {"data": {"region": "甘肃省"}, "headers": CROSS}, 403, "cross_origin", None, "origin"),
    ("API called from another site", "POST", "/v1/evaluate",
     {**raw(EXAMPLE), "headers": JSON | CROSS}, 403, "cross_origin", None, "origin"),
    ("Origin null (a sandboxed frame)", "POST", "/decide",
     {"data": {"region": "甘肃省"}, "headers": {"origin": "null"}},
     403, "cross_origin", None, "origin"),
    ("reload from another site", "POST", "/v1/admin/reload",
     {"headers": CROSS}, 403, "cross_origin", None, "origin"),
    # 7: amplification
    ("explained batch over the limit", "POST", "/v1/evaluate/batch",
     raw({"projects": [PROJECT] * 4, "explain": True}),
     422, "explain_limit", None, "explain"),
    ("explain spelled with an escape", "POST", "/v1/evaluate/batch",
     literal('{"projects": [{}, {}, {}, {}], "\\u0065xplain": true}'),
     422, "explain_limit", None, "explain"),
    # JSON that is too deep for the decoder, or just within it
    ("nesting deeper than the decoder", "POST", "/v1/evaluate",
     literal(nested(100_000)), 400, "bad_request", None, None),
    ("nesting just within the decoder", "POST", "/v1/evaluate",
     literal(nested(900)), 422, "invalid_project", "wrong_type", "project.park"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code", "first", "location"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_hostile_input_is_refused_in_the_error_shape(
    client: TestClient,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
    code: str,
    first: str | None,
    location: str | None,
) -> None:
    r = client.request(method, path, **kwargs)
    assert r.status_code == status, r.text
    for name, value in HEADERS.items():
        assert r.headers[name] == value
    if status == 200:
        return
    body = r.json()
    assert_error_shape(body)
    assert body["code"] == code
    if first is not None:
        assert body["errors"][0]["code"] == first
    if location is not None:
        assert body["errors"][0]["location"] == location
    r.text.encode("utf-8")  # the answer itself is valid text


def test_one_bad_project_of_a_batch_fails_alone(client: TestClient) -> None:
    """50 good projects and 1 with a lone surrogate: 50 decisions, each logged, and 1 error
    entry (before, the bad one failed the commit the 50 shared: a 503 for all)."""
    projects = [{**PROJECT, "investment_wan": 1000 + i} for i in range(50)]
    projects.insert(17, {**PROJECT, "industry": SURROGATE})
    projects.append({**PROJECT, "investment_wan": BIG_INT})
    r = client.post("/v1/evaluate/batch", **raw({"projects": projects}))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["count"], body["failed"]) == (52, 2)
    errors = {x["index"]: x["error"]["errors"][0] for x in body["results"] if "error" in x}
    assert errors[17]["location"] == "projects.17.industry"
    assert errors[17]["code"] == "wrong_type"
    assert errors[51]["code"] == "out_of_range"
    decided = [x["decision"]["decision_id"] for x in body["results"] if "decision" in x]
    assert len(decided) == 50
    for decision_id in decided:
        assert client.get(f"/v1/decisions/{decision_id}").status_code == 200


def test_the_web_search_cuts_a_long_query(client: TestClient) -> None:
    r = client.get("/search", params={"q": "园区" * 1_000, "region": "省" * 1_000})
    assert r.status_code == 200
    assert 'value="' + "园区" * 250 + '"' in r.text and "园区" * 251 not in r.text


def test_every_answer_carries_the_security_headers(client: TestClient) -> None:
    for path in ("/", "/policies", "/search?q=园区", "/docs", "/static/style.css",
                 "/v1/policies", "/v1/nothing", "/healthz", "/readyz"):  # fmt: skip
        r = client.get(path)
        assert r.headers["content-security-policy"].startswith("default-src 'self'"), path
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"], path


def test_a_form_posted_from_the_page_itself_is_accepted(client: TestClient) -> None:
    form = {"region": "甘肃省/平凉市", "_date": "2024-03-01"}
    r = client.post("/decide", data=form, headers={"origin": "http://zhengce.test"})
    assert r.status_code in (200, 303, 422)  # decided, or the form again; never refused


def test_readyz_names_no_path_and_every_worker(client: TestClient, runtime: Runtime) -> None:
    r = client.get("/readyz")
    body = r.json()
    assert "cache_dir" not in body["search"]
    assert str(runtime.settings.cache_dir) not in r.text and str(ROOT) not in r.text
    assert body["workers"] == [
        {"pid": body["worker"], "revision": body["revision"], "problem": None}
    ]


def test_a_500_gives_an_incident_id_and_no_details(tmp_path: Path) -> None:
    runtime = fast_runtime(tmp_path)

    def explode(*_: Any, **__: Any) -> Any:
        raise RuntimeError("a bug at /srv/internal/secret")

    runtime.decide = explode  # type: ignore[method-assign]
    with TestClient(create_app(runtime=runtime), raise_server_exceptions=False) as c:
        r = c.post("/v1/evaluate", json=EXAMPLE)
    assert r.status_code == 500
    body = r.json()
    assert "事件编号" in body["message"] and "incident" in body["message_en"]
    assert "secret" not in r.text
    assert r.headers["x-content-type-options"] == "nosniff"


def test_a_503_names_no_sql_path_or_other_input(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The log's database refuses the write (its table is gone): the driver's message holds
    the SQL statement, and used to hold every row of the commit, other clients' projects."""
    runtime = fast_runtime(tmp_path)
    with runtime.decision_log.engine.begin() as conn:
        conn.execute(text("DROP TABLE decisions"))
    secret = {**PROJECT, "park": "某某secret园区"}
    with TestClient(create_app(runtime=runtime)) as c:
        r = c.post("/v1/evaluate", json={"project": secret})
    assert r.status_code == 503
    body = r.json()
    assert body["code"] == "decision_log_unavailable" and "事件编号" in body["message"]
    for leak in ("INSERT", "decisions", "secret", str(tmp_path), "sqlite"):
        assert leak not in r.text
    incident = body["message_en"].split("incident ")[1].rstrip(")")
    logged = [rec for rec in caplog.records if incident in rec.getMessage()]
    assert logged and logged[0].exc_info  # the details are in the server log, by incident
    details = logging.Formatter().formatException(logged[0].exc_info)
    assert "INSERT" in details and "secret" not in details  # parameters hidden there too


# ------------------------------------------------------------------- batches at once


def test_batches_beyond_the_limit_are_refused_at_once() -> None:
    """With one batch being evaluated and a limit of one, the next is refused with 503 and
    Retry-After before its body is looked at; once the first is done, batches pass again."""
    release = asyncio.Event()
    answered: list[int] = []

    async def slow_app(scope: Any, receive: Any, send: Any) -> None:
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    gate = BatchLimits(slow_app, "/v1/evaluate/batch", max_running=1, explain_max=10)

    async def call() -> tuple[int, dict[bytes, bytes]]:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b'{"projects": [{}]}', "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/v1/evaluate/batch", "headers": []}
        await gate(scope, receive, send)
        start = sent[0]
        answered.append(start["status"])
        return start["status"], dict(start["headers"])

    async def scenario() -> None:
        first = asyncio.create_task(call())
        await asyncio.sleep(0.01)
        status, headers = await call()
        assert (status, headers[b"retry-after"]) == (503, b"1")
        release.set()
        assert (await first)[0] == 200
        assert (await call())[0] == 200

    asyncio.run(scenario())
    assert answered == [503, 200, 200]


# -------------------------------------------------------------- the HTTP server itself


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, int]]:
    """The app under uvicorn with server.tcp's protocol, in a thread, on loopback, with a
    header timeout of 1 s."""
    monkeypatch.setattr(tcp, "header_timeout", lambda: 1.0)
    runtime = fast_runtime(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(
        create_app(runtime=runtime),
        host="127.0.0.1",
        port=port,
        http=tcp.HttpProtocol,
        log_level="error",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield "127.0.0.1", port
    server.should_exit = True
    thread.join(timeout=30)


def exchange(address: tuple[str, int], data: bytes, wait: float = 5.0) -> bytes:
    """Send `data`, then read until the server closes the connection (or `wait` passes)."""
    with socket.create_connection(address, timeout=wait) as s:
        s.sendall(data)
        chunks = []
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            chunks.append(b"<still open>")
        return b"".join(chunks)


def error_of(answer: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head.lower()
    return int(head.split(b" ", 2)[1]), json.loads(body)


@pytest.mark.served
def test_slow_headers_are_cut_off(served: tuple[str, int]) -> None:
    """Slowloris: connections that open and then send a header line now and then, or
    nothing at all, are answered 408 and closed after the header timeout (1 s here)."""
    idle, trickling = [], []
    for _ in range(20):
        idle.append(socket.create_connection(served, timeout=5))
        s = socket.create_connection(served, timeout=5)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        trickling.append(s)
    started = time.monotonic()
    for _ in range(3):
        time.sleep(0.4)
        for s in trickling:
            s.sendall(b"X-Slow: 1\r\n")
    for s in idle + trickling:
        answer = b"".join(iter(lambda s=s: s.recv(65536), b""))  # type: ignore[misc]
        status, body = error_of(answer)
        assert (status, body["code"]) == (408, "request_timeout")
        s.close()
    assert time.monotonic() - started < 4


@pytest.mark.served
def test_a_keep_alive_connection_is_timed_per_request(served: tuple[str, int]) -> None:
    """The header timeout counts from each request's first byte, not the connection's."""
    with socket.create_connection(served, timeout=5) as s:
        for _ in range(3):
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while not answer.endswith(b'{"status":"ok"}'):
                answer += s.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200")
            time.sleep(0.6)  # 1.8 s in all, over the timeout


@pytest.mark.served
def test_huge_headers_are_refused(served: tuple[str, int]) -> None:
    lines = b"".join(b"X-Big-%d: %s\r\n" % (i, b"a" * 1000) for i in range(100))
    answer = exchange(served, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + lines + b"\r\n")
    status, body = error_of(answer)
    assert (status, body["code"]) == (431, "headers_too_large")


@pytest.mark.served
def test_garbage_gets_a_400_in_the_error_shape(served: tuple[str, int]) -> None:
    status, body = error_of(exchange(served, b"\x16\x03\x01 not http at all\r\n\r\n"))
    assert (status, body["code"]) == (400, "bad_request")
    assert_error_shape(body)


# ------------------------------------------------------------------- in a real browser

CHROMIUM = Path("/usr/bin/chromium")
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
                "--disable-background-networking", "--disable-component-update"]  # fmt: skip


@pytest.fixture
def browser_page(served: tuple[str, int]) -> Iterator[tuple[Any, str, list[str]]]:
    """Chromium (Debian's; never downloaded) on the served app, with JavaScript on, and the
    console messages about the Content-Security-Policy it reports."""
    playwright = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip(f"no browser at {CHROMIUM}: `apt-get install chromium`")
    base = f"http://{served[0]}:{served[1]}"
    violations: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        page = browser.new_page()
        page.set_default_timeout(20_000)
        page.on(
            "console",
            lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
        )
        yield page, base, violations
        browser.close()


@pytest.mark.browser
def test_the_csp_lets_the_page_and_the_api_docs_work(
    browser_page: tuple[Any, str, list[str]],
) -> None:
    page, base, violations = browser_page
    page.goto(f"{base}/docs")
    page.locator(".swagger-ui .info .title").wait_for()
    assert "zhengce" in page.locator(".swagger-ui .info .title").inner_text()
    page.locator(".opblock-summary-path", has_text="/v1/evaluate").first.wait_for()
    for path in ("/", "/policies", "/policies/pingliang-2023", "/search?q=备案"):
        page.goto(base + path)
        assert page.locator("link[rel=stylesheet]").count() == 1
    assert page.evaluate("getComputedStyle(document.body).fontFamily")  # the sheet applied
    assert violations == []


@pytest.mark.browser
def test_a_browser_cannot_post_the_form_from_another_page(
    browser_page: tuple[Any, str, list[str]],
) -> None:
    """A page elsewhere (here one with no origin at all) that posts the reviewer's form:
    the browser says where it comes from, and the post is refused."""
    page, base, _ = browser_page
    page.set_content(
        f'<form method="post" action="{base}/decide">'
        '<input name="region" value="甘肃省/平凉市"><button>go</button></form>'
    )
    with page.expect_response(f"{base}/decide") as answer:
        page.click("button")
    assert answer.value.status == 403
    assert answer.value.json()["code"] == "cross_origin"
