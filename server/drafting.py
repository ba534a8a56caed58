"""The drafter's use cases: add a source document (`zhengce add`) and draft the policy file
that encodes it (`zhengce draft`). Like server.service they need no policy set (a drafter
adds a document before any rule cites it), return typed results, and turn every problem
with the drafter's input into a `DraftingError`: a stable code and a Chinese message."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dsl.draft import DraftClause, DraftHeader, draft
from dsl.schema import region_path
from kb.corpus import Corpus, Document, UnknownDocument
from kb.ingest import SourceError, add_page, read_metadata_input
from kb.numbering import Gap, numbering_gaps

__all__ = [
    "MESSAGES",
    "AddedSource",
    "DraftedPolicy",
    "DraftingError",
    "add_source",
    "draft_policy",
]

# What each code says to the drafter; the English detail (the file, the field) follows it.
MESSAGES = {
    "unreadable_page": "无法读取网页文件，或其编码既非 UTF-8、也非网页声明的编码",
    "empty_text": "网页去掉标签和网页杂项后没有正文",
    "source_exists": "已有同一编号的来源文件；换一个编号，或加 --overwrite 替换",
    "bad_document_id": "文件编号须由小写字母、数字和“-”组成，如 suzhou-2020",
    "bad_metadata": "元数据有误",
    "bad_region": "地区须为以“/”分隔的行政区路径，如 江苏省/苏州市",
    "unknown_document": "policies/sources 中没有这个来源文件；先用 zhengce add 加入",
    "policy_exists": "规则文件已存在；加 --force 覆盖（原有内容会丢失）",
    "unwritable_policy": "无法写入规则文件",
}


class DraftingError(Exception):
    """A drafter's input that cannot be used: `code` (a key of MESSAGES) for programs,
    `message` in Chinese for people, `detail` in English with the specifics."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.message = f"{MESSAGES[code]}（{detail}）"


@dataclass(frozen=True)
class AddedSource:
    document: Document  # as the corpus reads it back: metadata, text, clauses
    text_path: Path
    meta_path: Path
    gaps: tuple[Gap, ...]  # where the numbering skips: a segmentation mistake shows here


@dataclass(frozen=True)
class DraftedPolicy:
    document: str
    path: Path
    routes: int  # drafted routes, each `待审`
    skips: int  # `不编码` stubs, each `待审`


def add_source(
    root: Path,
    page: Path,
    doc_id: str,
    region: str,
    meta: Path | None = None,
    *,
    overwrite: bool = False,
) -> AddedSource:
    """Write a saved page (text or HTML) as source `doc_id` of the project at `root`, with
    `region` and whatever the metadata file gives; return it as segmented."""
    path = region_path(region)
    if path is None:
        raise DraftingError("bad_region", f"--region {region!r}")
    try:
        fields = read_metadata_input(meta) if meta is not None else {}
        if fields.get("region") and region_path(fields["region"]) != path:
            raise SourceError(meta or "", f"region {fields['region']!r} differs from --region")
        data = page.read_bytes()
    except SourceError as e:
        raise DraftingError(e.code, str(e)) from None
    except OSError as e:
        raise DraftingError("unreadable_page", f"{page}: {e.strerror}") from None
    try:
        text_path, meta_path = add_page(
            data, page.name, doc_id, {**fields, "region": path}, root, overwrite=overwrite
        )
    except SourceError as e:
        raise DraftingError(e.code, str(e)) from None
    document = Corpus(root).document(doc_id)
    return AddedSource(document, text_path, meta_path, tuple(numbering_gaps(document.clauses)))


def draft_policy(root: Path, doc_id: str, *, force: bool = False) -> DraftedPolicy:
    """Write policies/<doc_id>.zc, drafted from the source (dsl.draft); an existing file is
    replaced only with `force`."""
    try:
        document = Corpus(root).document(doc_id)
    except UnknownDocument as e:
        raise DraftingError("unknown_document", str(e)) from None
    except SourceError as e:
        raise DraftingError(e.code, str(e)) from None
    path = root / "policies" / f"{doc_id}.zc"
    if path.exists() and not force:
        raise DraftingError("policy_exists", str(path))
    meta = document.meta
    header = DraftHeader(
        meta.id, meta.title, meta.doc_number, meta.issuer, meta.region, meta.issued, meta.published
    )
    clauses = [
        DraftClause(c.id, c.label, c.heading, c.text, bool(document.children(c.id)))
        for c in document.clauses
    ]
    drafted = draft(header, clauses)
    try:
        path.write_text(drafted.text, encoding="utf-8")
    except OSError as e:
        raise DraftingError("unwritable_policy", f"{path}: {e.strerror}") from None
    return DraftedPolicy(doc_id, path, drafted.routes, drafted.skips)
