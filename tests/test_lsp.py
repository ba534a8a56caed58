"""The language server: what it answers about a place (dsl.symbols, server.lsp_features,
dsl.quickfix, server.unit_names) in-process, then `python -m server.lsp` itself, driven over
stdio by pygls' client as an editor drives it.

Everything runs on a small synthetic project (one document, one policy), not on the seeds,
so that the answers are known here and the checks stay fast."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from lsprotocol import types as lsp
from pygls.lsp.client import BaseLanguageClient
from pygls.uris import from_fs_path
from typer.testing import CliRunner

from dsl.quickfix import bound_fix
from dsl.symbols import declared_source, definitions, place_at
from kb.normalize import normalize
from server.cli import app
from server.lsp_features import Editing, complete, definition, hover
from server.lsp_project import Project
from server.unit_names import unit_names

T = TypeVar("T")

SCHEMA = """模式 project "项目" {
  字段 region "地区": 行政区 必填
  字段 subject "事项类型": 枚举 {
    project "投资项目"
    plan "园区规划"
  } 默认 "project"
  字段 investment_wan "投资额": 数值 万元
  字段 land_use "用地方式": 枚举 {
    new_land "新增建设用地"
    lease "租赁厂房"
  }
}
"""
SOURCE = """关于示范园区项目管理的意见

一、项目管理

1.投资额超过1000万元的项目，由所在园区报市园区办备案。

2.人才培养。加强园区人才培训。(牵头单位：市人力资源和社会保障局，配合单位：市财政局、市教育局)
"""
META = """id: demo-2024
title: 关于示范园区项目管理的意见
doc_number: ''
issuer: ''
region: 示范省/示范市
issued: '2024-01-01'
published: ''
script: zh-Hans
kind: policy
seed: ''
notes: ''
"""
# The rule says 以上 where its quote says 超过: the bound lint's warning, on line 14.
POLICY = """政策 demo-2024 {
  来源 demo-2024
  标题 "关于示范园区项目管理的意见"
  地区 "示范省/示范市"
  施行 2024-01-01
}

不编码 p1 "文件标题"

参数 备案门槛 = 1000万元
  依据 一.1 "投资额超过1000万元的项目"

规则 项目备案 "超过门槛的项目报市园区办备案"
  依据 一.1 "投资额超过1000万元的项目，由所在园区报市园区办备案"
  当 项目.事项类型 是 投资项目 且 项目.投资额 以上 备案门槛
  则 备案
    步骤 所在园区 报送
    步骤 市园区办 备案

分工 人才培养 "园区人才培养"
  依据 一.2 "牵头单位：市人力资源和社会保障局"
  事项 "人才培养"
  牵头 "市人力资源和社会保障局"
