"""The impact of an edit: what changes when the same projects are decided under two policy
sets, grouped by the edit that causes each change. Pure: the caller gives both sets with
their evaluators and the projects (server.impact gathers them from git, the decision log,
the case folders and dsl.boundary).

1. `diff_sets` lists the edits between the sets by key: rules and routes added, removed or
   changed (with what changed: condition, outcome, steps …), and policies whose header
   changed (region, period, source …).
2. `replay` decides every project under both sets and keeps those whose outcome, strength,
   path, obligations or citations differ (`compare`), with the rules and policies that took
   part in either decision.
3. `summarise` groups the changed decisions by edit. A change belongs to each edited rule
   that fired, was undetermined or was overridden in either decision; a change no edited
   rule explains belongs to the header edits of the policies in force in either decision,
   and failing those to the group `other` (the schema or the industry classification).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from dsl.dates import BadDate
from dsl.decide import Decision, Evaluator, decide, evaluation_date
from dsl.resolved import PolicySet

EXAMPLES = 3  # example projects shown per group
# The decision's parts an edit is judged by, in the order they are reported.
FIELDS = ("outcome", "strength", "steps", "obligations", "citations")
INPUT = "input"  # the change when one set takes a project the other refuses


class EditKind(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"
    OTHER = "other"  # decisions changed by no rule or policy edit


class Target(StrEnum):
    RULE = "rule"
    ROUTE = "route"
    POLICY = "policy"  # the policy's header: region, period, source, document number
    OTHER = "other"


@dataclass(frozen=True)
class Edit:
    kind: EditKind
    target: Target
    key: str  # a rule or route key (policy/name), a policy id, or "" for `other`
    policy: str
    title: str
    aspects: tuple[str, ...] = ()  # for `changed`: what differs, e.g. condition, steps


OTHER = Edit(EditKind.OTHER, Target.OTHER, "", "", "不由规则或政策改动解释的变化（模式、行业分类）")


@dataclass(frozen=True)
class Project:
    """A project to decide, in the order gathered (`index`), with where it comes from:
    `origin` is its kind (log, test, case, example, boundary, generated) and `label` the
    place (a file and case, a decision id, a threshold)."""

    index: int
    facts: Mapping[str, Any] = field(hash=False, compare=False)
    date: str | None
    origin: str
    label: str


@dataclass(frozen=True)
class FieldChange:
    field: str  # one of FIELDS, or INPUT (the error codes of the set that refuses it)
    before: tuple[str, ...]
    after: tuple[str, ...]


@dataclass(frozen=True)
class Changed:
    """A project whose decision differs, how, and the rules and policies that took part in
    either decision (`rules`: fired, undetermined or overridden; `policies`: in force)."""

    project: Project
    changes: tuple[FieldChange, ...]
    rules: tuple[str, ...]
    policies: tuple[str, ...]


@dataclass(frozen=True)
class Replay:
    decided: int  # projects decided under both sets, or refused by one of them
    invalid: int  # projects neither set takes (their facts fit neither schema)
    changed: tuple[Changed, ...]  # in project order

    @classmethod
    def merge(cls, parts: Iterable[Replay]) -> Replay:
        """Partial replays (of disjoint partitions) as one, in project order."""
        parts = list(parts)
        changed = sorted((c for p in parts for c in p.changed), key=lambda c: c.project.index)
        return cls(sum(p.decided for p in parts), sum(p.invalid for p in parts), tuple(changed))


@dataclass(frozen=True)
class Group:
    """The changed decisions one edit takes part in: how many, how many change each field,
    where their projects come from, and the first few as examples."""

    edit: Edit
    count: int
    fields: tuple[tuple[str, int], ...]
    origins: tuple[tuple[str, int], ...]
    examples: tuple[Changed, ...]


@dataclass(frozen=True)
class Impact:
    base_revision: str
    revision: str
    projects: int
    origins: tuple[tuple[str, int], ...]  # projects per origin
    decided: int
    invalid: int
    changed: int  # projects whose decision changed, each counted once
    edits: tuple[Edit, ...]
    groups: tuple[Group, ...]  # most changes first


Side = tuple[PolicySet, Evaluator]


# ---- edits --------------------------------------------------------------------------------


def diff_sets(base: PolicySet, new: PolicySet) -> tuple[Edit, ...]:
    """Every edit from `base` to `new`: policies' headers, then rules, then routes, each by
    key in the new set's order (removed ones after)."""
    edits = _edits(Target.POLICY, _policies(base), _policies(new))
    edits += _edits(Target.RULE, _rules(base), _rules(new))
    edits += _edits(Target.ROUTE, _routes(base), _routes(new))
    return tuple(edits)


Item = tuple[str, str, dict[str, object]]  # policy, title, and what it means, part by part


def _edits(target: Target, before: Mapping[str, Item], after: Mapping[str, Item]) -> list[Edit]:
    edits = []
    for key in [*after, *(k for k in before if k not in after)]:
        a, b = before.get(key), after.get(key)
        if a is None and b is not None:
            edits.append(Edit(EditKind.ADDED, target, key, b[0], b[1]))
        elif b is None and a is not None:
            edits.append(Edit(EditKind.REMOVED, target, key, a[0], a[1]))
        elif a is not None and b is not None:
            aspects = tuple(part for part, meant in a[2].items() if b[2][part] != meant)
            if aspects:
                edits.append(Edit(EditKind.CHANGED, target, key, b[0], b[1], aspects))
    return edits


