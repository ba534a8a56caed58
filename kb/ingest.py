"""Source documents on disk, and how they get there.

Each source is two files under `<root>/policies/sources/`:

    <doc-id>.txt    the cleaned text (kb.clean), the only text clauses and quotes refer to
    <doc-id>.yaml   its metadata: the fields of `Metadata`, all present, "" when unknown

`add_document(raw, doc_id, meta, root)` cleans a page and writes both files, so adding a
document needs no code change (CLI: `python -m kb.ingest add PAGE.txt --id ID --meta M.yaml`).
Missing `published`, `issuer` and `doc_number` are taken from the page's own metadata lines;
a missing `script` is detected. Nothing else is filled in: an unknown 文号 stays "".

The five sources in policies/sources were produced from the seed pages with

    .venv/bin/python -m kb.ingest seeds /work/shared/seeds --root . --overwrite

which applies `add_document` to each entry of `SEEDS`; the metadata there was read off each
page by hand, and `notes` says what is uncertain.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from kb.clean import clean, page_metadata
from kb.normalize import to_simplified

__all__ = [
    "SCRIPTS",
    "SEEDS",
    "SOURCES_DIR",
    "Metadata",
    "SourceError",
    "add_document",
    "detect_script",
    "ingest_seeds",
    "main",
    "read_metadata",
    "sources_dir",
]

SOURCES_DIR = Path("policies") / "sources"
SCRIPTS = ("zh-Hans", "zh-Hant")
_DOC_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_REQUIRED_INPUT = ("title", "region", "kind")
# A page counts as Traditional when t2s changes this share of its Han characters; simplified
# pages still have a few (乾隆, 著), Traditional ones have far more than this.
_TRADITIONAL_SHARE = 0.05


class SourceError(ValueError):
    """A source file or a document to add is unusable; the message names the file and fix."""

    def __init__(self, where: str | Path, problem: str) -> None:
        self.where = str(where)
        self.problem = problem
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class Metadata:
    """What is known about a source document; every field is text, "" when not known."""

    id: str
    title: str
    doc_number: str  # 文号 as printed; "" when the text gives none (never invented)
    issuer: str  # "" when not stated
    region: str  # administrative path, e.g. 浙江省/温州市/鹿城区
    issued: str  # the date the text gives for the document, ISO (YYYY-MM-DD)
    published: str  # the page's publication date, when it shows one other than issued
    script: str  # zh-Hans or zh-Hant
    kind: str  # policy, news_report, …
    seed: str  # the file the text came from
    notes: str  # anything uncertain about the above

    @classmethod
    def from_mapping(cls, data: object, *, where: str | Path) -> Metadata:
        """Strict: every field present, a string, no unknown keys, a valid id and script."""
        if not isinstance(data, Mapping):
            raise SourceError(where, "metadata must be a mapping of field: text")
        names = [field.name for field in dataclasses.fields(cls)]
        missing = [name for name in names if name not in data]
        unknown = sorted(str(key) for key in data if key not in names)
        if missing or unknown:
            problems = [f"missing fields {missing}"] if missing else []
            problems += [f"unknown fields {unknown}"] if unknown else []
            raise SourceError(where, "; ".join(problems) + f" (the fields are {names})")
        values = {name: _as_text(data[name]) for name in names}
        not_text = [name for name, value in values.items() if value is None]
        if not_text:
            raise SourceError(where, f"fields {not_text} must be text (quote them in YAML)")
        meta = cls(**{name: value or "" for name, value in values.items()})
        if not _DOC_ID.fullmatch(meta.id):
            raise SourceError(where, f"id {meta.id!r} must be lower-case words joined by '-'")
        if meta.script not in SCRIPTS:
            raise SourceError(where, f"script {meta.script!r} must be one of {list(SCRIPTS)}")
        return meta

    def to_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


def _as_text(value: object) -> str | None:
    # An unquoted 2017-03-13 in hand-written YAML arrives as a date: accept it as ISO text.
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value if isinstance(value, str) else None


def sources_dir(root: Path) -> Path:
    """Where the sources of the project at `root` live."""
    return root / SOURCES_DIR


def read_metadata(path: Path) -> Metadata:
    """The metadata in a <doc-id>.yaml; its `id` must match the file name."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SourceError(path, f"cannot read metadata ({exc})") from exc
    meta = Metadata.from_mapping(data, where=path)
    if meta.id != path.stem:
        raise SourceError(path, f"id {meta.id!r} differs from the file name {path.stem!r}")
    return meta


