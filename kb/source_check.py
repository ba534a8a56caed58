"""Checking the source files under policies/sources/ for `zhengce check`: each problem that
stops a source from loading, at its file, line and column, with a Chinese message and a code.

The rules are kb.ingest's (`read_metadata`, which kb.corpus loads every source with): this
module reads each source as the corpus does and only places the SourceError it raises, at the
field the error names (kb.ingest.SourceError.field) in the YAML nodes of the file.

    code                   the problem
    source_unreadable      the .yaml or .txt file cannot be read as UTF-8 text
    source_yaml_error      not valid YAML (line and column of the parser)
    source_bad_shape       the metadata is not a mapping of field: text
    source_missing_field   a required field is missing (placed at the top of the file)
    source_unknown_field   a field the metadata does not have (often a misspelling)
    source_bad_value       a value of the wrong kind or form: not text, a date that does
                           not exist (2023-02-30), an id that is not lower-case words joined
                           by '-' or differs from the file name, an unknown script or
                           provenance

All are errors: a source that does not load leaves every policy citing it unchecked.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import yaml

from kb.corpus import Document, load_document
from kb.file_issue import FileIssue, compose_file, issue_at
from kb.ingest import Metadata, SourceError, sources_dir

__all__ = ["CheckedSource", "SourceCode", "SourceReport", "check_sources"]

FIELDS = frozenset(field.name for field in dataclasses.fields(Metadata))


class SourceCode(StrEnum):
    UNREADABLE = "source_unreadable"
    YAML_ERROR = "source_yaml_error"
    BAD_SHAPE = "source_bad_shape"
    MISSING_FIELD = "source_missing_field"
    UNKNOWN_FIELD = "source_unknown_field"
    BAD_VALUE = "source_bad_value"

    @property
    def is_error(self) -> bool:
        return True


@dataclass(frozen=True)
class CheckedSource:
    """One file with a problem: its path, its text (None when unreadable) and the problem."""

    path: Path
    text: str | None
    issue: FileIssue

    def render(self) -> str:
        return self.issue.render(self.path, self.text)


@dataclass(frozen=True)
class SourceReport:
    """The sources that load, and the problem of each one that does not, by file name."""

    documents: tuple[Document, ...]
    problems: tuple[CheckedSource, ...]

    def render(self) -> str:
        return "\n".join(p.render() for p in self.problems)

    def summary(self) -> str:
        loaded = len(self.documents)
        return f"来源文件 {loaded + len(self.problems)} 个：错误 {len(self.problems)} 个"


def _constructs(node: yaml.Node) -> bool:
    """Whether YAML can make a value of the node (a date that does not exist it cannot)."""
    try:
        yaml.SafeLoader("").construct_object(node, deep=True)
    except (ValueError, yaml.YAMLError):
        return False
    return True


def _placed(error: SourceError, root: yaml.Node | None) -> FileIssue:
    """Where in the metadata file, and in which words, the error is."""
    if not isinstance(root, yaml.MappingNode):
        message = f"元数据须是“字段: 文字”的映射（{error.problem}）"
        if root is None:  # an empty file
            return FileIssue(1, 1, SourceCode.BAD_SHAPE, message)
        return issue_at(root, SourceCode.BAD_SHAPE, message)
    if not error.field:
        # Composed, yet not loaded: YAML could not construct a value (issued: 2023-02-30).
        bad = next(((k, v) for k, v in root.value if not _constructs(v)), None)
        if bad is None:
            return FileIssue(1, 1, SourceCode.YAML_ERROR, f"无法读取元数据（{error.problem}）")
        message = f"字段“{bad[0].value}”的值无法读取（{error.problem}）"
        return issue_at(bad[1], SourceCode.BAD_VALUE, message)
    at = next(((k, v) for k, v in root.value if str(k.value) == error.field), None)
    if at is None:
        message = f"缺少字段“{error.field}”（{error.problem}）"
        return FileIssue(1, 1, SourceCode.MISSING_FIELD, message)
    key, value = at
    if error.field not in FIELDS:
        message = f"元数据没有“{error.field}”这个字段，拼写有误？（{error.problem}）"
        return issue_at(key, SourceCode.UNKNOWN_FIELD, message)
    message = f"字段“{error.field}”的值不合要求（{error.problem}）"
    return issue_at(value, SourceCode.BAD_VALUE, message)


def _check(directory: Path, doc_id: str) -> Document | CheckedSource:
    path = directory / f"{doc_id}.yaml"
    composed = compose_file(path, SourceCode.UNREADABLE, SourceCode.YAML_ERROR)
    if composed.issue is not None:
        return CheckedSource(path, composed.text, composed.issue)
    try:
        return load_document(directory, doc_id)
    except SourceError as error:
        if Path(error.where) != path:  # the text file beside it
            issue = FileIssue(0, 0, SourceCode.UNREADABLE, f"无法读取正文（{error.problem}）")
            return CheckedSource(Path(error.where), None, issue)
        return CheckedSource(path, composed.text, _placed(error, composed.root))


def check_sources(root: Path) -> SourceReport:
    """Every source of the project at `root` (each <id>.yaml under policies/sources/) loaded
    as the corpus loads it, or its problem."""
    directory = sources_dir(root)
    ids = sorted(p.stem for p in directory.glob("*.yaml")) if directory.is_dir() else []
    checked = [_check(directory, doc_id) for doc_id in ids]
    return SourceReport(
        tuple(c for c in checked if isinstance(c, Document)),
        tuple(c for c in checked if isinstance(c, CheckedSource)),
    )
