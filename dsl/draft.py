"""Draft a policy file from its source document (`zhengce draft`): text in, .zc text out.

dsl never reads the knowledge base, so the caller passes the document as plain data: the
header's facts (`DraftHeader`) and the clauses in reading order (`DraftClause`). The draft is
what a drafter would type first, and no more:

- the header from the source's metadata (施行 is the issue date; where the metadata has only
  the page's publication date, that date, with a comment saying so);
- for each clause that names its units in a fixed pattern (dsl.draft_units), one route per
  place it names them: the heading as title and matter, the heading and the words that name
  the units as verbatim quotes, each role's units as written and split at 、，；;
- for every other clause, a `不编码` stub with a reason to confirm or rewrite.

Every drafted item carries `待审`, which `zhengce check` reports (`unreviewed_draft`) until a
drafter has read it against the clause and deleted the word. Nothing is inferred: a clause
that names no unit gets no route, however obvious its office.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from dsl import ast
from dsl.draft_units import NamedUnits, named_units
from dsl.fmt import RESERVED, format_module
from dsl.resolved import split_units

__all__ = ["Draft", "DraftClause", "DraftHeader", "draft"]

_NAME_CHARS = re.compile(r"[^\w\-]")
_NAME = re.compile(r"[^\W\d][\w\-]*")  # the grammar's NAME
_MAX_NAME = 16
_MAX_MATTER = 30
_SENTENCE_END = re.compile(r"[。；;:：\n]")

# The stub reasons: each is a proposal the drafter confirms or rewrites before deleting 待审.
_REASON_TITLE = "文件标题"
_REASON_HEADING = "标题：内容见其下各条"
_REASON_INTRO = "引言（待核）：不设路径、门槛或责任单位；各项任务见其下各条"
_REASON_ASSISTING_ONLY = "只写了配合单位，未写牵头或责任单位（待核：写明理由，或补写分工）"
_REASON_OPEN = "未写明牵头、责任或配合单位（待核：写明不编码的理由，或改写为规则、分工）"


@dataclass(frozen=True)
class DraftHeader:
    """The policy header's facts, from the source's metadata; "" where it gives none."""

    id: str  # the policy id, which is the source document's id
    title: str
    doc_number: str
    issuer: str
    region: str
    issued: str  # YYYY-MM-DD: the document's own date
    published: str  # YYYY-MM-DD: the page's publication date


@dataclass(frozen=True)
class DraftClause:
    """One clause of the source, in reading order."""

    id: str
    label: str  # its numbering label as printed ("11.", "（三）"); "" for a paragraph
    heading: str
    text: str  # its own text, from the label to its first sub-clause
    has_children: bool


@dataclass(frozen=True)
class Draft:
    text: str  # the policy file, in canonical form
    routes: int
    skips: int


def draft(header: DraftHeader, clauses: Sequence[DraftClause]) -> Draft:
    """The policy file for the document: header, then one item or more per clause."""
    items: list[ast.Item] = [_header(header)]
    names: set[str] = set()
    routes = 0
    for clause in clauses:
        finds = named_units(clause.text)
        drafted = [_route(clause, units, names) for units in finds if units.routable]
        if drafted:
            items += drafted
            routes += len(drafted)
        else:
            items.append(ast.Skip(clause.id, _reason(header, clause, finds), unreviewed=True))
    comments = tuple((0, line) for line in _comments(header))
    module = ast.Module(f"{header.id}.zc", tuple(items), "zh", comments)
    return Draft(format_module(module), routes, len(items) - 1 - routes)


def _header(h: DraftHeader) -> ast.PolicyHeader:
    return ast.PolicyHeader(
        id=h.id,
        source=h.id,
        title=h.title,
        doc_number=h.doc_number,
        issuer=h.issuer,
        region=h.region,
        issued=h.issued,
        effective_from=h.issued or h.published,
    )


def _comments(h: DraftHeader) -> list[str]:
    lines = [
        f"# {h.title}" if h.title else f"# {h.id}",
        f"# 由 zhengce draft 按 policies/sources/{h.id}.txt 起草。",
        "# 带“待审”的条目尚未审阅：逐条对照原文核对单位、引文和事项，",
        "# 不编码的写明真实理由，改好后删去“待审”（zhengce check 在此之前警告）。",
    ]
    if not h.issued and h.published:
        lines.append(f"# 施行：元数据没有成文日期，按网页发布日期 {h.published} 起草（假设），")
        lines.append("# 请核对原文。")
    elif not h.issued:
        lines.append("# 施行：元数据没有日期，请按原文在文件头写明 施行 YYYY-MM-DD。")
    return lines


def _route(clause: DraftClause, units: NamedUnits, names: set[str]) -> ast.Route:
    matter = _matter(clause)
    cites = [ast.Cite(clause.id, clause.heading)] if clause.heading else []
    if units.quote != clause.heading:
        cites.append(ast.Cite(clause.id, units.quote))
    return ast.Route(
        name=_name(clause, matter, names),
        title=matter,
        cites=tuple(cites),
        matters=(matter,),
        lead=_units(units.lead),
        responsible=_units(units.responsible),
        assisting=_units(units.assisting),
        unreviewed=True,
    )


def _units(written: str) -> ast.Units | None:
    if not written:
        return None
    named = split_units(written)
    return ast.Units(written, named if len(named) > 1 else ())


def _matter(clause: DraftClause) -> str:
    """What the task is: its heading, else the start of its first sentence."""
    if clause.heading:
        return clause.heading
    body = clause.text[len(clause.label) :].strip()
    end = _SENTENCE_END.search(body)
    return (body[: end.start()] if end else body)[:_MAX_MATTER] or clause.id


def _name(clause: DraftClause, matter: str, names: set[str]) -> str:
    """A route name from the matter: its word characters, unique in the file. A name may not
    start with a digit, so "121人才梯队项目" of item 11 becomes 第11项121人才梯队项目."""
    base = _NAME_CHARS.sub("", matter)[:_MAX_NAME]
    if not _NAME.fullmatch(base) or base in RESERVED:
        base = "第" + _NAME_CHARS.sub("", clause.id.rsplit(".", 1)[-1]) + "项" + base
    name, n = base, 1
    while name in names:
        n += 1
        name = f"{base}-{n}"
    names.add(name)
    return name


def _reason(header: DraftHeader, clause: DraftClause, finds: list[NamedUnits]) -> str:
    body = clause.text[len(clause.label) :].strip()
    if not clause.label and body == header.title:
        return _REASON_TITLE
    if finds:
        return _REASON_ASSISTING_ONLY
    if clause.has_children:
        return _REASON_HEADING if body in ("", clause.heading) else _REASON_INTRO
    return _REASON_OPEN