def detect_script(text: str) -> str:
    """zh-Hant when OpenCC t2s would change a noticeable share of the Han characters."""
    han = [char for char in text if "\u4e00" <= char <= "\u9fff"]
    if not han:
        return "zh-Hans"
    simplified = to_simplified("".join(han))
    changed = sum(a != b for a, b in zip(han, simplified, strict=False))
    return "zh-Hant" if changed / len(han) >= _TRADITIONAL_SHARE else "zh-Hans"


def _complete(raw: str, text: str, doc_id: str, meta: Mapping[str, str]) -> dict[str, str]:
    missing = [name for name in _REQUIRED_INPUT if not meta.get(name)]
    if missing:
        raise SourceError(doc_id, f"metadata needs {missing} (see kb.ingest.Metadata)")
    if meta.get("id", doc_id) != doc_id:
        raise SourceError(doc_id, f"metadata id {meta['id']!r} differs from the document id")
    fields = {field.name: "" for field in dataclasses.fields(Metadata)}
    fields.update({key: value for key, value in page_metadata(raw).items() if key in fields})
    fields["script"] = detect_script(text)
    fields.update(meta)
    fields["id"] = doc_id
    return fields


def add_document(
    raw_text: str,
    doc_id: str,
    meta: Mapping[str, str],
    root: Path,
    *,
    overwrite: bool = False,
) -> tuple[Path, Path]:
    """Clean a page and write it as source `doc_id`; returns (txt path, yaml path).

    `meta` needs title, region and kind; other fields default as the module docstring says.
    An existing source is replaced only with `overwrite=True`.
    """
    if not _DOC_ID.fullmatch(doc_id):
        raise SourceError(doc_id, "a document id is lower-case words joined by '-'")
    text = clean(raw_text)
    if not text:
        raise SourceError(doc_id, "the page has no text left after cleaning")
    metadata = Metadata.from_mapping(_complete(raw_text, text, doc_id, meta), where=doc_id)
    directory = sources_dir(root)
    txt_path, yaml_path = directory / f"{doc_id}.txt", directory / f"{doc_id}.yaml"
    if not overwrite and (txt_path.exists() or yaml_path.exists()):
        raise SourceError(txt_path, "already exists; pass overwrite=True (--overwrite)")
    directory.mkdir(parents=True, exist_ok=True)
    txt_path.write_text(text, encoding="utf-8")
    dumped = yaml.safe_dump(metadata.to_dict(), allow_unicode=True, sort_keys=False, width=100)
    yaml_path.write_text(dumped, encoding="utf-8")
    return txt_path, yaml_path


def _seed(seed: str, **fields: str) -> Metadata:
    return Metadata(seed=seed, **fields)


