"""A search that asks who is in charge ("化工园区清理整顿由谁牵头", "哪个部门负责招商引资")
is answered by the routing rules before the clause hits: the page shows the lead,
responsible and assisting units with their clause.

The rule for showing an answer, so that the card is never a guess:
- the query asks who (由谁, 谁负责, 谁牵头, 哪个部门 …); other searches get no card;
- the matter is the query without its question words, routed among the routing rules of each
  covered region in scope (the search's region, or every region the policy set covers);
- a region's answer is shown only when `Service.route` itself matches (the rule named by its
  id, or a score at or above its calibrated threshold), never its nearest candidates;
- each policy is asked on today's date while in force, or on its last day once it has ended
  (the card then says so); a policy not yet in force is not asked.
"""

from __future__ import annotations

from dataclasses import dataclass

from dsl.dates import today
from dsl.decide import in_period
from dsl.predicates import within
from dsl.resolved import PolicyR
from server import api_models as m
from server import views
from server.provenance import Notice, notice
from server.route_text import asks_who, matter_of
from server.service import Service

__all__ = ["RouteCard", "asks_who", "matter_of", "route_cards"]

MAX_CARDS = 3


@dataclass(frozen=True)
class RouteCard:
    region: str
    policy: PolicyR
    date: str  # the date the policy was asked on
    ended: bool  # the policy is no longer in force (asked on its last day)
    match: m.RouteMatch
    notice: Notice | None  # the policy's source, when it is not the official text


def _asked_on(policy: PolicyR, day: str) -> tuple[str, bool] | None:
    """(date, ended): today while in force, the last day once ended, None before."""
    if in_period(policy, day):
        return day, False
    until = policy.header.effective_until
    if until and until < day:
        return until, True
    return None


def route_cards(service: Service, query: str, region: str = "") -> list[RouteCard]:
    """The confident routing answers to a who-question, best first (at most MAX_CARDS)."""
    matter = matter_of(query)
    if not asks_who(query) or not matter:
        return []
    day = today().isoformat()
    cards: list[tuple[float, RouteCard]] = []
    for policy in service.policies.policies:
        where = policy.header.region
        if region and not (within(region, where) or within(where, region)):
            continue
        asked = _asked_on(policy, day)
        if asked is None or not policy.routes:
            continue
        found = service.route(matter, where, asked[0])
        if found.answer is None or found.answer.rule.partition("/")[0] != policy.id:
            continue  # a rule of a wider region is that region's answer
        match = views.route(found).match
        assert match is not None  # an answer always has its view
        score = 2.0 if match.score is None else match.score  # named by its id: exact
        source = notice(service.policies, service.corpus, policy.header.source)
        cards.append((score, RouteCard(where, policy, asked[0], asked[1], match, source)))
    cards.sort(key=lambda c: -c[0])
    return [card for _, card in cards[:MAX_CARDS]]
