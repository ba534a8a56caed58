"""The reviewer's answer in Chromium (issue 12, points 1–3): a headline that names the deciding
rule, its clause and what it overrode; a trace of what fired and of what did not; what would
change the outcome. Each test leaves a screenshot in var/test-artifacts/browser/."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests import test_browser as shared
from tests.test_browser import decide, example, logged, shot, text

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser
# The browser fixtures of tests/test_browser.py: pytest finds a fixture by its name here.
base_url, browser, page = shared.base_url, shared.browser, shared.page

JIADING_LEASE = {
    "region": "上海市/嘉定区",
    "category": "industrial",
    "land_use": "lease",
    "lease_area_m2": "5000",
    "_date": "2018-01-01",
    "_explain": "on",
}
PINGLIANG_BARE = {
    "region": "甘肃省/平凉市",
    "category": "industrial",
    "_date": "2024-03-01",
    "_explain": "on",
}

# ------------------------------------------------------------------ 1. the headline


def test_a_jiading_prohibition_names_its_rule_clause_and_the_path_it_overrode(page: Page) -> None:
    decision_id = example(page, "jiading-against-plan")
    shot(page, "1-jiading-prohibit")
    headline = "禁止：不符合规划不予准入（嘉定 四.(二).6），审批路径因此不适用"
    assert text(page.locator("#headline")) == headline
    assert text(page.locator("#outcome")) == "禁止"
    # The approval path of the overridden rule is not offered as the answer.
    assert page.locator("section[aria-labelledby=h-path] ol.path").count() == 0
    assert "任何审批或备案路径都不适用" in text(page.locator("#no-path"))
    overridden = page.locator("#rules li.fired.overridden")
    assert overridden.get_attribute("data-rule") == "jiading-2017/新增用地项目准入"
    assert "已被取代" in text(overridden)
    result = logged(page, decision_id)
    assert result["decided_by"] == "jiading-2017/不符合规划不予准入"


def test_a_lucheng_presumptive_prohibition_says_it_admits_exceptions(page: Page) -> None:
    example(page, "lucheng-outside-main-platform")
    shot(page, "1-lucheng-presumptive")
    assert text(page.locator("#outcome")) == "原则上不予准入（可例外）"
    assert text(page.locator("#headline")) == (
        "原则上禁止：主平台外零星新增工业用地（鹿城 二.(七)）；可例外，文件未写明由谁决定例外"
    )


def test_a_region_the_set_does_not_cover_reads_not_covered(page: Page) -> None:
    example(page, "outside-covered-regions")
    shot(page, "1-not-covered")
    assert text(page.locator("#outcome")) == "未覆盖"
    assert text(page.locator("#headline")) == "本系统未覆盖该地区（广东省/深圳市）"
    assert "无适用规则" not in page.locator(".verdict").inner_text()


def test_an_undetermined_project_links_each_missing_fact_to_its_field(page: Page) -> None:
    decide(page, PINGLIANG_BARE)
    shot(page, "1-undetermined")
    assert text(page.locator("#outcome")) == "未能确定"
    assert text(page.locator("#headline")) == "未能确定：请补充 用地方式、投资额"
    assert "无适用规则" not in page.locator(".verdict").inner_text()
    page.locator("#headline a", has_text="投资额").click()
    page.wait_for_url("**/?*#f-investment_wan")
    assert page.locator("#f-region").input_value() == "甘肃省/平凉市"  # the form, prefilled
    assert page.locator("#f-investment_wan").is_visible()


def test_an_open_parameter_is_named_in_the_headline(page: Page) -> None:
    decide(page, JIADING_LEASE)
    assert text(page.locator("#headline")) == (
        "未能确定：请补充 新上项目、符合规划；文件未规定 租赁面积分界"
    )


# -------------------------------------------------------------------- 2. the trace


def test_the_trace_shows_each_condition_of_each_fired_rule_and_why_others_did_not(
    page: Page,
) -> None:
    decision_id = example(page, "jiading-against-plan")
    # The example form leaves 说明理由 on, so the decision has its trace and why-not.
    result = logged(page, decision_id)
    assert result["trace"], "the example was evaluated without explain"
    shot(page, "2-trace")
    for rule in result["trace"]:
        item = page.locator(f'#rules li.fired[data-rule="{rule["rule"]}"]')
        assert item.locator("p").first.inner_text().startswith("✓")
        shown = [text(li) for li in item.locator("ul.conditions > li").all()]
        # The sign for the eye, the word for a screen reader, then the condition.
        signs = {True: "✓ 满足：", False: "✗ 不满足：", None: "？ 未知："}
        assert shown == [f"{signs[c['holds']]} {c['text']}" for c in rule["conditions"]]
    # The deciding rule's own conditions: every one needed holds.
    deciding = page.locator('#rules li.fired[data-rule="jiading-2017/不符合规划不予准入"]')
    assert "✓ 满足： 不符合规划" in [
        text(li) for li in deciding.locator("ul.conditions > li").all()
    ]
    why_not = page.locator("#why-not > li")
    assert [text(li.locator("p.why")) for li in why_not.all()] == [
        f"✗ {w['text']}" for w in result["why_not"]
    ]
    # Plain Chinese, not the rule file's syntax (项目.用地方式 是 …).
    assert "项目." not in page.locator("#why-not").inner_text()


def test_facts_from_a_default_are_marked(page: Page) -> None:
    decision_id = example(page, "jiading-against-plan")
    facts = logged(page, decision_id)["facts"]
    defaults = {f["name"] for f in facts if f["source"] == "default"}
    assert defaults, "the example relies on no default"
    rows = page.locator("#input tbody tr")
    assert rows.count() == len(facts)
    for row in rows.all():
        name = row.locator("th code").inner_text()
        assert (row.locator(".tag", has_text="默认").count() == 1) == (name in defaults), name


# ---------------------------------------------------------- 3. what would change it


def test_how_to_change_the_outcome_lists_the_counterfactuals(page: Page) -> None:
    decision_id = example(page, "jiading-against-plan")
    result = logged(page, decision_id)
    section = page.locator("#counterfactuals")
    section.scroll_into_view_if_needed()
    shot(page, "3-counterfactuals")
    assert text(section.locator("h2")) == "如何改变结果"
    decisive = [
        c for c in result["counterfactuals"] if c["outcome"] in ("prohibit", "approve", "file")
    ]
    assert decisive, "no counterfactual decides"
    shown = [text(li) for li in section.locator("#decisive-changes > li").all()]
    assert len(shown) == len(decisive)
    for line, c in zip(shown, decisive, strict=True):
        assert line.endswith(" ".join(c["text"].split())), line
    conforming = (
        "若符合规划 → 审批路径：项目所在镇(包括嘉定新城、菊园新区、嘉定工业区)初审 → 区经委组织会审"
    )
    assert any(conforming in line for line in shown)
    others = section.locator("details.more ul.changes > li")
    assert others.count() == len(result["counterfactuals"]) - len(decisive)


def test_an_undetermined_decision_asks_the_next_question_first(page: Page) -> None:
    decision_id = decide(page, PINGLIANG_BARE)
    result = logged(page, decision_id)
    questions = page.locator("#next-questions li")
    questions.first.scroll_into_view_if_needed()
    shot(page, "3-next-questions")
    assert [questions.nth(i).locator("a").inner_text() for i in range(questions.count())] == [
        q["label"] for q in result["next_questions"]
    ]
    assert [q["label"] for q in result["next_questions"]] == ["用地方式", "投资额"]
    questions.first.locator("a").click()
    page.wait_for_url("**#f-land_use")
