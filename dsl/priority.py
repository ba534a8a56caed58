"""Declared precedence (`例外` / `优先于`): which rules a target names, and the check that it
names some. Targets can reach into other policies, so they are checked once the whole set is
read (dsl/load.py), not file by file."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from dsl import ast
from dsl.diagnostic_text import Wording, advise, diagnostic
from dsl.errors import Diagnostic
from dsl.vocabulary import Code


def target_keys(target: str, policy: str, rules: Mapping[str, Collection[str]]) -> tuple[str, ...]:
    """The keys of the rules `target` names for a rule of `policy`, given every policy's rule
    names: a rule key `policy/rule`; else a rule of the same policy; else every rule of the
    policy with that id. () when it names none."""
    if "/" in target:
        other, _, name = target.partition("/")
        return (target,) if name in rules.get(other, ()) else ()
    if target in rules.get(policy, ()):
        return (f"{policy}/{target}",)
    return tuple(f"{target}/{name}" for name in rules.get(target, ()))


def priorities(rule: ast.Rule) -> Iterable[tuple[str, ast.Priority]]:
    """Each declared precedence of the rule with its kind, `exception_to` or `prevails_over`."""
    yield from (("exception_to", p) for p in rule.exception_to)
    yield from (("prevails_over", p) for p in rule.prevails_over)


_KINDS = {
    "exception_to": Wording("`例外`（exception_to）", "exception_to"),
    "prevails_over": Wording("`优先于`（prevails_over）", "prevails_over"),
}


def check_priorities(modules: Iterable[ast.Module]) -> list[Diagnostic]:
    """unknown_priority_target for a target that names no other rule of the set."""
    policies = [(m.header.id, m) for m in modules if m.header is not None]
    rules = {pid: {r.name for r in m.rules} for pid, m in policies}
    diags = []
    for pid, module in policies:
        for rule in module.rules:
            for kind, p in priorities(rule):
                if set(target_keys(p.target, pid, rules)) - {f"{pid}/{rule.name}"}:
                    continue
                diags.append(
                    diagnostic(
                        Code.UNKNOWN_PRIORITY_TARGET,
                        p.span,
                        rule=rule.name,
                        kind=_KINDS[kind],
                        target=p.target,
                        hint=advise("priority_target"),
                    )
                )
    return diags
