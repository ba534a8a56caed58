"""Terminal presentation of clause search hits and free-text routing (rich), from the views
the HTTP API answers (server.views, as plain JSON): `zhengce route` and `search` print the
same whether they answered in-process or asked a running service (server.remote).

Clause text is put in rich `Text` objects and never parsed as markup, so brackets in a
document cannot style the output; highlights are applied by span. Only rich is imported: a
command that asks a running service must start in well under a second.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

__all__ = ["hits", "route_match"]

_HIGHLIGHT = "bold yellow"

View = Mapping[str, Any]


def hits(view: View) -> RenderableType:
    """A `GET /v1/search` body."""
    if not view["hits"]:
        return Text(f"no clause matches {view['query']!r}", style="yellow")
    parts: list[RenderableType] = []
    if not view["found"]:
        parts.append(
            Text(
                f"没有找到相关条款 nothing answers {view['query']!r}; the nearest clauses:",
                style="bold yellow",
            )
        )
    for rank, hit in enumerate(view["hits"], start=1):
        header = Text.assemble(
            (f"{rank:>2}. ", "dim"),
            (hit["document"], "bold"),
            " ",
            (hit["clause"], "bold cyan"),
            (f"  {hit['relevance'] or 'not relevant'}  score {hit['score']:.3f}", "dim"),
        )
        body = _highlighted(hit["text"], hit["highlights"], hit["sentence"])
        parts.extend([header, Padding(body, (0, 0, 1, 4))])
    return Group(*parts)


def _highlighted(
    text: str, spans: Sequence[Sequence[int]], sentence: Sequence[int] | None = None
) -> Text:
    """`text` with its word spans highlighted and the answering `sentence` underlined."""
    out = Text()
    cursor = 0
    for start, end in spans:
        out.append(_flat(text[cursor:start]))
        out.append(_flat(text[start:end]), style=_HIGHLIGHT)
        cursor = end
    out.append(_flat(text[cursor:]))
    if sentence:
        out.stylize("underline", sentence[0], sentence[1])
    return out


def _flat(chunk: str) -> str:
    # Line breaks inside a clause are layout of the source page, not meaning. One space for
    # each character, so that spans into the text still point at the same characters.
    return chunk.replace("\r", " ").replace("\n", " ")


def route_match(view: View, text: str) -> RenderableType:
    """A `POST /v1/route` body for the matter `text`."""
    match = view["match"]
    if match is not None:
        if match["score"] is None:  # named by its id: nothing was matched
            return _route(match)
        note = Text(
            f"匹配 matched {text!r} → {match['rule']}  score {match['score']:.2f} "
            f"(threshold {view['threshold']:.2f}) via “{match['matched_text']}”",
            style="dim",
        )
        return Group(_route(match), note)
    table = Table(title="nearest routing rules 最接近的分工", title_justify="left")
    table.add_column("rule", no_wrap=True)  # an id: never cut, it is what the user types next
    table.add_column("title")
    table.add_column("score", no_wrap=True)
    table.add_column("matched text")
    for c in view["candidates"]:
        table.add_row(c["rule"], c["title"], f"{c['score']:.2f}", c["matched_text"])
    return Group(
        Text(
            f"no confident match 无可信匹配 for {text!r} "
            f"(best score below threshold {view['threshold']:.2f})",
            style="bold yellow",
        ),
        table,
    )


def _route(a: View) -> RenderableType:
    lines: list[RenderableType] = [Text.assemble(("分工 ", "bold"), f"{a['rule']}  {a['title']}")]
    lines.append(Text("事项 matters: " + "；".join(a["matters"])))
    for role, units, original in (
        ("牵头 lead", a["lead"], a["lead_original"]),
        ("责任 responsible", a["responsible"], a["responsible_original"]),
        ("配合 assisting", a["assisting"], a["assisting_original"]),
    ):
        if units:
            lines.append(Text(f"{role}: {'、'.join(units)}   (原文 {original})"))
    lines.extend(Text(f"注 {n}") for n in a["notes"])
    lines.extend(Text(f"  [{c['document']} {c['clause']}] “{c['quote']}”") for c in a["citations"])
    return Panel(Group(*lines), expand=False)
