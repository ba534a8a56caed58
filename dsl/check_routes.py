"""Routes and headers against their source: every unit a route names is in the clauses it
cites, and a policy's region is its document's.

A unit is in a clause when its normalised name is in the normalised text, or when the unit
list as written shares a modifier or a head among its items (Chinese coordination), and the
name spells one item out: "各市、縣(區)政府" names 各市政府 and 各縣(區)政府, and
"市、区(市)县领导班子成员" names 市领导班子成员. Nothing else is inferred: a unit the clauses do
not write is an error, because a route that names the wrong unit answers the wrong office.
"""

from __future__ import annotations

from collections.abc import Callable

from dsl import ast
from dsl.diagnostic_text import advise, diagnostic
from dsl.errors import Diagnostic
from dsl.resolved import split_units
from dsl.vocabulary import Code, Role


def spelled_out(name: str, items: list[str]) -> bool:
    """Whether `name` is one item of a coordinated list with the list's shared modifier (a
    prefix of an earlier item) and/or shared head (a suffix of a later item) added."""
    for i, item in enumerate(items):
        start = name.find(item)
        if start < 0:
            continue
        modifier, head = name[:start], name[start + len(item) :]
        if not (modifier or head):
            continue
        shares_modifier = not modifier or any(
            e.startswith(modifier) and e != modifier for e in items[:i]
        )
        shares_head = not head or any(e.endswith(head) and e != head for e in items[i + 1 :])
        if shares_modifier and shares_head:
            return True
    return False


def check_units(
    route: ast.Route, texts: dict[str, str], normalize: Callable[[str], str]
) -> list[Diagnostic]:
    """`texts`: the text of each clause the route cites (clause id -> text), those that exist."""
    if not texts:
        return []
    haystack = [normalize(t) for t in texts.values()]
    clauses = list(texts)
    diags = []
    for role, units in (
        (Role.LEAD, route.lead),
        (Role.RESPONSIBLE, route.responsible),
        (Role.ASSISTING, route.assisting),
    ):
        if units is None:
            continue
        original = normalize(units.original)
        items = [normalize(i) for i in split_units(units.original)]
        for name in (units.original, *units.names):
            norm = normalize(name)
            if any(norm in t for t in haystack):
                continue
            # A name spelt out from the list counts when the list itself is in the clauses.
            listed = any(original in t for t in haystack)
            if name != units.original and listed and spelled_out(norm, items):
                continue
            diags.append(
                diagnostic(
                    Code.UNIT_NOT_IN_CLAUSE,
                    units.span,
                    route=route.name,
                    role=role,
                    name=name,
                    clauses=clauses,
                    hint=advise("unit_as_written"),
                )
            )
    return diags


def check_region(header: ast.PolicyHeader, document_region: str | None) -> list[Diagnostic]:
    """A policy applies where its document does: its 地区 must be the metadata's region."""
    if not document_region or not header.region:
        return []
    if header.region.strip("/") == document_region.strip("/"):
        return []
    return [
        diagnostic(
            Code.REGION_MISMATCH,
            header.span,
            policy=header.id,
            region=header.region,
            source=header.source,
            document_region=document_region,
            hint=advise("source_region"),
        )
    ]
