"""A saved page as text, for `zhengce add`: decoded, and stripped of HTML when it is HTML.

`page_text(data, name)` decodes UTF-8 (with or without a byte-order mark), or the charset an
HTML page declares (many government sites serve GBK). HTML is read with the standard
library's `html.parser`, never with regular expressions over tags: character references are
decoded, `script`, `style` and the like are dropped, each block element (p, div, br, li, h1 …,
tr) ends a line, and the cells of a table row are joined with " | ", the shape kb.clean and
kb.segment already read for a flattened table. The page's `<title>` is kept apart, as the
document's title when the metadata gives none. Plain text is returned as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

__all__ = ["PageText", "UndecodablePage", "page_text"]

_BLOCKS = frozenset(
    {
        *("address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt"),
        *("figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6"),
        *("header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table"),
        *("tbody", "thead", "tfoot", "tr", "ul"),
    }
)
_CELLS = frozenset({"td", "th"})
_SKIPPED = frozenset({"script", "style", "noscript", "template", "svg", "iframe"})
_HTML = re.compile(rb"<\s*(!doctype\s+html|html|body|p|div|br|table)\b", re.IGNORECASE)
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w-]+)""", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\u00a0]+")


class UndecodablePage(ValueError):
    """The page is neither UTF-8 nor in the charset it declares."""


@dataclass(frozen=True)
class PageText:
    text: str
    title: str  # the HTML <title>; "" for plain text or a page without one
    html: bool


def page_text(data: bytes, name: str = "") -> PageText:
    """The page's text; HTML when its name ends in .htm(l) or it starts like HTML."""
    is_html = name.lower().endswith((".html", ".htm")) or bool(_HTML.search(data[:4096]))
    text = _decode(data, is_html)
    if not is_html:
        return PageText(text, "", False)
    parser = _TextParser()
    parser.feed(text)
    parser.close()
    return PageText(parser.text(), " ".join(parser.title.split()), True)


def _decode(data: bytes, is_html: bool) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as utf8:
        declared = _CHARSET.search(data[:4096]) if is_html else None
        if declared is None:
            raise UndecodablePage(f"not UTF-8 ({utf8.reason} at byte {utf8.start})") from None
        charset = declared.group(1).decode("ascii")
        try:
            return data.decode("gb18030" if charset.lower() in ("gb2312", "gbk") else charset)
        except (LookupError, UnicodeDecodeError) as e:
            raise UndecodablePage(f"not in its declared charset {charset} ({e})") from None


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.line: list[str] = []
        self.cells: list[str] | None = None  # the cells of the open table row
        self.skipping = 0
        self.in_title = False
        self.title = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self.in_title = True
        elif tag in _SKIPPED:
            self.skipping += 1
        elif tag == "tr":
            self.end_line()
            self.cells = []
        elif tag in _CELLS and self.cells is not None:
            self.end_cell()
        elif tag in _BLOCKS:
            self.end_line()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self.end_line()

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        elif tag in _SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in ("tr", "table") and self.cells is not None:
            self.end_cell()
            row = " | ".join(cell for cell in self.cells if cell)
            self.cells = None
            if row:
                self.lines.append(row)
        elif tag in _CELLS and self.cells is not None:
            self.end_cell()
        elif tag in _BLOCKS:
            self.end_line()

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title += data
        elif not self.skipping:
            self.line.append(data)

    def end_cell(self) -> None:
        if self.cells is not None:
            self.cells.append(self.joined())
            self.line = []

    def end_line(self) -> None:
        if self.cells is not None:
            self.end_cell()
            return
        self.lines.append(self.joined())
        self.line = []

    def joined(self) -> str:
        # Line breaks inside a paragraph are the page's source layout, not the document's.
        return _SPACES.sub(" ", "".join(self.line).replace("\n", " ")).strip()

    def text(self) -> str:
        if self.cells is not None:  # a table the page never closed
            self.handle_endtag("tr")
        self.end_line()
        return "\n".join(self.lines).strip() + "\n"
