"""Split a source document into a tree of clauses that follows the document's own numbering.

Clause ids are paths of the document's own labels, joined with ".":

    一                section "一、"                    二.4        item "4." under 二
    一.(二)           item "(二)" / "（二）" under 一   四.(一).1   item "1、" under 四.(一)
    一.(二).—1        the first "——" item under 一.(二) (— is U+2014; lookups also accept "-1")
    p1, p2, …         unnumbered paragraphs: the preamble before the first numbered clause,
                      or every paragraph of a document that has no numbering at all
    附, 附件, 附件1    back matter that starts with 附: / 附件: / 附件1, and 抄送 for 抄送:
    表, 表.13         a flattened table (header line 序号) and its row numbered 13、;
    表.(五)           the group label between rows ("5 (五) 保障措施" in the 序号 column;
                      表.组5 when the group has no (五)-style cell); a second table is 表~2

Ids always use ASCII "(", ")" and "." whatever the text uses; numerals are the characters of
the text (Arabic digits are written as ASCII). Ids are unique within a document (a clash, which
only a malformed document produces, gets a "~2" suffix) and depend only on the numbering path,
so editing one clause leaves every other id and text unchanged. Numbered items keep the
document's numbers even when they run on across sections (嘉定 四.(二) starts at 4).

A numbering label is recognised only at a boundary: the start of a line, or after whitespace
inside a line (a page that flattened its line breaks into spaces, like 鹿城, keeps them as
spaces). It must also fit the outline: a new level starts at 1 (or continues the last number of
that style), and a sibling follows its predecessor (one skipped number is tolerated). So
"到2020年", "1000万元以上", "3个以上" or a stray "2." are never taken as numbering.

Kinds: "section" (一、), "item" ((一), 1、, 1., (1)), "dash" (——), "paragraph" (p-ids),
"attachment" (附/附件/附表), "back_matter" (抄送), "table", "table_group", "table_row".

`Clause.text` is the clause's own text: from its label up to its first sub-clause. Notes such
as （责任单位：…） belong to the clause they follow, even across a line break, because only a
numbering label starts a new clause. `Clause.full_text` is the verbatim text including every
sub-clause — what a quote is checked against. Both are slices of the input, stripped.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["KINDS", "Clause", "canonical_id", "chinese_number", "label_number", "segment"]

KINDS = (
    "section",
    "item",
    "dash",
    "paragraph",
    "attachment",
    "back_matter",
    "table",
    "table_group",
    "table_row",
)


@dataclass(frozen=True)
class Clause:
    """One clause; `text` is its own text, `full_text` includes its sub-clauses."""

    id: str
    label: str
    heading: str
    text: str
    parent: str | None
    level: int
    kind: str
    full_text: str


_CN = "[一二三四五六七八九十]{1,3}"
_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NUMBERED = (
    ("cn、", re.compile(rf"({_CN})、")),
    ("(cn)", re.compile(rf"[(（]({_CN})[)）]")),
    ("n、", re.compile(r"(\d{1,3})、")),
    ("n.", re.compile(r"(\d{1,3})[.．](?![\d.．])")),  # not a decimal such as 6.5%
    ("(n)", re.compile(r"[(（](\d{1,3})[)）]")),
)
# "11.121人才梯队项目": item 11 whose title starts with digits, or the decimal 11.121? Only the
# outline can tell (see _Outline.accept); a quantity such as 2.5万元 or 6.5% is never an item.
_DIGIT_TITLED = re.compile(r"(\d{1,3})[.．](?=\d)")
_QUANTITY = re.compile(r"\d+\s*(?:[%％‰万亿千元倍个米亩吨度]|公顷|平方|百分点)")
_DASH = re.compile(r"——(?!—)")
_ATTACHMENT = re.compile(rf"(附件|附表|附)[ \t\u3000]*(\d{{1,3}}|{_CN})?([:：])?")
_BACK_MATTER = re.compile(r"抄送[:：]")
_BOUNDARY = re.compile(r"(?<!\S)\S")  # a line start, or the first character after whitespace
_HEADING_END = re.compile(r"[。；;:：\s]")
_MAX_HEADING = 40
_ROW = re.compile(r"(\d{1,3})[、.．](?![\d.．])")
_GROUP_NUMBER = re.compile(r"\d{1,3}")
_GROUP_LABEL = re.compile(rf"[(（]({_CN})[)）]")
_COLUMN_PUNCTUATION = re.compile(r"[\d、。,，;；:：()（）]")


def chinese_number(numeral: str) -> int | None:
    """一 … 九十九 as an int; None for anything else (十十, 二二, …)."""
    if "十" not in numeral:
        return _CN_DIGITS.get(numeral) if len(numeral) == 1 else None
    tens, _, units = numeral.partition("十")
    tens_value = 1 if tens == "" else _CN_DIGITS.get(tens) if len(tens) == 1 else None
    units_value = 0 if units == "" else _CN_DIGITS.get(units) if len(units) == 1 else None
    if tens_value is None or units_value is None or (tens == "一"):
        return None
    return tens_value * 10 + units_value


_TYPED_DASH = re.compile(r"(^|\.)(?:—{1,2}|-{1,2})(?=\d)")


def canonical_id(clause_id: str) -> str:
    """The id as `segment` writes it, from a typed variant of it.

    Accepts full-width brackets and dots (四．（一）．1), 。 as a dot, stray spaces, and "-1",
    "--1" or "——1" for the dash item "—1", because those are what people type.
    """
    folded = unicodedata.normalize("NFKC", clause_id)  # （）．－ become ().-
    folded = re.sub(r"\s+", "", folded).replace("。", ".")
    return _TYPED_DASH.sub(r"\1—", folded)


@dataclass(frozen=True)
class _Marker:
    start: int
    label: str
    style: str  # a numbering style above, or "dash", "attachment", "back_matter"
    value: int
    fragment: str  # the id part this label contributes
    digit_titled: bool = False  # "11.121…": an item only where 11 is the number expected


@dataclass(frozen=True)
class _Event:
    start: int
    id: str
    parent: str | None
    level: int
    label: str
    kind: str
    heading: str | None = None  # None: read it from the text after the label


@dataclass(frozen=True)
class _Line:
    start: int
    end: int
    text: str


def _marker_at(text: str, start: int) -> _Marker | None:
    for style, pattern in _NUMBERED:
        match = pattern.match(text, start)
        if match is None:
            continue
        raw = match.group(1)
        value = chinese_number(raw) if "cn" in style else int(raw)
        if value is None:
            return None
        if style == "(cn)":
            fragment = f"({raw})"
        elif style == "(n)":
            fragment = f"({value})"
        else:
            fragment = raw if style == "cn、" else str(value)
        return _Marker(start, match.group(0), style, value, fragment)
    titled = _DIGIT_TITLED.match(text, start)
    if titled and not _QUANTITY.match(text, titled.end()):
        value = int(titled.group(1))
        return _Marker(start, titled.group(0), "n.", value, str(value), digit_titled=True)
    if _DASH.match(text, start):
        return _Marker(start, "——", "dash", 0, "")
    return _back_matter_at(text, start)


def label_number(label: str) -> tuple[str, int] | None:
    """A numbering label's style and number ("(三)" -> ("(cn)", 3), "11." -> ("n.", 11)); None
    for a dash, back matter or anything that is not a numbering label."""
    marker = _marker_at(label, 0)
    if marker is None or marker.style in ("dash", "attachment", "back_matter"):
        return None
    return marker.style, marker.value


def _back_matter_at(text: str, start: int) -> _Marker | None:
    match = _BACK_MATTER.match(text, start)
    if match:
        return _Marker(start, match.group(0), "back_matter", 0, "抄送")
    match = _ATTACHMENT.match(text, start)
    if match is None:
        return None
    word, number, colon = match.groups()
    after = text[match.end() : match.end() + 1]
    if word == "附" and (number or not colon):
        return None
    if not colon and after and not after.isspace():
        return None  # 附件材料…: the word in running text, not a heading
    number = str(int(number)) if number and number.isdigit() else number or ""
    return _Marker(start, match.group(0), "attachment", 0, word + number)


_Unique = Callable[[str], str]


@dataclass
class _Frame:
    """An open clause while the outline is read; local to one `segment` call."""

    style: str
    value: int
    id: str
    level: int
    dashes: int = 0


@dataclass
class _Outline:
    """The open clauses, the ids handed out, and the last number seen per style."""

    stack: list[_Frame] = field(default_factory=lambda: [_Frame("root", 0, "", 0)])
    used: set[str] = field(default_factory=set)
    last: dict[str, int] = field(default_factory=dict)

    def unique(self, clause_id: str) -> str:
        candidate, n = clause_id, 1
        while candidate in self.used:
            n += 1
            candidate = f"{clause_id}~{n}"
        self.used.add(candidate)
        return candidate

    def reset(self) -> None:
        del self.stack[1:]
        self.last.clear()

    def accept(self, marker: _Marker) -> _Event | None:
        """The clause this label opens, or None when it does not fit the outline here."""
        if marker.style in ("attachment", "back_matter"):
            self.reset()
            return self._open(marker, 0, marker.fragment, marker.style)
        # The same style already open makes a sibling; a new style opens a child of the top.
        sibling = next(
            (i for i in range(len(self.stack) - 1, 0, -1) if self.stack[i].style == marker.style),
            None,
        )
        parent = len(self.stack) - 1 if sibling is None else sibling - 1
        if marker.style == "dash":
            if parent == 0:
                return None  # a dash before any numbered clause is running text
            self.stack[parent].dashes += 1
            return self._open(marker, parent, f"—{self.stack[parent].dashes}", "dash")
        if marker.digit_titled:
            previous = self.stack[sibling].value if sibling is not None else None
            expected = self.last.get(marker.style, -1) + 1 if previous is None else previous + 1
            if marker.value != expected:
                return None
        elif sibling is not None:
            previous = self.stack[sibling].value
            if not previous < marker.value <= previous + 2:
                return None
        elif marker.value not in (1, self.last.get(marker.style, -1) + 1):
            return None
        self.last[marker.style] = marker.value
        kind = "section" if marker.style == "cn、" else "item"
        return self._open(marker, parent, marker.fragment, kind)

    def _open(self, marker: _Marker, parent_index: int, fragment: str, kind: str) -> _Event:
        del self.stack[parent_index + 1 :]
        parent = self.stack[parent_index]
        clause_id = self.unique(f"{parent.id}.{fragment}" if parent.id else fragment)
        frame = _Frame(marker.style, marker.value, clause_id, parent.level + 1)
        self.stack.append(frame)
        return _Event(marker.start, clause_id, parent.id or None, frame.level, marker.label, kind)


def _lines(text: str) -> list[_Line]:
    lines: list[_Line] = []
    for match in re.finditer(r"[^\n]+", text):
        body = match.group(0)
        stripped = body.strip()
        if stripped:
            start = match.start() + len(body) - len(body.lstrip())
            lines.append(_Line(start, start + len(stripped), stripped))
    return lines


def _table_header(lines: list[_Line], index: int) -> list[str]:
    """The column names when a table header starts at this line (序号 …), else []."""
    first = lines[index].text
    cells = [cell for cell in re.split(r"\s*\|\s*|\s+", first) if cell]
    if not cells or cells[0] != "序号":
        return []
    if len(cells) == 1:  # one cell per line, as a flattened web table prints it
        for line in lines[index + 1 : index + 9]:
            if len(line.text) > 8 or _COLUMN_PUNCTUATION.search(line.text):
                break
            cells.append(line.text)
        return cells if len(cells) >= 3 else []
    short = all(len(cell) <= 8 for cell in cells)
    return cells if len(cells) >= 3 and short else []


@dataclass(frozen=True)
class _Table:
    start: int
    end: int
    events: tuple[_Event, ...]


def _table_group(lines: list[_Line], index: int, table_id: str, unique: _Unique) -> _Event:
    """A group label in the 序号 column: a bare number, then cells such as (五) 保障措施."""
    cells: list[str] = []
    for line in lines[index + 1 :]:
        if _ROW.match(line.text) or _GROUP_NUMBER.fullmatch(line.text):
            break
        cells.append(line.text)
    numeral = next((m for m in map(_GROUP_LABEL.fullmatch, cells) if m), None)
    fragment = f"({numeral.group(1)})" if numeral else f"组{lines[index].text}"
    words = "".join(cell for cell in cells if not _GROUP_LABEL.fullmatch(cell))
    group_id = unique(f"{table_id}.{fragment}")
    return _Event(
        lines[index].start, group_id, table_id, 2, lines[index].text, "table_group", words
    )


def _table(
    text: str, lines: list[_Line], index: int, columns: list[str], unique: _Unique
) -> _Table:
    """The table whose header is lines[index]; it runs to the next back matter or the end."""
    start, label, heading = lines[index].start, "", " ".join(columns)
    title = _back_matter_at(text, lines[index - 1].start) if index else None
    if title and title.style == "attachment":  # 附件：…表 right above the header titles it
        start, label = title.start, title.label
        heading = _heading(lines[index - 1].text[len(title.label) :]) or heading
    table_id = unique("表")
    events = [_Event(start, table_id, None, 1, label, "table", heading)]
    # A header printed one cell per line occupies one line per column.
    body = index + len(columns) if lines[index].text == "序号" else index + 1
    row = 0
    for position in range(body, len(lines)):
        line = lines[position]
        if _back_matter_at(text, line.start):
            return _Table(start, line.start, tuple(events))
        match = _ROW.match(line.text)
        if match and row < int(match.group(1)) <= row + 2:
            row = int(match.group(1))
            row_id = unique(f"{table_id}.{row}")
            events.append(_Event(line.start, row_id, table_id, 2, match.group(0), "table_row"))
        elif _GROUP_NUMBER.fullmatch(line.text):
            events.append(_table_group(lines, position, table_id, unique))
    return _Table(start, len(text), tuple(events))


def _tables(text: str, lines: list[_Line], unique: _Unique) -> list[_Table]:
    tables: list[_Table] = []
    for index, line in enumerate(lines):
        if tables and line.start < tables[-1].end:
            continue
        columns = _table_header(lines, index)
        if columns:
            tables.append(_table(text, lines, index, columns, unique))
    return tables


def _heading(rest: str) -> str:
    rest = rest.lstrip()
    match = _HEADING_END.search(rest)
    head = rest[: match.start()] if match else rest
    return head if len(head) <= _MAX_HEADING else ""


def _paragraphs(lines: list[_Line], end: int, outline: _Outline) -> list[_Event]:
    events: list[_Event] = []
    for line in lines:
        if line.start >= end:
            break
        events.append(
            _Event(line.start, outline.unique(f"p{len(events) + 1}"), None, 1, "", "paragraph", "")
        )
    return events


def _outline_events(text: str, lines: list[_Line], outline: _Outline) -> list[_Event]:
    tables = _tables(text, lines, outline.unique)
    pending = list(tables)
    markers = [
        marker
        for boundary in _BOUNDARY.finditer(text)
        if not any(table.start <= boundary.start() < table.end for table in tables)
        and (marker := _marker_at(text, boundary.start())) is not None
    ]
    events: list[_Event] = []
    for marker, plain_next in zip(markers, _next_plain_items(markers), strict=True):
        while pending and pending[0].start <= marker.start:
            events.extend(pending.pop(0).events)
            outline.reset()  # numbering after a table does not continue the body's outline
        if marker.digit_titled and plain_next == marker.value:
            continue  # "2.5…" before a "2." of its own: a decimal in the text of item 1
        event = outline.accept(marker)
        if event:
            events.append(event)
    for table in pending:
        events.extend(table.events)
    return events


def _next_plain_items(markers: list[_Marker]) -> list[int | None]:
    """For each marker, the number of the next "n." label after it that is not digit-titled."""
    found: list[int | None] = []
    following: int | None = None
    for marker in reversed(markers):
        found.append(following)
        if marker.style == "n." and not marker.digit_titled:
            following = marker.value
    return found[::-1]


def _full_ends(events: list[_Event], length: int) -> list[int]:
    """Where each clause ends with its sub-clauses: at the next clause of its level or above."""
    ends = [length] * len(events)
    open_clauses: list[int] = []
    for index, event in enumerate(events):
        while open_clauses and events[open_clauses[-1]].level >= event.level:
            ends[open_clauses.pop()] = event.start
        open_clauses.append(index)
    return ends


def segment(text: str) -> list[Clause]:
    """The clauses of a document in reading order (parents before their sub-clauses)."""
    lines = _lines(text)
    outline = _Outline()
    events = _outline_events(text, lines, outline)
    first = events[0].start if events else len(text)
    events = _paragraphs(lines, first, outline) + events
    own_ends = [event.start for event in events[1:]] + [len(text)] if events else []
    clauses: list[Clause] = []
    for event, own_end, full_end in zip(
        events, own_ends, _full_ends(events, len(text)), strict=True
    ):
        own = text[event.start : own_end].strip()
        heading = event.heading if event.heading is not None else _heading(own[len(event.label) :])
        full = text[event.start : full_end].strip()
        clause = Clause(
            event.id, event.label, heading, own, event.parent, event.level, event.kind, full
        )
        clauses.append(clause)
    return clauses
