"""Source documents on disk, and how they get there.

Each source is two files under `<root>/policies/sources/`:

    <doc-id>.txt    the cleaned text (kb.clean), the only text clauses and quotes refer to
    <doc-id>.yaml   its metadata: the fields of `Metadata`, all present, "" when unknown
                    (`provenance` and `provenance_note` may be left out: "")

`add_document(raw, doc_id, meta, root)` cleans a page and writes both files, so adding a
document needs no code change. `add_page` takes the page as saved (text or HTML, as bytes;
kb.html_text) and is what `zhengce add` runs; `python -m kb.ingest add` runs it too.
Missing `published`, `issuer` and `doc_number` are taken from the page's own metadata lines;
a missing `script` is detected. Nothing else is filled in: an unknown 文号 stays "".

Every SourceError has a stable `code`: `bad_metadata` (the default), `bad_document_id`,
`unreadable_page`, `empty_text`, `source_exists`, `unreadable_source`.

A source's `seed` names the scraped page it was cleaned from. `ingest_seeds` (CLI:
`python -m kb.ingest seeds [SEED_DIR] --root .`) cleans those pages again and rewrites every
such source from its own yaml, which stays the one record of what was read off each page by
hand; `notes` says what is uncertain.
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
from kb.html_text import UndecodablePage, page_text
from kb.normalize import to_simplified

__all__ = [
    "PROVENANCES",
    "SCRIPTS",
    "SOURCES_DIR",
    "Metadata",
    "SourceError",
    "add_document",
    "add_page",
    "detect_script",
    "ingest_seeds",
    "main",
    "read_metadata",
    "read_metadata_input",
    "seed_dir",
    "sources_dir",
]

SOURCES_DIR = Path("policies") / "sources"
SCRIPTS = ("zh-Hans", "zh-Hant")
# What a source's text is. Only `official` is the issuing body's own text; every citation of
# the others says which it is (a news report's wording is the reporter's, an unofficial copy
# or a reprint may differ from the official text). "" when not known.
PROVENANCES = ("official", "news_report", "unofficial_copy", "reprint")
# Fields a metadata file may leave out (older sources, hand-written test folders).
_OPTIONAL = ("provenance", "provenance_note")
_DOC_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_REQUIRED_INPUT = ("title", "region", "kind")
# A page counts as Traditional when t2s changes this share of its Han characters; simplified
# pages still have a few (乾隆, 著), Traditional ones have far more than this.
_TRADITIONAL_SHARE = 0.05


class SourceError(ValueError):
    """A source file or a document to add is unusable; the message names the file and fix,
    `code` (module docstring) says which kind of problem it is, `field` the metadata field it
    is at ("" when none)."""

    def __init__(
        self, where: str | Path, problem: str, code: str = "bad_metadata", field: str = ""
    ) -> None:
        self.where = str(where)
        self.problem = problem
        self.code = code
        self.field = field
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
    provenance: str = ""  # one of PROVENANCES; "" when not known
    provenance_note: str = ""  # why, in Chinese: who published it, how it differs from the official

    @classmethod
    def from_mapping(cls, data: object, *, where: str | Path) -> Metadata:
        """Strict: every field present (but `provenance` and `provenance_note`), a string, no
        unknown keys, a valid id, script and provenance."""
        if not isinstance(data, Mapping):
            raise SourceError(where, "metadata must be a mapping of field: text")
        names = [field.name for field in dataclasses.fields(cls)]
        missing = [name for name in names if name not in data and name not in _OPTIONAL]
        unknown = sorted(str(key) for key in data if key not in names)
        if missing or unknown:
            problems = [f"missing fields {missing}"] if missing else []
            problems += [f"unknown fields {unknown}"] if unknown else []
            at = unknown[0] if unknown else missing[0]
            raise SourceError(where, "; ".join(problems) + f" (the fields are {names})", field=at)
        values = {name: _as_text(data.get(name, "")) for name in names}
        not_text = [name for name, value in values.items() if value is None]
        if not_text:
            problem = f"fields {not_text} must be text (quote them in YAML)"
            raise SourceError(where, problem, field=not_text[0])
        meta = cls(**{name: value or "" for name, value in values.items()})
        if not _DOC_ID.fullmatch(meta.id):
            problem = f"id {meta.id!r} must be lower-case words joined by '-'"
            raise SourceError(where, problem, field="id")
        if meta.script not in SCRIPTS:
            problem = f"script {meta.script!r} must be one of {list(SCRIPTS)}"
            raise SourceError(where, problem, field="script")
        if meta.provenance and meta.provenance not in PROVENANCES:
            problem = f'provenance {meta.provenance!r} must be one of {list(PROVENANCES)} or ""'
            raise SourceError(where, problem, field="provenance")
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
    # ValueError: not UTF-8, or a date that does not exist (issued: 2017-02-30).
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise SourceError(path, f"cannot read metadata ({exc})") from exc
    meta = Metadata.from_mapping(data, where=path)
    if meta.id != path.stem:
        problem = f"id {meta.id!r} differs from the file name {path.stem!r}"
        raise SourceError(path, problem, field="id")
    return meta


def read_metadata_input(path: Path) -> dict[str, str]:
    """The fields a drafter wrote in a metadata file for a document to add (any subset of
    `Metadata`'s; add_document checks them)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError, ValueError) as exc:
        # ValueError: a file that is not UTF-8, or a date YAML reads but no calendar has
        # (2023-02-30).
        raise SourceError(path, f"cannot read metadata ({exc})") from exc
    if not isinstance(data, dict):
        raise SourceError(path, "metadata must be a mapping of field: text")
    texts = {str(key): _as_text(value) for key, value in data.items()}
    not_text = [key for key, value in texts.items() if value is None]
    if not_text:
        raise SourceError(path, f"fields {not_text} must be text (quote them in YAML)")
    return {key: value or "" for key, value in texts.items()}


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
        raise SourceError(
            doc_id, "a document id is lower-case words joined by '-'", "bad_document_id"
        )
    text = clean(raw_text)
    if not text:
        raise SourceError(doc_id, "the page has no text left after cleaning", "empty_text")
    metadata = Metadata.from_mapping(_complete(raw_text, text, doc_id, meta), where=doc_id)
    directory = sources_dir(root)
    txt_path, yaml_path = directory / f"{doc_id}.txt", directory / f"{doc_id}.yaml"
    if not overwrite and (txt_path.exists() or yaml_path.exists()):
        raise SourceError(
            txt_path, "already exists; pass overwrite=True (--overwrite)", "source_exists"
        )
    directory.mkdir(parents=True, exist_ok=True)
    txt_path.write_text(text, encoding="utf-8")
    dumped = yaml.safe_dump(metadata.to_dict(), allow_unicode=True, sort_keys=False, width=100)
    yaml_path.write_text(dumped, encoding="utf-8")
    return txt_path, yaml_path


def add_page(
    data: bytes,
    name: str,
    doc_id: str,
    meta: Mapping[str, str],
    root: Path,
    *,
    overwrite: bool = False,
) -> tuple[Path, Path]:
    """A page as saved (`name` is its file name: .html or .htm is read as HTML, as is text
    that starts like HTML) added as source `doc_id`, as `add_document` does. Where `meta`
    gives no title, the document's first line is taken when the HTML <title> holds it (a
    page's title adds the site's name), else the <title>, else the first line; `kind`
    defaults to policy."""
    try:
        page = page_text(data, name)
    except UndecodablePage as e:
        raise SourceError(name, str(e), "unreadable_page") from None
    first_line = next((line for line in clean(page.text).splitlines() if line), "")
    title = first_line if first_line in page.title else page.title or first_line
    fields = {"kind": "policy", "title": title, **meta}
    return add_document(page.text, doc_id, fields, root, overwrite=overwrite)


def seed_dir(root: Path) -> Path:
    """Where the scraped seed pages are kept: in `seeds` under the `shared` folder that sits
    beside the project folder `root`, not in the repository."""
    return root.resolve().parent / "shared" / "seeds"


def ingest_seeds(seeds: Path, root: Path) -> list[Path]:
    """Clean again the seed page of every source under `root` whose metadata names one, found
    in the folder `seeds`, and rewrite the source with its own metadata; returns the paths
    written. Every page is read before anything is written."""
    metas = [read_metadata(path) for path in sorted(sources_dir(root).glob("*.yaml"))]
    pages = [(meta, (seeds / meta.seed).read_text(encoding="utf-8")) for meta in metas if meta.seed]
    written: list[Path] = []
    for meta, raw in pages:
        written.extend(add_document(raw, meta.id, meta.to_dict(), root, overwrite=True))
    return written


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--root", type=Path, default=Path("."), help="project root (default .)")
    parser = argparse.ArgumentParser(
        prog="python -m kb.ingest", description="Add scraped policy pages as source documents."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    seeds = commands.add_parser(
        "seeds", parents=[common], help="rebuild the sources whose metadata names a seed page"
    )
    seeds.add_argument(
        "seed_dir", type=Path, nargs="?", help="the seed pages (default: kb.ingest.seed_dir)"
    )
    add = commands.add_parser("add", parents=[common], help="clean a page, add it as a source")
    add.add_argument("page", type=Path, help="the scraped page, UTF-8 text")
    add.add_argument("--id", required=True, help="document id, e.g. suzhou-2020")
    add.add_argument("--meta", type=Path, required=True, help="YAML with title, region, kind…")
    add.add_argument("--overwrite", action="store_true", help="replace an existing source")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "seeds":
            paths = ingest_seeds(args.seed_dir or seed_dir(args.root), args.root)
        else:
            fields = read_metadata_input(args.meta)
            data = args.page.read_bytes()
            paths = list(
                add_page(data, args.page.name, args.id, fields, args.root, overwrite=args.overwrite)
            )
    except (SourceError, OSError, yaml.YAMLError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
