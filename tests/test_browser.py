"""The reviewer's page in a real browser: Debian's chromium driven by Playwright against a real
uvicorn server, with JavaScript switched off (the page must work without it).

Needs `pip install playwright` (in the dev extras) and `apt-get install chromium`; the test
never downloads a browser. The fixtures and helpers here serve tests/test_page_*.py too (the
acceptance tests of the reviewer's page, issue 12). Screenshots go to var/test-artifacts/browser/
(git-ignored), named after what they show.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import pytest

from tests.conftest import ROOT, fast_runtime
from tests.live import serving

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "var" / "test-artifacts" / "browser"
NARROW = {"width": 420, "height": 900}
# Every view a reviewer reaches, for the checks every page must pass (Chinese only, 420 px),
# and the example projects a drafter keeps: the lists grow with the policy set.
VIEWS = [
    "/",
    "/policies",
    *(
        f"/policies/{p.stem}"
        for p in sorted((ROOT / "policies").glob("*.zc"))
        if p.stem != "schema"
    ),
    "/search",
    "/search?q=化工园区清理整顿由谁牵头",
    "/search?q=备案&region=平凉",
    "/decisions/no-such-decision",
]
EXAMPLES = sorted(p.stem for p in (ROOT / "policies" / "examples").glob("*.json"))
PATH = [("所在工业园区(高新区、集中区)", "报送"), ("市园区办", "备案")]
QUOTE = "对投资额度在1000万元以上的非供地类项目,由所在工业园区(高新区、集中区)报市园区办进行备案"

try:
    from playwright.sync_api import sync_playwright
except ImportError:
    pytest.skip(
        "playwright is not installed: `pip install -e .[dev]` (or `pip install playwright`); "
        "the browser itself comes from Debian: `apt-get install chromium`",
        allow_module_level=True,
    )
if not CHROMIUM.exists():
    pytest.skip(
        f"no browser at {CHROMIUM}: install Debian's with `apt-get install chromium` "
        "(the tests never download one)",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real uvicorn server on a free port of 127.0.0.1, in a background thread."""
    from server.app import create_app

    runtime = fast_runtime(tmp_path_factory.mktemp("browser"))
    try:
        with serving(create_app(runtime.settings, runtime=runtime)) as url:
            yield url
    finally:
        runtime.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


def _page(browser: Browser, base_url: str, viewport: dict[str, int]) -> Iterator[Page]:
    # zh-CN, as the reviewers' browsers: the date controls read 年/月/日.
    context = browser.new_context(
        base_url=base_url, java_script_enabled=False, viewport=viewport, locale="zh-CN"
    )
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    yield from _page(browser, base_url, {"width": 1280, "height": 900})


@pytest.fixture
def narrow_page(browser: Browser, base_url: str) -> Iterator[Page]:
    """A 420 px wide window, as a phone or a window beside another."""
    yield from _page(browser, base_url, NARROW)


def shot(page: Page, name: str) -> Path:
    """A full-page screenshot under var/test-artifacts/browser/, for a person to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def decide(page: Page, values: Mapping[str, str]) -> str:
    """The form prefilled with `values` (form control names, `_date`) and submitted, as a
    reviewer would after typing them: the decision id of the page it leads to."""
    page.goto("/?" + urlencode(values))
    page.get_by_role("button", name="评估", exact=True).click()
    page.wait_for_url(re.compile(r"/decisions/[0-9a-f]+$"))
    return page.url.rsplit("/", 1)[1]


def example(page: Page, name: str) -> str:
    """policies/examples/<name>.json through the form's example button and 评估."""
    page.goto(f"/?_example={name}")
    page.get_by_role("button", name="评估", exact=True).click()
    page.wait_for_url(re.compile(r"/decisions/[0-9a-f]+$"))
    return page.url.rsplit("/", 1)[1]


def logged(page: Page, decision_id: str) -> dict[str, Any]:
    """The decision as the JSON API gives it (GET /v1/decisions/{id}): its `result`."""
    answer = page.request.get(f"/v1/decisions/{decision_id}")
    assert answer.ok, answer.text()
    result: dict[str, Any] = answer.json()["result"]
    return result


def text(locator: Locator) -> str:
    return " ".join(locator.inner_text().split())


def field(page: Page, label: str) -> Locator:
    """The form control labelled `label` (the Chinese label, as a person reads it)."""
    return page.get_by_label(re.compile(rf"^{re.escape(label)}(?=[\s（*])"))


