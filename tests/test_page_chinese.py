"""Chinese first (issue 12, point 4), in Chromium: no label, message, note or enum value on the
main views is in English, and logged decisions are shown in Beijing time.

What "no English" means here, precisely: no text the page shows contains an ASCII word, a run
of two or more ASCII letters ([A-Za-z]{2,}), outside
- <code> (and <kbd>, <samp>): identifiers such as field names (investment_wan), policy and
  rule ids (jiading-2017), decision ids, revisions;
- elements marked translate="no": the product's name (zhengce) and text quoted verbatim from a
  source document (which may itself hold ASCII, e.g. "ppp项目").
The text the page shows is every text node under <body> (closed <details> and unselected
<option>s included: they are a click away), the document's <title>, and the attributes a
person reads: placeholder, title, aria-label, alt, label (of an <option>), and the value of a
button-like <input>.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest

from tests import test_browser as shared
from tests.test_browser import decide, example, shot, text

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser
base_url, browser, page = shared.base_url, shared.browser, shared.page

ASCII_WORD = re.compile(r"[A-Za-z]{2,}")
EXEMPT = "code, kbd, samp, [translate=no], script, style"
# Every piece of text a person reads on the page, with where it is (for the failure message).
SHOWN_TEXT = f"""() => {{
  const exempt = (node) => node.parentElement && node.parentElement.closest("{EXEMPT}");
  const found = [["title", document.title]];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {{
    if (!exempt(node)) found.push([node.parentElement.tagName, node.data]);
  }}
  for (const el of document.body.querySelectorAll("*")) {{
    if (el.closest("{EXEMPT}")) continue;
    for (const name of ["placeholder", "title", "aria-label", "alt", "label"]) {{
      if (el.hasAttribute(name)) found.push([el.tagName + "@" + name, el.getAttribute(name)]);
    }}
    if (el.matches("input[type=submit], input[type=button], input[type=reset]")) {{
      found.push([el.tagName + "@value", el.value]);
    }}
  }}
  return found;
}}"""


def english(page: Page) -> list[tuple[str, str]]:
    """The texts of the page that hold an ASCII word outside codes and names."""
    return [(where, t) for where, t in page.evaluate(SHOWN_TEXT) if ASCII_WORD.search(t)]


PAGES = [
    *shared.VIEWS,
    "/?_example=pingliang-non-land",
    "/search?q=产业集群项目包",  # a verbatim clause that writes "ppp項目"
    "/policies/no-such-policy",
]
EXAMPLES = shared.EXAMPLES


@pytest.mark.parametrize("path", PAGES)
def test_the_main_views_have_no_english_outside_codes_and_names(page: Page, path: str) -> None:
    page.goto(path)
    assert english(page) == []
    if "产业集群项目包" in path:
        assert "ppp" in page.locator("ol.hits").inner_text(), "the exemption is not exercised"


@pytest.mark.parametrize("name", EXAMPLES)
def test_each_kind_of_decision_has_no_english_outside_codes_and_names(
    page: Page, name: str
) -> None:
    example(page, name)
    shot(page, f"4-chinese-{name}")
    assert english(page) == []


def test_a_decision_for_a_mistyped_region_has_no_english(page: Page) -> None:
    decide(page, {"region": "平凉", "category": "industrial", "_explain": "on"})
    assert english(page) == []


def test_the_form_with_every_kind_of_error_has_no_english(page: Page) -> None:
    # A value the select does not offer comes back as typed (here from the URL), as any
    # value a calling page might send.
    page.goto("/?_example=pingliang-non-land&park_level=galactic")
    page.locator("#f-investment_wan").fill("-5")
    page.locator("#f-region").fill("甘肃省//崆峒区")
    page.get_by_role("button", name="评估", exact=True).click()
    page.wait_for_url("**/decide")
    shot(page, "4-chinese-form-errors")
    assert page.locator("#error-summary li").count() == 3
    assert english(page) == []


def test_the_check_itself_finds_english(page: Page) -> None:
    """The definition bites: a label in English is found, the same word in <code> is not."""
    page.goto("/")
    page.set_content(
        "<html><head><title>项目</title></head><body><label>地区 region</label>"
        '<code>region</code><p translate="no">ppp项目</p><input placeholder="all"></body></html>'
    )
    assert english(page) == [("LABEL", "地区 region"), ("INPUT@placeholder", "all")]


def test_a_logged_decision_is_shown_in_beijing_time(page: Page) -> None:
    decision_id = example(page, "pingliang-non-land")
    logged = page.request.get(f"/v1/decisions/{decision_id}").json()
    created = dt.datetime.fromisoformat(logged["created_at"].replace("Z", "+00:00"))
    if created.tzinfo is None:
        created = created.replace(tzinfo=dt.UTC)
    beijing = created.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M:%S")
    shown = page.locator("dl.meta div", has_text="记录时间").locator("dd")
    assert text(shown) == f"{beijing}（北京时间）"
