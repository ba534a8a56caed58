"""The one place that wires dsl and kb: load the policy set against the source corpus, build
engines, evaluate, route and report coverage. The CLI and the HTTP app both present its
results; neither holds policy logic."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from dsl.compile import ReteEngine
from dsl.coverage import DocumentCoverage, coverage
from dsl.decide import Decision, Evaluator, decide
from dsl.interpret import Interpreter
from dsl.load import LoadResult, load_folder
from dsl.resolved import PolicySet
from dsl.routing import RouteAnswer, find_route, routes_in_force
from dsl.schema import FactError
from kb.corpus import Corpus

ENGINES = ("rete", "interpret")


def project_root() -> Path:
    """ZHENGCE_ROOT, else the working directory (where policies/ lives)."""
    return Path(os.environ.get("ZHENGCE_ROOT", ".")).resolve()


class PolicyLoadError(Exception):
    def __init__(self, result: LoadResult) -> None:
        super().__init__(result.render())
        self.result = result


class InputError(Exception):
    def __init__(self, errors: list[FactError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


@dataclass
class Service:
    root: Path
    corpus: Corpus
    loaded: LoadResult
    policies: PolicySet
    _engines: dict[str, Evaluator] = field(default_factory=dict)

    @classmethod
    def load(cls, root: Path | None = None) -> Service:
        root = root or project_root()
        corpus = Corpus(root)
        loaded = load_folder(root / "policies", corpus)
        if loaded.policies is None:
            raise PolicyLoadError(loaded)
        return cls(root, corpus, loaded, loaded.policies)

    def engine(self, name: str = "rete") -> Evaluator:
        if name not in ENGINES:
            raise ValueError(f"unknown engine {name!r}; one of {', '.join(ENGINES)}")
        if name not in self._engines:
            self._engines[name] = (
                ReteEngine(self.policies) if name == "rete" else Interpreter(self.policies)
            )
        return self._engines[name]

    def evaluate(
        self,
        project: Mapping[str, Any],
        date: str | None = None,
        explain: bool = True,
        engine: str = "rete",
    ) -> Decision:
        facts, errors = self.policies.schema.validate(project)
        if date is not None:
            try:
                dt.date.fromisoformat(date)
            except ValueError:
                errors.append(
                    FactError("date", "bad_date", f"date must be YYYY-MM-DD, got {date!r}")
                )
        if errors:
            raise InputError(errors)
        return decide(self.policies, self.engine(engine), facts, date, explain)

    def route(self, route_id: str, region: str, date: str | None = None) -> RouteAnswer | None:
        return find_route(self.policies, route_id, region, date or dt.date.today().isoformat())

    def route_ids(self, region: str, date: str | None = None) -> list[str]:
        day = date or dt.date.today().isoformat()
        return [r.key for r in routes_in_force(self.policies, region, day)]

    @cached_property
    def coverage(self) -> list[DocumentCoverage]:
        return coverage(self.policies, self.corpus, self.corpus.document_ids())