"""
LINES = POLICY.split("\n")
RULE_CITE, CONDITION, ROUTE_LEAD = 13, 14, 22  # 0-based lines of POLICY


def at(line: int, text: str, after: bool = False) -> tuple[int, int]:
    """(line, column) of `text` on a line of POLICY, or just after it."""
    column = LINES[line].index(text)
    return line, column + (len(text) if after else 0)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A folder name an editor must percent-encode in the document's URI.
    root = (tmp_path_factory.mktemp("lsp") / "政策 项目").resolve()
    (root / "policies" / "sources").mkdir(parents=True)
    (root / "policies" / "schema.zc").write_text(SCHEMA, encoding="utf-8")
    (root / "policies" / "demo-2024.zc").write_text(POLICY, encoding="utf-8")
    (root / "policies" / "sources" / "demo-2024.txt").write_text(SOURCE, encoding="utf-8")
    (root / "policies" / "sources" / "demo-2024.yaml").write_text(META, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def project(root: Path) -> Project:
    return Project(root)


def editing(project: Project, text: str = POLICY, name: str = "demo-2024.zc") -> Editing:
    return Editing(project, project.root / "policies" / name, text, {})


# -- what is where ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "kind", "value"),
    [
        (at(RULE_CITE, "一.1"), "clause", "一.1"),
        (at(RULE_CITE, "由所在园区"), "quote", "一.1"),
        (at(CONDITION, "投资额"), "field", "投资额"),
        (at(CONDITION, "投资项目"), "enum_value", "事项类型"),
        (at(CONDITION, "备案门槛"), "name", "备案门槛"),
        (at(ROUTE_LEAD, "市人力"), "unit", "一.2"),
        (at(RULE_CITE - 1, "项目备案"), "name", "项目备案"),
    ],
)
def test_the_place_under_the_cursor(where: tuple[int, int], kind: str, value: str) -> None:
    place = place_at(POLICY, *where)
    assert place.kind == kind
    assert value in (place.clause, place.name, place.field, *place.clauses)


def test_places_are_found_in_text_that_does_not_parse() -> None:
    broken = '规则 草稿 依据 一.1 "投资额\n  当 项目.\n  且 项目.用地方式 属于 {新增建设用地, '
    assert place_at(broken, 1, len("  当 项目.")).kind == "field"
    value = place_at(broken, 2, len(broken.split("\n")[2]))
    assert (value.kind, value.field) == ("enum_value", "用地方式")
    assert place_at(broken, 0, len("规则 草稿 依据 ")).kind == "clause"


def test_a_skips_reason_is_no_quote() -> None:
    assert place_at(POLICY, *at(7, "p1")).quote == ""
    assert place_at(POLICY, *at(7, "文件标题")).kind == "none"


def test_definitions_and_the_declared_source() -> None:
    found = {(d.kind, d.name): d.line for d in definitions(POLICY)}
    assert found == {
        ("policy", "demo-2024"): 0,
        ("param", "备案门槛"): 9,
        ("rule", "项目备案"): 12,
        ("route", "人才培养"): 19,
    }
    assert declared_source(POLICY) == "demo-2024"
    fields = {d.name: d.label for d in definitions(SCHEMA) if d.kind == "field"}
    assert fields["investment_wan"] == "投资额"


def test_unit_names_are_the_units_the_clause_writes() -> None:
    clause = SOURCE.split("\n")[6]
    found = unit_names(clause)
    assert {"市人力资源和社会保障局", "市财政局", "市教育局"} <= set(found)
    assert all(name in clause for name in found)
    assert unit_names("由市经济和信息化局牵头，报市政府审定")[:2] == ["市经济和信息化局", "市政府"]


# -- hover, definition, completion ------------------------------------------------------------


def test_hover_on_a_citation_shows_the_clause_with_the_quote_in_bold(project: Project) -> None:
    shown = hover(editing(project), *at(RULE_CITE, "一.1"))
    assert shown is not None
    assert "**demo-2024 一.1**" in shown.markdown
    assert "1.**投资额超过1000万元的项目，由所在园区报市园区办备案**。" in shown.markdown
    param_quote = hover(editing(project), *at(10, "投资额"))
    assert param_quote is not None
    assert "1.**投资额超过1000万元的项目**，由所在园区" in param_quote.markdown


def test_hover_on_a_field_or_parameter_shows_its_declaration(project: Project) -> None:
    field = hover(editing(project), *at(CONDITION, "投资额"))
    assert field is not None and '字段 investment_wan "投资额": 数值 万元' in field.markdown
    param = hover(editing(project), *at(CONDITION, "备案门槛"))
    assert param is not None
    assert '参数 备案门槛 = 1000万元\n  依据 一.1 "投资额超过1000万元的项目"' in param.markdown


def test_definitions_of_fields_parameters_rules_and_clauses(project: Project) -> None:
    doc, root = editing(project), project.root
    field = definition(doc, *at(CONDITION, "投资额"))
    assert field is not None and (field.path, field.line) == (root / "policies/schema.zc", 6)
    param = definition(doc, *at(CONDITION, "备案门槛"))
    assert param is not None and (param.path, param.line, param.start) == (doc.path, 9, 3)
    clause = definition(doc, *at(20, "一.2"))
    txt = root / "policies/sources/demo-2024.txt"
    assert clause is not None and (clause.path, clause.line, clause.start) == (txt, 6, 0)
    other = editing(project, '规则 其他 例外 demo-2024/项目备案 依据 一.1 ""', "other.zc")
    rule = definition(other, 0, len("规则 其他 例外 demo-2024/项目"))
    assert rule is not None and (rule.path, rule.line) == (doc.path, 12)


def test_completion_of_fields_values_clauses_and_units(project: Project) -> None:
    def labels(text: str, line: int = 0) -> set[str]:
        column = len(text.split("\n")[line])
        return {s.label for s in complete(editing(project, text), line, column)}

    header = POLICY.split("\n\n")[0] + "\n"
    assert labels("  当 项目.") == {"地区", "事项类型", "投资额", "用地方式"}
    assert labels("  when project.") == {"region", "subject", "investment_wan", "land_use"}
    assert labels("  当 项目.用地方式 是 ") == {"新增建设用地", "租赁厂房"}
    assert labels(header + "  依据 ", 6) == {"p1", "一", "一.1", "一.2"}
    route = header + '分工 x "x"\n  依据 一.2 "牵头单位"\n  事项 "x"\n  配合 "'
    assert {"市财政局", "市教育局", "市人力资源和社会保障局"} <= labels(route, 9)


def test_the_quick_fix_replaces_the_bound_word_as_the_quote_says(project: Project) -> None:
    path = project.root / "policies" / "demo-2024.zc"
    (warning,) = project.check(path, POLICY)
    assert warning.code == "bound_wording_mismatch"
    fix = bound_fix(POLICY, warning.span.line - 1, warning.span.column - 1, normalize)
    assert fix is not None
    assert (fix.line, fix.start, fix.text) == (*at(CONDITION, "以上"), "超过")
    line = LINES[fix.line]
    fixed = "\n".join(
        [*LINES[: fix.line], line[: fix.start] + fix.text + line[fix.end :], *LINES[fix.line + 1 :]]
    )
    assert project.check(path, fixed) == []
    english = fixed.replace("项目.投资额 超过", "项目.投资额 at_least")
    fix = bound_fix(english, warning.span.line - 1, warning.span.column - 1, normalize)
    assert fix is not None and fix.text == "more_than"


def test_the_check_is_of_the_edited_text_not_the_file_on_disk(project: Project) -> None:
    path = project.root / "policies" / "demo-2024.zc"
    edited = POLICY.replace("项目.投资额 以上", "项目.颜色 以上")
    found = {(d.code, d.span.line, d.span.column) for d in project.check(path, edited)}
    assert ("unknown_field", CONDITION + 1, at(CONDITION, "投资额")[1] + 1) in found
    new = project.root / "policies" / "draft-2024.zc"  # not saved yet
    broken = project.check(new, "政策 draft-2024 {\n  来源 \n}")
    assert [d.code for d in broken] == ["parse_error"]


# -- the server over stdio --------------------------------------------------------------------


class Client(BaseLanguageClient):
    """pygls' client, keeping what the server wrote to stderr should it exit."""

    said = ""

    async def server_exit(self, server: asyncio.subprocess.Process) -> None:
        if server.stderr is not None:
            self.said = (await server.stderr.read()).decode(errors="replace")


