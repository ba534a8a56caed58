"""Clause references as the source numbers them. A citation or a skip may name its clause by
a typed variant of the id (四．（一）．1) or by its bare item number (`依据 16`); the checker
writes the id the source gives (二.(三).16) into the checked policy, so that coverage,
decisions and the page see one id for one clause. A reference that names no clause is left
as written: the checker reports it with the nearest ids (`ClauseSource.nearest_clauses`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from dsl import ast

Resolve = Callable[[str], str | None]


def with_clause_ids(module: ast.Module, resolve: Resolve) -> ast.Module:
    """The module with every clause reference that names a clause written as that clause's
    id; `resolve` gives the id a reference names, or None."""
    return replace(module, items=tuple(_item(item, resolve) for item in module.items))


def _cite(cite: ast.Cite, resolve: Resolve) -> ast.Cite:
    found = resolve(cite.clause)
    return replace(cite, clause=found) if found and found != cite.clause else cite


def _cites(cites: tuple[ast.Cite, ...], resolve: Resolve) -> tuple[ast.Cite, ...]:
    return tuple(_cite(c, resolve) for c in cites)


def _priorities(found: tuple[ast.Priority, ...], resolve: Resolve) -> tuple[ast.Priority, ...]:
    return tuple(replace(p, cite=_cite(p.cite, resolve)) for p in found)


def _item(item: ast.Item, resolve: Resolve) -> ast.Item:
    if isinstance(item, ast.Skip):
        found = resolve(item.clause)
        return replace(item, clause=found) if found and found != item.clause else item
    if isinstance(item, ast.Rule):
        return replace(
            item,
            cites=_cites(item.cites, resolve),
            exception_to=_priorities(item.exception_to, resolve),
            prevails_over=_priorities(item.prevails_over, resolve),
        )
    if isinstance(item, ast.Param | ast.Route):
        return replace(item, cites=_cites(item.cites, resolve))
    return item
