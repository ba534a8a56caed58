"""A source document's clause tree as a rich renderable (`zhengce kb show DOC [CLAUSE]`).

Without a clause: every clause as one line, `id  heading  shortened own text`, nested as in
the document. With a clause: its metadata line, its full own text, then its sub-clauses as
above. Text is rich `Text`, never markup, so brackets in a document cannot style the output.
"""

from __future__ import annotations

from rich.console import Group
from rich.text import Text
from rich.tree import Tree

from kb.corpus import Document
from kb.segment import Clause

__all__ = ["render_tree"]

_SHORT = 30


def _shortened(clause: Clause) -> str:
    body = " ".join(clause.text[len(clause.label) :].split())
    if clause.heading and body.startswith(clause.heading):
        body = body[len(clause.heading) :].lstrip("。；;:： ")
    return body if len(body) <= _SHORT else body[: _SHORT - 1] + "…"


def _line(clause: Clause) -> Text:
    line = Text(clause.id, style="bold cyan")
    if clause.heading:
        line.append("  ").append(clause.heading, style="bold")
    short = _shortened(clause)
    if short:
        line.append("  ").append(short, style="dim")
    return line


def _add_children(node: Tree, doc: Document, parent: str | None) -> None:
    for child in doc.children(parent):
        _add_children(node.add(_line(child)), doc, child.id)


def render_tree(doc: Document, clause: str | None = None) -> Tree:
    """The whole clause tree, or one clause (full own text, then its sub-clauses).

    An unknown clause id raises kb.corpus.UnknownClause, which suggests near ids.
    """
    if clause is None:
        title = Text(doc.id, style="bold").append(f"  {doc.title}")
        if doc.meta.doc_number:
            title.append(f"  {doc.meta.doc_number}", style="dim")
        tree = Tree(title)
        _add_children(tree, doc, None)
        return tree
    found = doc.require(clause)
    header = Text(f"{doc.id} ", style="dim").append(found.id, style="bold cyan")
    if found.heading:
        header.append("  ").append(found.heading, style="bold")
    header.append(f"  ({found.kind}, level {found.level})", style="dim")
    tree = Tree(Group(header, Text(found.text)))
    _add_children(tree, doc, found.id)
    return tree