def fill_example(page: Page) -> None:
    page.goto("/")
    field(page, "地区").fill("甘肃省/平凉市/崆峒区")
    field(page, "园区").fill("平凉工业园区")
    field(page, "园区级别").select_option(label="省级")
    field(page, "用地方式").select_option(label="非供地")
    field(page, "项目类别").select_option(label="工业")
    field(page, "投资额").fill("1200")
    page.get_by_label("评估日期", exact=True).fill("2024-03-01")


def path_steps(page: Page) -> list[tuple[str, str]]:
    steps = page.locator("section[aria-labelledby=h-path] ol.path > li")
    return [
        (li.locator(".authority").inner_text(), li.locator(".action").inner_text())
        for li in steps.all()
    ]


def test_a_reviewer_evaluates_a_project_and_finds_it_again(page: Page) -> None:
    fill_example(page)
    page.get_by_role("button", name="评估", exact=True).click()
    page.wait_for_url(re.compile(r"/decisions/[0-9a-f]+$"))
    assert page.locator("#outcome").inner_text() == "备案"
    assert path_steps(page) == PATH
    citation = page.locator("#citations article.citation").first
    assert citation.locator(".clause-id").inner_text() == "二.4"
    assert citation.locator("mark").all_inner_texts() == [QUOTE]
    assert page.locator("#why-not > li").count() > 0
    shot(page, "decision-pingliang-file")
    decision_id = page.locator("#decision-id").inner_text()
    decision_url = page.url

    page.goto("/")
    page.get_by_label("决定编号").fill(decision_id)
    page.get_by_role("button", name="查找").click()
    page.wait_for_url(decision_url)
    assert path_steps(page) == PATH

    page.goto("/")
    page.get_by_label("决定编号").fill("no-such-decision")
    page.get_by_role("button", name="查找").click()
    assert "没有这个决定" in page.locator("h1").inner_text()


def test_bad_input_comes_back_with_the_error_beside_the_field(page: Page) -> None:
    fill_example(page)
    field(page, "投资额").fill("-5")
    page.get_by_role("button", name="评估", exact=True).click()
    page.wait_for_url(re.compile(r"/decide$"))
    assert "须为不小于 0" in page.locator("#e-investment_wan").inner_text()
    assert field(page, "投资额").input_value() == "-5"
    assert field(page, "地区").input_value() == "甘肃省/平凉市/崆峒区"
    assert field(page, "园区级别").input_value() == "provincial"
    field(page, "投资额").fill("1200")
    page.get_by_role("button", name="评估", exact=True).click()
    page.wait_for_url(re.compile(r"/decisions/[0-9a-f]+$"))
    assert path_steps(page) == PATH


def test_a_search_leads_to_the_clause_in_its_policy(page: Page) -> None:
    page.goto("/")
    page.get_by_label("关键词或问题").fill("租赁厂房的项目由谁审核")
    page.get_by_role("button", name="检索").click()
    page.wait_for_url(re.compile(r"/search\?q="))
    hits = page.locator("ol.hits > li")
    assert hits.count() > 0
    first = hits.first
    assert first.locator("mark").count() > 0
    clause = first.locator("a.clause-id").inner_text()  # 四.(一).1
    document = first.locator("header code").inner_text()  # jiading-2017
    first.locator("a.clause-id").click()
    page.wait_for_url(re.compile(r"/policies/[^/#]+#c-"))
    target = page.locator("li.clause:target")
    assert target.get_attribute("id") == f"c-{clause}"
    assert target.locator(".clause-id").inner_text() == clause
    assert document in page.locator("dl.meta").inner_text()


def test_the_api_docs_render_offline(browser: Browser, base_url: str) -> None:
    """/docs is Swagger UI from the installed package (JavaScript on): it renders the
    operations of the OpenAPI document without reaching any other host."""
    context = browser.new_context(base_url=base_url)
    context.set_default_timeout(15_000)
    hosts: set[str] = set()
    page = context.new_page()
    page.on("request", lambda r: hosts.add(r.url.split("/")[2]))
    try:
        page.goto("/docs")
        page.locator(".opblock").first.wait_for()
        paths = page.locator(".opblock-summary-path").all_inner_texts()
        assert "/v1/evaluate" in [p.replace("\u200b", "") for p in paths]
        assert hosts == {base_url.split("/")[2]}
    finally:
        context.close()
