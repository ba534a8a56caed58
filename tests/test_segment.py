"""kb.segment: clause trees built from each document's own numbering."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kb.segment import KINDS, Clause, canonical_id, chinese_number, segment

SOURCES = Path(__file__).resolve().parent.parent / "policies" / "sources"


def clauses_of(doc_id: str) -> dict[str, Clause]:
    text = (SOURCES / f"{doc_id}.txt").read_text(encoding="utf-8")
    return {clause.id: clause for clause in segment(text)}


def items(parent: str, first: int, last: int) -> list[str]:
    return [f"{parent}.{n}" for n in range(first, last + 1)]


def subsections(parent: str, numerals: str) -> list[str]:
    return [f"{parent}.({numeral})" for numeral in numerals]


EXPECTED_IDS = {
    "jiading-2017": [
        "p1",
        "p2",
        "p3",
        "一",
        "二",
        *items("二", 1, 5),
        "三",
        "四",
        "四.(一)",
        *items("四.(一)", 1, 3),
        "四.(二)",
        *items("四.(二)", 4, 6),
        "四.(三)",
        *items("四.(三)", 7, 9),
        "四.(四)",
        *items("四.(四)", 10, 12),
        "五",
        *items("五", 13, 18),
        "附",
        "表",
        "表.(一)",
        *items("表", 1, 3),
        "表.(二)",
        *items("表", 4, 6),
        "表.(三)",
        *items("表", 7, 9),
        "表.(四)",
        *items("表", 10, 12),
        "表.(五)",
        *items("表", 13, 18),
    ],
    "chengdu-2018": [f"p{n}" for n in range(1, 53)],
    "pingliang-2023": ["p1", "p2", "一", "二", *items("二", 1, 8), "三", *items("三", 1, 3)],
    "lucheng-2016": [
        "p1",
        "一",
        "一.(一)",
        "一.(二)",
        "一.(二).—1",
        "一.(二).—2",
        "一.(二).—3",
        "二",
        *subsections("二", "一二三四五六七八九十"),
        "三",
        *subsections("三", "一二三"),
        "附件",
        "附件1",
        "附件2",
        "附件3",
        "抄送",
    ],
    "jiangxi-2019": [
        "p1",
        "p2",
        "p3",
        "一",
        *items("一", 1, 4),
        "二",
        *items("二", 5, 8),
        "三",
        *items("三", 9, 11),
        "四",
        *items("四", 12, 18),
        "五",
        *items("五", 19, 21),
    ],
}


@pytest.mark.parametrize("doc_id", sorted(EXPECTED_IDS))
def test_clause_ids_in_reading_order(doc_id: str) -> None:
    assert list(clauses_of(doc_id)) == EXPECTED_IDS[doc_id]


@pytest.mark.parametrize("doc_id", sorted(EXPECTED_IDS))
def test_tree_is_consistent(doc_id: str) -> None:
    text = (SOURCES / f"{doc_id}.txt").read_text(encoding="utf-8")
    clauses = segment(text)
    assert len({clause.id for clause in clauses}) == len(clauses)
    seen: dict[str, Clause] = {}
    for clause in clauses:
        assert clause.kind in KINDS
        assert clause.text and clause.text in text
        assert clause.full_text in text and clause.full_text.startswith(clause.text)
        assert clause.text.startswith(clause.label)
        if clause.parent is None:
            assert clause.level == 1
        else:
            parent = seen[clause.parent]  # parents come first
            assert clause.level == parent.level + 1
            assert clause.full_text in parent.full_text
            assert clause.id.startswith(parent.id + ".")
        seen[clause.id] = clause


# (document, clause, heading, phrases its own text contains, phrases it must not contain)
CONTENT = [
    ("pingliang-2023", "二.4", "加强项目落地管理指导", ["1000万元以上的非供地类项目"], ["5."]),
    ("pingliang-2023", "二.8", "", ["8.建立健全协同联动机制建立各工业园区"], ["三、保障措施"]),
    ("pingliang-2023", "三.3", "着力提升人员能力", ["着力提升决策咨询服务能力。"], ["扫一扫"]),
    ("jiading-2017", "三", "主要目标", ["到2020年", "6000亿元以上", "1-2个百分点"], ["四、"]),
    ("jiading-2017", "四.(一).1", "统筹产业项目评审准入", ["区经委加强后续检查和抽查。"], ["2、"]),
    ("jiading-2017", "四.(二).6", "强化规划管控", ["控详规划。"], ["(三)"]),
    ("jiading-2017", "五.15", "建立“三库一平台”", ["区域统筹管理平台"], ["16、"]),
    ("jiading-2017", "附", "产业发展区域统筹任务分解表", ["2017313"], ["序号"]),
    ("jiading-2017", "表", "产业发展区域统筹任务分解表", ["序号", "牵头部门"], ["1、"]),
    (
        "jiading-2017",
        "表.1",
        "统筹产业项目评审准入",
        ["组织开展项目申报和会审。\n\n区经委"],
        ["(一)"],
    ),
    (
        "jiading-2017",
        "表.12",
        "鼓励市场化主体参与二次开发",
        ["各镇、嘉定工业区、菊园新区"],
        ["5\n", "保障措施"],
    ),
    ("jiading-2017", "表.(五)", "保障措施", ["5\n\n(五)\n\n保障措施"], ["13、"]),
    (
        "jiading-2017",
        "表.13",
        "加强统筹领导力度",
        ["设立嘉定区产业促进服务中心。\n\n区经委"],
        ["14、"],
    ),
    ("jiading-2017", "表.16", "完善考核激励机制", ["区委政研室、\n\n财政局"], ["17、"]),
    ("jiading-2017", "表.18", "加强产业队伍建设", ["区经委、人社局"], ["温馨提示"]),
    ("lucheng-2016", "一.(一)", "指导思想", ["结构调整的主战场。"], ["(二)"]),
    ("lucheng-2016", "一.(二)", "主要目标", ["(二)主要目标"], ["——"]),
    (
        "lucheng-2016",
        "一.(二).—2",
        "平台发展质量不断提升",
        ["年均增长6.5%左右", "3个百分点"],
        ["——产城"],
    ),
    (
        "lucheng-2016",
        "二.(一)",
        "优化完善平台管理体制",
        ["(责任单位:区政府办公室、区编委办", "相关街镇)"],
        ["(二)"],
    ),
    (
        "lucheng-2016",
        "二.(四)",
        "整合提升市级以下工业产业功能区",
        ["(2016-2018年)", "(责任单位:区经信局、国土资源鹿城分局"],
        ["(五)"],
    ),
    ("lucheng-2016", "三.(三)", "强化考核机制", ["(责任单位:区督考办", "相关街镇)"], ["附件"]),
    (
        "lucheng-2016",
        "附件",
        "1.2016年度产业平台整合提升工作任务安排",
        ["2.鹿城区产业主平台整合提升计划表", "3.鹿城区工业企业搬迁改造计划"],
        ["附件1"],
    ),
    (
        "lucheng-2016",
        "抄送",
        "区委各部门,区人大常委会、政协办公室,区人武部,区法院,区检察院,各群众团体",
        ["2016年8月31日印发"],
        ["|"],
    ),
    (
        "jiangxi-2019",
        "一.1",
        "狠抓重大項目招引",
        ["(牽頭單位:省商務廳;\n責任單位:各市、縣(區)政府、贛江新區管委會、各開發區)"],
        ["2."],
    ),
    ("jiangxi-2019", "二.5", "提升產業核心競爭力", ["(責任單位:省工信廳)"], ["6."]),
    (
        "jiangxi-2019",
        "四.12",
        "深化行政體制改革",
        [
            "(牽頭單位:省審改辦;\n責任單位:各市、縣(區)政府)。",
            "(責任單位:各市、縣(區)政府、贛江新區管委會)",
        ],
        ["13."],
    ),
    (
        "jiangxi-2019",
        "五.21",
        "堅持綠色驅動",
        ["(牽頭單位:省生態環境廳;\n責任單位:各市、縣(區)政府)。"],
        ["熱門標籤"],
    ),
    ("chengdu-2018", "p3", "", ["到2018年底打造高质量产业功能区及园区11个"], ["制图"]),
    ("chengdu-2018", "p52", "", ["(记者 杨彩华 文豪)"], []),
]


@pytest.mark.parametrize(
    ("doc_id", "clause_id", "heading", "contains", "excludes"),
    CONTENT,
    ids=[f"{case[0]}:{case[1]}" for case in CONTENT],
)
def test_clause_content(
    doc_id: str, clause_id: str, heading: str, contains: list[str], excludes: list[str]
) -> None:
    clause = clauses_of(doc_id)[clause_id]
    assert clause.heading == heading
    for phrase in contains:
        assert phrase in clause.text
    for phrase in excludes:
        assert phrase not in clause.text


def test_jiangxi_items_carry_their_unit_notes() -> None:
    clauses = clauses_of("jiangxi-2019")
    numbered = [clause for clause in clauses.values() if clause.kind == "item"]
    assert [clause.label for clause in numbered] == [f"{n}." for n in range(1, 22)]
    for clause in numbered:
        assert "單位:" in clause.text, clause.id  # 牽頭單位 or 責任單位, never lost to the next


def test_jiading_table_has_eighteen_rows_mirroring_the_body() -> None:
    clauses = clauses_of("jiading-2017")
    rows = [clause for clause in clauses.values() if clause.kind == "table_row"]
    assert [clause.id for clause in rows] == [f"表.{n}" for n in range(1, 19)]
    body = {c.heading for c in clauses.values() if c.kind == "item" and c.label.endswith("、")}
    # The table repeats the body's tasks; only task 3 is renamed (统筹优化 -> 调整优化).
    assert {row.heading for row in rows} - body == {"调整优化镇级招商"}
    assert all(row.parent == "表" and row.level == 2 for row in rows)


def test_parent_full_text_spans_its_sub_clauses() -> None:
    clauses = clauses_of("pingliang-2023")
    section = clauses["二"]
    assert section.text == "二、重点任务"
    assert section.full_text.startswith("二、重点任务\n\n1.加强政策机制管理指导")
    assert section.full_text.endswith("形成整体联动、错位协同发展格局。")
    for n in range(1, 9):
        assert clauses[f"二.{n}"].full_text in section.full_text


def test_flattened_one_line_document_keeps_dash_items_together() -> None:
    clauses = clauses_of("lucheng-2016")
    goals = clauses["一.(二)"]
    dashes = [clauses[f"一.(二).—{n}"] for n in (1, 2, 3)]
    assert [dash.kind for dash in dashes] == ["dash"] * 3
    assert goals.full_text == " ".join([goals.text, *(dash.text for dash in dashes)])


# (note, text, expected ids): numbers in running text are not numbering.
RUNNING_TEXT = [
    (
        "years, amounts and counts at a line start",
        "一、总则\n到2020年,产值达6000亿元以上。\n1000万元以上的项目\n3个以上园区\n2018年全市",
        ["一"],
    ),
    (
        "a decimal is not a label",
        "一、总则\n1.项目\n2.5万元以上的给予奖励\n2.其他",
        ["一", "一.1", "一.2"],
    ),
    (
        "no boundary before the label",
        "一、总则\n1.加强指导。2.加强规划。\n2.其他",
        ["一", "一.1", "一.2"],
    ),
    (
        "bracketed year at a line start",
        "一、总则\n(2016-2018年)\n(2016)\n(一)甲",
        ["一", "一.(一)"],
    ),
    ("a label out of sequence is text", "一、总则\n1、甲\n5、乙\n2、丙", ["一", "一.1", "一.2"]),
    ("a new level starts at 1", "一、总则\n3、甲\n(二)乙", ["一"]),
    (
        "numbering runs on across sections",
        "一、甲\n1.a\n2.b\n二、乙\n3.c\n1.d",
        ["一", "一.1", "一.2", "二", "二.3"],
    ),
    (
        "full-width brackets and dots give ASCII ids",
        "一、总则\n（一）甲\n１．子项\n（二）乙",
        ["一", "一.(一)", "一.(一).1", "一.(二)"],
    ),
    (
        "flattened line breaks are spaces",
        "一、总则 (一)甲。 ——口号一 ——口号二 二、分则",
        ["一", "一.(一)", "一.(一).—1", "一.(一).—2", "二"],
    ),
    (
        "a dash mid-sentence is punctuation",
        "一、总则\n(一)甲——乙。丙 ——丁",
        ["一", "一.(一)", "一.(一).—1"],
    ),
    ("a dash before any numbering is preamble", "——口号\n一、总则", ["p1", "一"]),
    (
        "attachment lists are back matter, their numbers are text",
        "一、总则\n附件:1.2016年度安排 2.计划表 3.计划\n附件1 安排\n抄送:各部门。",
        ["一", "附件", "附件1", "抄送"],
    ),
    ("附件 in running text is not back matter", "一、总则\n附件材料须齐全\n附近企业", ["一"]),
    (
        "no numbering at all: paragraph ids",
        "标题\n\n第一段。\n第二段,到2020年。",
        ["p1", "p2", "p3"],
    ),
    ("parenthesised Arabic numbers", "一、总则\n(1)甲\n(2)乙", ["一", "一.(1)", "一.(2)"]),
    (
        "digits after a label that is not the next number are text",
        "一、总则\n1.甲\n3.121乙\n2.丙",
        ["一", "一.1", "一.2"],
    ),
    (
        "a decimal before the item of that number is text",
        "一、总则\n1.甲\n2.121的比例\n2.乙",
        ["一", "一.1", "一.2"],
    ),
    (
        "a quantity is never an item, even where its number is expected",
        "一、总则\n1.甲\n2.5万元以上的项目\n3.丙",
        ["一", "一.1", "一.3"],
    ),
    ("empty text", "", []),
]


@pytest.mark.parametrize(
    ("note", "text", "expected"), RUNNING_TEXT, ids=[case[0] for case in RUNNING_TEXT]
)
def test_numbering_is_recognised_only_where_it_fits(
    note: str, text: str, expected: list[str]
) -> None:
    assert [clause.id for clause in segment(text)] == expected, note


def test_an_item_whose_title_starts_with_digits_is_the_next_item() -> None:
    # "11.121人才梯队项目" after item 10 is item 11, not the decimal 11.121 inside item 10.
    first_ten = "".join(f"{n}.第{n}项任务。\n" for n in range(1, 11))
    text = f"一、重点任务\n{first_ten}11.121人才梯队项目。每年培养骨干200名。\n12.优化服务。\n"
    clauses = {clause.id: clause for clause in segment(text)}
    assert list(clauses) == ["一", *items("一", 1, 12)]
    assert clauses["一.11"].heading == "121人才梯队项目"
    assert clauses["一.11"].label == "11."
    assert "121人才梯队" not in clauses["一.10"].text


def test_table_rows_and_group_labels() -> None:
    text = (
        "一、正文\n附件:任务表\n序号\n重点工作\n主要任务\n牵头部门\n1\n(一)\n统筹\n招商\n"
        "1、甲任务。做甲。\n区经委\n2、乙任务。做乙。\n区经委、\n财政局\n2\n(二)\n保障\n3、丙任务。\n人社局\n"
    )
    clauses = {clause.id: clause for clause in segment(text)}
    assert list(clauses) == ["一", "表", "表.(一)", "表.1", "表.2", "表.(二)", "表.3"]
    assert clauses["表"].heading == "任务表"
    assert clauses["表.(一)"].heading == "统筹招商"
    assert clauses["表.2"].text == "2、乙任务。做乙。\n区经委、\n财政局"
    assert "一、正文" not in clauses["表"].full_text


def _edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1
    return text.replace(old, new)


# (document, clause whose wording is edited, old wording, new wording)
EDITS = [
    ("pingliang-2023", "二.3", "着力加强工业园区", "全力推进工业园区(含1.5万平方米以上)"),
    (
        "jiading-2017",
        "四.(二).5",
        "零星工业用地)进行全面排摸",
        "零星工业用地)进行全面排摸,2019年底前完成",
    ),
    ("lucheng-2016", "二.(五)", "打造转型升级示范区。", "打造转型升级示范区 2.整合资源。"),
    ("jiangxi-2019", "一.2", "若干個ppp項目。", "若干個PPP項目,到2020年3個以上。"),
    ("jiading-2017", "表.5", "对现状工业用地进行全面排摸", "对现状工业用地(2、3号地块)进行排摸"),
]


@pytest.mark.parametrize(("doc_id", "edited", "old", "new"), EDITS)
def test_editing_one_clause_leaves_the_others_alone(
    doc_id: str, edited: str, old: str, new: str
) -> None:
    text = (SOURCES / f"{doc_id}.txt").read_text(encoding="utf-8")
    before = {clause.id: clause for clause in segment(text)}
    after = {clause.id: clause for clause in segment(_edit(text, old, new))}
    assert list(after) == list(before)
    assert new in after[edited].text
    ancestors = set()
    parent = before[edited].parent
    while parent:
        ancestors.add(parent)
        parent = before[parent].parent
    for clause_id, clause in before.items():
        if clause_id == edited:
            continue
        assert after[clause_id].text == clause.text, clause_id
        if clause_id not in ancestors:
            assert after[clause_id] == clause, clause_id


@pytest.mark.parametrize(
    ("numeral", "value"),
    [
        ("一", 1),
        ("九", 9),
        ("十", 10),
        ("十一", 11),
        ("二十", 20),
        ("二十一", 21),
        ("九十九", 99),
        ("十十", None),
        ("一十", None),
        ("二二", None),
        ("百", None),
    ],
)
def test_chinese_number(numeral: str, value: int | None) -> None:
    assert chinese_number(numeral) == value


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("四．（一）．1", "四.(一).1"),
        ("一.(二).-1", "一.(二).—1"),
        ("一.(二).——1", "一.(二).—1"),
        ("二 . 4", "二.4"),
        ("二。4", "二.4"),
        ("表.13", "表.13"),
        ("p1", "p1"),
        ("附件1", "附件1"),
    ],
)
def test_canonical_id(typed: str, canonical: str) -> None:
    assert canonical_id(typed) == canonical


# Pieces of numbering, tables and back matter, glued together at random.
PIECES = (
    "一、 二、 三、 十、 (一) （二） 1、 2. 3. 2.5 2.121人才 2.5万元 —— "
    "附件: 附件1 抄送: 序号 | 甲 到2020年 。 ( 1"
)
outline_like = st.lists(
    st.sampled_from([*PIECES.split(" "), "\n", " ", "\n重点工作\n主要任务\n", "序号 | 甲 | 乙"]),
    max_size=40,
).map("".join)


@given(st.one_of(outline_like, st.text(max_size=80)))
def test_segment_never_fails_and_keeps_its_invariants(text: str) -> None:
    clauses = segment(text)
    ids = [clause.id for clause in clauses]
    assert len(set(ids)) == len(ids)
    index = {clause_id: n for n, clause_id in enumerate(ids)}
    for n, clause in enumerate(clauses):
        assert clause.text in text and clause.full_text in text
        assert clause.full_text.startswith(clause.text)
        assert clause.parent is None or index[clause.parent] < n
        assert re.fullmatch(r"[^\s（）．]+", clause.id)
