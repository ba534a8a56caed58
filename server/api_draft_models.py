"""What `zhengce add --json` prints: the source as written and as segmented. Beside
server.api_models so that every JSON shape lives in a models module (views fill them)."""

from __future__ import annotations

from pydantic import Field

from server.api_models import Out


class ClauseLine(Out):
    id: str
    kind: str = Field(
        description="section, item, dash, paragraph, attachment, table … (kb.segment)"
    )
    label: str = Field(description="The numbering label as printed, e.g. 11. or （三）.")
    heading: str
    parent: str | None


class NumberingGap(Out):
    before: str = Field(description="The clause before the gap, e.g. 二.10.")
    after: str = Field(description="The next sibling the segmenter found, e.g. 二.12.")
    missing: list[str] = Field(description="The numbers in between, as the document numbers.")


class AddedSource(Out):
    document: str
    title: str
    region: str
    text_path: str
    meta_path: str
    clauses: list[ClauseLine] = Field(description="Every clause found, in reading order.")
    gaps: list[NumberingGap] = Field(description="Where the numbering skips: check these.")
