"""`zhengce kb …`: the source documents as clauses, and the search model and indexes."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from kb.corpus import UnknownClause, UnknownDocument
from kb.show import render_tree
from server import views
from server.cli_common import JsonFlag, context, err, fail, out, print_view, reported_warnings
from server.service import build_search, source_document

kb_app = typer.Typer(
    help="The source documents as clauses.", no_args_is_help=True, rich_markup_mode="markdown"
)


@kb_app.command("show")
def kb_show(
    ctx: typer.Context,
    document: Annotated[str, typer.Argument(help="Document id, e.g. pingliang-2023.")],
    clause: Annotated[str | None, typer.Argument(help="Clause id, e.g. 二.4.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Print a document's clause tree, or one clause in full. `--json` (with a clause) prints
    the body of `GET /v1/clauses/{document}/{clause}`."""
    if as_json and clause is None:
        fail(
            "--json shows one clause: name it, e.g. `zhengce kb show pingliang-2023 二.4 --json`", 2
        )
    try:
        if as_json and clause is not None:
            print_view(views.clause(context(ctx).service().clause(document, clause)))
        else:
            out.print(render_tree(source_document(context(ctx).settings.root, document), clause))
    except (UnknownDocument, UnknownClause) as e:
        fail(str(e))


@kb_app.command("build")
def kb_build(ctx: typer.Context) -> None:
    """Build (or check) the embedding model, its ONNX export for queries and the search
    indexes, with progress; a second run reuses them. The cache is ZHENGCE_CACHE, else
    var/index under the project."""
    settings = context(ctx).settings
    started = time.perf_counter()
    with reported_warnings():
        report = build_search(settings, say=lambda m: err.print(m, highlight=False))
    if report.model is not None:
        out.print(
            f"model    {report.model.folder}  ({report.model_seconds:.1f} s); "
            f"queries embedded by {report.model.queries}",
            highlight=False,
            soft_wrap=True,
        )
    for problem in report.warnings:
        err.print(f"[yellow]warning:[/yellow] {problem}", highlight=False)
    for built in report.indexes:
        verb = f"built in {built.build_seconds:.1f} s" if built.built else "reused, up to date"
        out.print(
            f"{built.label:<8} {built.folder}  {built.entries} entries, {verb} "
            f"({built.seconds:.1f} s)",
            highlight=False,
            soft_wrap=True,
        )
    mode = "BM25 + semantic" if report.dense_available else "BM25 only (semantic search is off)"
    total = time.perf_counter() - started
    out.print(
        f"ready in {total:.1f} s: {mode}; cache {settings.cache_dir}",
        highlight=False,
        soft_wrap=True,
    )
