"""A narrow window and a keyboard (issue 12, point 7), in Chromium without JavaScript: no page
scrolls sideways at 420 px, every page starts with a skip link, and a failed submit puts the
focus on the error summary."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests import test_browser as shared
from tests.test_browser import decide, example, shot, text

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser
base_url, browser, page, narrow_page = (
    shared.base_url,
    shared.browser,
    shared.page,
    shared.narrow_page,
)

WIDTH = shared.NARROW["width"]
PAGES = [*shared.VIEWS, "/?_example=jiading-against-plan"]
EXAMPLES = shared.EXAMPLES


def scroll_width(page: Page) -> int:
    width: int = page.evaluate("document.documentElement.scrollWidth")
    return width


def name(path: str) -> str:
    return path.strip("/").replace("/", "-").replace("?", "-").replace("&", "-") or "form"


@pytest.mark.parametrize("path", PAGES)
def test_no_page_scrolls_sideways_at_420_px(narrow_page: Page, path: str) -> None:
    narrow_page.goto(path)
    shot(narrow_page, f"7-narrow-{name(path)}")
    assert scroll_width(narrow_page) <= WIDTH


@pytest.mark.parametrize("example_name", EXAMPLES)
def test_no_decision_scrolls_sideways_at_420_px(narrow_page: Page, example_name: str) -> None:
    example(narrow_page, example_name)
    # Open every <details>: what is inside must fit too.
    for summary in narrow_page.locator("details > summary").all():
        summary.click()
    shot(narrow_page, f"7-narrow-decision-{example_name}")
    assert scroll_width(narrow_page) <= WIDTH


def test_a_suggestion_and_the_form_with_errors_fit_at_420_px(narrow_page: Page) -> None:
    decide(narrow_page, {"region": "平凉", "category": "industrial", "_explain": "on"})
    assert scroll_width(narrow_page) <= WIDTH
    narrow_page.goto("/?_example=pingliang-non-land&park_level=galactic")
    narrow_page.locator("#f-investment_wan").fill("-5")
    narrow_page.get_by_role("button", name="评估", exact=True).click()
    narrow_page.wait_for_url("**/decide")
    shot(narrow_page, "7-narrow-form-errors")
    assert scroll_width(narrow_page) <= WIDTH


@pytest.mark.parametrize("path", ["/", "/policies", "/policies/jiading-2017", "/search?q=备案"])
def test_the_first_tab_stop_skips_to_the_main_content(page: Page, path: str) -> None:
    page.goto(path)
    skip = page.locator("a.skip")
    assert skip.is_hidden() or skip.bounding_box()["y"] < 0  # type: ignore[index]
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "[document.activeElement.className, document.activeElement.textContent]"
    )
    assert focused == ["skip", "跳到主要内容"]
    assert skip.bounding_box()["y"] >= 0  # type: ignore[index]  # shown once focused
    shot(page, f"7-skip-link-{name(path)}")
    page.keyboard.press("Enter")
    page.wait_for_url("**#main")
    assert page.evaluate("document.activeElement.id") == "main"
    # The next Tab goes into the content, past the navigation bar.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('main') !== null")


def test_a_failed_submit_puts_the_focus_on_the_error_summary(page: Page) -> None:
    page.goto("/?_example=pingliang-non-land")
    page.locator("#f-investment_wan").fill("-5")
    page.get_by_role("button", name="评估", exact=True).click()
    page.wait_for_url("**/decide")
    summary = page.locator("#error-summary")
    summary.wait_for()
    page.wait_for_function("document.activeElement.id === 'error-summary'")
    shot(page, "7-error-summary-focused")
    assert text(summary.locator("strong")) == "有 1 处需要修改"
    # Its link leads to the field.
    summary.locator("a").click()
    page.wait_for_url("**#f-investment_wan")
    assert page.locator("#f-investment_wan").input_value() == "-5"
