"""Diagnostics are values with a location; `DslError` carries them when work cannot go on.

    DslError (Exception)          raised by parse(); holds one or more Diagnostic
    Diagnostic                    code, message, span, expected, hint (severity: the code's)

Codes are `dsl.vocabulary.Code`: stable, public, documented in README. The message, the hint
and the expected tokens are Chinese, for the drafter; `message_en` and `hint_en` say the same
in English. Both are written from one template (dsl.diagnostic_text.diagnostic).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dsl.vocabulary import Code, Severity


@dataclass(frozen=True, order=True)
class Span:
    """A place in a file: 1-based line and column of the start and the end."""

    path: str = ""
    line: int = 0
    column: int = 0
    end_line: int = 0
    end_column: int = 0

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


NO_SPAN = Span()


@dataclass(frozen=True)
class Diagnostic:
    code: Code
    message: str  # Chinese, for the drafter
    span: Span = NO_SPAN
    expected: tuple[str, ...] = ()  # what may stand there (a parse error), in Chinese
    hint: str = ""  # what to do about it, in Chinese
    message_en: str = ""
    hint_en: str = ""

    @property
    def severity(self) -> Severity:
        # A code always has the same severity, so README's table can state it.
        return self.code.severity

    @property
    def is_error(self) -> bool:
        return self.severity == Severity.ERROR

    def headline(self) -> str:
        where = (
            f"{self.span}: "
            if self.span.line
            else (f"{self.span.path}: " if self.span.path else "")
        )
        sev = "" if self.is_error else "警告: "
        return f"{where}{sev}{self.code}: {self.message}"

    def render(self, source: str | None) -> str:
        """The headline, then the offending line with a caret under the column, then the hint.
        A parse error's message already says what may stand there (`expected`)."""
        lines = [self.headline()]
        if source is not None and self.span.line:
            text_lines = source.splitlines()
            if 0 < self.span.line <= len(text_lines):
                text = text_lines[self.span.line - 1]
                gutter = f"{self.span.line:>5} | "
                lines.append(gutter + text)
                width = _caret_width(text, self.span)
                pad = _display_width(text[: self.span.column - 1])
                lines.append(" " * (len(gutter) - 2) + "| " + " " * pad + "^" * width)
        if self.hint:
            lines.extend("   " + h for h in self.hint.splitlines())
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "message_en": self.message_en,
            "severity": self.severity,
            "location": {
                "file": self.span.path,
                "line": self.span.line,
                "column": self.span.column,
            },
            **({"expected": list(self.expected)} if self.expected else {}),
            **({"hint": self.hint, "hint_en": self.hint_en} if self.hint else {}),
        }


def _display_width(text: str) -> int:
    # CJK characters take two terminal cells; the caret must line up under them.
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def _caret_width(text: str, span: Span) -> int:
    if span.end_line == span.line and span.end_column > span.column:
        return max(1, _display_width(text[span.column - 1 : span.end_column - 1]))
    return 1


@dataclass
class DslError(Exception):
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(d.headline() for d in self.diagnostics)


def sort_key(d: Diagnostic) -> tuple[str, int, int, str]:
    return (d.span.path, d.span.line, d.span.column, d.code)
