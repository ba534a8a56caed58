"""The one error of kb.model: the e5 model cannot be provided."""

from __future__ import annotations

from pathlib import Path

__all__ = ["ModelUnavailable"]


class ModelUnavailable(RuntimeError):
    """The e5 model cannot be provided; the message says why and what to do.

    Callers are expected to degrade loudly: say so, and fall back to lexical search."""

    def __init__(self, problem: str, *, path: Path | None = None, hint: str = "") -> None:
        self.problem = problem
        self.path = path
        where = f" ({path})" if path else ""
        message = f"multilingual-e5-small is unavailable: {problem}{where}."
        if hint:
            message += f" {hint}"
        super().__init__(message)
