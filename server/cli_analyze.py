"""`zhengce analyze`: conflicts and gaps between the rules of the policy set (dsl.analyze).
Register with `app.command("analyze")(analyze_command)`."""

from __future__ import annotations

import json

import typer

from dsl.analyze import Analysis, Finding, analyze
from server.cli_common import JsonFlag, context, out, print_json


def analyze_command(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Conflicts and gaps between rules: rules giving different outcomes or paths for one
    project with no declared priority (with a counterexample project), rules no project can
    fire, thresholds of two documents of one region that leave a gap or overlap, and
    presumptive rules a mandatory one always overrides. Exits 1 on an unresolved conflict."""
    analysis = analyze(context(ctx).service(conflicts=False).policies)
    if as_json:
        print_json(analysis.to_json())
    else:
        out.print(render(analysis), highlight=False, markup=False, soft_wrap=True)
    if analysis.conflicts:
        raise typer.Exit(1)


def render(analysis: Analysis) -> str:
    blocks = [_finding(f) for f in analysis.findings]
    if analysis.not_analysed:
        blocks.append("not analysed (condition too large): " + ", ".join(analysis.not_analysed))
    counts = ", ".join(f"{n} {kind}" for kind, n in analysis.counts().items() if n)
    blocks.append(f"{len(analysis.findings)} finding(s){': ' + counts if counts else ''}")
    return "\n\n".join(blocks)


def _finding(f: Finding) -> str:
    lines = [f"{f.kind} ({f.severity}): {' × '.join(f.rules)}"]
    lines += [f"  at {span}" for span in f.spans if span.line]
    lines.append(f"  {f.message}")
    lines += [f'  依据 {c.policy} {c.clause} "{c.quote}"' for c in f.citations]
    example = f.counterexample
    if example is not None:
        project = json.dumps(dict(example.project), ensure_ascii=False)
        lines.append(f"  project on {example.date} (decided: {example.outcome}): {project}")
    return "\n".join(lines)
