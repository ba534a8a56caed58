"""kb.clean: page debris goes, the document's wording stays."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kb.clean import clean, page_metadata

SOURCES = Path(__file__).resolve().parent.parent / "policies" / "sources"

# Excerpts of the five seed pages: (note, raw page, expected clean text).
CASES = [
    (
        "嘉定: metadata line dropped, page title not repeated, 文号 line kept",
        "嘉定区关于产业发展区域统筹的实施意见(试行)\n\n"
        "发布机构: 上海市嘉定区委员会 发布日期:2019-09-27\n\n"
        "嘉定区关于产业发展区域统筹的实施意见(试行)\n\n(嘉委发〔2017〕2号)\n\n"
        "    (一)统筹招商模式\n\n \n\n2017313\n",
        "嘉定区关于产业发展区域统筹的实施意见(试行)\n\n(嘉委发〔2017〕2号)\n\n"
        "(一)统筹招商模式\n\n2017313\n",
    ),
    (
        "嘉定: hint, copyright and ICP footer dropped",
        "区经委、人社局\n\n\n温馨提示:点击此处,阅读信息原文 信息来源: 上海市嘉定区委员会\n\n"
        "© 2017-2022  zhengsoso.com   版权所有   沪ICP备17032387号-1 上海立米企业管理有限公司",
        "区经委、人社局\n",
    ),
    (
        "成都: breadcrumb, 发表于 … 关注, 发布时间 and 制图 credit dropped; byline in text kept",
        "当前位置: 管理办法   全市产业功能区及园区建设实施方案\n\n"
        "全市产业功能区及园区建设实施方案\n\n"
        "发表于:2018-01-13 关注 \n\n  《全市产业功能区及园区建设实施方案》印发\n\n"
        "  发布时间:2018-01-13 08:44:39\n\n\n  到2018年底打造高质量产业功能区及园区11个\n\n  \n\n"
        "  制图 申娟子\n\n  推动项目加快落地见效,妥善解决企业反映的实际问题。(记者 杨彩华 文豪)",
        "全市产业功能区及园区建设实施方案\n\n《全市产业功能区及园区建设实施方案》印发\n\n"
        "到2018年底打造高质量产业功能区及园区11个\n\n"
        "推动项目加快落地见效,妥善解决企业反映的实际问题。(记者 杨彩华 文豪)\n",
    ),
    (
        "平凉: 发布日期 and 扫一扫 dropped",
        "关于深化全市工业园区(高新区、集中区)管理改革的意见\n\n发布日期:2023-08-02 09:42:00\n\n"
        "一、总体要求\n\n扫一扫在手机打开当前页",
        "关于深化全市工业园区(高新区、集中区)管理改革的意见\n\n一、总体要求\n",
    ),
    (
        "鹿城: metadata table and | debris dropped, one-line body kept as one line",
        "索引号 | 001008003001001/2016-36778 | ||\n"
        "组配分类 | 区政府和区府办文件 | 发布机构 | 区政府办公室(区外事办、区大数据发展管理局) |\n"
        "生成日期 | 2016-09-05 | 公开方式 | 主动公开 |\n文号 | 温鹿政办〔2016〕97号 | ||\n"
        "各街道办事处: 一、总体要求 (一)指导思想 优化全区工业产业平台布局。\n"
        "抄送:区委各部门。 温州市鹿城区人民政府办公室 2016年8月31日印发 |\n||||||||||||",
        "各街道办事处: 一、总体要求 (一)指导思想 优化全区工业产业平台布局。\n"
        "抄送:区委各部门。 温州市鹿城区人民政府办公室 2016年8月31日印发\n",
    ),
    (
        "江西: Traditional 來源 and 熱門標籤 dropped, Traditional text untouched",
        "2019年促進全省開發區改革和創新發展工作要點\n\n來源:巧巧簡歷站 1.02W\n\n"
        "1.狠抓重大項目招引。(牽頭單位:省商務廳;\n責任單位:各開發區)\n\n熱門標籤",
        "2019年促進全省開發區改革和創新發展工作要點\n\n"
        "1.狠抓重大項目招引。(牽頭單位:省商務廳;\n責任單位:各開發區)\n",
    ),
    (
        "words that look like debris inside the document are kept",
        "加强ICP备案管理。\n来源于企业的数据\n关注企业诉求\n图书馆建设\n© 版权所有",
        "加强ICP备案管理。\n来源于企业的数据\n关注企业诉求\n图书馆建设\n",
    ),
    ("an empty or all-debris page is empty", "扫一扫在手机打开当前页\n \n", ""),
    ("Windows line ends", "一、总则\r\n\r\n\r\n1.甲\r\n", "一、总则\n\n1.甲\n"),
]


@pytest.mark.parametrize(("note", "raw", "expected"), CASES, ids=[case[0] for case in CASES])
def test_clean(note: str, raw: str, expected: str) -> None:
    assert clean(raw) == expected, note


@pytest.mark.parametrize("source", sorted(SOURCES.glob("*.txt")), ids=lambda p: p.stem)
def test_stored_sources_are_clean(source: Path) -> None:
    text = source.read_text(encoding="utf-8")
    assert clean(text) == text


page_like = st.lists(
    st.one_of(
        st.sampled_from(
            ["\n", " ", "|", "\u3000", "发布日期:", "來源:", "扫一扫", "©", "标题", "一、", "甲"]
        ),
        st.characters(codec="utf-8"),
    ),
    max_size=40,
).map("".join)


@given(page_like)
def test_clean_is_idempotent(raw: str) -> None:
    once = clean(raw)
    assert clean(once) == once


@given(page_like)
def test_clean_keeps_no_blank_runs_or_padding(raw: str) -> None:
    lines = clean(raw).split("\n")
    assert all(line == line.strip() for line in lines)
    assert "\n\n\n" not in clean(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "发布机构: 上海市嘉定区委员会 发布日期:2019-09-27",
            {"issuer": "上海市嘉定区委员会", "published": "2019-09-27"},
        ),
        ("发表于:2018-01-13 关注 \n发布时间:2018-01-15 08:44:39", {"published": "2018-01-13"}),
        ("发布日期:2023-08-02 09:42:00", {"published": "2023-08-02"}),
        (
            "生成日期 | 2016-09-05 | 公开方式 | 主动公开 |\n文号 | 温鹿政办〔2016〕97号 | ||",
            {"published": "2016-09-05", "doc_number": "温鹿政办〔2016〕97号"},
        ),
        (
            "發佈日期:2019年3月5日\n文號:贛府廳發〔2019〕3號",
            {"published": "2019-03-05", "doc_number": "贛府廳發〔2019〕3號"},
        ),
        ("來源:巧巧簡歷站 1.02W", {}),
    ],
)
def test_page_metadata(raw: str, expected: dict[str, str]) -> None:
    assert page_metadata(raw) == expected
