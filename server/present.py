"""Human presentation of decisions, policies and coverage for the terminal (rich); routes
and search hits are server.present_kb's."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from dsl.coverage import DocumentCoverage
from dsl.decide import Decision
from dsl.vocabulary import Coverage, Outcome
from server.labels import badge
from server.results import PolicyList, PolicyResult

# The terminal's colour for each outcome; the words are the page's (server.labels).
OUTCOME_STYLES = {
    Outcome.PROHIBIT: "bold red",
    Outcome.APPROVE: "bold yellow",
    Outcome.FILE: "bold green",
    Outcome.NONE: "bold",
    Outcome.NOT_COVERED: "bold magenta",
    Outcome.UNDETERMINED: "bold cyan",
}


def decision(d: Decision, explain: bool) -> RenderableType:
    label, style = f"{badge(d.outcome, d.strength)} {d.outcome}", OUTCOME_STYLES[d.outcome]
    parts: list[RenderableType] = [
        Text.assemble(("结论 outcome: ", "bold"), (label, style)),
        *([Text(d.reason)] if d.reason else []),
        *(Text(f"  {o.rule} 被 {o.by} 取代：{o.reason}", style="dim") for o in d.overridden),
        *(Text(f"  例外途径 {r}") for r in d.exception_routes),
        Text(
            f"日期 date {d.date} · 适用政策 policies in force: {', '.join(d.policies) or '—'}"
            f" · revision {d.revision}",
            style="dim",
        ),
    ]
    if d.steps:
        path = Table(title="审批路径 path", show_header=True, title_justify="left")
        path.add_column("#")
        path.add_column("机关 authority")
        path.add_column("动作 action")
        path.add_column("依据 basis")
        for i, s in enumerate(d.steps, 1):
            clauses = dict.fromkeys(f"{b.document} {b.clause}" for b in s.basis)
            path.add_row(str(i), s.authority, s.action, "; ".join(clauses))
        parts.append(path)
    for title, items in (
        ("义务 obligations", d.obligations),
        ("奖励 benefits", d.benefits),
        ("说明 notes", d.notes),
    ):
        if items:
            parts.append(Text(title, style="bold"))
            parts.extend(Text(f"  • {x}") for x in items)
    if d.rules:
        parts.append(Text("适用规则 rules fired", style="bold"))
        parts.extend(Text(f"  ✓ {r.id}  {r.title}") for r in d.rules)
    if d.undetermined:
        parts.append(Text("未能确定 undetermined", style="bold"))
        for u in d.undetermined:
            why = []
            if u.missing_facts:
                why.append("缺少事实 missing facts: " + ", ".join(u.missing_facts))
            if u.unspecified_parameters:
                why.append("文件未规定 unspecified: " + ", ".join(u.unspecified_parameters))
            steps = " → ".join(f"{s.authority} {s.action}" for s in u.steps)
            parts.append(
                Text(
                    f"  ? {u.rule}  {u.title}\n      {'; '.join(why)}"
                    + (f"\n      path if it applies: {steps}" if steps else "")
                )
            )
    if d.citations:
        parts.append(Text("依据 citations", style="bold"))
        for c in d.citations:
            number = f" {c.doc_number}" if c.doc_number else ""
            parts.append(Text(f"  [{c.document}{number} {c.clause}] “{c.quote}”"))
    if d.parameters:
        parts.append(Text("参数 parameters", style="bold"))
        for p in d.parameters:
            value = "未规定 unspecified by the text" if p.unspecified else p.value
            parts.append(Text(f"  {p.policy}/{p.name} = {value}"))
    if d.next_questions:
        parts.append(Text("下一个问题 next questions", style="bold"))
        parts.extend(
            Text(f"  {q.label}（{q.field}）：可确定 {q.settles} 项结论") for q in d.next_questions
        )
    if explain and d.trace:
        parts.append(Text("为何适用 why these rules fired", style="bold"))
        for t in d.trace:
            parts.append(Text(f"  ✓ {t.rule}"))
            parts.extend(Text(f"      ✓ {c.text}", style="dim") for c in t.conditions)
    if explain and d.why_not:
        parts.append(Text("未适用的规则 why not", style="bold"))
        for w in d.why_not:
            parts.append(Text(f"  ✗ {w.rule}: {w.text or w.condition}", style="dim"))
    if explain and d.counterfactuals:
        parts.append(Text("如何改变结果 what would change the outcome", style="bold"))
        parts.extend(Text(f"  • {c.text}") for c in d.counterfactuals)
        if not d.counterfactuals_complete:
            parts.append(Text("  （搜索已达上限，可能还有其他改变方式）", style="dim"))
    return Panel(Group(*parts), title="zhengce decision", expand=False)


def coverage(docs: Sequence[DocumentCoverage]) -> RenderableType:
    table = Table(title="clause coverage", title_justify="left")
    for col in ("document", "policy", "encoded", "skipped", "by parts", "open", "failing"):
        table.add_column(col)
    for d in docs:
        failing = ", ".join(c.clause for c in d.failing)
        table.add_row(
            d.document,
            d.policy or "— (not yet encoded)",
            *(str(d.count(status)) for status in Coverage),
            Text(failing or "—", style="red" if failing else ""),
        )
    return table


def policy_list(found: PolicyList) -> RenderableType:
    table = Table(title=f"policies · revision {found.revision}", title_justify="left")
    for col in ("policy", "title", "region", "in force", "rules", "routes", "open"):
        table.add_column(col)
    for p in found.policies:
        h = p.policy.header
        period = f"{h.effective_from or h.issued} – {h.effective_until or ''}"
        table.add_row(
            p.policy.id,
            h.title,
            h.region,
            period,
            str(len(p.policy.rules)),
            str(len(p.policy.routes)),
            str(p.coverage.count(Coverage.OPEN) if p.coverage else 0),
        )
    return table


def policy(found: PolicyResult) -> RenderableType:
    p, h = found.policy, found.policy.header
    lines: list[RenderableType] = [
        Text.assemble(("政策 ", "bold"), f"{p.id}  {h.title}"),
        Text(f"来源 source: {h.source} {found.source_title} {h.doc_number}", style="dim"),
    ]
    lines += [Text(f"规则 rule {r.key}: {r.ast.title} → {r.ast.outcome or '—'}") for r in p.rules]
    lines += [Text(f"分工 route {r.key}: {r.ast.title}") for r in p.routes]
    if found.coverage:
        lines.append(coverage([found.coverage]))
    return Panel(Group(*lines), expand=False)
