"""A problem of a hand-written YAML file under policies/, with its place, as `zhengce check`
lists it: `file:line:col: code: message`, then the line with a caret under the marked text.

Shared by the lexicon's checks (kb.lexicon_file) and the source metadata's (kb.source_check).
kb never imports dsl, so the caret rendering mirrors dsl.errors.Diagnostic.render's layout.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import yaml

__all__ = ["ComposedFile", "FileIssue", "IssueCode", "compose_file", "issue_at", "place"]


class IssueCode(Protocol):
    """A stable code (a StrEnum member): its text names the problem for programs."""

    @property
    def is_error(self) -> bool: ...

    def __lt__(self, other: str, /) -> bool: ...


@dataclass(frozen=True, order=True)
class FileIssue:
    """One problem; `line` and `column` are 1-based (0: the whole file), `end_column` is the
    column after the marked text on the same line (0: mark one character)."""

    line: int
    column: int
    code: IssueCode
    message: str
    end_column: int = 0

    def headline(self, path: Path | str) -> str:
        where = f"{path}:{self.line}:{self.column}" if self.line else str(path)
        return f"{where}: {'' if self.code.is_error else '警告: '}{self.code}: {self.message}"

    def render(self, path: Path | str, source: str | None) -> str:
        """The headline, then the line with a caret under the marked text."""
        lines = [self.headline(path)]
        text_lines = source.splitlines() if source is not None else []
        if 0 < self.line <= len(text_lines):
            text = text_lines[self.line - 1]
            gutter = f"{self.line:>5} | "
            start = self.column - 1
            marked = text[start : self.end_column - 1] if self.end_column > self.column else ""
            lines.append(gutter + text)
            lines.append(
                " " * (len(gutter) - 2)
                + "| "
                + " " * _width(text[:start])
                + "^" * max(1, _width(marked))
            )
        return "\n".join(lines)


def _width(text: str) -> int:
    # Wide (CJK) characters take two terminal cells; the caret must line up under them.
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def place(node: yaml.Node) -> tuple[int, int, int]:
    """A node's 1-based line, column and end column (0 when it ends on another line)."""
    start, end = node.start_mark, node.end_mark
    return start.line + 1, start.column + 1, end.column + 1 if end.line == start.line else 0


def issue_at(node: yaml.Node, code: IssueCode, message: str) -> FileIssue:
    line, column, end_column = place(node)
    return FileIssue(line, column, code, message, end_column)


# An unclosed [, { or quote: the parser stops lines later, but the fix goes where it opened.
_UNCLOSED = ("while parsing a flow", "while scanning a quoted")


@dataclass(frozen=True)
class ComposedFile:
    """A YAML file read as nodes (which keep their places); `issue` when it could not be:
    then `root` is None, and `text` too if the file could not be read as UTF-8."""

    text: str | None
    root: yaml.Node | None
    issue: FileIssue | None


def compose_file(path: Path, unreadable: IssueCode, yaml_error: IssueCode) -> ComposedFile:
    """The file at `path` as YAML nodes (None for an empty file), or the problem, with the
    code the caller gives it: `unreadable` (no file, no permission, not UTF-8) or
    `yaml_error` (at the line and column where the parser stopped)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return ComposedFile(None, None, FileIssue(0, 0, unreadable, f"无法读取（{exc}）"))
    try:
        return ComposedFile(text, yaml.compose(text), None)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        if str(getattr(exc, "context", "")).startswith(_UNCLOSED):
            mark = getattr(exc, "context_mark", None) or mark
        problem = getattr(exc, "problem", None) or str(exc)
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        issue = FileIssue(line, column, yaml_error, f"不是有效的 YAML（{problem}）")
        return ComposedFile(text, None, issue)