def _policies(policies: PolicySet) -> dict[str, Item]:
    found = {}
    for p in policies.policies:
        h = p.header
        meaning: dict[str, object] = {
            "region": h.region,
            "period": (h.effective_from, h.effective_until, h.trial),
            "source": (h.source, h.doc_number, p.provenance),
            "title": (h.title, h.issuer, h.issued),
        }
        found[p.id] = (p.id, h.title, meaning)
    return found


def _rules(policies: PolicySet) -> dict[str, Item]:
    found = {}
    for p in policies.policies:
        for rule in p.rules:
            r = rule.ast
            meaning: dict[str, object] = {
                # Resolved: each bound in its field's unit, so 1000万元 and 0.1亿元 are equal.
                "condition": rule.cond,
                "outcome": r.outcome,
                "strength": (r.strength, rule.qualifiers),
                "steps": r.steps,
                "obligations": r.obligations,
                "benefits": r.benefits,
                "notes": r.notes,
                "citations": r.cites,
                "priority": (r.exception_to, r.prevails_over),
                "exception_routes": r.exception_routes,
                "parameters": tuple(p.params[n] for n in rule.params),
                "title": r.title,
            }
            found[rule.key] = (p.id, r.title, meaning)
    return found


def _routes(policies: PolicySet) -> dict[str, Item]:
    found = {}
    for route in policies.routes:
        r = route.ast
        meaning: dict[str, object] = {
            "matters": r.matters,
            "lead": route.lead,
            "responsible": route.responsible,
            "assisting": route.assisting,
            "citations": r.cites,
            "notes": r.notes,
            "title": r.title,
        }
        found[route.key] = (route.policy, r.title, meaning)
    return found


# ---- deciding -----------------------------------------------------------------------------


Summary = dict[str, tuple[str, ...]]


def summary(d: Decision) -> Summary:
    """The parts of a decision an edit is judged by, as text."""
    return {
        "outcome": (str(d.outcome),),
        "strength": (str(d.strength),),
        "steps": tuple(f"{s.authority} {s.action}" for s in d.steps),
        "obligations": d.obligations,
        "citations": tuple(f"{c.document} {c.clause}「{c.quote}」" for c in d.citations),
    }


def compare(before: Decision, after: Decision) -> tuple[FieldChange, ...]:
    a, b = summary(before), summary(after)
    return tuple(FieldChange(f, a[f], b[f]) for f in FIELDS if a[f] != b[f])


def _taking_part(d: Decision) -> set[str]:
    return (
        {r.id for r in d.rules} | {u.rule for u in d.undetermined} | {o.rule for o in d.overridden}
    )


def _decide(side: Side, project: Project) -> Decision | tuple[str, ...]:
    """The decision, or the error codes when the set's schema refuses the project."""
    policies, evaluator = side
    facts, errors = policies.schema.validate(project.facts)
    if errors:
        return tuple(sorted({str(e.code) for e in errors}))
    try:
        day = evaluation_date(facts, project.date)
    except BadDate:
        return ("bad_date",)
    return decide(policies, evaluator, facts, day, explain=False)


def replay(projects: Iterable[Project], base: Side, new: Side) -> Replay:
    """Decide each project under both sets; keep those whose decisions differ."""
    decided = invalid = 0
    changed = []
    for project in projects:
        before, after = _decide(base, project), _decide(new, project)
        if isinstance(before, tuple) and isinstance(after, tuple):
            invalid += 1
            continue
        decided += 1
        if isinstance(before, Decision) and isinstance(after, Decision):
            changes = compare(before, after)
        else:
            codes = (x if isinstance(x, tuple) else () for x in (before, after))
            changes = (FieldChange(INPUT, *codes),)
        if changes:
            made = [d for d in (before, after) if isinstance(d, Decision)]
            rules = sorted(set().union(*(_taking_part(d) for d in made)))
            policies = sorted({p for d in made for p in d.policies})
            changed.append(Changed(project, changes, tuple(rules), tuple(policies)))
    return Replay(decided, invalid, tuple(changed))


# ---- grouping -----------------------------------------------------------------------------


def attribute(change: Changed, edits: Sequence[Edit]) -> tuple[Edit, ...]:
    """The edits a changed decision belongs to (see the module docstring)."""
    rules = set(change.rules)
    found = tuple(e for e in edits if e.target == Target.RULE and e.key in rules)
    if found:
        return found
    policies = set(change.policies)
    found = tuple(e for e in edits if e.target == Target.POLICY and e.key in policies)
    return found or (OTHER,)


def summarise(
    base: PolicySet,
    new: PolicySet,
    projects: Sequence[Project],
    replayed: Replay,
    examples: int = EXAMPLES,
) -> Impact:
    edits = diff_sets(base, new)
    members: dict[Edit, list[Changed]] = {}
    for change in replayed.changed:
        for edit in attribute(change, edits):
            members.setdefault(edit, []).append(change)
    groups = [_group(edit, found, examples) for edit, found in members.items()]
    groups.sort(key=lambda g: (-g.count, g.edit.key))
    return Impact(
        base.revision,
        new.revision,
        len(projects),
        _counted(p.origin for p in projects),
        replayed.decided,
        replayed.invalid,
        len(replayed.changed),
        edits,
        tuple(groups),
    )


def _group(edit: Edit, found: Sequence[Changed], examples: int) -> Group:
    fields = Counter(c.field for change in found for c in change.changes)
    order = [*FIELDS, INPUT]
    return Group(
        edit,
        len(found),
        tuple(sorted(fields.items(), key=lambda kv: order.index(kv[0]))),
        _counted(c.project.origin for c in found),
        tuple(found[:examples]),
    )


def _counted(items: Iterable[str]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(Counter(items).items()))
