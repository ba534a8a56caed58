"""Property tests for the parser and the formatter.

1. Random valid ASTs survive `parse(format_module(m)) == m`, in both keyword languages.
2. Arbitrary and mutated text never makes `parse` raise anything but `DslError`, and every
   diagnostic it carries has a code and a 1-based line.

Restrictions the generator keeps: ASTs the parser itself never builds, which therefore have
no canonical text (three former restrictions were dsl bugs, now fixed and pinned below):
- `effective_until` and `trial` only together with `effective_from` (fmt writes the until and
  trial words only after a start date);
- an unspecified parameter always has a unit (the grammar requires `unspecified UNIT`), and a
  known parameter's `unit` is its quantity's unit;
- And/Or have at least two items (one item formats as the bare item);
- a `zh` module has at least one item (the language is read off the first item keyword).
And inside And, Or inside Or and either under Not need no restriction: fmt parenthesises them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dsl import ast
from dsl.errors import DslError
from dsl.fmt import ALIASES, KEYWORDS, RESERVED, format_module
from dsl.parser import parse
from dsl.resolved import COMPARATORS
from dsl.units import UNITS, Quantity
from dsl.vocabulary import OUTCOME_KEYWORDS, Strength
from tests.conftest import examples

ROOT = Path(__file__).resolve().parent.parent
PILOT = (ROOT / "policies" / "pingliang-2023.zc").read_text(encoding="utf-8")

NAME_RE = re.compile(r"^[^\W\d][\w\-]*$")
UNIT_NAMES = sorted(UNITS)

# ---- strategies: leaves ---------------------------------------------------------------------

REAL_NAMES = [
    "非供地备案门槛",
    "园区规划审批",
    "investment_wan",
    "park_level",
    "a-b",
    "_x",
    "项目类别2",
]
REAL_TEXTS = [
    "对投资额度在1000万元以上的非供地类项目",
    "需“一事一议”的重大延链强链项目",
    "县(市、区)",
    "所在工业园区(高新区、集中区)",
    "",
    " ",
    'say "hi"',
    "C:\\dir\\",
    "\\",
    '\\"',
    "# not a comment",
    "rule when then",
    "tab\there",
    "#",
]

# Built from character classes rather than st.from_regex, which is several times slower.
_name_start = st.one_of(st.characters(categories=["L"]), st.just("_"))
_name_rest = st.text(
    st.one_of(st.characters(categories=["L", "N"]), st.sampled_from("_-")), max_size=6
)
names = st.one_of(
    st.sampled_from(REAL_NAMES),
    st.builds(str.__add__, _name_start, _name_rest),
    st.text(st.sampled_from("园区规划投资额甘肃平凉_-0"), min_size=1, max_size=6),
).filter(lambda s: NAME_RE.match(s) is not None and s not in RESERVED)

# Everything str.splitlines breaks on: strings may hold them all.
LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"

texts = st.one_of(
    st.sampled_from(REAL_TEXTS),
    st.text(max_size=12),
    st.text(st.sampled_from(LINE_BREAKS + "ab#"), max_size=6),
    st.text(st.sampled_from('"\\{}()#,.:= \t“”：，（）规则项目ab'), max_size=10),
)

# Words are written bare when they read back as a name, quoted otherwise: draw both kinds.
words = st.one_of(names, texts, st.sampled_from(sorted(RESERVED)))

CLAUSE_RE = re.compile(r'^[^\s"#{}]+$')
clauses = st.one_of(
    st.sampled_from(["二.4", "四.(一).1", "p3", "一", "三.2", "when", "1"]),
    st.text(st.characters(blacklist_categories=["Z", "Cc"]), min_size=1, max_size=6),
).filter(lambda s: CLAUSE_RE.match(s) is not None)

dates = st.one_of(
    st.dates().map(lambda d: d.isoformat()),
    # DATE does not check the calendar: the checker does.
    st.tuples(st.integers(0, 9999), st.integers(0, 99), st.integers(0, 99)).map(
        lambda t: f"{t[0]:04d}-{t[1]:02d}-{t[2]:02d}"
    ),
)

amounts = st.one_of(
    st.sampled_from(["1000", "0.1", "50", "75", "25", "100", "999.99", "1000.01", "0", "007"]),
    st.integers(0, 10**7).map(str),
    st.tuples(st.integers(0, 10**6), st.text("0123456789", min_size=1, max_size=4)).map(
        lambda t: f"{t[0]}.{t[1]}"
    ),
)
quantities = st.builds(Quantity, amounts, st.sampled_from(["", *UNIT_NAMES]))
cites = st.builds(ast.Cite, clauses, texts)
cite_lists = st.lists(cites, min_size=1, max_size=2).map(tuple)
text_tuples = st.lists(texts, max_size=2).map(tuple)

# ---- strategies: conditions -----------------------------------------------------------------

fields = st.builds(ast.FieldRef, names)
atoms = st.one_of(
    st.builds(ast.Truth, fields),
    st.builds(
        ast.Compare,
        fields,
        st.sampled_from(sorted(COMPARATORS)),
        st.one_of(quantities, st.builds(ast.ParamRef, names)),
    ),
    st.builds(ast.IsValue, fields, words, st.booleans()),
    st.builds(ast.InSet, fields, st.lists(words, min_size=1, max_size=3).map(tuple)),
    st.builds(ast.Within, fields, texts),
    st.builds(ast.Contains, fields, st.lists(texts, min_size=1, max_size=3).map(tuple)),
    st.builds(ast.InIndustry, fields, st.lists(words, min_size=1, max_size=3).map(tuple)),
)


def _compound(inner: st.SearchStrategy[ast.Expr]) -> st.SearchStrategy[ast.Expr]:
    several = st.lists(inner, min_size=2, max_size=3).map(tuple)
    return st.one_of(
        st.builds(ast.And, several), st.builds(ast.Or, several), st.builds(ast.Not, inner)
    )


exprs = st.recursive(atoms, _compound, max_leaves=6)

# ---- strategies: items ----------------------------------------------------------------------

# A precedence names a rule, a rule key policy/rule, or a policy id: names either way.
targets = st.one_of(names, st.builds("{}/{}".format, names, names))
priorities = st.lists(st.builds(ast.Priority, targets, cites), max_size=2).map(tuple)
rules = st.builds(
    ast.Rule,
    name=names,
    title=st.one_of(st.just(""), texts),
    cites=cite_lists,
    when=exprs,
    outcome=st.sampled_from([None, *OUTCOME_KEYWORDS]),
    steps=st.lists(st.builds(ast.Step, words, words), max_size=3).map(tuple),
    obligations=text_tuples,
    benefits=text_tuples,
    notes=text_tuples,
    strength=st.sampled_from(list(Strength)),
    exception_to=priorities,
    prevails_over=priorities,
    exception_routes=text_tuples,
)


@st.composite
def params(draw: st.DrawFn) -> ast.Param:
    name, cited, notes = draw(names), draw(cite_lists), draw(text_tuples)
    if draw(st.booleans()):
        q = draw(quantities)
        return ast.Param(name, q, q.unit, cited, notes)
    return ast.Param(name, None, draw(st.sampled_from(UNIT_NAMES)), cited, notes)


units = st.builds(ast.Units, texts, st.lists(words, max_size=3).map(tuple))
routes = st.builds(
    ast.Route,
    name=names,
    title=st.one_of(st.just(""), texts),
    cites=cite_lists,
    matters=st.lists(texts, min_size=1, max_size=3).map(tuple),
    lead=st.one_of(st.none(), units),
    responsible=st.one_of(st.none(), units),
    assisting=st.one_of(st.none(), units),
    notes=text_tuples,
)
skips = st.builds(ast.Skip, clauses, texts)


@st.composite
def headers(draw: st.DrawFn) -> ast.PolicyHeader:
    start = draw(st.one_of(st.just(""), dates))
    return ast.PolicyHeader(
        id=draw(names),
        source=draw(st.one_of(st.just(""), names)),
        title=draw(texts),
        doc_number=draw(texts),
        issuer=draw(texts),
        region=draw(texts),
        issued=draw(st.one_of(st.just(""), dates)),
        effective_from=start,
        effective_until=draw(st.one_of(st.just(""), dates)) if start else "",
        trial=draw(st.booleans()) if start else False,
    )


literals = st.one_of(
    st.builds(ast.Literal, st.just("quantity"), quantities.map(str)),
    st.builds(ast.Literal, st.just("string"), texts),
    st.builds(ast.Literal, st.just("date"), dates),
    st.builds(ast.Literal, st.just("bool"), st.sampled_from(["true", "false"])),
)
field_types = st.one_of(
    st.sampled_from([ast.FieldType(k) for k in ("bool", "text", "region", "date")]),
    st.builds(ast.FieldType, st.just("number"), st.sampled_from(["", *UNIT_NAMES])),
    st.builds(
        ast.FieldType,
        st.just("enum"),
        values=st.lists(st.builds(ast.EnumValue, names, texts), min_size=1, max_size=4).map(tuple),
    ),
)
field_defs = st.builds(
    ast.FieldDef, names, texts, field_types, st.one_of(st.none(), literals), st.booleans()
)
schemas = st.builds(ast.Schema, names, texts, st.lists(field_defs, max_size=5).map(tuple))

items = st.one_of(headers(), params(), rules, routes, skips, schemas)
langs = st.sampled_from(["zh", "en"])
modules = st.builds(
    ast.Module, st.just("gen.zc"), st.lists(items, min_size=1, max_size=5).map(tuple), langs
)
schema_modules = st.builds(ast.Module, st.just("schema.zc"), st.tuples(schemas), langs)

# The pilot, reparsed: the strongest seed there is.
PILOT_MODULE = parse(PILOT, "pingliang-2023.zc")
# Presumptive rules, and a step action that is a keyword (配合).
LUCHENG_MODULE = parse((ROOT / "policies" / "lucheng-2016.zc").read_text("utf-8"), "lucheng.zc")


def _truth(name: str) -> ast.Truth:
    return ast.Truth(ast.FieldRef(name))


# (a and b) and not (c or not not d), the inner And kept as its own node: the shapes
# that need parentheses to survive.
NESTED = ast.Module(
    "nest.zc",
    (
        ast.Rule(
            "r",
            "",
            (ast.Cite("1", "q"),),
            ast.And(
                (
                    ast.And((_truth("a"), _truth("b"))),
                    ast.Not(ast.Or((_truth("c"), ast.Not(ast.Not(_truth("d")))))),
                )
            ),
            None,
        ),
    ),
    "zh",
)


@settings(max_examples=examples(2000), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(modules, schema_modules))
@example(PILOT_MODULE)
@example(LUCHENG_MODULE)
@example(NESTED)
def test_format_then_parse_gives_the_same_module(module: ast.Module) -> None:
    text = format_module(module)
    again = parse(text, "again.zc")
    assert again == module, text
    # Canonical means a fixed point: formatting the reparsed module changes nothing.
    assert format_module(again) == text


def test_text_with_a_line_feed_round_trips() -> None:
    module = ast.Module("nl.zc", (ast.Skip("一", "first line\nsecond line"),), "zh")
    assert parse(format_module(module)) == module


def test_hash_after_a_line_separator_inside_a_string_is_not_a_comment() -> None:
    module = parse('不编码 一 "甲\u2028乙 #1"\n', "ls.zc")
    assert module.comments == ()


@pytest.mark.parametrize("action", ["and", "或", "note", "规则", "配合", "协办", "例外途径"])
def test_step_action_that_is_a_keyword_round_trips(action: str) -> None:
    rule = ast.Rule(
        "r",
        "",
        (ast.Cite("1", "q"),),
        ast.Truth(ast.FieldRef("x")),
        None,
        steps=(ast.Step("市园区办", action),),
    )
    module = ast.Module("kw.zc", (rule,), "zh")
    assert parse(format_module(module)) == module


# ---- fuzz: parse never raises anything but DslError -------------------------------------------

GRAMMAR_WORDS = sorted(
    set(KEYWORDS)
    | set(KEYWORDS.values())
    | set(ALIASES)
    | set(COMPARATORS)
    | {"project.", "项目.", "/"}
)
PUNCTUATION = ['"', "\\", "{", "}", "(", ")", ",", ".", ":", "=", "#", "“", "”", "：", "（", "）"]
LITERALS = ["1000万元", "0.1亿元", "50亩", "75%", "2023-08-02", "3.5", "二.4", "四.(一).1", '"x"']
PILOT_TOKENS = sorted(set(re.split(r"\s+", PILOT)) - {""})
PILOT_LINES = PILOT.splitlines()
SEPARATORS = [" ", "\n", "\t", "\r\n", "\u3000", "\f"]

fragments = st.one_of(
    st.sampled_from(GRAMMAR_WORDS),
    st.sampled_from(PUNCTUATION + LITERALS + SEPARATORS),
    st.sampled_from(PILOT_TOKENS),
    st.sampled_from(PILOT_LINES),
    st.text(max_size=4),
)
spliced_texts = st.lists(fragments, max_size=40).map("".join)


def _parse_or_diagnose(text: str) -> ast.Module | None:
    """Parse, insisting that failure is a DslError whose diagnostics are usable."""
    try:
        module = parse(text, "fuzz.zc")
    except DslError as e:
        assert e.diagnostics, "a DslError with no diagnostic"
        for d in e.diagnostics:
            assert d.code, d
            assert d.span.line >= 1, d
            assert d.span.column >= 1, d
            assert d.render(text)
        return None
    assert isinstance(module, ast.Module)
    return module


@settings(max_examples=examples(1000), deadline=None)
@given(st.one_of(spliced_texts, st.text(max_size=200)))
def test_parse_of_arbitrary_text_fails_only_with_diagnostics(text: str) -> None:
    module = _parse_or_diagnose(text)
    if module is not None:
        assert parse(format_module(module), "again.zc") == module


@st.composite
def mutated_pilots(draw: st.DrawFn) -> str:
    text = PILOT
    for _ in range(draw(st.integers(1, 4))):
        how = draw(st.sampled_from(["delete", "insert", "swap", "token"]))
        if how == "token":
            # Whitespace-separated tokens, separators kept, so a token edit leaves layout alone.
            parts = re.split(r"(\s+)", text)
            i = draw(st.integers(0, len(parts) - 1))
            j = draw(st.integers(0, len(parts) - 1))
            edit = draw(st.sampled_from(["drop", "duplicate", "swap", "replace"]))
            if edit == "drop":
                del parts[i]
            elif edit == "duplicate":
                parts.insert(i, parts[i])
            elif edit == "swap":
                parts[i], parts[j] = parts[j], parts[i]
            else:
                parts[i] = draw(fragments)
            text = "".join(parts)
            continue
        i = draw(st.integers(0, max(len(text) - 1, 0)))
        if how == "delete":
            text = text[:i] + text[i + draw(st.integers(1, 12)) :]
        elif how == "insert":
            text = text[:i] + draw(fragments) + text[i:]
        elif len(text) > 1:
            j = draw(st.integers(0, len(text) - 1))
            i, j = min(i, j), max(i, j)
            if i != j:
                text = text[:i] + text[j] + text[i + 1 : j] + text[i] + text[j + 1 :]
    return text


@settings(max_examples=examples(1000), deadline=None)
@given(mutated_pilots())
def test_parse_of_a_mutated_pilot_fails_only_with_diagnostics(text: str) -> None:
    module = _parse_or_diagnose(text)
    if module is not None:
        assert parse(format_module(module), "again.zc") == module


def test_deeply_nested_condition_parses_or_fails_with_a_diagnostic() -> None:
    with pytest.raises(DslError) as e:
        parse('rule r cite 1 "q" when ' + "not " * 1000 + "project.x then", "deep.zc")
    assert e.value.diagnostics[0].code == "too_deep"