class Editor:
    """pygls' client driving `python -m server.lsp` over stdio, on its own event loop."""

    def __init__(self, root: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.client = Client("zhengce-tests", "1")
        self.published: list[lsp.PublishDiagnosticsParams] = []

        @self.client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def published(params: lsp.PublishDiagnosticsParams) -> None:
            self.published.append(params)

        self.uri = from_fs_path(str(root / "policies" / "demo-2024.zc")) or ""
        self.version = 1
        env = {**os.environ, "ZHENGCE_ROOT": str(root)}
        self.run(self.client.start_io(sys.executable, "-m", "server.lsp", cwd=root, env=env))
        self.run(
            self.client.initialize_async(
                lsp.InitializeParams(capabilities=lsp.ClientCapabilities(), root_uri=None)
            )
        )
        self.client.initialized(lsp.InitializedParams())
        item = lsp.TextDocumentItem(self.uri, "zhengce", self.version, POLICY)
        self.client.text_document_did_open(lsp.DidOpenTextDocumentParams(item))

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        try:
            return self.loop.run_until_complete(asyncio.wait_for(work, 120))
        except RuntimeError as e:  # the server exited: say why
            raise RuntimeError(f"{e}\n{self.client.said}") from e

    def diagnostics(self) -> list[lsp.Diagnostic]:
        """The diagnostics published for the current version of the document."""

        async def published() -> list[lsp.Diagnostic]:
            while True:
                for p in self.published:
                    if p.uri == self.uri and p.version == self.version:
                        return list(p.diagnostics)
                await asyncio.sleep(0.05)

        return self.run(published())

    def change(self, text: str) -> None:
        self.version += 1
        document = lsp.VersionedTextDocumentIdentifier(version=self.version, uri=self.uri)
        whole = lsp.TextDocumentContentChangeWholeDocument(text=text)
        self.client.text_document_did_change(lsp.DidChangeTextDocumentParams(document, [whole]))

    def at(self, line: int, column: int) -> tuple[lsp.TextDocumentIdentifier, lsp.Position]:
        return lsp.TextDocumentIdentifier(self.uri), lsp.Position(line, column)

    def close(self) -> None:
        self.run(self.client.shutdown_async(None))
        self.client.exit(None)
        self.run(self.client.stop())
        self.loop.close()


@pytest.fixture(scope="module")
def editor(root: Path) -> Iterator[Editor]:
    session = Editor(root)
    yield session
    session.close()


@pytest.mark.slow
def test_the_server_publishes_the_checkers_diagnostics_as_you_type(editor: Editor) -> None:
    (warning,) = editor.diagnostics()
    assert warning.code == "bound_wording_mismatch"
    assert warning.severity == lsp.DiagnosticSeverity.Warning
    assert "包括本数" in warning.message  # the message, then the hint, in Chinese
    start = at(CONDITION, "项目.投资额")
    assert (warning.range.start.line, warning.range.start.character) == start
    unknown_field = POLICY.replace("项目.投资额 以上", "项目.颜色 以上")
    editor.change(unknown_field.replace("当 项目", "当 (项目"))
    codes = {(d.code, d.range.start.line) for d in editor.diagnostics()}
    assert ("parse_error", CONDITION + 1) in codes  # the "(" is never closed
    editor.change(unknown_field)
    shown = editor.diagnostics()
    assert [d.code for d in shown] == ["bound_wording_mismatch", "unknown_field"]
    unknown = shown[1]
    assert unknown.code == "unknown_field" and unknown.severity == lsp.DiagnosticSeverity.Error
    assert unknown.message.startswith("未知字段‘颜色’")
    where = at(CONDITION, "投资额")  # where 颜色 now starts
    assert (unknown.range.start.line, unknown.range.start.character) == where
    assert (unknown.range.end.character - unknown.range.start.character) == len("颜色")
    editor.change(POLICY)
    assert [d.code for d in editor.diagnostics()] == ["bound_wording_mismatch"]


@pytest.mark.slow
def test_the_server_answers_hover_definition_completion_and_the_quick_fix(
    editor: Editor,
) -> None:
    editor.change(POLICY)
    (warning,) = editor.diagnostics()
    client, run = editor.client, editor.run
    shown = run(client.text_document_hover_async(lsp.HoverParams(*editor.at(*at(13, "一.1")))))
    assert shown is not None and isinstance(shown.contents, lsp.MarkupContent)
    assert "**投资额超过1000万元的项目，由所在园区报市园区办备案**" in shown.contents.value
    where = editor.at(*at(CONDITION, "投资额"))
    found = run(client.text_document_definition_async(lsp.DefinitionParams(*where)))
    assert isinstance(found, lsp.Location) and found.uri.endswith("/policies/schema.zc")
    assert found.range.start.line == 6
    where = editor.at(*at(CONDITION, "项目.", after=True))
    completion = run(client.text_document_completion_async(lsp.CompletionParams(*where)))
    assert isinstance(completion, lsp.CompletionList)
    assert {i.label for i in completion.items} == {"地区", "事项类型", "投资额", "用地方式"}
    context = lsp.CodeActionContext([warning])
    asked = lsp.CodeActionParams(lsp.TextDocumentIdentifier(editor.uri), warning.range, context)
    (action,) = run(client.text_document_code_action_async(asked)) or []
    assert isinstance(action, lsp.CodeAction) and action.edit and action.edit.changes
    (edit,) = action.edit.changes[editor.uri]
    assert edit.new_text == "超过"
    assert (edit.range.start.line, edit.range.start.character) == at(CONDITION, "以上")


def test_lsp_refuses_a_tcp_address_that_is_not_host_and_port() -> None:
    result = CliRunner().invoke(app, ["lsp", "--tcp", "2087"])
    assert result.exit_code == 2
    assert "HOST:PORT" in result.output
