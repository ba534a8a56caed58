"""Calibrated relevance and an honest "nothing found" (issue 16), and what routing weighs
(issue 13 §4): the pieces without a model, then `found: false` through the API and the page
with the real one (the CLI's is in tests/test_search_cli.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kb.answers import asks, lacks
from kb.calibration import PIPELINE, RELEVANCE, ROUTES, Features
from kb.embed import Embedder
from kb.index import Query
from kb.lexical import Bm25
from kb.lexicon import Expansion
from kb.novel import is_noun, novel_share
from kb.passages import sentences
from kb.places import Places, named
from kb.search import Hit, found
from server.app import create_app
from server.page_search import segments
from server.route_text import asks_who, matter_of, task_text
from tests.conftest import serving_settings

UNANSWERABLE = "年终奖的个人所得税怎么算？"  # a tuning-half question: no document speaks of tax


# ---------------------------------------------------------------------------- sentences


def test_sentences_are_spans_of_the_clause() -> None:
    text = "4.加强项目落地管理指导。严格项目准入、退出;对供地类项目,报市园区办汇总。\n（试行）"
    found = sentences(text)
    assert [text[s.start : s.end] for s in found] == [s.text for s in found]
    assert found[0].text == "4.加强项目落地管理指导。"
    assert found[-1].text.endswith("（试行）")  # too short alone: joined to the one before
    assert sentences("一句话就是整个条款。") == []


def test_a_sentence_is_set_apart_inside_its_clause_with_its_highlights() -> None:
    text = "甲乙丙。丁戊己庚。辛"
    parts = segments(text, [(1, 5), (8, 10)], (3, 8))
    assert "".join(p.text for p in parts) == text
    assert [(p.text, p.sentence) for p in parts] == [
        ("甲乙丙", False),
        ("。丁戊己庚", True),
        ("。辛", False),
    ]
    # A highlight across the sentence's edge is cut at it, counted from each part's start.
    assert [p.spans for p in parts] == [((1, 3),), ((0, 2),), ((0, 2),)]
    assert segments(text, [(0, 2)], None)[0].spans == ((0, 2),)


# ---------------------------------------------------------------------------- relevance


def test_levels_and_found() -> None:
    model = RELEVANCE["pipeline"]
    assert model.low < model.medium < model.high
    assert [model.level(s) for s in (model.high, model.medium, model.low)] == [
        "high",
        "medium",
        "low",
    ]
    assert model.level(model.low - 1e-6) is None
    hit = Hit("d", "1", "text", 0.1, ())
    assert not found([hit]) and not found([])
    assert found([hit, Hit("d", "2", "text", 0.9, (), "high")])


def test_what_lowers_relevance() -> None:
    model = RELEVANCE["pipeline"]
    close = Features(cosine=0.93, coverage=0.6, fused=1.0)
    assert model.level(model.score(close)) == "high"
    for worse in (
        Features(0.93, 0.6, 1.0, lacks=True),  # asks how much, the clause names no amount
        Features(0.93, 0.6, 1.0, elsewhere=True),  # about a place no document covers
        Features(0.85, 0.6, 1.0),  # far in meaning
        Features(0.93, 0.6, 0.5),  # ranked low by every channel
        Features(0.93, 0.6, 1.0, novel=0.4),  # about things no document names
    ):
        assert model.score(worse) < model.score(close)
    assert PIPELINE.best(dense=True) > PIPELINE.best(dense=False)
    assert ROUTES.model(dense=False) is ROUTES.lexical


@pytest.mark.parametrize(
    ("question", "kinds"),
    [
        ("平凉园区的工业用水每吨多少钱？", ("money", "price")),
        ("外资企业在园区设公司，备案要几天？", ("duration",)),
        ("存量楼宇入驻率要求不低于百分之几？", ("share",)),
        ("孵化器的场地租金怎么收？", ("price",)),
        ("每亩投资最少要多少万元？", ("money", "price")),
        ("申报专精特新要满足哪些条件？", ("criteria",)),
        ("园区污水要处理到几级才能排？", ("grade",)),
        ("园区的规划由谁审批？", ()),
        # 几个 ending the question asks how many; within it, it means several.
        ("每个镇要挑几个重点产业？", ("count",)),
        ("一个人最多负责几个项目", ("count",)),
        ("标准厂房最高能盖几层？", ("count",)),
        ("几个县联合招引的飞地项目，税收怎么分？", ()),
        ("这几个部门怎么分工？", ()),
        ("这份意见的文号是多少？", ("number",)),
        ("方案是几号印发的？", ("date",)),
        ("领导小组的副组长都有谁？", ("person",)),
        ("平台是交给哪家软件公司做的？", ("organisation",)),
        ("现在有哪几家独角兽，具体是哪些公司？", ("organisation",)),
        ("运营公司一年要收企业多少管理费？", ("money",)),
        ("管委会在哪个街道办公？", ("address",)),
        ("一共签了多少份合作协议？", ("count",)),
    ],
)
def test_the_kind_of_answer_a_question_asks_for(question: str, kinds: tuple[str, ...]) -> None:
    assert asks(question) == kinds


def test_a_clause_lacks_the_kind_asked_for() -> None:
    assert lacks(("money",), "加强园区基础配套建设。")
    assert not lacks(("money",), "分别给予不低于100万元的资金奖励。")
    assert not lacks(("share",), "存量楼宇平均入驻率不低于70%。")
    # A total is not a price: an amount per unit is.
    assert lacks(("money", "price"), "对投资额度在1000万元以上的项目，报市园区办备案。")
    assert not lacks(("money", "price"), "亩均投资不低于300万元。")
    assert not lacks(("price",), "标准厂房租金为每平方米每月15元。")
    assert lacks(("criteria",), "加强高新技术企业培育。")
    assert not lacks(("grade",), "污水处理执行一级A标准。")
    assert not lacks((), "任何条款")


def _query(words: tuple[str, ...], matched: tuple[str, ...] = ()) -> Query:
    return Query("".join(words), Expansion("".join(words), (), matched), words, (), len(words))


def test_nouns_no_document_uses() -> None:
    assert is_noun("租金") and is_noun("天然气") and not is_noun("想") and not is_noun("搞定")
    bm25 = Bm25.build([["园区", "厂房", "规划"], ["园区", "审批"], ["备案"]])
    # 租金 is a noun no passage has; 想 is not a noun; 园区 and 厂房 are in the passages.
    query = _query(("园区", "厂房", "租金", "想"))
    share = novel_share(query, bm25)
    weights = [bm25.idf(w) for w in query.words]
    assert share == pytest.approx(weights[2] / sum(weights))
    assert novel_share(_query(("园区", "厂房")), bm25) == 0.0
    # A phrase the lexicon recognised stands for the documents' terms: not novel.
    assert novel_share(_query(("园区", "租金"), matched=("厂房租金",)), bm25) == 0.0
    assert novel_share(_query(()), bm25) == 0.0


def test_a_question_about_elsewhere() -> None:
    places = Places(["浙江省/温州市/鹿城区", "江西省"], "总结推广井冈山经济技术开发区经验")
    assert places.elsewhere(named("杭州余杭区的工业用地有什么优惠政策？"))
    assert places.elsewhere(named("新疆的工业园区土地出让起始价是多少？"))
    assert not places.elsewhere(named("鹿城区的产业平台怎么整合？"))  # a region's segment
    assert not places.elsewhere(named("温州的产业平台怎么整合？"))  # without its suffix
    assert not places.elsewhere(named("井冈山的经验要推广吗？"))  # named by a document
    assert not places.elsewhere(named("园区的规划由谁审批？"))  # names no place
    # a county named after a covered city, by the stem both share
    assert not Places(["甘肃省/平凉市"], "").elsewhere(named("平凉县里的领导要述职吗？"))
    assert Places(["甘肃省/平凉市"], "").elsewhere(named("余杭区的园区怎么管？"))


# ---------------------------------------------------------------------------- routing text


@pytest.mark.parametrize(
    ("question", "matter"),
    [
        ("社会工作人才培养由哪个部门牵头？", "社会工作人才培养"),
        ("专利质押融资工作找哪个部门？", "专利质押融资工作"),
        ("国有资本创投管理机制创新找谁？", "国有资本创投管理机制创新"),
        ("化工园区整治的牵头单位是谁？", "化工园区整治"),
    ],
)
def test_a_routing_question_is_matched_by_its_matter(question: str, matter: str) -> None:
    assert asks_who(question)
    assert matter_of(question) == matter


def test_unit_lists_are_cut_from_quotes() -> None:
    assert task_text("加快整合(牽頭單位:省發改委;責任單位:各市)。") == "加快整合"
    assert task_text("（责任单位：区经信局、区财政局）") == ""
    assert task_text("牵头单位：市人社局，配合单位：市财政局") == ""
    assert task_text("区审改办牵头相关部门优化审批流程") == "区审改办牵头相关部门优化审批流程"


# ---------------------------------------------------------------------------- found: false


@pytest.fixture(scope="module")
def client(
    e5: tuple[Path, Embedder], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    cache, embedder = e5
    settings = serving_settings(tmp_path_factory.mktemp("relevance"), ZHENGCE_CACHE=str(cache))
    with TestClient(create_app(settings, embedder=embedder)) as c:
        yield c


@pytest.mark.slow
def test_the_api_says_found_false_and_gives_the_nearest_clauses(client: TestClient) -> None:
    body = client.get("/v1/search", params={"q": UNANSWERABLE, "k": 3}).json()
    assert body["found"] is False
    assert len(body["hits"]) == 3 and all(h["relevance"] is None for h in body["hits"])
    answered = client.get("/v1/search", params={"q": "不用新拿地的项目要报备吗", "k": 3}).json()
    assert answered["found"] is True and answered["hits"][0]["relevance"] is not None


@pytest.mark.slow
def test_the_page_says_nothing_was_found(client: TestClient) -> None:
    page = client.get("/search", params={"q": UNANSWERABLE}).text
    assert "没有找到相关条款" in page and "最接近的条款（不一定相关）" in page
    assert "相关度 不相关" in page and "相关度 高" not in page


@pytest.mark.slow
def test_the_page_sets_apart_the_sentence_that_answered(client: TestClient) -> None:
    q = "投资1000万元以上的不用拿地的项目报哪里备案"
    hit = client.get("/v1/search", params={"q": q, "k": 1}).json()["hits"][0]
    start, end = hit["sentence"]
    page = client.get("/search", params={"q": q}).text
    assert "没有找到相关条款" not in page
    sentence = page.split('<span class="answer-sentence"', 1)[1].split("</span>", 1)[0]
    plain = sentence.split(">", 1)[1].replace("<mark>", "").replace("</mark>", "")
    assert plain == hit["text"][start:end]
