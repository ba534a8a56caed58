"""The checker speaks Chinese to drafters: every code has its templates in both languages, each
call site fills every field its template names, and no Chinese text is an English sentence."""

from __future__ import annotations

import ast
import re

import pytest

from dsl.diagnostic_text import (
    FIELD_KINDS,
    HINTS,
    MESSAGES,
    TERMINALS,
    Wording,
    advise,
    diagnostic,
    fields,
    say,
)
from dsl.errors import Span
from dsl.vocabulary import Code, Outcome, Role, Strength
from server.api_models import ReloadResponse
from server.errors import ApiError, diagnostics
from server.messages import ITEM
from tests.conftest import ROOT

CJK = re.compile(r"[\u4e00-\u9fff]")
_QUOTED = re.compile(r"‘[^’]*’|“[^”]*”|\"[^\"]*\"|'[^']*'|`[^`]*`|（[^（）]*）|\([^()]*\)")
_ENGLISH_RUN = re.compile(r"[A-Za-z][\w-]*(?:[ ,;:]+[A-Za-z][\w-]*){2,}")


def english_sentence(text: str) -> str:
    """A run of three or more ASCII words outside quoted names, ids and parentheses ("" if
    none): the sign of an English sentence left in a Chinese message."""
    found = _ENGLISH_RUN.search(_QUOTED.sub(" ", text))
    return found.group(0) if found else ""


def test_the_heuristic_finds_english_and_passes_quoted_names() -> None:
    assert english_sentence("unknown field '颜色'") == ""  # two words name a thing
    assert english_sentence("the quote is not in clause 二.4") == "the quote is not in clause"
    assert english_sentence("规则‘a b c’的 `zhengce draft` 与（exception to it）") == ""


# The project's facts are checked by the fact schema, not the checker: their Chinese is the
# API's (server.messages.ITEM).
FACT_CODES = {Code.WRONG_TYPE, Code.MISSING_FIELD, Code.OUT_OF_RANGE, Code.BAD_REGION}


def test_every_code_has_its_words() -> None:
    assert set(Code) - set(MESSAGES) == FACT_CODES
    assert set(ITEM) >= FACT_CODES
    assert all(MESSAGES[code] for code in MESSAGES)


TEMPLATES = [
    (f"{code}:{variant or '-'}", t)
    for code, variants in MESSAGES.items()
    for variant, t in variants.items()
] + [(f"hint:{name}", t) for name, t in HINTS.items()]


@pytest.mark.parametrize(("name", "template"), TEMPLATES, ids=[n for n, _ in TEMPLATES])
def test_each_template_renders_in_chinese_and_english(name: str, template: Wording) -> None:
    names = fields(template.zh) | fields(template.en)
    filled = Wording(
        template.zh.format_map(dict.fromkeys(names, "x")),
        template.en.format_map(dict.fromkeys(names, "x")),
    )
    assert CJK.search(filled.zh), name
    assert english_sentence(filled.zh) == "", name
    assert filled.en != filled.zh and re.search("[A-Za-z]", filled.en), name


@pytest.mark.parametrize("words", [*TERMINALS.values(), *FIELD_KINDS.values()])
def test_the_words_of_the_grammar_are_chinese(words: Wording) -> None:
    assert CJK.search(words.zh) and english_sentence(words.zh) == ""


def test_facts_are_spelt_in_each_language() -> None:
    said = say(Code.NO_STEPS, rule="r", outcome=Outcome.FILE)
    assert said == Wording(
        "规则‘r’的结论是备案，却没有给出步骤", "rule 'r' sets outcome file but gives no steps"
    )
    said = say(Code.MODALITY_MANDATORY_WORDING, rule="r", strength=Strength.PRESUMPTIVE)
    assert "原则性（原则上、一般）" in said.zh and "presumptive (原则上 / 一般)" in said.en
    said = say(
        Code.UNIT_NOT_IN_CLAUSE, route="x", role=Role.LEAD, name="市政府", clauses=["一", "二"]
    )
    assert "牵头单位‘市政府’不在条款 一、二 的原文中" in said.zh
    assert "牵头 (lead) unit '市政府'" in said.en and "clause 一, 二" in said.en
    assert advise("did_you_mean", near=["二.3", "三.3"]) == Wording(
        "是否想写：二.3、三.3？", "did you mean 二.3, 三.3?"
    )


