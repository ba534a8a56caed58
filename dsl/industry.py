"""The industry classification (国民经济行业分类, GB/T 4754): its 门类 and 大类, read from the
policies folder's data file, and the classes an `industry` fact names by code or exact name.

A value is a class only when it IS one of its codes ("C26", "26", "C") or exact names, after
trimming: a category named in other words is matched by meaning, not by substring, so free
text such as 化工装备制造 (machinery) names no class. Names are compared as written; mapping
traditional to simplified script is the knowledge base's business, not the language's.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import yaml

from dsl.diagnostic_text import Wording, advise, diagnostic, did_you_mean
from dsl.errors import Diagnostic, Span
from dsl.vocabulary import Code

_SECTION = re.compile(r"[A-Z]")
_DIVISION = re.compile(r"\d\d")


@dataclass(frozen=True)
class Section:
    """A 门类, such as C 制造业."""

    code: str
    name: str


@dataclass(frozen=True)
class Division:
    """A 大类, such as 26 化学原料和化学制品制造业 in 门类 C."""

    code: str
    name: str
    section: str

    @property
    def rule_code(self) -> str:
        """How a rule names it: the 门类 letter and the 大类 number, C26."""
        return self.section + self.code


@dataclass(frozen=True)
class Classification:
    source: str  # the standard, said in every unknown-code message; "" when none is loaded
    sections: tuple[Section, ...] = ()
    divisions: tuple[Division, ...] = ()
    missing: str = ""  # without a classification: the data file that is absent or invalid

    @cached_property
    def _classes(self) -> dict[str, frozenset[str]]:
        """Each code and name -> the rule codes of the classes it names. A 大类 names itself
        and its 门类; its entries come last so that a name shared by a 门类 and its only 大类
        (教育, 房地产业) resolves to the 大类, which already implies the 门类."""
        classes = {}
        for s in self.sections:
            classes[s.code] = classes[s.name] = frozenset({s.code})
        for d in self.divisions:
            named = frozenset({d.rule_code, d.section})
            classes[d.rule_code] = classes[d.code] = classes[d.name] = named
        return classes

    def codes_of(self, value: str) -> frozenset[str]:
        """The rule codes of the classes a fact value names; empty for free text."""
        return self._classes.get(value.strip(), frozenset())

    @cached_property
    def rule_codes(self) -> frozenset[str]:
        """The codes a rule may test: a 门类 letter (C), or a 大类 with its 门类 (C26)."""
        return frozenset(s.code for s in self.sections) | {d.rule_code for d in self.divisions}

    def spellings(self, codes: Iterable[str]) -> tuple[str, ...]:
        """Every value (code or name) that names a class covered by `codes`, so that an
        evaluator tests a fact by membership alone; a 门类 covers each of its 大类."""
        wanted = frozenset(codes)
        return tuple(sorted(k for k, named in self._classes.items() if named & wanted))

    def unknown(self, code: str, span: Span) -> Diagnostic:
        """unknown_industry_code for a code a rule names that is not one, with what to write."""
        hint = self._suggest(code)
        if self.source:
            return diagnostic(
                Code.UNKNOWN_INDUSTRY_CODE, span, code=code, standard=self.source, hint=hint
            )
        if self.missing:
            return diagnostic(
                Code.UNKNOWN_INDUSTRY_CODE, span, "no_file", code=code, path=self.missing, hint=hint
            )
        return diagnostic(Code.UNKNOWN_INDUSTRY_CODE, span, "none_loaded", code=code, hint=hint)

    def _suggest(self, code: str) -> Wording:
        """A hint for a code a rule names that is not one."""
        named = sorted(self.codes_of(code), key=len, reverse=True)
        if named:
            return advise("as_code", code=named[0])
        return did_you_mean(difflib.get_close_matches(code, sorted(self.rule_codes), 3))


NO_CLASSIFICATION = Classification("")


def parse_classification(text: str, path: str) -> tuple[Classification, list[Diagnostic]]:
    """The classification a data file gives, and every problem with it (bad_classification);
    a file with problems gives no classification, so no rule tests against half of one."""
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: see below
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        span = Span(path, mark.line + 1, mark.column + 1) if mark else Span(path)
        if isinstance(e, _DuplicateKey):
            problem = diagnostic(Code.BAD_CLASSIFICATION, span, "duplicate_key", key=e.key)
        else:
            # The reader's problem in the Chinese; the English keeps PyYAML's whole report.
            said = getattr(e, "problem", None) or str(e)
            problem = diagnostic(Code.BAD_CLASSIFICATION, span, "yaml", problem=said, report=str(e))
        return missing_classification(path), [problem]
    problems: list[Diagnostic] = []
    sections: list[Section] = []
    divisions: list[Division] = []
    where = Span(path)
    if not isinstance(data, Mapping) or not isinstance(data.get("sections"), Mapping):
        problems.append(diagnostic(Code.BAD_CLASSIFICATION, where, "no_sections"))
        data = {}
    for code, body in data.get("sections", {}).items():
        section, found, section_problems = _section(code, body, where)
        problems += section_problems
        if section is not None:
            sections.append(section)
            divisions += found
    problems += _clashes(sections, divisions, where)
    if problems:
        return missing_classification(path), problems
    source = f"{data.get('standard', '')} {data.get('title', '')}".strip() or path
    return Classification(source, tuple(sections), tuple(divisions)), []


def missing_classification(path: str) -> Classification:
    """None to be had: no rule may test membership, and every industry value stays text."""
    return Classification("", missing=path)


class _DuplicateKey(yaml.constructor.ConstructorError):
    def __init__(self, key: Any, mark: yaml.Mark) -> None:
        super().__init__(None, None, f"{key!r} is given twice", mark)
        self.key = repr(key)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader silently keeps the last of two equal keys; a code given twice is an error."""


