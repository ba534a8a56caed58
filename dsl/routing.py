"""Routing by id: which units lead, are responsible for and assist with a matter, in the
policies in force for a region."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from dsl.decide import Citation, in_force
from dsl.resolved import PolicySet, RouteR


@dataclass(frozen=True)
class RouteAnswer:
    rule: str
    title: str
    matters: tuple[str, ...]
    lead: tuple[str, ...]
    lead_original: str
    responsible: tuple[str, ...]
    responsible_original: str
    assisting: tuple[str, ...]
    assisting_original: str
    notes: tuple[str, ...]
    citations: tuple[Citation, ...]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def answer(policies: PolicySet, route: RouteR) -> RouteAnswer:
    policy = policies.policy(route.policy)
    assert policy is not None  # a route always belongs to a policy of its set
    a = route.ast
    return RouteAnswer(
        rule=route.key,
        title=a.title,
        matters=a.matters,
        lead=route.lead,
        lead_original=a.lead.original if a.lead else "",
        responsible=route.responsible,
        responsible_original=a.responsible.original if a.responsible else "",
        assisting=route.assisting,
        assisting_original=a.assisting.original if a.assisting else "",
        notes=a.notes,
        citations=tuple(Citation.of(policy, c) for c in a.cites),
    )


def routes_in_force(policies: PolicySet, region: str, date: str) -> list[RouteR]:
    active = {p.id for p in policies.policies if in_force(p, region, date)}
    return [r for r in policies.routes if r.policy in active]


def find_route(policies: PolicySet, route_id: str, region: str, date: str) -> RouteAnswer | None:
    """`route_id` is `policy/name` or, when unambiguous, the bare name."""
    for r in routes_in_force(policies, region, date):
        if route_id in (r.key, r.ast.name):
            return answer(policies, r)
    return None
