"""Policy tests: table-driven YAML cases beside the policies (policies/tests/*.yaml).

    cases:
      - note: 非供地项目恰好1000万元（以上含本数）应备案
        date: 2024-01-01
        input: {region: 甘肃省/平凉市, land_use: none, investment_wan: 1000}
        want:
          outcome: file
          steps: [[所在工业园区(高新区、集中区), 报送], [市园区办, 备案]]
          rules: [pingliang-2023/非供地项目备案]
          citations: [pingliang-2023:二.4]
      - note: an unknown field is an input error
        input: {region: 甘肃省/平凉市, colour: red}
        want_error: unknown_field

    routes:
      - id: 重大事项包抓
        region: 甘肃省/平凉市
        date: 2024-01-01
        want: {lead: [市园区办], responsible: ["有关县(市、区)", 领导小组成员单位], clause: 二.5}

`want` keys: outcome, steps (exact, ordered), rules (exact set of fired rule ids), citations
(each `policy:clause` must be cited), obligations, benefits, undetermined (exact set),
why_not (rule ids that must be explained), parameters (names that must be reported), notes
(each string must occur in some note, e.g. a qualifier such as 一般); strength, decided_by,
overridden (exact set of overridden rule ids), missing_facts, qualifiers and exception_routes
(exact, ordered), reason (must occur in the decision's reason).
Route `want` keys: lead, responsible and assisting (exact, ordered), clause (must be cited),
or `none: true` when no such route is in force there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dsl.dates import BadDate, date_or_today, parse_date
from dsl.decide import Decision, Evaluator, decide
from dsl.resolved import PolicySet
from dsl.routing import find_route
from dsl.vocabulary import Role

ROUTE_WANT_KEYS = {*Role, "clause", "none"}
WANT_KEYS = {
    "outcome",
    "steps",
    "rules",
    "citations",
    "obligations",
    "benefits",
    "undetermined",
    "why_not",
    "parameters",
    "notes",
    "strength",
    "decided_by",
    "overridden",
    "missing_facts",
    "qualifiers",
    "exception_routes",
    "reason",
}


@dataclass(frozen=True)
class CaseResult:
    file: str
    index: int
    note: str
    failures: tuple[str, ...]
    decision: Decision | None
    route: str = ""  # the routing rule tested, for route cases

    @property
    def passed(self) -> bool:
        return not self.failures


class TestFileError(Exception):
    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise TestFileError(str(path), f"cannot read: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("cases", []), list):
        raise TestFileError(str(path), "expected a mapping with a `cases:` list")
    return data


def load_routes(path: Path) -> list[dict[str, Any]]:
    routes = _read(path).get("routes", [])
    if not isinstance(routes, list):
        raise TestFileError(str(path), "`routes:` must be a list")
    for i, entry in enumerate(routes, 1):
        if not isinstance(entry, dict) or not {"id", "region", "want"} <= set(entry):
            raise TestFileError(str(path), f"route case {i} needs `id`, `region` and `want`")
        unknown = set(entry["want"] or {}) - ROUTE_WANT_KEYS
        if unknown:
            raise TestFileError(str(path), f"route case {i}: unknown want keys {sorted(unknown)}")
        _check_date(path, f"route case {i}", entry)
    return routes


def load_cases(path: Path) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = _read(path).get("cases", [])
    for i, case in enumerate(cases, 1):
        if (
            not isinstance(case, dict)
            or "input" not in case
            or not ("want" in case or "want_error" in case)
        ):
            raise TestFileError(str(path), f"case {i} needs `input` and `want` or `want_error`")
        unknown = set(case.get("want") or {}) - WANT_KEYS
        if unknown:
            raise TestFileError(str(path), f"case {i}: unknown want keys {sorted(unknown)}")
        _check_date(path, f"case {i}", case)
    return cases


def _date(entry: Mapping[str, Any]) -> str | None:
    # YAML reads an unquoted 2024-01-01 as a date; str() gives back the text either way.
    return str(entry["date"]) if entry.get("date") else None


def _check_date(path: Path, which: str, entry: Mapping[str, Any]) -> None:
    date = _date(entry)
    try:
        if date:
            parse_date(date)
    except BadDate as e:
        raise TestFileError(str(path), f"{which}: {e}") from None


def run_case(
    policies: PolicySet, evaluator: Evaluator, case: Mapping[str, Any], file: str, index: int
) -> CaseResult:
    note = str(case.get("note", f"case {index}"))
    facts, errors = policies.schema.validate(case["input"])
    if "want_error" in case:
        codes = {e.code for e in errors}
        fail = (
            ()
            if case["want_error"] in codes
            else (f"want error {case['want_error']}, got {sorted(codes) or 'no error'}",)
        )
        return CaseResult(file, index, note, fail, None)
    if errors:
        return CaseResult(
            file, index, note, tuple(f"input error: {e.message}" for e in errors), None
        )
    decision = decide(policies, evaluator, facts, _date(case))
    return CaseResult(file, index, note, tuple(compare(decision, case["want"])), decision)


def compare(d: Decision, want: Mapping[str, Any]) -> list[str]:
    failures = []

    def check(key: str, got: Any, expected: Any) -> None:
        if got != expected:
            failures.append(f"{key}: want {expected!r}, got {got!r}")

    if "outcome" in want:
        check("outcome", d.outcome, want["outcome"])
    if "steps" in want:
        check("steps", [[s.authority, s.action] for s in d.steps], want["steps"])
    if "rules" in want:
        check("rules", sorted(r.id for r in d.rules), sorted(want["rules"]))
    if "undetermined" in want:
        check("undetermined", sorted(u.rule for u in d.undetermined), sorted(want["undetermined"]))
    for key, got in (
        ("obligations", d.obligations),
        ("benefits", d.benefits),
        ("missing_facts", d.missing_facts),
        ("qualifiers", d.qualifiers),
        ("exception_routes", d.exception_routes),
    ):
        if key in want:
            check(key, list(got), want[key])
    for key, value in (("strength", d.strength), ("decided_by", d.decided_by)):
        if key in want:
            check(key, value, want[key])
    if "overridden" in want:
        check("overridden", sorted(o.rule for o in d.overridden), sorted(want["overridden"]))
    if "reason" in want and want["reason"] not in d.reason:
        failures.append(f"reason: {want['reason']!r} is not in {d.reason!r}")
    # Keys that name things the decision must contain (it may contain more).
    contained = {
        "citations": {f"{c.policy}:{c.clause}" for c in d.citations},
        "why_not": {w.rule for w in d.why_not},
        "parameters": {p.name for p in d.parameters},
    }
    for key, have in contained.items():
        missing = [x for x in want.get(key, []) if x not in have]
        if missing:
            failures.append(f"{key}: missing {missing}; the decision has {sorted(have)}")
    if "notes" in want:
        missing = [n for n in want["notes"] if not any(n in note for note in d.notes)]
        if missing:
            failures.append(f"notes: no note contains {missing}; notes {list(d.notes)}")
    return failures


def run_route_case(
    policies: PolicySet, entry: Mapping[str, Any], file: str, index: int
) -> CaseResult:
    route_id, want = str(entry["id"]), entry["want"]
    note = str(entry.get("note", f"route {route_id}"))
    found = find_route(policies, route_id, str(entry["region"]), date_or_today(_date(entry)))
    failures = []
    if want.get("none"):
        if found is not None:
            failures.append(f"want no route in force, got {found.rule}")
        return CaseResult(file, index, note, tuple(failures), None, route_id)
    if found is None:
        return CaseResult(file, index, note, (f"no route {route_id} in force",), None, route_id)
    for role in Role:
        if role in want and list(getattr(found, role)) != list(want[role]):
            failures.append(f"{role}: want {want[role]!r}, got {list(getattr(found, role))!r}")
    if "clause" in want and want["clause"] not in {c.clause for c in found.citations}:
        failures.append(f"clause: {want['clause']} is not cited by {found.rule}")
    return CaseResult(file, index, note, tuple(failures), None, found.rule)


def run_files(policies: PolicySet, evaluator: Evaluator, files: list[Path]) -> list[CaseResult]:
    results = []
    for path in files:
        for i, case in enumerate(load_cases(path), 1):
            results.append(run_case(policies, evaluator, case, str(path), i))
        for i, entry in enumerate(load_routes(path), 1):
            results.append(run_route_case(policies, entry, str(path), i))
    return results


def rule_coverage(policies: PolicySet, results: list[CaseResult]) -> tuple[set[str], set[str]]:
    """Rules and routes that some case exercised, and those no case did."""
    fired = {r.id for res in results if res.decision for r in res.decision.rules}
    fired |= {u.rule for res in results if res.decision for u in res.decision.undetermined}
    fired |= {res.route for res in results if res.route and res.passed}
    every = {r.key for r in policies.rules} | {r.key for r in policies.routes}
    return fired & every, every - fired
