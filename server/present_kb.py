"""Terminal presentation of clause search hits and free-text routing (rich).

Clause text is put in rich `Text` objects and never parsed as markup, so brackets in a
document cannot style the output; highlights are applied by span.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from kb.search import Hit
from server import present
from server.results import RouteResult

__all__ = ["hits", "route_match"]

_HIGHLIGHT = "bold yellow"


def hits(found: Sequence[Hit], query: str) -> RenderableType:
    if not found:
        return Text(f"no clause matches {query!r}", style="yellow")
    parts: list[RenderableType] = []
    for rank, hit in enumerate(found, start=1):
        header = Text.assemble(
            (f"{rank:>2}. ", "dim"),
            (hit.document, "bold"),
            " ",
            (hit.clause, "bold cyan"),
            (f"  score {hit.score:.4f}", "dim"),
        )
        body = _highlighted(hit.text, hit.highlights)
        parts.extend([header, Padding(body, (0, 0, 1, 4))])
    return Group(*parts)


def _highlighted(text: str, spans: Sequence[tuple[int, int]]) -> Text:
    out = Text()
    cursor = 0
    for start, end in spans:
        out.append(_flat(text[cursor:start]))
        out.append(_flat(text[start:end]), style=_HIGHLIGHT)
        cursor = end
    out.append(_flat(text[cursor:]))
    return out


def _flat(chunk: str) -> str:
    # Line breaks inside a clause are layout of the source page, not meaning.
    return chunk.replace("\r", "").replace("\n", " ")


def route_match(r: RouteResult, text: str) -> RenderableType:
    if r.answer is not None:
        if r.score is None:  # named by its id: nothing was matched
            return present.route(r.answer)
        note = Text(
            f"匹配 matched {text!r} → {r.answer.rule}  score {r.score:.2f} "
            f"(threshold {r.threshold:.2f}) via “{r.matched_text}”",
            style="dim",
        )
        return Group(present.route(r.answer), note)
    table = Table(title="nearest routing rules 最接近的分工", title_justify="left")
    table.add_column("rule", no_wrap=True)  # an id: never cut, it is what the user types next
    table.add_column("title")
    table.add_column("score", no_wrap=True)
    table.add_column("matched text")
    for c in r.candidates:
        table.add_row(c.match.id, c.title, f"{c.match.score:.2f}", c.match.text)
    return Group(
        Text(
            f"no confident match 无可信匹配 for {text!r} "
            f"(best score below threshold {r.threshold:.2f})",
            style="bold yellow",
        ),
        table,
    )
