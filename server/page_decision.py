"""The decision page's view: the logged decision (server.views) with what the page adds for a
reviewer: the headline sentence, the facts with their source, citations grouped by clause
with a provenance notice, counterfactuals split into those that decide and the rest, and,
for a region no policy covers, the regions the reviewer probably meant."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, urlencode

from markupsafe import Markup, escape

from dsl.resolved import PolicySet
from dsl.vocabulary import Outcome, Strength
from kb.corpus import Corpus
from server import api_models as m
from server import views
from server.decision_log import LoggedDecision
from server.labels import OUTCOMES, PATHS, beijing, fact_text, idents, short_place
from server.provenance import notice
from server.regions import regions, suggest

__all__ = ["DATE", "EXPLAIN", "decision_view", "form_values", "headline"]

# The form's own controls (server.web): the evaluation date and whether to explain.
DATE, EXPLAIN = "_date", "_explain"
DECISIVE = (Outcome.PROHIBIT, Outcome.APPROVE, Outcome.FILE)
# How a non-mandatory outcome is said in the headline (the badge says it in full).
_FIRMNESS = {Strength.PRESUMPTIVE: "原则上", Strength.BY_LAW: "依法", Strength.DISCRETIONARY: "可"}


def form_values(project: Mapping[str, Any]) -> dict[str, str]:
    """A project's facts as form control values."""
    out = {}
    for name, value in project.items():
        if isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif isinstance(value, float) and value.is_integer():
            out[name] = str(int(value))
        elif value is not None:
            out[name] = str(value)
    return out


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _where(d: m.Decision, policies: PolicySet, rule: str) -> str:
    """嘉定 四.(二).6: the rule's region, said short, and the first clause it cites (from the
    citations when the rule is no longer in the policy set)."""
    policy_id, _, name = rule.partition("/")
    policy = policies.policy(policy_id)
    rules = policy.rules if policy else ()
    found = next((r for r in rules if r.ast.name == name and r.ast.cites), None)
    clause = found.ast.cites[0].clause if found else ""
    if not clause:
        clause = next((c.clause for c in d.citations if c.policy == policy_id), "")
    place = short_place(policy.header.region) if policy else policy_id
    return f"{place} {clause}".strip()


def headline(d: m.Decision, policies: PolicySet, label: Mapping[str, str], edit: str) -> Markup:
    """The answer in one sentence: "禁止：不符合规划不予准入（嘉定 四.(二).6），审批路径因此不
    适用"; for an undetermined decision the facts to give, each a link to its form field."""
    if d.outcome == Outcome.UNDETERMINED:
        parts = []
        if d.missing_facts:
            links = [
                Markup('<a href="{}#f-{}">{}</a>').format(edit, quote(f), label.get(f, f))
                for f in d.missing_facts
            ]
            parts.append(Markup("请补充 ") + Markup("、").join(links))
        unspecified = _unique(p for u in d.undetermined for p in u.unspecified_parameters)
        if unspecified:
            parts.append(escape("文件未规定 " + "、".join(unspecified)))
        return Markup("未能确定：") + (Markup("；").join(parts) if parts else idents(d.reason))
    if d.outcome == Outcome.NOT_COVERED:
        return idents(d.reason or "本系统未覆盖该地区")
    if d.outcome == Outcome.NONE:
        return Markup("无适用规则：") + idents(d.reason)
    deciding = d.decided_by or next((r.id for r in d.rules if r.outcome == d.outcome), "")
    sentence = Markup("{}{}：").format(_FIRMNESS.get(d.strength, ""), OUTCOMES[d.outcome])
    if deciding:
        name = deciding.partition("/")[2] or deciding
        sentence += idents(name) + escape(f"（{_where(d, policies, deciding)}）")
    outcome_of = {r.id: r.outcome for r in d.rules}
    beaten = _unique(
        PATHS.get(outcome_of.get(o.rule) or "", "") for o in d.overridden if o.by == deciding
    )
    if any(beaten):
        sentence += escape("，" + "、".join(b for b in beaten if b) + "因此不适用")
    if d.strength == Strength.PRESUMPTIVE:
        routes = "、".join(d.exception_routes)
        sentence += escape(f"；可例外：{routes}" if routes else "；可例外，文件未写明由谁决定例外")
    return sentence


def _citations(d: m.Decision, policies: PolicySet, corpus: Corpus) -> list[dict[str, Any]]:
    """The citations, one per clause with every quote of it located, and the notice for a
    source that is not the official text."""
    grouped: dict[tuple[str, str], dict[str, Any]] = {}
    for c in d.citations:
        group = grouped.get((c.document, c.clause))
        if group is None:
            title = corpus.document(c.document).title if corpus.has_document(c.document) else ""
            group = grouped[(c.document, c.clause)] = {
                **c.model_dump(),
                "title": title,
                "spans": [],
                "unlocated": [],
                "notice": notice(policies, corpus, c.document),
            }
        if c.quote_at:
            group["spans"].append(c.quote_at)
        elif c.quote not in group["unlocated"]:
            group["unlocated"].append(c.quote)
    return list(grouped.values())


def _retries(
    d: m.Decision, known: PolicySet, edit: Mapping[str, str]
) -> list[tuple[str, list[tuple[str, str]], str]]:
    """For a region no policy covers: each region the reviewer probably meant, with the form
    fields that evaluate the project there at once and the form prefilled with it."""
    typed = edit.get("region", "")
    if d.outcome != Outcome.NOT_COVERED or not typed:
        return []
    found = []
    for region in suggest(typed, regions(known)):
        fields = {**edit, "region": region}
        if fields.pop(EXPLAIN, "on") != "off":
            fields[EXPLAIN] = "on"
        found.append((region, list(fields.items()), "/?" + urlencode({**edit, "region": region})))
    return found


def decision_view(policies: PolicySet, corpus: Corpus, logged: LoggedDecision) -> dict[str, Any]:
    schema = policies.schema
    d = views.logged_decision(logged).result
    project = logged.input.get("project", {})
    labels = {f.name: f.label for f in schema.fields}
    edit = {**form_values(project), DATE: logged.input.get("date") or ""}
    if not logged.input.get("explain"):
        edit[EXPLAIN] = "off"
    edit_url = "/?" + urlencode(edit)
    facts = d.facts or [m.FactUsed(name=k, value=v, source="given") for k, v in project.items()]
    related: dict[tuple[str, str], list[tuple[m.Related, str]]] = {}
    for r in d.related:
        title = corpus.document(r.document).title if corpus.has_document(r.document) else ""
        related.setdefault((r.near.document, r.near.clause), []).append((r, title))
    return {
        "d": d,
        "headline": headline(d, policies, labels, edit_url),
        "logged_at": beijing(logged.created_at),
        "facts": [
            (f.name, labels.get(f.name, ""), fact_text(schema, f.name, f.value), f.source)
            for f in facts
        ],
        "label": lambda name: labels.get(name, ""),
        "traces": {t.rule: t for t in d.trace},
        "overridden": {o.rule: o for o in d.overridden},
        "decisive": [c for c in d.counterfactuals if c.outcome in DECISIVE],
        "other_changes": [c for c in d.counterfactuals if c.outcome not in DECISIVE],
        "citations": _citations(d, policies, corpus),
        "related": related,
        "policy_of": {p.header.source: p.id for p in policies.policies},
        "edit": edit_url,
        "explained": bool(logged.input.get("explain")),
        "retries": _retries(d, policies, edit),
    }
