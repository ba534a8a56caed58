"""Reading and checking the drafters' lexicon file (policies/lexicon.yaml, see kb.lexicon).

Problems are values with a place (kb.file_issue.FileIssue: code, message, line, column), so
`zhengce check` can list them all after the policy diagnostics, and `load_lexicon` can refuse a
file that cannot be read as a lexicon. Two kinds:

- the file's shape (`read_lexicon_file`): what stops a lexicon from being built at all. Search
  refuses such a file (kb.lexicon.LexiconError names the first problem);
- its content (`check_lexicon`, which also reports the shape): entries that build, but do
  nothing or harm every query. Search still runs on them; `zhengce check` fails on the errors.

    code                          severity  the problem
    lexicon_unreadable            error     the file cannot be read as UTF-8 text
    lexicon_yaml_error            error     not valid YAML (line and column of the parser)
    lexicon_bad_shape             error     no `terms` list; an entry or a value of the wrong kind
    lexicon_missing_key           error     an entry without `official` or `colloquial`
    lexicon_unknown_key           error     a key other than `terms`, `official`, `colloquial`
    lexicon_duplicate_key         error     a key twice in one entry (YAML keeps only the last)
    lexicon_empty_term            error     an empty word, or an empty list
    lexicon_self_mapping          error     a phrase equal to its own official term
    lexicon_duplicate_colloquial  error     a phrase in two places (each phrase has one entry)
    lexicon_phrase_too_short      error     a phrase of one character, or of one or two letters
    lexicon_official_unmatched    warning   an official term that no source document contains

Terms are compared as search compares them (kb.normalize, then lower case), so 報備 and 报备,
or SME and sme, are the same phrase. A phrase is found in a question as a substring, which is
why one character (地, 批) or two letters (pe inside "open") would expand nearly every query.
An official term is added to a query to meet the documents' words; one that no document
contains can never match, so the entry cannot help (a warning: the sources may grow).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import yaml

from kb.file_issue import FileIssue, compose_file, issue_at, place
from kb.normalize import normalize

__all__ = [
    "Entry",
    "LexiconCode",
    "LexiconFile",
    "LexiconReport",
    "Word",
    "check_lexicon",
    "phrase_key",
    "read_lexicon_file",
]

FIELDS = ("official", "colloquial")
ENTRY_RULE = "每一条须有且只有“official”和“colloquial”"


class LexiconCode(StrEnum):
    UNREADABLE = "lexicon_unreadable"
    YAML_ERROR = "lexicon_yaml_error"
    BAD_SHAPE = "lexicon_bad_shape"
    MISSING_KEY = "lexicon_missing_key"
    UNKNOWN_KEY = "lexicon_unknown_key"
    DUPLICATE_KEY = "lexicon_duplicate_key"
    EMPTY_TERM = "lexicon_empty_term"
    SELF_MAPPING = "lexicon_self_mapping"
    DUPLICATE_COLLOQUIAL = "lexicon_duplicate_colloquial"
    PHRASE_TOO_SHORT = "lexicon_phrase_too_short"
    OFFICIAL_UNMATCHED = "lexicon_official_unmatched"

    @property
    def is_error(self) -> bool:
        # A code always has the same severity, so the docs' table can state it.
        return self is not LexiconCode.OFFICIAL_UNMATCHED


def phrase_key(text: str) -> str:
    """A term as search compares it: normalised (script, width, spaces), then lower case."""
    return normalize(text).lower()


@dataclass(frozen=True)
class Word:
    """A term as written (stripped) and where."""

    text: str
    line: int
    column: int
    end_column: int


@dataclass(frozen=True)
class Entry:
    official: tuple[Word, ...]
    colloquial: tuple[Word, ...]


@dataclass(frozen=True)
class LexiconFile:
    """The file read as entries; `issues` are the shape problems (all errors), in file order.
    With any issue, `entries` hold only the words that could be read (for `check_lexicon`)."""

    path: Path
    text: str | None
    entries: tuple[Entry, ...]
    issues: tuple[FileIssue, ...]


def _is_null(node: yaml.Node) -> bool:
    # `key:`, `key: ~` and `key: null` compose to a scalar whose text is "", "~" or "null".
    return node.tag == "tag:yaml.org,2002:null"


class _Reader:
    """Walks the composed YAML nodes; keeps every shape problem, not only the first."""

    def __init__(self) -> None:
        self.issues: list[FileIssue] = []

    def document(self, root: yaml.Node) -> list[Entry]:
        terms = None
        pairs = root.value if isinstance(root, yaml.MappingNode) else []
        if any(str(k.value) == "terms" for k, _ in pairs):
            for key, value in pairs:
                name = str(key.value)
                if name != "terms":
                    message = f"未知的键“{name}”：顶层只有“terms”"
                    self.issues.append(issue_at(key, LexiconCode.UNKNOWN_KEY, message))
                elif terms is not None:
                    message = "“terms”写了两次，只会留下后一个；合并成一个列表"
                    self.issues.append(issue_at(key, LexiconCode.DUPLICATE_KEY, message))
                else:
                    terms = value
        if not isinstance(terms, yaml.SequenceNode):
            self.issues.append(
                issue_at(terms or root, LexiconCode.BAD_SHAPE, "须有“terms”列表，每一项是一条")
            )
            return []
        entries = (self.entry(node) for node in terms.value)
        return [e for e in entries if e is not None]

    def entry(self, node: yaml.Node) -> Entry | None:
        if not isinstance(node, yaml.MappingNode):
            self.issues.append(issue_at(node, LexiconCode.BAD_SHAPE, f"{ENTRY_RULE}，写成键值对"))
            return None
        fields: dict[str, yaml.Node] = {}
        for key, value in node.value:
            name = str(key.value)
            if name not in FIELDS:
                self.issues.append(
                    issue_at(key, LexiconCode.UNKNOWN_KEY, f"未知的键“{name}”：{ENTRY_RULE}")
                )
            elif name in fields:
                message = f"“{name}”在这一条里写了两次，只会留下后一个；合并成一个列表"
                self.issues.append(issue_at(key, LexiconCode.DUPLICATE_KEY, message))
            else:
                fields[name] = value
        for name in FIELDS:
            if name not in fields:
                self.issues.append(
                    issue_at(node, LexiconCode.MISSING_KEY, f"{ENTRY_RULE}：缺少“{name}”")
                )
        official, colloquial = (
            self.words(fields[name], name) if name in fields else () for name in FIELDS
        )
        return Entry(official, colloquial)

    def words(self, node: yaml.Node, field: str) -> tuple[Word, ...]:
        """The words of a field that could be read; a problem for each one that could not."""
        items: Sequence[yaml.Node] = node.value if isinstance(node, yaml.SequenceNode) else [node]
        if isinstance(node, yaml.SequenceNode) and not items:
            self.issues.append(issue_at(node, LexiconCode.EMPTY_TERM, f"“{field}”不能为空"))
        out = []
        for item in items:
            if not isinstance(item, yaml.ScalarNode):
                message = f"“{field}”须是词语或词语列表"
                self.issues.append(issue_at(item, LexiconCode.BAD_SHAPE, message))
            elif _is_null(item) or not str(item.value).strip():
                message = f"“{field}”里有空词语" if item is not node else f"“{field}”不能为空"
                self.issues.append(issue_at(item, LexiconCode.EMPTY_TERM, message))
            else:
                out.append(Word(str(item.value).strip(), *place(item)))
        return tuple(out)


def read_lexicon_file(path: Path) -> LexiconFile:
    """The entries of the lexicon at `path` and the problems of its shape. An empty file is an
    empty lexicon."""
    read = compose_file(path, LexiconCode.UNREADABLE, LexiconCode.YAML_ERROR)
    if read.issue is not None:
        return LexiconFile(path, read.text, (), (read.issue,))
    text, root = read.text, read.root
    if root is None or _is_null(root):
        return LexiconFile(path, text, (), ())
    reader = _Reader()
    entries = reader.document(root)
    return LexiconFile(path, text, tuple(entries), tuple(reader.issues))


@dataclass(frozen=True)
class LexiconReport:
    """Every problem of one lexicon file, sorted by place."""

    path: Path
    text: str | None
    entries: int
    issues: tuple[FileIssue, ...]

    @property
    def errors(self) -> tuple[FileIssue, ...]:
        return tuple(i for i in self.issues if i.code.is_error)

    def render(self) -> str:
        return "\n".join(i.render(self.path, self.text) for i in self.issues)

    def summary(self) -> str:
        n_err = len(self.errors)
        n_warn = len(self.issues) - n_err
        return f"{self.path.name}：{self.entries} 条，错误 {n_err} 个，警告 {n_warn} 个"


def _at(word: Word, code: LexiconCode, message: str) -> FileIssue:
    return FileIssue(word.line, word.column, code, message, word.end_column)


def _content_issues(entries: Sequence[Entry], documents: Sequence[str]) -> list[FileIssue]:
    issues = []
    first_seen: dict[str, Word] = {}
    for entry in entries:
        officials = {phrase_key(o.text) for o in entry.official}
        for word in entry.colloquial:
            key = phrase_key(word.text)
            if key in officials:
                message = f"说法“{word.text}”就是这一条的正式用语，不会带来任何扩展；删去它"
                issues.append(_at(word, LexiconCode.SELF_MAPPING, message))
            if key in first_seen:
                message = (
                    f"说法“{word.text}”在第 {first_seen[key].line} 行已经有了；一个说法只写在"
                    "一条里（它若对应几个正式用语，都写进那一条的 official）"
                )
                issues.append(_at(word, LexiconCode.DUPLICATE_COLLOQUIAL, message))
            first_seen.setdefault(key, word)
            if len(key) < (3 if key.isascii() else 2):
                where = (
                    "别的英文词里也有它（如 open 里的 pe）"
                    if key.isascii()
                    else "问题里处处有这个字"
                )
                message = (
                    f"说法“{word.text}”太短：{where}，几乎每次检索都会加上它的正式用语；"
                    "写成更完整的说法"
                )
                issues.append(_at(word, LexiconCode.PHRASE_TOO_SHORT, message))
        for word in entry.official:
            key = phrase_key(word.text)
            if not any(key in document for document in documents):
                message = (
                    f"正式用语“{word.text}”不在任何来源文件里，这一条的扩展找不到条款；"
                    "改用文件里的原词"
                )
                issues.append(_at(word, LexiconCode.OFFICIAL_UNMATCHED, message))
    return issues


def check_lexicon(path: Path, documents: Iterable[str]) -> LexiconReport:
    """Every problem of the lexicon at `path`, shape and content; `documents` are the source
    texts its official terms should occur in. No file: nothing to report."""
    if not path.is_file():
        return LexiconReport(path, None, 0, ())
    read = read_lexicon_file(path)
    texts = [phrase_key(d) for d in documents]
    issues = [*read.issues, *_content_issues(read.entries, texts)]
    return LexiconReport(path, read.text, len(read.entries), tuple(sorted(issues)))
