"""The domain's words: every diagnostic code is emitted through the enum and documented in
README, and the outcome keywords are the grammar's."""

from __future__ import annotations

import ast
import json
import re
from enum import StrEnum
from importlib import resources

import pytest

from dsl.fmt import format_module
from dsl.parser import parse
from dsl.vocabulary import (
    OUTCOME_KEYWORDS,
    STRENGTH_KEYWORDS,
    VERDICTS,
    Code,
    Coverage,
    Outcome,
    Role,
    Severity,
    Strength,
)
from tests.conftest import ROOT


def _documented() -> dict[str, str]:
    """code -> severity, from the table under README's "## Diagnostic codes"."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Diagnostic codes\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z_]+)` \| (\w+) \|", section, re.MULTILINE)
    return dict(rows)


def test_every_code_is_documented_with_its_severity() -> None:
    documented = _documented()
    assert sorted(set(Code) - set(documented)) == [], "codes missing from README"
    assert sorted(set(documented) - set(Code)) == [], "README documents codes that do not exist"
    assert {c: documented[c] for c in Code} == {c: str(c.severity) for c in Code}


def _code_argument(call: ast.Call) -> ast.expr | None:
    """The code a Diagnostic, FactError, `diagnostic` or checker `self.report` call is given."""
    func = call.func
    name = (
        func.id
        if isinstance(func, ast.Name)
        else f".{func.attr}"
        if isinstance(func, ast.Attribute)
        else ""
    )
    position = {"Diagnostic": 0, "diagnostic": 0, ".report": 0, "FactError": 1}.get(name)
    if position is None:
        return None
    # `diagnostic` takes its code by position only: a keyword `code` there is a fact.
    keyword = next((k.value for k in call.keywords if k.arg == "code"), None)
    return call.args[position] if name == "diagnostic" else keyword or call.args[position]


def _emitted() -> list[tuple[str, int, ast.expr]]:
    found = []
    for path in sorted((ROOT / "dsl").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and (arg := _code_argument(node)) is not None:
                found.append((path.name, node.lineno, arg))
    return found


def test_every_emitted_code_is_a_member_and_every_member_is_emitted() -> None:
    """A new literal code, or a member nothing emits, fails here."""
    members = set()
    for file, line, arg in _emitted():
        if isinstance(arg, ast.Name) and arg.id == "code":
            continue  # a helper passing on its own `code: Code` parameter
        is_member = (
            isinstance(arg, ast.Attribute)
            and isinstance(arg.value, ast.Name)
            and arg.value.id == "Code"
            and arg.attr in Code.__members__
        )
        assert is_member, f"{file}:{line}: a diagnostic code must be a dsl.vocabulary.Code member"
        assert isinstance(arg, ast.Attribute)
        members.add(Code[arg.attr])
    assert sorted(set(Code) - members) == []


def test_outcome_keywords_are_the_grammars() -> None:
    grammar = resources.files("dsl").joinpath("grammar.lark").read_text(encoding="utf-8")
    rule = re.search(r"^!outcome: (.*)$", grammar, re.MULTILINE)
    assert rule is not None
    pairs = re.findall(r'\("(\w+)" \| "(\w+)"\)', rule.group(1))
    assert pairs == [(w["en"], w["zh"]) for w in OUTCOME_KEYWORDS.values()]
    assert set(OUTCOME_KEYWORDS) == set(Outcome) - VERDICTS


def test_strength_keywords_are_the_grammars() -> None:
    grammar = resources.files("dsl").joinpath("grammar.lark").read_text(encoding="utf-8")
    rule = re.search(r"^!strength: (.*)$", grammar, re.MULTILINE)
    assert rule is not None
    pairs = re.findall(r'\("(\w+)" \| "(\w+)"\)', rule.group(1))
    assert pairs == [(w["en"], w["zh"]) for w in STRENGTH_KEYWORDS.values()]
    # mandatory is what a rule is without a word
    assert set(STRENGTH_KEYWORDS) == set(Strength) - {Strength.MANDATORY}


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("strength", sorted(STRENGTH_KEYWORDS))
def test_parser_and_formatter_agree_on_strengths(strength: Strength, lang: str) -> None:
    word = STRENGTH_KEYWORDS[strength][lang]
    rule_text = {
        "en": 'rule r cite 1 "q" when project.x then',
        "zh": '规则 r 依据 1 "q" 当 项目.x 则',
    }
    module = parse(f"{rule_text[lang]} {word}\n")
    [rule] = module.rules
    assert rule.strength is strength
    assert f" {word}\n" in format_module(module)


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("outcome", sorted(OUTCOME_KEYWORDS))
def test_parser_and_formatter_agree_on_outcomes(outcome: Outcome, lang: str) -> None:
    word = OUTCOME_KEYWORDS[outcome][lang]
    rule_text = {
        "en": 'rule r cite 1 "q" when project.x then',
        "zh": '规则 r 依据 1 "q" 当 项目.x 则',
    }
    text = f"{rule_text[lang]} {word}\n"
    module = parse(text)
    [rule] = module.rules
    assert rule.outcome is outcome
    assert f" {word}\n" in format_module(module)


@pytest.mark.parametrize("enum", [Outcome, Strength, Role, Severity, Coverage, Code])
def test_members_are_their_words_in_json(enum: type[StrEnum]) -> None:
    for member in enum:
        assert member == member.value
        assert json.dumps({member: member}) == json.dumps({member.value: member.value})
        assert f"{member}" == member.value
