"""`zhengce add` and `zhengce draft`: a new document into the project, and the first draft
of the policy file that encodes it (server.drafting). Errors in the drafter's input are a
Chinese message with a stable code and exit code 2, never a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.text import Text

from kb.show import render_tree
from server import views
from server.cli_common import JsonFlag, context, fail, out, print_view
from server.drafting import DraftingError, add_source, draft_policy


def _refuse(e: DraftingError) -> NoReturn:
    fail(f"{e.code}: {e.message}", 2)


def add_command(
    ctx: typer.Context,
    page: Annotated[Path, typer.Argument(help="The saved page: text, or HTML (.html, .htm).")],
    doc_id: Annotated[str, typer.Option("--id", help="New document id, e.g. suzhou-2024.")],
    region: Annotated[str, typer.Option("--region", help="Region path, e.g. 江苏省/苏州市.")],
    meta: Annotated[
        Path | None,
        typer.Option("--meta", help="YAML with more metadata: title, doc_number, issuer, issued …"),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing source of this id.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Add a source document: strip the page's HTML, clean it, write policies/sources/ID.txt
    and ID.yaml, then print the clauses found and every gap in their numbering (二.10 → 二.12),
    so that a segmentation mistake shows at once. The title, if the metadata gives none, is
    the page's title element or its first line."""
    root = context(ctx).settings.root
    try:
        added = add_source(root, page, doc_id, region, meta, overwrite=overwrite)
    except DraftingError as e:
        _refuse(e)
    if as_json:
        print_view(views.added_source(added))
        return
    doc = added.document
    out.print(
        f"已加入 {doc.id}：{added.text_path}、{added.meta_path}", highlight=False, soft_wrap=True
    )
    out.print(render_tree(doc))
    out.print(f"共 {len(doc.clauses)} 条", highlight=False, soft_wrap=True)
    if not added.gaps:
        out.print("编号连续，没有跳号", highlight=False, soft_wrap=True)
    for gap in added.gaps:
        line = Text("编号跳跃（请核对分段）：", style="yellow")
        line.append(f"{gap.before} → {gap.after}，缺 {'、'.join(gap.missing)}")
        out.print(line, soft_wrap=True)
    out.print(f"下一步：zhengce draft {doc.id}", highlight=False, soft_wrap=True)


def draft_command(
    ctx: typer.Context,
    doc_id: Annotated[str, typer.Argument(help="The source document id, e.g. suzhou-2024.")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing policies/ID.zc.")
    ] = False,
) -> None:
    """Draft policies/ID.zc from the source: the header from its metadata, a route for each
    clause that names its units (牵头单位：…, 由X负责, X牵头、Y配合) with verbatim quotes,
    and a `不编码` stub for every other clause. Every drafted item is marked `待审`, which
    `zhengce check` reports until a drafter has read it against the text and deleted it."""
    try:
        drafted = draft_policy(context(ctx).settings.root, doc_id, force=force)
    except DraftingError as e:
        _refuse(e)
    out.print(
        f"已起草 {drafted.path}：{drafted.routes} 条分工、{drafted.skips} 条不编码，均标为“待审”",
        highlight=False,
        soft_wrap=True,
    )
    out.print(
        f"下一步：逐条对照原文核对，删去“待审”，再运行 zhengce check {drafted.path}",
        highlight=False,
        soft_wrap=True,
    )