SEEDS = (
    _seed(
        "000_a4b71cf5425e3193.txt",
        id="jiading-2017",
        title="嘉定区关于产业发展区域统筹的实施意见(试行)",
        doc_number="嘉委发〔2017〕2号",
        issuer="上海市嘉定区委员会",
        region="上海市/嘉定区",
        issued="2017-03-13",
        published="2019-09-27",
        script="zh-Hans",
        kind="policy",
        notes=(
            "issuer is the page's 发布机构; 嘉委发 is the prefix of 中共上海市嘉定区委员会 "
            "documents, which may have been issued jointly with the district government "
            "(not stated). issued: the text shows '2017313' after the 附 line, read as "
            "2017年3月13日 (年/月/日 lost in scraping). published is the date the page "
            "(zhengsoso.com) gives. The 任务分解表 was flattened into one cell per line; "
            "it is table 表 with rows 表.1–表.18 and group labels 表.(一)–表.(五)."
        ),
    ),
    _seed(
        "001_b108d8fd1602ad01.txt",
        id="chengdu-2018",
        title="《全市产业功能区及园区建设实施方案》印发",
        doc_number="",
        issuer="",
        region="四川省/成都市",
        issued="2018-01-13",
        published="",
        script="zh-Hans",
        kind="news_report",
        notes=(
            "A news report (记者 杨彩华 文豪; the outlet is not named) on the 全市产业功能区"
            "及园区建设实施方案, which 市委办公厅、市政府办公厅 issued 'on the 11th', i.e. "
            "2018-01-11 (inferred from the report's date). The 方案's own text, 文号 and "
            "numbering are not available; quotes are the reporter's wording. issued is the "
            "report's 发布时间 2018-01-13 08:44:39. Region from 成都市 in the text."
        ),
    ),
    _seed(
        "002_cf4fa1bba9ea7de6.txt",
        id="pingliang-2023",
        title="关于深化全市工业园区(高新区、集中区)管理改革的意见",
        doc_number="",
        issuer="",
        region="甘肃省/平凉市",
        issued="",
        published="2023-08-02",
        script="zh-Hans",
        kind="policy",
        notes=(
            "The page gives only its 发布日期 2023-08-02 09:42:00: no 文号, issuer or signing "
            "date (the wording suggests a 市委/市政府 document; not stated). Region from "
            "'新平凉' and 平凉市…考核评价办法 in the text. Item 二.8 lacks the full stop after "
            "its heading (建立健全协同联动机制建立…), so it has no separate heading."
        ),
    ),
    _seed(
        "003_bd4c905f1d7d095b.txt",
        id="lucheng-2016",
        title="鹿城区产业(工业)平台整合提升三年行动计划(2016-2018年)",
        doc_number="温鹿政办〔2016〕97号",
        issuer="温州市鹿城区人民政府办公室",
        region="浙江省/温州市/鹿城区",
        issued="2016-08-31",
        published="2016-09-05",
        script="zh-Hans",
        kind="policy",
        notes=(
            "The text is the 印发通知 (signed 温州市鹿城区人民政府办公室 2016年8月31日) followed "
            "by the plan; both are clause p1 up to 一、. The page's metadata table gives 文号, "
            "生成日期 2016-09-05 (published), 索引号 001008003001001/2016-36778 and 发布机构 "
            "区政府办公室(区外事办、区大数据发展管理局). The page flattened the body into one "
            "line (line breaks became spaces). The three attachments are tables that the "
            "page does not contain; only their titles (附件1–附件3) are present."
        ),
    ),
    _seed(
        "004_657c763e6e9290da.txt",
        id="jiangxi-2019",
        title="2019年促進全省開發區改革和創新發展工作要點",
        doc_number="",
        issuer="",
        region="江西省",
        issued="",
        published="",
        script="zh-Hant",
        kind="policy",
        notes=(
            "Taken from a CV-template site (来源: 巧巧简历站) that shows a Traditional-script "
            "conversion of a Simplified original; wording may differ from the official text. "
            "No issuer, 文号 or date is given (2019 from the title; the issuer is presumably a "
            "江西省 provincial body). The page puts the introductory paragraph before a "
            "repeated title (p2, p3). 'ppp' is lower case in the source."
        ),
    ),
)


def ingest_seeds(seed_dir: Path, root: Path, *, overwrite: bool = False) -> list[Path]:
    """Write every `SEEDS` entry whose seed file is in `seed_dir`; returns the paths written."""
    written: list[Path] = []
    for meta in SEEDS:
        raw = (seed_dir / meta.seed).read_text(encoding="utf-8")
        written.extend(add_document(raw, meta.id, meta.to_dict(), root, overwrite=overwrite))
    return written


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--root", type=Path, default=Path("."), help="project root (default .)")
    common.add_argument("--overwrite", action="store_true", help="replace existing sources")
    parser = argparse.ArgumentParser(
        prog="python -m kb.ingest", description="Add scraped policy pages as source documents."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    seeds = commands.add_parser(
        "seeds", parents=[common], help="(re)build the sources listed in kb.ingest.SEEDS"
    )
    seeds.add_argument("seed_dir", type=Path)
    add = commands.add_parser("add", parents=[common], help="clean a page, add it as a source")
    add.add_argument("page", type=Path, help="the scraped page, UTF-8 text")
    add.add_argument("--id", required=True, help="document id, e.g. suzhou-2020")
    add.add_argument("--meta", type=Path, required=True, help="YAML with title, region, kind…")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "seeds":
            paths = ingest_seeds(args.seed_dir, args.root, overwrite=args.overwrite)
        else:
            meta = yaml.safe_load(args.meta.read_text(encoding="utf-8")) or {}
            if not isinstance(meta, dict):
                raise SourceError(args.meta, "metadata must be a mapping of field: text")
            texts = {str(key): _as_text(value) for key, value in meta.items()}
            not_text = [key for key, value in texts.items() if value is None]
            if not_text:
                raise SourceError(args.meta, f"fields {not_text} must be text")
            raw = args.page.read_text(encoding="utf-8")
            fields = {key: value or "" for key, value in texts.items()}
            paths = list(add_document(raw, args.id, fields, args.root, overwrite=args.overwrite))
    except (SourceError, OSError, yaml.YAMLError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
