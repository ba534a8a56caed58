"""The checker, table-driven over small policies, and the `zhengce check` acceptance case."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dsl.check import check_policy, check_schema
from dsl.errors import Diagnostic
from dsl.load import load_folder
from dsl.parser import parse
from server.cli import app
from tests.conftest import ROOT, MemorySource
from tests.test_diagnostic_text import CJK, english_sentence

SOURCE = MemorySource(
    {
        "doc": {
            "一": "对投资额度在1000万元以上的非供地类项目,报市园区办进行备案。",
            "二": "投資超50億元的產業項目。",  # traditional: quotes match after normalisation
            "三": "租赁面积的界限由各镇确定。",
        }
    }
)
SCHEMA, _ = check_schema(parse((ROOT / "policies" / "schema.zc").read_text(), "schema.zc"))
HEADER = '政策 p { 来源 doc 地区 "甘肃省" 施行 2023-01-01 }\n'


def diagnostics(body: str) -> list[Diagnostic]:
    assert SCHEMA is not None
    _, diags = check_policy(parse(HEADER + body, "p.zc"), SCHEMA, SOURCE)
    return diags


RULE = '规则 r 依据 {clause} "{quote}" 当 {cond} 则 备案 步骤 市园区办 备案\n'

CASES = [
    # (note, body, expected codes)
    (
        "valid rule",
        RULE.format(
            clause="一", quote="1000万元以上的非供地类项目", cond="项目.投资额 以上 1000万元"
        ),
        [],
    ),
    (
        "0.1亿元 equals 1000万元",
        RULE.format(clause="一", quote="1000万元以上", cond="项目.投资额 >= 0.1亿元"),
        [],
    ),
    (
        "traditional quote of a traditional clause",
        RULE.format(clause="二", quote="投資超50億元", cond="项目.投资额 超过 50亿元"),
        [],
    ),
    (
        "simplified quote of a traditional clause",
        RULE.format(clause="二", quote="投资超50亿元", cond="项目.投资额 超过 50亿元"),
        [],
    ),
    (
        "quote not in clause",
        RULE.format(clause="一", quote="2000万元以上", cond="项目.重大项目"),
        ["cite_quote_not_found"],
    ),
    (
        "unknown clause",
        RULE.format(clause="九", quote="x", cond="项目.重大项目"),
        ["cite_clause_unknown"],
    ),
    ("unknown field", RULE.format(clause="一", quote="备案", cond="项目.颜色"), ["unknown_field"]),
    (
        "money vs area",
        RULE.format(clause="一", quote="备案", cond="项目.投资额 以上 50亩"),
        ["unit_mismatch"],
    ),
    (
        "bare number against money",
        RULE.format(clause="一", quote="备案", cond="项目.投资额 以上 50"),
        ["unit_mismatch"],
    ),
    (
        "bool compared as number",
        RULE.format(clause="一", quote="备案", cond="项目.重大项目 以上 5万元"),
        ["type_mismatch"],
    ),
    (
        "unknown enum value",
        RULE.format(clause="一", quote="备案", cond="项目.用地方式 是 耕地"),
        ["unknown_enum_value"],
    ),
    (
        "unknown parameter",
        RULE.format(clause="一", quote="备案", cond="项目.投资额 以上 门槛"),
        ["unknown_param"],
    ),
    (
        "exclusive bound against 以上 wording",
        RULE.format(clause="一", quote="1000万元以上", cond="项目.投资额 超过 1000万元"),
        ["bound_wording_mismatch"],
    ),
    (
        "inclusive bound against 超 wording",
        RULE.format(clause="二", quote="投資超50億元", cond="项目.投资额 以上 50亿元"),
        ["bound_wording_mismatch"],
    ),
    (
        "unspecified parameter is allowed",
        '参数 界限 = 未规定 平方米 依据 三 "界限由各镇确定"\n'
        + RULE.format(clause="三", quote="租赁面积", cond="项目.租赁面积 以上 界限"),
        [],
    ),
    (
        "parameter of the wrong dimension",
        '参数 界限 = 未规定 平方米 依据 三 "界限由各镇确定"\n'
        + RULE.format(clause="三", quote="租赁面积", cond="项目.投资额 以上 界限"),
        ["unit_mismatch"],
    ),
    (
        "duplicate rule name",
        RULE.format(clause="一", quote="备案", cond="项目.重大项目") * 2,
        ["duplicate_name"],
    ),
    ("approve without steps", '规则 r 依据 一 "备案" 当 项目.重大项目 则 审批\n', ["no_steps"]),
    ("skip of unknown clause", '不编码 九 "目标"\n', ["cite_clause_unknown"]),
    ("skip without reason", '不编码 三 " "\n', ["skip_without_reason"]),
    (
        "skip of a clause a rule cites",
        RULE.format(clause="一", quote="备案", cond="项目.重大项目") + '不编码 一 "目标"\n',
        ["skip_of_cited_clause"],
    ),
    (
        "skip of a clause a route cites",
        '分工 x 依据 一 "备案" 事项 "备案" 牵头 "市园区办"\n不编码 一 "目标"\n',
        ["skip_of_cited_clause"],
    ),
    (
        "skip of a clause a parameter cites",
        '参数 界限 = 未规定 平方米 依据 三 "界限由各镇确定"\n不编码 三 "目标"\n',
        ["skip_of_cited_clause"],
    ),
    ("route without units", '分工 x 依据 一 "备案" 事项 "备案"\n', ["route_without_units"]),
    (
        "condition too complex for the engine",
        RULE.format(
            clause="一",
            quote="备案",
            cond=" 且 ".join(
                f"项目.{f}"
                for f in (
                    "符合规划",
                    "位于主平台",
                    "新上项目",
                    "位于园区",
                    "属于主导产业",
                    "位于环境敏感区域",
                    "位于限制发展区工业园区",
                )
            )
            + " 且 项目.投资额 以上 1万元"
            " 且 项目.租赁面积 以上 1平方米",
        ),
        ["condition_too_complex"],
    ),
]


@pytest.mark.parametrize(("note", "body", "codes"), CASES, ids=[c[0] for c in CASES])
def test_checker(note: str, body: str, codes: list[str]) -> None:
    assert [d.code for d in diagnostics(body)] == codes


@pytest.mark.parametrize(("note", "body", "codes"), CASES, ids=[c[0] for c in CASES])
def test_every_diagnostic_speaks_chinese_with_the_english_beside_it(
    note: str, body: str, codes: list[str]
) -> None:
    for d in diagnostics(body):
        assert CJK.search(d.message) and english_sentence(d.message) == "", d.message
        assert re.search(r"[a-z]{2,} [a-z]{2,}", d.message_en), d.message_en
        assert bool(d.hint) == bool(d.hint_en)
        assert d.hint == "" or (CJK.search(d.hint) and english_sentence(d.hint) == ""), d.hint


def test_quote_error_names_the_closest_text() -> None:
    [d] = diagnostics(
        RULE.format(
            clause="一", quote="对投资额度在2000万元以上的非供地类项目", cond="项目.重大项目"
        )
    )
    assert "对投资额度在1000万元以上的非供地类项目" in d.hint and "最接近的文字" in d.hint
    assert d.message == "引文不在 doc 的条款 一 中"
    assert d.message_en == "the quote is not in clause 一 of doc"
    assert (d.span.line, d.span.column) == (2, 11)


def test_policy_cites_names_each_citer_rules_then_routes_then_parameters() -> None:
    assert SCHEMA is not None
    body = (
        '分工 x 依据 一 "备案" 事项 "备案" 牵头 "市园区办"\n'
        '参数 界限 = 未规定 平方米 依据 三 "界限由各镇确定"\n'
        + RULE.format(clause="一", quote="备案", cond="项目.重大项目")
        + '规则 s 依据 二 "投資超50億元" 依据 一 "备案" 当 项目.重大项目 则 禁止\n'
    )
    policy, diags = check_policy(parse(HEADER + body, "p.zc"), SCHEMA, SOURCE)
    assert policy is not None and diags == []
    assert [(name, c.clause) for name, c in policy.cites()] == [
        ("r", "一"),
        ("s", "二"),
        ("s", "一"),
        ("x", "一"),
        ("界限", "三"),
    ]


def test_missing_header_fields() -> None:
    assert SCHEMA is not None
    _, diags = check_policy(parse("政策 p { 来源 nowhere }", "p.zc"), SCHEMA, SOURCE)
    assert sorted(d.code for d in diags) == ["missing_header", "missing_header", "unknown_document"]


def test_check_command_reports_all_four_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Acceptance: one file with a syntax error, another with a wrong quote, an unknown field
    and a unit mismatch; all four with file:line:col, exit code 1."""
    (tmp_path / "a.zc").write_text('规则 坏 依据 二.4 "x"\n  当 项目.重大项目\n  则 则\n', "utf-8")
    (tmp_path / "b.zc").write_text(
        '政策 b { 来源 pingliang-2023 地区 "甘肃省/平凉市" 施行 2023-08-02 }\n'
        '规则 r1 依据 二.4 "对投资额度在2000万元以上的非供地类项目"\n'
        "  当 项目.颜色 是 红\n  则 备案 步骤 市园区办 备案\n"
        '规则 r2 依据 二.4 "对投资额度在1000万元以上的非供地类项目"\n'
        "  当 项目.投资额 以上 50亩\n  则 备案 步骤 市园区办 备案\n",
        "utf-8",
    )
    monkeypatch.setenv("ZHENGCE_ROOT", str(ROOT))
    result = CliRunner().invoke(app, ["check", str(tmp_path)])
    assert result.exit_code == 1
    found = re.findall(r"^(\S+\.zc):(\d+):(\d+): (\w+):", result.output, re.MULTILINE)
    assert [(Path(f).name, int(line), int(col), code) for f, line, col, code in found] == [
        ("a.zc", 3, 5, "parse_error"),
        ("b.zc", 2, 14, "cite_quote_not_found"),
        ("b.zc", 3, 8, "unknown_field"),
        ("b.zc", 6, 15, "unit_mismatch"),
    ]
    assert "^" in result.output  # the caret line under each location


def test_seed_policies_check_clean(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHENGCE_ROOT", str(ROOT))
    result = CliRunner().invoke(app, ["check"])
    assert result.exit_code == 0, result.output
    assert "错误 0 个，警告 0 个" in result.output


def test_an_unreadable_file_says_why_in_both_languages(tmp_path: Path) -> None:
    (tmp_path / "bad.zc").write_bytes("规则".encode() + b"\xff")
    schema = tmp_path / "schema.zc"  # absent
    result = load_folder(tmp_path, SOURCE)
    said = {(Path(d.span.path).name, d.code, d.message, d.message_en) for d in result.diagnostics}
    assert said == {
        ("schema.zc", "unreadable_file", "文件不存在", "no such file"),
        ("schema.zc", "missing_schema", f"模式文件不存在：{schema}", f"no schema file at {schema}"),
        (
            "bad.zc",
            "unreadable_file",
            "不是 UTF-8 编码的文本（第 7 个字节无法解码），请另存为 UTF-8",
            "not UTF-8 text (byte 7 cannot be decoded)",
        ),
    }
