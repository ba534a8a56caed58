"""Finding the right region and the right answer, and knowing what a source is (issue 12,
points 5 and 6), in Chromium: the covered regions offered, a suggestion for a short form or a
typo, the routing answer above the clause hits, relevance in words, and the notice on every
citation of a news report, an unofficial copy or a reprint."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests import test_browser as shared
from tests.test_browser import decide, example, logged, shot, text

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser
base_url, browser, page = shared.base_url, shared.browser, shared.page

PINGLIANG = {
    "park": "平凉工业园区",
    "park_level": "provincial",
    "land_use": "none",
    "category": "industrial",
    "investment_wan": "1200",
    "_date": "2024-03-01",
    "_explain": "on",
}
COVERED = ["上海市/嘉定区", "四川省/成都市", "江西省", "浙江省/温州市/鹿城区", "甘肃省/平凉市"]
PARENTS = ["上海市", "四川省", "浙江省", "浙江省/温州市", "甘肃省"]

# ------------------------------------------------------------------------ 5. regions


def test_the_region_field_offers_the_covered_regions_and_their_parents(page: Page) -> None:
    page.goto("/")
    options = page.locator("datalist#regions option")
    offered = {o.get_attribute("value"): o.get_attribute("label") for o in options.all()}
    assert offered == {r: "已覆盖" for r in COVERED} | {r: "上级地区" for r in PARENTS}
    assert page.locator("#f-region").get_attribute("list") == "regions"
    assert (
        text(page.locator("#h-region"))
        == f"本系统覆盖：{'、'.join(COVERED)}，及其下属地区；逐级用“/”分隔。"
    )
    served = {p["region"] for p in page.request.get("/v1/policies").json()["policies"]}
    assert served == set(COVERED)


@pytest.mark.parametrize("typed", ["平凉", "甘肃省平凉市", "甘肃省/平良市"])
def test_a_short_or_mistyped_region_gets_a_suggestion_that_decides_in_one_click(
    page: Page, typed: str
) -> None:
    decide(page, {**PINGLIANG, "region": typed})
    assert text(page.locator("#headline")) == f"本系统未覆盖该地区（{typed}）"
    suggestion = page.locator("#region-suggestion")
    assert text(suggestion).startswith("您是否要找 甘肃省/平凉市？")
    shot(page, f"5-region-suggestion-{typed.replace('/', '-')}")
    suggestion.get_by_role("button", name="按 甘肃省/平凉市 重新评估").click()
    page.wait_for_url("**/decisions/*")
    assert text(page.locator("#headline")) == "备案：非供地项目备案（平凉 二.4）"
    assert page.locator("#region-suggestion").count() == 0


def test_a_region_far_from_every_covered_one_gets_no_suggestion(page: Page) -> None:
    example(page, "outside-covered-regions")
    assert page.locator("#region-suggestion").count() == 0


def test_the_search_suggests_a_region_too(page: Page) -> None:
    page.goto("/search?q=备案&region=平凉")
    assert page.locator("ol.hits").count() == 0
    link = page.locator("#region-suggestion a")
    assert text(link) == "甘肃省/平凉市"
    link.click()
    page.wait_for_url("**region=%E7%94%98%E8%82%83%E7%9C%81%2F%E5%B9%B3%E5%87%89%E5%B8%82")
    assert page.locator("ol.hits > li").count() > 0


# --------------------------------------------------------------------- 5. search


def test_a_who_question_shows_the_routing_answer_above_the_clause_hits(page: Page) -> None:
    page.goto("/search?q=化工园区清理整顿由谁牵头")
    shot(page, "5-route-card")
    card = page.locator("section.route").first
    assert text(card.locator("h2")) == "由谁负责：化工园区清理整顿与取缔"
    assert text(card.locator("dd.lead")) == "省生態環境廳"
    assert text(card.locator("dd.responsible")) == "各市政府、各縣(區)政府"
    assert text(card.locator("dd.assisting")) == "文件未写明"
    basis = card.locator(".route-basis a.clause-id")
    assert text(basis) == "五.21"
    assert basis.get_attribute("href") == "/policies/jiangxi-2019#c-%E4%BA%94.21"
    # The policy ended in 2019: the card says so rather than presenting it as in force.
    assert "该政策施行至 2019-12-31，现已不再施行" in text(card)
    # Above the hits, in the page's order and on screen.
    hits = page.locator("ol.hits")
    assert card.bounding_box()["y"] < hits.bounding_box()["y"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("question", "rule"),
    [
        ("哪个部门负责招商引资", "jiangxi-2019/重大项目招引"),
        ("重大事项包抓由谁负责？", "pingliang-2023/重大事项包抓"),
    ],
)
def test_other_ways_of_asking_who_get_the_card(page: Page, question: str, rule: str) -> None:
    page.goto(f"/search?q={question}")
    assert text(page.locator("section.route code").first) == rule


@pytest.mark.parametrize("query", ["备案", "由谁负责"])
def test_no_card_without_a_who_question_about_a_matter(page: Page, query: str) -> None:
    page.goto(f"/search?q={query}")
    assert page.locator("section.route").count() == 0


def test_hits_show_relevance_in_words_titles_and_no_one_character_highlights(page: Page) -> None:
    page.goto("/search?q=租赁厂房的项目由谁审核")
    hits = page.locator("ol.hits > li")
    assert hits.count() > 0
    for hit in hits.all():
        levels = ("相关度 高", "相关度 中", "相关度 低", "相关度 不相关")
        assert text(hit.locator(".relevance")) in levels
        assert text(hit.locator(".doc"))  # the document's title
        assert all(len(m) >= 2 for m in hit.locator("mark").all_inner_texts())
    assert "score" not in page.locator("main").inner_text()


def test_related_clauses_are_named_by_their_document_title(page: Page) -> None:
    decision_id = example(page, "pingliang-non-land")
    related = logged(page, decision_id)["related"]
    assert related
    titles = {p["source"]: p["title"] for p in page.request.get("/v1/policies").json()["policies"]}
    items = page.locator("details.related li")
    assert items.count() == len(related)
    for item, r in zip(items.all(), related, strict=True):
        link = " ".join((item.locator("a").text_content() or "").split())  # in closed <details>
        assert link.endswith(f" {r['clause']}") and not link.startswith(r["document"])
        assert link.removesuffix(f" {r['clause']}") != r["document"]
        assert titles.get(r["document"], "") in link


# ------------------------------------------------------------------ 6. provenance


def test_an_unofficial_copy_is_cited_with_a_notice(page: Page) -> None:
    example(page, "pingliang-non-land")
    notice = page.locator("#citations article.citation .provenance")
    notice.first.scroll_into_view_if_needed()
    shot(page, "6-unofficial-copy")
    assert notice.count() == 1
    assert text(notice).startswith("非官方文本：页面只有标题和发布日期")
    # The policy header dates it by the page's own date; the metadata names no issuer.
    assert text(notice).endswith("发文机关：未写明；发布日期：2023-08-02")


def test_a_reprint_of_a_trial_document_says_issuer_date_and_trial(page: Page) -> None:
    example(page, "jiading-against-plan")
    notices = page.locator("#citations article.citation .provenance")
    assert notices.count() == 2  # 四.(一).1 and 四.(二).6
    for notice in notices.all():
        assert text(notice).startswith("转载文本：全文转载于第三方政策汇编网页")
        assert (
            "发文机关：上海市嘉定区委员会；发布日期：2017-03-13（页面日期 2019-09-27）；试行"
            in text(notice)
        )


def test_a_news_report_is_cited_with_a_notice(page: Page) -> None:
    decide(
        page,
        {
            "region": "四川省/成都市",
            "category": "industrial",
            "major": "true",
            "_date": "2018-03-01",
        },
    )
    notices = page.locator("#citations article.citation .provenance")
    assert notices.count() == page.locator("#citations article.citation").count() > 0
    assert all(text(n).startswith("新闻报道：记者") for n in notices.all())
    assert "发文机关：市委办公厅、市政府办公厅；发布日期：2018-01-13" in text(notices.first)


def test_the_official_text_carries_no_notice(page: Page) -> None:
    example(page, "lucheng-outside-main-platform")
    assert page.locator("#citations article.citation").count() > 0
    assert page.locator("#citations .provenance").count() == 0


def test_the_route_card_and_the_policy_page_carry_the_notice_too(page: Page) -> None:
    page.goto("/search?q=化工园区清理整顿由谁牵头")
    assert text(page.locator("section.route .provenance")).startswith(
        "非官方文本：取自简历模板网站"
    )
    page.goto("/policies/chengdu-2018")
    assert text(page.locator("main > .provenance")).startswith("新闻报道：")


def test_the_decision_page_is_at_the_decision_ids_url(page: Page) -> None:
    """A calling system that has a decision from the API opens it for a person there."""
    answer = page.request.post(
        "/v1/evaluate",
        data={
            "project": {
                "region": "上海市/嘉定区",
                "category": "industrial",
                "land_use": "new_land",
                "conforms_to_plan": False,
            },
            "date": "2018-01-01",
        },
    )
    decision = answer.json()
    page.goto(f"/decisions/{decision['decision_id']}")
    assert text(page.locator("#headline")).startswith("禁止：不符合规划不予准入（嘉定 四.(二).6）")
