"""The editor tools against the language: the Pygments lexer (dsl/highlight.py), the TextMate
grammar (dsl/syntax/zc.tmLanguage.json) and the language server's scanner (dsl/symbols.py).

The keywords are read from dsl/grammar.lark itself (every string literal lark makes a
terminal of), never listed here: a keyword added to the language fails these tests until the
highlighters know it, in both its spellings."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import pytest
from lark import Lark
from lark.lexer import PatternStr
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import Comment, Error, Keyword, Literal, Name, Number, Operator, String

from dsl import symbols
from dsl.highlight import ZhengceLexer
from tests.conftest import ROOT

SYNTAX = ROOT / "dsl" / "syntax"


@cache
def grammar_keywords() -> frozenset[str]:
    """Every word of the language: the grammar's string literals that are words (not
    punctuation such as "{" or ">="; the units are one regex terminal, UNIT)."""
    # Earley: only the terminals are wanted, and it skips building LALR tables (1.6 s here).
    grammar = Lark((ROOT / "dsl" / "grammar.lark").read_text(encoding="utf-8"))
    return frozenset(
        t.pattern.value
        for t in grammar.terminals
        if isinstance(t.pattern, PatternStr) and re.fullmatch(r"\w+", t.pattern.value)
    )


def test_the_keywords_come_from_the_grammar_in_both_languages() -> None:
    found = grammar_keywords()
    assert {"policy", "政策", "rule", "规则", "以上", "at_least", "属于行业"} <= found
    assert not {"{", ">=", "万元"} & found  # punctuation and units are not keywords


def _highlighted(keyword: str) -> bool:
    tokens = [(t, v) for t, v in ZhengceLexer().get_tokens(keyword) if v.strip()]
    if len(tokens) != 1 or tokens[0][1] != keyword:
        return False
    return tokens[0][0] in Keyword or tokens[0][0] in Operator.Word


def test_the_lexer_highlights_every_keyword_of_the_grammar() -> None:
    missed = sorted(kw for kw in grammar_keywords() if not _highlighted(kw))
    assert not missed, f"dsl/highlight.py does not highlight these keywords: {missed}"


def test_every_seed_policy_file_lexes_without_an_error_token() -> None:
    for path in sorted((ROOT / "policies").glob("*.zc")):
        errors = [v for t, v in ZhengceLexer().get_tokens(path.read_text("utf-8")) if t in Error]
        assert not errors, f"{path.name}: {errors[:10]}"


def test_the_lexer_tells_the_parts_of_a_rule_apart() -> None:
    line = '  依据 四.(一).1 "投资额在1000万元以上" # 注释\n'
    line += "  当 项目.投资额 以上 1000万元 且 施行 2024-01-01"
    tokens = [(t, v) for t, v in ZhengceLexer().get_tokens(line) if v.strip()]
    assert (Name.Label, "四.(一).1") in tokens
    assert (String.Double, '"投资额在1000万元以上"') in tokens
    assert (Name.Attribute, "投资额") in tokens
    assert (Number, "1000") in tokens and (Name.Constant, "万元") in tokens
    assert (Literal.Date, "2024-01-01") in tokens
    assert (Comment.Single, "# 注释") in tokens


def test_the_lexer_is_registered_with_pygments() -> None:
    # The entry point in pyproject.toml; a stale install (pip install -e . not rerun) fails here.
    assert isinstance(get_lexer_by_name("zc"), ZhengceLexer)
    assert isinstance(get_lexer_by_name("zhengce"), ZhengceLexer)
    assert isinstance(get_lexer_for_filename("pingliang-2023.zc"), ZhengceLexer)


# -- the TextMate grammar ---------------------------------------------------------------------


def _textmate() -> dict[str, Any]:
    found: dict[str, Any] = json.loads((SYNTAX / "zc.tmLanguage.json").read_text("utf-8"))
    return found


def _patterns(items: list[dict[str, Any]], repository: dict[str, Any]) -> list[dict[str, Any]]:
    """The grammar's top-level patterns in order, includes expanded."""
    found = []
    for item in items:
        if "include" in item:
            found += _patterns([repository[item["include"].lstrip("#")]], repository)
        elif "patterns" in item and "begin" not in item:
            found += _patterns(item["patterns"], repository)
        else:
            found.append(item)
    return found


def _textmate_scope(text: str) -> tuple[str, int]:
    """The scope an editor gives the start of `text`, and how many characters it covers: the
    first pattern, in order, that matches there (TextMate's rule for matches that start at
    the same place). Python's re reads these patterns as Oniguruma does."""
    grammar = _textmate()
    for p in _patterns(grammar["patterns"], grammar["repository"]):
        m = re.compile(p.get("match") or p["begin"]).match(text)
        if m is None:
            continue
        if "captures" in p:
            return p["captures"]["1"]["name"], m.end(1)
        return p["name"], m.end()
    return "", 0


def test_the_textmate_grammar_highlights_every_keyword_of_the_grammar() -> None:
    keyword_scopes = ("keyword.", "storage.type.", "constant.language.")
    missed = sorted(
        kw
        for kw in grammar_keywords()
        if not _textmate_scope(kw)[0].startswith(keyword_scopes)
        or _textmate_scope(kw)[1] != len(kw)
    )
    assert not missed, f"zc.tmLanguage.json does not highlight these keywords: {missed}"


@pytest.mark.parametrize(
    ("text", "scope"),
    [
        ("# 说明", "comment.line.number-sign.zc"),
        ('"原文"', "string.quoted.double.zc"),
        ("2023-08-02", "constant.other.date.zc"),
        ("1000万元", "constant.numeric.zc"),
        ("非供地备案门槛", "variable.other.name.zc"),  # a name that starts like the keyword 非
    ],
)
def test_the_textmate_grammar_scopes_the_other_parts(text: str, scope: str) -> None:
    assert _textmate_scope(text)[0] == scope


def test_the_vscode_extension_folder_names_the_grammar() -> None:
    manifest = json.loads((SYNTAX / "package.json").read_text("utf-8"))
    (grammar,) = manifest["contributes"]["grammars"]
    assert (SYNTAX / grammar["path"]).is_file()
    assert grammar["scopeName"] == _textmate()["scopeName"]
    assert (SYNTAX / manifest["contributes"]["languages"][0]["configuration"]).is_file()


# -- the language server's scanner ------------------------------------------------------------


def test_the_scanners_keywords_are_keywords_of_the_grammar() -> None:
    named = (symbols.CITE | symbols.SKIP | symbols.FIELD_REF | symbols.IS | symbols.IN_SET) | (
        symbols.ROLES | symbols.AS | symbols.SOURCE | symbols.ROUTE | symbols.ITEMS
    )
    named |= frozenset().union(*symbols.DEFINING.values())
    assert named <= grammar_keywords(), sorted(named - grammar_keywords())