def _unique_keys(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    keys: list[Any] = []  # a list: a key need not be hashable to be reported
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in keys:
            raise _DuplicateKey(key, key_node.start_mark)
        keys.append(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_keys)


def _section(
    code: Any, body: Any, where: Span
) -> tuple[Section | None, list[Division], list[Diagnostic]]:
    if not isinstance(code, str) or not _SECTION.fullmatch(code):
        return (
            None,
            [],
            [diagnostic(Code.BAD_CLASSIFICATION, where, "section_code", code=repr(code))],
        )
    if not isinstance(body, Mapping) or not _text(body.get("name")):
        return None, [], [diagnostic(Code.BAD_CLASSIFICATION, where, "section_name", code=code)]
    problems, divisions = [], []
    listed = body.get("divisions") or {}
    if not isinstance(listed, Mapping):
        listed, problems = {}, [diagnostic(Code.BAD_CLASSIFICATION, where, "divisions", code=code)]
    for number, name in listed.items():
        if not isinstance(number, str) or not _DIVISION.fullmatch(number):
            problems.append(
                diagnostic(
                    Code.BAD_CLASSIFICATION, where, "division_code", code=code, number=repr(number)
                )
            )
        elif not _text(name):
            problems.append(
                diagnostic(
                    Code.BAD_CLASSIFICATION, where, "division_name", code=code, number=number
                )
            )
        else:
            divisions.append(Division(number, name.strip(), code))
    return Section(code, body["name"].strip()), divisions, problems


def _clashes(sections: list[Section], divisions: list[Division], where: Span) -> list[Diagnostic]:
    """Each code and each name must name one class. A 门类 may share its name with its only
    大类 (教育 is both P and 83): the two name the same activities."""
    problems = []
    section_of: dict[str, str] = {}
    for d in divisions:
        if d.code in section_of:
            problems.append(
                diagnostic(
                    Code.BAD_CLASSIFICATION,
                    where,
                    "division_twice",
                    number=d.code,
                    first=section_of[d.code],
                    second=d.section,
                )
            )
        section_of[d.code] = d.section
    named: dict[str, Section | Division] = {}
    classes: list[Section | Division] = [*sections, *divisions]
    for c in classes:
        other = named.get(c.name)
        sole = (
            isinstance(c, Division)
            and other == Section(c.section, c.name)
            and [d.section for d in divisions].count(c.section) == 1
        )
        if other is not None and not sole:
            problems.append(diagnostic(Code.BAD_CLASSIFICATION, where, "name_twice", name=c.name))
        named[c.name] = c
    return problems


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())