@pytest.mark.parametrize("strength", list(Strength))
def test_every_strength_and_role_has_its_words(strength: Strength) -> None:
    said = say(Code.MODALITY_MANDATORY_WORDING, rule="r", strength=strength)
    assert str(strength) not in said.zh and english_sentence(said.zh) == ""
    for role in Role:
        said = say(Code.UNIT_NOT_IN_CLAUSE, route="x", role=role, name="n", clauses=["一"])
        assert str(role) not in said.zh and str(role) in said.en


def test_a_diagnostic_carries_both_languages_to_json_and_renders_chinese() -> None:
    d = diagnostic(
        Code.UNKNOWN_FIELD,
        Span("p.zc", 1, 3, 1, 5),
        name="颜色",
        hint=advise("did_you_mean", near=["行业"]),
    )
    body = d.to_json()
    assert (body["message"], body["message_en"]) == ("未知字段‘颜色’", "unknown field '颜色'")
    assert (body["hint"], body["hint_en"]) == ("是否想写：行业？", "did you mean 行业?")
    assert d.render("当 颜色 是 红").split("\n") == [
        "p.zc:1:3: unknown_field: 未知字段‘颜色’",
        "    1 | 当 颜色 是 红",
        "      |    ^^^^",
        "   是否想写：行业？",
    ]


# ---- every call site names a template that exists and fills all its fields ------------------


def _literal_variants(node: ast.expr | None) -> list[str]:
    if node is None:
        return [""]
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _literal_variants(node.body) + _literal_variants(node.orelse)
    return []  # a variable: its caller is checked instead


def _calls() -> list[tuple[str, str, str, dict[str, Wording], ast.Call]]:
    """(where, what, variant, table, call) for each call of diagnostic, self.report, say and
    advise in dsl/ with a literal code or hint name."""
    found = []
    for path in sorted((ROOT / "dsl").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            where = f"{path.name}:{node.lineno}"
            first = node.args[0] if node.args else None
            if name == "advise" and isinstance(first, ast.Constant):
                found.append((where, "hint", str(first.value), HINTS, node))
                continue
            position = {"diagnostic": 2, "report": 2, "say": 1}.get(name)
            if position is None or not isinstance(first, ast.Attribute):
                continue
            code = Code[first.attr]
            given = node.args[position] if len(node.args) > position else None
            for variant in _literal_variants(given):
                found.append((where, str(code), variant, MESSAGES[code], node))
    return found


CALLS = _calls()


def test_the_call_sites_are_found() -> None:
    assert len(CALLS) > 60


@pytest.mark.parametrize(
    ("where", "what", "variant", "table", "call"), CALLS, ids=[f"{c[0]}-{c[2]}" for c in CALLS]
)
def test_each_call_fills_its_template(
    where: str, what: str, variant: str, table: dict[str, Wording], call: ast.Call
) -> None:
    assert variant in table, f"{where}: {what} has no template {variant!r}"
    template = table[variant]
    if any(k.arg is None for k in call.keywords):
        return  # facts passed on as **facts: the caller's call is checked
    given = {k.arg for k in call.keywords} - {"hint", "expected"}
    wanted = fields(template.zh) | fields(template.en)
    assert given == wanted, f"{where}: {what} {variant!r} is given {given}, names {wanted}"


# ---- the API says both: a refused reload's errors, and a reload's warnings -------------------


def test_the_api_gives_a_policy_files_diagnostics_in_chinese_with_the_english() -> None:
    error = diagnostic(Code.UNKNOWN_FIELD, Span("/r/policies/p.zc", 3, 8), name="颜色")
    body = ApiError(409, "policy_errors", "1 error(s)", diagnostics([error], "/r")).body()
    assert body["errors"] == [
        {
            "code": "unknown_field",
            "message": "policies/p.zc:3:8：未知字段‘颜色’",
            "message_en": "unknown field '颜色'",
            "location": "policies/p.zc:3:8",
        }
    ]
    warning = diagnostic(
        Code.NO_STEPS, Span("/r/policies/p.zc", 2, 4), rule="r", outcome=Outcome.FILE
    )
    reloaded = ReloadResponse.model_validate(
        {
            "revision": "abc",
            "policies": ["p"],
            "changed": True,
            "warnings": diagnostics([warning], "/r"),
        }
    )
    [said] = reloaded.warnings
    assert said.message == "policies/p.zc:2:4：规则‘r’的结论是备案，却没有给出步骤"
    assert said.message_en == "rule 'r' sets outcome file but gives no steps"
