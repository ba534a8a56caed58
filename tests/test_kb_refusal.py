"""What makes search say "nothing found" to a question that names a clause's subject but asks
for a detail the clause leaves out (issue 16): more kinds of asked-for answer (kb.answers),
questions about another document's place (kb.search), and what does not make a question
novel (kb.novel). Without the model: the clause index runs on kb.embed.HashEmbedder."""

from __future__ import annotations

import pytest

from kb.answers import asks, lacks
from kb.calibration import Relevance
from kb.embed import HashEmbedder
from kb.index import Query
from kb.lexical import Bm25
from kb.lexicon import Expansion
from kb.novel import novel_share
from kb.places import Places, level, named, own_places
from kb.search import KnowledgeBase
from tests.conftest import ROOT


@pytest.mark.parametrize(
    ("question", "kinds"),
    [
        ("领导小组的组长是哪位领导？", ("person",)),
        ("新城公司的董事长是谁？", ("person",)),
        ("运营公司的注册资本至少要多少？", ("money",)),
        ("招商人员引进一个大项目，能拿多少奖金？", ("money",)),
        ("每个设区市有多少个名额？", ("count",)),
        ("租赁面积超过多少平方米要会审？", ("measure",)),
        ("这个条例从哪一天开始施行？", ("date",)),
        ("科研设施优惠使用能打几折？", ("share",)),
        ("备案要交哪些材料？", ("materials",)),
        ("新投产的项目能减免几年？", ("duration",)),
        ("规上工业增加值的基数是多少亿元？", ("money",)),
        ("社会资本方的回报率上限是多少？", ("share",)),
        ("服务中心在哪里办公？地址是什么？", ("address",)),
        ("协议模板在哪里下载？", ("web",)),
        ("人才工作站的服务热线是多少？", ("phone",)),
        # Which ones, not how many; an authority any clause may name, not a person.
        ("要经过哪几个部门会审？", ()),
        ("园区的各种规划最后是谁批？", ()),
        ("一个县可以同时建好几个工业园吗？", ()),
        ("要经过哪几级审核？", ()),
        ("搬迁改造计划管的是哪几年？", ()),  # which years, not how many
    ],
)
def test_more_kinds_of_answer(question: str, kinds: tuple[str, ...]) -> None:
    assert asks(question) == kinds


def test_a_clause_states_the_new_kinds_or_lacks_them() -> None:
    assert not lacks(("person",), "区分管领导担任委员会主任。")
    assert lacks(("person",), "重大事项向领导小组组长报告。")
    assert not lacks(("count",), "每年新增省级平台20家以上。")
    assert lacks(("count",), "开展高层次人才专项事业编试点。")
    assert not lacks(("measure",), "租赁面积在5000平方米以上的项目由区经委会审。")
    assert lacks(("measure",), "按租赁面积不同分别由区经委或各镇会审。")
    assert not lacks(("date",), "自2019年1月1日起施行。")
    assert lacks(("date",), "加快出台开发区条例。")
    # A number of years is a duration; a year is not.
    assert not lacks(("duration",), "前3年免征，后两年减半。")
    assert lacks(("duration",), "到2020年基本完成整合。")
    assert not lacks(("materials",), "提交申请表和营业执照复印件。")
    assert not lacks(("address",), "服务中心设在嘉定区博乐路70号。")
    assert lacks(("address",), "区产业促进服务中心负责项目的统一受理。")
    assert not lacks(("web",), "有关材料可在区政府网站下载。")
    assert lacks(("web",), "建立统一的信息平台。")
    assert not lacks(("phone",), "咨询电话：69989000。")
    assert lacks(("phone",), "设立人才工作站，提供一站式服务。")
    assert not lacks(("number",), "（嘉委发〔2017〕2号）")
    assert lacks(("number",), "2017年2月印发，共2个附件。")
    assert not lacks(("count",), "标准厂房不低于4层。")
    assert not lacks(("organisation",), "由区国资委下属的新城发展有限公司负责建设。")
    assert lacks(("organisation",), "建设统一的招商信息平台。")


def _query(text: str, words: tuple[str, ...]) -> Query:
    return Query(text, Expansion(text, (), ()), words, (), len(words))


def test_examples_and_question_words_are_not_novel() -> None:
    bm25 = Bm25.build([["江西", "优势产业", "航空"], ["园区", "审批"], ["备案"]])
    # 飞机 and 中药 are nouns no passage has, but the asker gives them as examples.
    question = "江西要发展哪几个优势产业，比如飞机、中药这些？"
    assert novel_share(_query(question, ("江西", "哪几个", "优势产业", "飞机", "中药")), bm25) == 0
    # Without 比如 they are what is asked about.
    question = "江西的飞机和中药产业怎么发展？"
    assert novel_share(_query(question, ("江西", "飞机", "中药", "产业")), bm25) > 0


