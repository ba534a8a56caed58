"""Remove web-page debris from a scraped policy page, keeping the document's own wording.

`clean(raw)` works line by line and is deterministic and idempotent:

- every line is stripped of surrounding whitespace (indentation, U+3000, NBSP) and of trailing
  `|` table-cell debris; runs of blank lines become one blank line;
- whole lines that are page furniture are dropped: breadcrumbs (当前位置), hints (温馨提示),
  copyright and ICP lines, 扫一扫在手机打开当前页, 来源: lines, photo/graphic credits (制图 …),
  tag clouds (热门标签), print/close/share links, and the page's metadata lines and metadata
  table (发布日期, 发布机构, 索引号 | … | 文号 | …) — `page_metadata` reads those first;
- the page title is dropped when the document repeats it as its first line.

Debris is recognised on a simplified, width-folded copy of each line, so one pattern list
covers Traditional and Simplified pages; the kept lines are returned unchanged (Traditional
text stays Traditional). Words inside a kept line are never edited: a reporter's byline at the
end of a paragraph, for instance, stays.
"""

from __future__ import annotations

import re
import unicodedata

from kb.normalize import to_simplified

__all__ = ["clean", "page_metadata"]

# Matched against the simplified, NFKC-folded, stripped line (full-width colons are ASCII).
_DEBRIS = tuple(
    re.compile(pattern)
    for pattern in (
        r"^当前位置\s*:",
        r"^温馨提示",
        r"©|版权所有|ICP[备证]\d",
        r"^扫一扫",
        r"^(信息)?来源\s*:",
        r"^(发布|发表|成文|生成)(日期|时间|于)\s*:",
        r"^发布机构\s*:",
        r"^(制图|摄影|图片|图|编辑|责任编辑|责编)(\s|:)",
        r"^热门标签$",
        r"^(打印本页|关闭窗口|【打印】|【关闭】|分享到)",
        # One row of the page's metadata table: "索引号 | … | 组配分类 | … |".
        r"^(索引号|组配分类|主题分类|发布机构|生成日期|成文日期|公开方式|文号|关键词)\s*\|",
    )
)
_TRAILING_PIPES = re.compile(r"(?:\s*\|)+\s*$")

# Page metadata: a key (either script), a separator (colon, or a table cell border), the value.
# Values are read from the NFKC-folded line only, so a Traditional page keeps its characters.
_META_KEYS = {
    "发布日期": "published",
    "发布时间": "published",
    "发表于": "published",
    "生成日期": "published",
    "发布机构": "issuer",
    "文号": "doc_number",
}
_META_ITEM = re.compile(
    r"(发布日期|發布日期|發佈日期|发布时间|發布時間|發佈時間|发表于|發表於|生成日期|"
    r"发布机构|發布機構|發佈機構|文号|文號)\s*[:|]\s*([^|\s]+)"
)
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")


def _folded(line: str) -> str:
    return to_simplified(unicodedata.normalize("NFKC", line))


def _is_debris(folded_line: str) -> bool:
    return any(pattern.search(folded_line) for pattern in _DEBRIS)


def _kept_lines(raw: str) -> list[str]:
    kept: list[str] = []
    for line in raw.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        stripped = _TRAILING_PIPES.sub("", line.strip()).strip()
        if stripped and _is_debris(_folded(stripped)):
            continue
        if stripped or (kept and kept[-1]):
            kept.append(stripped)
    while kept and not kept[-1]:
        kept.pop()
    return kept


def _drop_repeated_title(lines: list[str]) -> list[str]:
    # Pages print their own title above the document, which starts with the same title.
    content = [index for index, line in enumerate(lines) if line]
    copies = 1
    while copies < len(content) and lines[content[copies]] == lines[content[0]]:
        copies += 1
    return lines[content[copies - 1] :] if copies > 1 else lines


def clean(raw: str) -> str:
    """The document text without page debris; ends with one newline ("" for an empty page)."""
    lines = _drop_repeated_title(_kept_lines(raw))
    return "\n".join(lines) + "\n" if lines else ""


def _iso_date(value: str) -> str:
    match = _DATE.search(value)
    if match is None:
        return value
    year, month, day = match.groups()
    return f"{year}-{int(month):02d}-{int(day):02d}"


def page_metadata(raw: str) -> dict[str, str]:
    """What the page's own metadata lines say, as metadata keys (the first value of each wins).

    Keys: `published` (ISO date), `issuer` (the page's 发布机构), `doc_number` (文号). These
    describe the web page; a caller decides whether they also describe the document.
    """
    found: dict[str, str] = {}
    for line in raw.splitlines():
        for key, value in _META_ITEM.findall(unicodedata.normalize("NFKC", line)):
            field = _META_KEYS[to_simplified(key)]
            if field not in found:
                found[field] = _iso_date(value) if field == "published" else value
    return found
