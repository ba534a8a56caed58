"""What the language server answers about a place in a policy file: hover, definition and
completion, as plain values (server.lsp turns them into LSP messages).

Positions are 0-based lines and character columns (code points), as in dsl.symbols. The
clause text comes from kb (the corpus, and kb.locate to highlight a quote within it); what the
cursor is on comes from dsl.symbols, which works on text that does not parse yet.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dsl import ast
from dsl.errors import DslError
from dsl.parser import parse
from dsl.symbols import (
    Definition,
    Place,
    declaration,
    declared_source,
    definitions,
    find,
    place_at,
)
from kb.locate import locate
from server.lsp_project import Located, Project, text_of
from server.unit_names import unit_names

_NAME = re.compile(r"[^\W\d][\w\-]*")  # the grammar's NAME: a word needs no quotes
_MARKDOWN = re.compile(r"([\\`*_\[\]<>#|~])")
_SHOWN = 1500  # the most characters of a clause a hover shows, around the quote
_PREVIEW = 300  # of a clause in a completion's documentation


@dataclass(frozen=True)
class Editing:
    """A file being edited: its project, path and current text, and the text of every file
    the editor holds (unsaved edits win over the disk)."""

    project: Project
    path: Path
    text: str
    open_texts: Mapping[Path, str]

    def text_of(self, path: Path) -> str:
        return text_of(path, {**self.open_texts, self.path: self.text})


@dataclass(frozen=True)
class HoverText:
    markdown: str
    line: int
    start: int
    end: int


@dataclass(frozen=True)
class Suggestion:
    label: str
    kind: str  # field | value | clause | unit
    detail: str
    insert: str  # replaces columns start..end of `line`
    line: int
    start: int
    end: int
    documentation: str = ""


# -- hover ------------------------------------------------------------------------------------


def hover(doc: Editing, line: int, column: int) -> HoverText | None:
    place = place_at(doc.text, line, column)
    shown: str | None = None
    if place.kind in ("clause", "quote") and place.clause:
        shown = _clause_markdown(doc, place.clause, place.quote)
    elif place.kind in ("field", "enum_value", "name"):
        found = definition(doc, line, column)
        if found is not None:
            shown = f"```zc\n{declaration(doc.text_of(found.path), found.line)}\n```"
    if shown is None:
        return None
    return HoverText(shown, line, place.start, place.end)


def _clause_markdown(doc: Editing, clause_id: str, quote: str) -> str | None:
    document = declared_source(doc.text)
    clause = doc.project.clause(document, clause_id)
    found = doc.project.document(document)
    if clause is None or found is None:
        return None
    text = clause.full_text
    at = locate(text, quote) if quote else None
    if at is None:
        body = _md(text[:_SHOWN] + ("…" if len(text) > _SHOWN else ""))
    else:
        before, quoted, after = _around(text, *at)
        body = f"{_md(before)}**{_md(quoted)}**{_md(after)}"
    heading = f"**{_md(document)} {_md(clause.id)}** {_md(found.title)}"
    missing = "\n\n*引文不在此条款中*" if quote and at is None else ""
    return f"{heading}\n\n{body}{missing}"


def _around(text: str, start: int, end: int) -> tuple[str, str, str]:
    """The text before the quote, the quote, and the text after it, the two sides cut so that
    a long clause shows about _SHOWN characters around its quote."""
    room = max(0, _SHOWN - (end - start)) // 2
    before, after = text[:start], text[end:]
    if len(before) > room:
        before = "…" + before[len(before) - room :]
    if len(after) > room:
        after = after[:room] + "…"
    return before, text[start:end], after


def _md(text: str) -> str:
    """Text shown as itself in markdown: special characters escaped, line breaks kept."""
    return _MARKDOWN.sub(r"\\\1", text).replace("\n", "  \n")


# -- definition -------------------------------------------------------------------------------


def definition(doc: Editing, line: int, column: int) -> Located | None:
    place = place_at(doc.text, line, column)
    if place.kind in ("clause", "quote") and place.clause:
        return doc.project.clause_at(declared_source(doc.text), place.clause)
    if place.kind in ("field", "enum_value"):
        return _field(doc, place.name if place.kind == "field" else place.field)
    if place.kind == "name":
        return _named(doc, place)
    return None


def _field(doc: Editing, name: str) -> Located | None:
    schema = doc.project.schema_path
    found = find(definitions(doc.text_of(schema)), name, ["field"])
    return _located(schema, found)


def _named(doc: Editing, place: Place) -> Located | None:
    """A rule, parameter or route of this file; a rule of another policy (policy/rule); or a
    policy by its id."""
    elsewhere = doc.project.policy_definitions({**doc.open_texts, doc.path: doc.text})
    if place.qualifier:
        files = [p for p, d in elsewhere if d.kind == "policy" and d.name == place.qualifier]
        rules = [(p, d) for p, d in elsewhere if p in files and d.kind == "rule"]
        return _located(*_first(rules, place.name))
    here = find(definitions(doc.text), place.name, ["rule", "param", "route", "policy"])
    if here is not None:
        return _located(doc.path, here)
    policies = [(p, d) for p, d in elsewhere if d.kind == "policy"]
    return _located(*_first(policies, place.name))


def _first(
    found: list[tuple[Path, Definition]], name: str
) -> tuple[Path | None, Definition | None]:
    return next(((p, d) for p, d in found if d.name == name), (None, None))


def _located(path: Path | None, found: Definition | None) -> Located | None:
    if path is None or found is None:
        return None
    return Located(path, found.line, found.start, found.end)


# -- completion -------------------------------------------------------------------------------


def complete(doc: Editing, line: int, column: int) -> list[Suggestion]:
    place = place_at(doc.text, line, column)
    if place.kind == "field":
        return _fields(doc, place, line)
    if place.kind == "enum_value":
        return _values(doc, place, line)
    if place.kind == "clause":
        return _clauses(doc, place, line)
    if place.kind == "unit":
        return _units(doc, place, line)
    return []


def _fields(doc: Editing, place: Place, line: int) -> list[Suggestion]:
    schema = doc.text_of(doc.project.schema_path)
    found = []
    for d in definitions(schema):
        if d.kind != "field":
            continue
        shown, other = (d.name, d.label) if place.english else (d.label or d.name, d.name)
        declared = declaration(schema, d.line).strip()
        found.append(
            Suggestion(shown, "field", other, shown, line, place.start, place.end, declared)
        )
    return found


def _values(doc: Editing, place: Place, line: int) -> list[Suggestion]:
    field = _schema_field(doc, place.field)
    if field is None:
        return []
    start, end, quoted = _inside(place)
    found = []
    for v in field.type.values:
        shown, other = (v.name, v.label) if place.english else (v.label, v.name)
        insert = shown if quoted or _NAME.fullmatch(shown) else f'"{shown}"'
        found.append(Suggestion(shown, "value", other, insert, line, start, end))
    return found


def _schema_field(doc: Editing, name: str) -> ast.FieldDef | None:
    try:
        module = parse(doc.text_of(doc.project.schema_path))
    except DslError:
        return None
    schema = module.schema
    if schema is None:
        return None
    return next((f for f in schema.fields if name in (f.name, f.label)), None)


def _clauses(doc: Editing, place: Place, line: int) -> list[Suggestion]:
    found = doc.project.document(declared_source(doc.text))
    if found is None:
        return []
    return [
        Suggestion(
            c.id,
            "clause",
            c.heading or c.text[:24],
            c.id,
            line,
            place.start,
            place.end,
            c.full_text[:_PREVIEW],
        )
        for c in found.clauses
    ]


def _units(doc: Editing, place: Place, line: int) -> list[Suggestion]:
    document = declared_source(doc.text)
    start, end, quoted = _inside(place)
    found: dict[str, str] = {}
    for clause_id in place.clauses:
        clause = doc.project.clause(document, clause_id)
        for name in unit_names(clause.full_text) if clause else []:
            found.setdefault(name, clause_id)
    return [
        Suggestion(
            name, "unit", f"{document} {clause}", name if quoted else f'"{name}"', line, start, end
        )
        for name, clause in found.items()
    ]


def _inside(place: Place) -> tuple[int, int, bool]:
    """The columns a suggestion replaces, and whether they lie inside a string's quotes."""
    token = place.token
    if token is None or token.kind != "string":
        return place.start, place.end, False
    closed = len(token.text) > 1 and token.text.endswith('"')
    return token.start + 1, token.end - 1 if closed else token.end, True
