"""`zhengce impact`: what an edit of policies/ changes before it is served (server.impact).
Register with `app.command("impact")(impact_command)`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dsl.impact import INPUT, Changed, Edit, EditKind
from server import views
from server.cli_common import JsonFlag, context, err, fail, out, print_view
from server.impact import SERVED, Cases, base_root, default_log, impact, load_base, projects
from server.impact_dask import LOCAL, SetText, client, partitions, replay_on, where
from server.impact_sources import LOG_LIMIT, ImpactInputError, log_engine
from server.results import ImpactResult
from server.service import ENGINES, PolicyLoadError


def impact_command(
    ctx: typer.Context,
    base: Annotated[
        str,
        typer.Option(
            "--base",
            help="What to compare with: a git revision (read with git archive, never "
            f"changed), or `{SERVED}`, the set a running server of this root serves.",
        ),
    ] = "HEAD",
    log: Annotated[
        str | None,
        typer.Option(
            "--log",
            help="SQLAlchemy URL of a decision log whose requests to replay (default: "
            "ZHENGCE_DECISION_LOG, when that log exists).",
        ),
    ] = None,
    no_log: Annotated[bool, typer.Option("--no-log", help="Replay no logged requests.")] = False,
    log_limit: Annotated[
        int, typer.Option("--log-limit", help="The most recent logged requests read.", min=1)
    ] = LOG_LIMIT,
    cases: Annotated[
        Path | None,
        typer.Option(
            "--cases",
            help="A folder of cases to replay instead of tests/golden: golden decisions, "
            "project files, policy test files.",
        ),
    ] = None,
    accept: Annotated[
        bool, typer.Option("--accept", help="Exit 0 even when decisions change.")
    ] = False,
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster",
            help=f"Replay on Dask: a scheduler's address (tcp://host:8786), or `{LOCAL}` "
            "for a local cluster.",
        ),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", help="Workers of a local cluster.", min=1)
    ] = 2,
    engine: Annotated[
        str | None,
        typer.Option(
            "--engine", help=f"Evaluator: {' or '.join(ENGINES)} (default: the service's)."
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Decide the same projects under policies/ and under a base, and report every change of
    outcome, strength, path, obligations or citations, grouped by the rule edit behind it.
    Projects: the decision log's requests, the policy tests of both sets, the golden cases,
    the examples, and projects at every threshold of both sets (just below, at, just above).
    Exits 1 when a decision changes (0 with `--accept`), 2 when the base, the log or the
    cases cannot be read. `--json` prints the body of `POST /v1/admin/reload?dry_run=true`."""
    if engine is not None and engine not in ENGINES:
        fail(f"unknown engine {engine!r}; one of {', '.join(ENGINES)}", 2)
    if log and no_log:
        fail("--log and --no-log exclude each other", 2)
    cli = context(ctx)
    settings = cli.settings
    try:
        found = Cases(
            None if no_log else log_engine(log) if log else default_log(settings),
            log_limit,
            cases,
        )
        with base_root(settings.root, base) as (label, folder):
            new = cli.service()
            try:
                old = load_base(settings, folder)
            except PolicyLoadError as e:
                err.print(e.result.render(), highlight=False, markup=False, soft_wrap=True)
                fail(f"基线 {label} 的政策集有错误，无法比较 (the base has errors)", 2)
            replayed = projects(settings, old, new, found)
            if cluster is None:
                result = impact(label, old, new, replayed, engine=engine)
            else:
                parts = partitions(replayed, workers)
                with client(cluster, workers) as dask:
                    merged = replay_on(dask, SetText.of(old), SetText.of(new), parts, engine)
                    result = impact(label, old, new, replayed, replayed=merged, where=where(dask))
    except ImpactInputError as e:
        fail(f"{e.code}: {e.message} ({e.location}: {e.message_en})", 2)
    if as_json:
        print_view(views.impact(result))
    else:
        out.print(render(result), highlight=False, markup=False, soft_wrap=True)
    if result.impact.changed and not accept:
        raise typer.Exit(1)


LISTS = ("obligations", "citations")
_KIND = {
    EditKind.ADDED: "新增",
    EditKind.REMOVED: "删除",
    EditKind.CHANGED: "修改",
    EditKind.OTHER: "其他",
}


def render(found: ImpactResult) -> str:
    i = found.impact
    origins = ", ".join(f"{k} {n}" for k, n in i.origins)
    lines = [
        f"基线 base {found.base} revision {i.base_revision} → 工作区 policies/ revision "
        f"{i.revision}",
        f"重放 replayed {i.projects} 个项目 projects ({origins}) · 决定 decided {i.decided} · "
        f"无效 invalid {i.invalid} · {found.replay}",
        f"{i.changed} 个项目的决定改变 decisions changed · {len(i.edits)} 处改动 edits",
    ]
    grouped = {g.edit for g in i.groups}
    for g in i.groups:
        fields = ", ".join(f"{k} {n}" for k, n in g.fields)
        lines += ["", f"{_edit(g.edit)}：{g.count} 个项目 projects ({fields})"]
        lines += [line for c in g.examples for line in _example(c)]
    quiet = [e for e in i.edits if e not in grouped]
    if quiet:
        lines += ["", "未改变任何决定的改动 edits that change no decision:"]
        lines += [f"  {_edit(e)}" for e in quiet]
    return "\n".join(lines)


def _edit(e: Edit) -> str:
    aspects = f" ({', '.join(e.aspects)})" if e.aspects else ""
    return f"{_KIND[e.kind]} {e.kind} {e.target} {e.key or e.title}{aspects}"


def _example(c: Changed) -> list[str]:
    p = c.project
    lines = [f"  例 e.g. [{p.origin}] {p.label}" + (f" · {p.date}" if p.date else "")]
    for change in c.changes:
        if change.field in LISTS:  # what left and what came, not both whole lists
            gone = [f"        − {x}" for x in change.before if x not in change.after]
            came = [f"        + {x}" for x in change.after if x not in change.before]
            lines += [f"      {change.field}:", *(gone + came or ["        顺序改变 reordered"])]
            continue
        before = "; ".join(change.before) or "—"
        after = "; ".join(change.after) or "—"
        what = "不受理 refused" if change.field == INPUT else change.field
        lines.append(f"      {what}: {before} → {after}")
    return lines
