"""`zhengce add`: a saved page (text or HTML) becomes a source document, and the drafter
sees at once the clauses found and every gap in their numbering (kb.html_text, kb.numbering,
server.drafting)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from kb.html_text import UndecodablePage, page_text
from kb.numbering import Gap, numbering_gaps
from kb.segment import segment
from tests.conftest import CJK, ROOT
from tests.tmp_project import SYNTHETIC_PAGE, SYNTHETIC_REGION, zhengce

HTML = """<html><head><meta charset="{charset}"><title>某市意见_某市政府网</title>
<style>p {{ color: red }}</style><script>document.write("<p>广告</p>")</script></head>
<body><h1>某市意见</h1><p>一、总则</p><p>1.加强管理&amp;服务。<br>第二行</p>
<table><tr><th>序号</th><th>任务</th><th>牵头部门</th></tr>
<tr><td>1、</td><td>甲任务</td><td>市商务局</td></tr></table></body></html>"""


def test_html_becomes_lines_of_text() -> None:
    page = page_text(HTML.format(charset="utf-8").encode("utf-8"), "page.html")
    assert page.html and page.title == "某市意见_某市政府网"
    lines = [line for line in page.text.splitlines() if line]
    assert lines == [
        "某市意见",
        "一、总则",
        "1.加强管理&服务。",
        "第二行",
        "序号 | 任务 | 牵头部门",
        "1、 | 甲任务 | 市商务局",
    ]


def test_a_page_is_read_in_the_charset_it_declares() -> None:
    gbk = HTML.format(charset="gbk").encode("gbk")
    assert "加强管理&服务" in page_text(gbk, "page.htm").text
    with pytest.raises(UndecodablePage, match="not UTF-8"):
        page_text("一、总则".encode("gbk"), "page.txt")  # plain text declares nothing


def test_plain_text_is_kept_as_it_is() -> None:
    text = "一、总则\n1.甲 < 乙 的项目\n"
    assert page_text(text.encode("utf-8"), "page.txt") == page_text(text.encode(), "x")
    assert page_text(text.encode("utf-8"), "page.txt").text == text


def test_numbering_gaps_name_the_missing_labels() -> None:
    first_ten = "".join(f"{n}.第{n}项。\n" for n in range(1, 11))
    text = f"一、总则\n{first_ten}12.第十二项。\n三、附则\n（一）甲\n（三）乙\n"
    assert numbering_gaps(segment(text)) == [
        Gap("一.10", "一.12", ("11",)),
        Gap("一", "三", ("二",)),
        Gap("三.(一)", "三.(三)", ("(二)",)),
    ]


@pytest.mark.parametrize("doc_id", ["chengdu-2018", "jiading-2017", "lucheng-2016"])
def test_the_seeds_numbering_has_no_gaps(doc_id: str) -> None:
    text = (ROOT / "policies" / "sources" / f"{doc_id}.txt").read_text("utf-8")
    assert numbering_gaps(segment(text)) == []


def test_add_prints_the_clauses_and_the_gaps(tmp_path: Path) -> None:
    page = tmp_path / "page.txt"
    page.write_text("某市意见\n一、总则\n1.甲。\n2.乙。\n4.丁。（责任单位：市商务局）\n", "utf-8")
    result = zhengce(tmp_path, "add", str(page), "--id", "mou-2024", "--region", "某省/某市")
    assert result.exit_code == 0, result.output
    for clause in ("p1", "一", "一.1", "一.2", "一.4"):
        assert clause in result.stdout
    assert "一.2 → 一.4，缺 3" in result.stdout
    meta = yaml.safe_load((tmp_path / "policies/sources/mou-2024.yaml").read_text("utf-8"))
    # The title is the document's first line; the kind defaults to policy; nothing invented.
    assert (meta["title"], meta["region"], meta["kind"]) == ("某市意见", "某省/某市", "policy")
    assert (meta["doc_number"], meta["issued"]) == ("", "")


def test_add_json_is_the_source_as_segmented(tmp_path: Path) -> None:
    meta = tmp_path / "meta.yaml"
    meta.write_text("doc_number: 云政发〔2024〕7号\nissued: 2024-03-01\n", "utf-8")
    args = ("--id", "yunling-2024", "--region", SYNTHETIC_REGION, "--meta", str(meta))
    result = zhengce(tmp_path, "add", str(SYNTHETIC_PAGE), *args, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["title"] == "云岭市关于推进人才强园工作的实施意见"  # not the <title>'s site name
    assert data["gaps"] == []
    clauses = {c["id"]: c for c in data["clauses"]}
    assert clauses["二.11"] == {
        "id": "二.11",
        "kind": "item",
        "label": "11.",
        "heading": "121人才梯队项目",
        "parent": "二",
    }
    assert list(clauses)[-2:] == ["三", "三.13"]
    text = (tmp_path / "policies/sources/yunling-2024.txt").read_text("utf-8")
    assert "<" not in text and "当前位置" not in text and "var nav" not in text
    saved = yaml.safe_load((tmp_path / "policies/sources/yunling-2024.yaml").read_text("utf-8"))
    assert (saved["doc_number"], saved["issued"]) == ("云政发〔2024〕7号", "2024-03-01")


def _page(tmp: Path, name: str, data: bytes) -> str:
    (tmp / name).write_bytes(data)
    return str(tmp / name)


def _meta(tmp: Path, text: str) -> str:
    (tmp / "meta.yaml").write_text(text, "utf-8")
    return str(tmp / "meta.yaml")


SYNTHETIC = str(SYNTHETIC_PAGE)
# (what is wrong, the arguments after `add` given the temporary folder, the code)
ERRORS: list[tuple[str, Callable[[Path], list[str]], str]] = [
    ("the id exists", lambda tmp: [SYNTHETIC, "--id", "pingliang-2023"], "source_exists"),
    ("no such page", lambda tmp: [str(tmp / "missing.html"), "--id", "x-1"], "unreadable_page"),
    (
        "a page that is not UTF-8",
        lambda tmp: [_page(tmp, "gbk.txt", "一、总则".encode("gbk")), "--id", "x-1"],
        "unreadable_page",
    ),
    (
        "a page with no text",
        lambda tmp: [_page(tmp, "e.html", b"<body><script>var a;</script></body>"), "--id", "x-1"],
        "empty_text",
    ),
    ("a malformed id", lambda tmp: [SYNTHETIC, "--id", "X 1"], "bad_document_id"),
    (
        "metadata that contradicts --region",
        lambda tmp: [SYNTHETIC, "--id", "x-1", "--meta", _meta(tmp, "region: 江苏省/苏州市\n")],
        "bad_metadata",
    ),
    (
        "metadata that is not YAML",
        lambda tmp: [SYNTHETIC, "--id", "x-1", "--meta", _meta(tmp, "title: [unclosed\n")],
        "bad_metadata",
    ),
    (
        "metadata with a date no calendar has",
        lambda tmp: [SYNTHETIC, "--id", "x-1", "--meta", _meta(tmp, "issued: 2023-02-30\n")],
        "bad_metadata",
    ),
]


@pytest.mark.parametrize(("note", "args", "code"), ERRORS, ids=[e[0] for e in ERRORS])
def test_add_refuses_with_a_chinese_message_and_a_code(
    tmp_path: Path, note: str, args: Callable[[Path], list[str]], code: str
) -> None:
    sources = tmp_path / "policies" / "sources"
    sources.mkdir(parents=True)
    for suffix in (".txt", ".yaml"):
        (sources / f"pingliang-2023{suffix}").write_text("x", "utf-8")
    result = zhengce(tmp_path, "add", *args(tmp_path), "--region", SYNTHETIC_REGION)
    assert result.exit_code == 2, note
    assert f"error: {code}:" in result.stderr and CJK.search(result.stderr), result.stderr
    assert "Traceback" not in result.output
    assert sorted(p.name for p in sources.iterdir()) == [
        "pingliang-2023.txt",
        "pingliang-2023.yaml",
    ]


def test_add_refuses_a_region_that_is_not_a_path(tmp_path: Path) -> None:
    result = zhengce(tmp_path, "add", SYNTHETIC, "--id", "x-1", "--region", "示例省//云岭市")
    assert result.exit_code == 2 and "error: bad_region:" in result.stderr
    assert not (tmp_path / "policies").exists()