@pytest.fixture(scope="module")
def hashed_kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    cache = tmp_path_factory.mktemp("refusal-kb")
    return KnowledgeBase.open(ROOT, cache, HashEmbedder(), progress=False)


def _elsewhere(kb: KnowledgeBase, question: str) -> dict[str, set[bool]]:
    _, found = kb.candidates(question, 20)
    out: dict[str, set[bool]] = {}
    for c in found:
        out.setdefault(kb.index.entries[c.scored.row].document, set()).add(c.features.elsewhere)
    return out


def test_a_hit_from_another_documents_place_is_about_elsewhere(hashed_kb: KnowledgeBase) -> None:
    by_document = _elsewhere(hashed_kb, "嘉定租厂房的产业项目由谁会审？")
    assert by_document["jiading-2017"] == {False}
    others = [flags for document, flags in by_document.items() if document != "jiading-2017"]
    assert others and all(flags == {True} for flags in others)
    # No place named: no hit is about elsewhere; a place no document covers: every hit is.
    assert all(f == {False} for f in _elsewhere(hashed_kb, "产业项目由谁会审？").values())
    assert all(f == {True} for f in _elsewhere(hashed_kb, "杭州的产业项目由谁会审？").values())


def test_the_documents_own_places_are_places_though_jieba_does_not_know_them(
    hashed_kb: KnowledgeBase,
) -> None:
    # jieba tags 平凉市 a place but not 平凉, so it alone would find no place here.
    assert named("平凉的园区规划谁来审？") == []
    assert named("平凉的园区规划谁来审？", own_places(["甘肃省/平凉市"])) == ["平凉"]
    assert own_places(["浙江省/温州市/鹿城区"]) >= {"鹿城区", "鹿城", "温州", "浙江省"}
    by_document = _elsewhere(hashed_kb, "平凉的园区规划谁来审？")
    assert by_document["pingliang-2023"] == {False}
    others = [flags for document, flags in by_document.items() if document != "pingliang-2023"]
    assert others and all(flags == {True} for flags in others)


@pytest.mark.parametrize(
    ("regions", "named_places", "elsewhere"),
    [
        # Another district of the same city is somewhere else, however much of 上海 it shares.
        (["上海市/嘉定区"], ["上海", "闵行区"], True),
        (["上海市/嘉定区"], ["上海", "嘉定区"], False),
        (["上海市/嘉定区"], ["上海"], False),
        # A city's document answers for a district it does not name, not for another city.
        (["甘肃省/平凉市"], ["平凉", "泾川县"], False),
        (["甘肃省/平凉市"], ["甘肃", "天水市"], True),
        # A province's document answers for its cities; a zone (新区, 经开区) has no level.
        (["江西省"], ["江西", "上饶市"], False),
        (["江西省"], ["江西", "浙江省"], True),
        (["上海市/嘉定区"], ["上海", "临港新区"], False),
    ],
)
def test_a_place_of_the_documents_level_that_they_do_not_cover_is_elsewhere(
    regions: list[str], named_places: list[str], elsewhere: bool
) -> None:
    assert level("闵行区") == 2 and level("天水市") == 1 and level("浙江省") == 0
    assert level("临港新区") is None and level("井冈山经开区") is None and level("平凉") is None
    assert Places(regions, "").elsewhere(named_places) is elsewhere


def test_a_clause_of_another_place_is_never_relevant(
    hashed_kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """However close its words, a clause whose document covers none of the places a question
    names gets no relevance, so a question about a place no document covers finds nothing:
    even under a model that scores every hit high."""
    generous = Relevance(
        bias=50, cosine=0, coverage=0, fused=0, lacks=0, elsewhere=0, high=0.9, medium=0.75, low=0.5
    )
    monkeypatch.setattr("kb.search.relevance_model", lambda mode, dense: generous)
    assert {h.relevance for h in hashed_kb.search("产业项目由谁会审？", k=20)} == {"high"}
    hits = hashed_kb.search("嘉定租厂房的产业项目由谁会审？", k=20)
    assert {h.relevance for h in hits if h.document == "jiading-2017"} == {"high"}
    assert {h.relevance for h in hits if h.document != "jiading-2017"} == {None}
    assert all(h.relevance is None for h in hashed_kb.search("杭州的产业项目由谁会审？", k=20))
