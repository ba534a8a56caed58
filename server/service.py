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
from kb.embed import Embedder
from kb.locate import locate
from kb.search import Hit
from server.search import RouteMatch, Searcher

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
    cache_dir: Path | None = None  # the search cache (default: kb.search.default_cache_dir)
    embedder: Embedder | None = None  # the search model (default: e5 from the cache)
    _engines: dict[str, Evaluator] = field(default_factory=dict)
    _searcher: Searcher | None = None
    _related: dict[tuple[str, str, int], tuple[Hit, ...]] = field(default_factory=dict)
    _cited: dict[tuple[str, str, str], tuple[str, tuple[int, int] | None]] = field(
        default_factory=dict
    )

    @classmethod
    def load(
        cls,
        root: Path | None = None,
        *,
        cache_dir: Path | None = None,
        embedder: Embedder | None = None,
    ) -> Service:
        """Read and check policies/ against the sources under `root`; raises
        PolicyLoadError with the check report when the policy set has errors."""
        root = root or project_root()
        corpus = Corpus(root)
        loaded = load_folder(root / "policies", corpus)
        if loaded.policies is None:
            raise PolicyLoadError(loaded)
        return cls(root, corpus, loaded, loaded.policies, cache_dir, embedder)

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
                    # Not the project's own `date` fact: the evaluation date beside it.
                    FactError(
                        "evaluation_date", "bad_date", f"date must be YYYY-MM-DD, got {date!r}"
                    )
                )
        if errors:
            raise InputError(errors)
        return decide(self.policies, self.engine(engine), facts, date, explain)

    def route(self, route_id: str, region: str, date: str | None = None) -> RouteAnswer | None:
        return find_route(self.policies, route_id, region, date or dt.date.today().isoformat())

    def route_ids(self, region: str, date: str | None = None) -> list[str]:
        day = date or dt.date.today().isoformat()
        return [r.key for r in routes_in_force(self.policies, region, day)]

    def is_route_id(self, text: str) -> bool:
        """Whether `text` is a routing rule id: a rule's key or bare name in any region, or
        anything shaped like a key (`<policy id>/…`), so that a mistyped id is answered with
        the ids that exist rather than routed as free text."""
        policy, slash, _ = text.partition("/")
        if slash and self.policies.policy(policy) is not None:
            return True
        return any(text in (r.key, r.ast.name) for r in self.policies.routes)

    @property
    def searcher(self) -> Searcher:
        """Clause search and free-text routing; opens the index and model on first use."""
        if self._searcher is None:
            self._searcher = Searcher(
                self.root, self.corpus, self.policies, self.cache_dir, self.embedder
            )
        return self._searcher

    def route_text(self, text: str, region: str, date: str | None = None) -> RouteMatch:
        """Route a matter written in plain words (see server.search)."""
        return self.searcher.route_text(text, region, date or dt.date.today().isoformat())

    def cited(self, document: str, clause: str, quote: str) -> tuple[str, tuple[int, int] | None]:
        """A cited clause's full text and where the quote sits in it (None when it cannot
        be placed); remembered, as every decision that fires the rule cites it again."""
        key = (document, clause, quote)
        found = self._cited.get(key)
        if found is None:
            text = self.corpus.document(document).require(clause).full_text
            found = self._cited[key] = (text, locate(text, quote))
        return found

    def related(self, document: str, clause: str, k: int = 3) -> tuple[Hit, ...]:
        """Clauses of other documents close to a cited clause. Remembered, since they change
        only with the corpus, and a new corpus means a new Service."""
        key = (document, clause, k)
        found = self._related.get(key)
        if found is None:
            kb = self.searcher.knowledge_base()
            text = kb.clause(document, clause)
            found = tuple(kb.related(text, exclude_document=document, k=k))
            self._related[key] = found
        return found

    @cached_property
    def coverage(self) -> list[DocumentCoverage]:
        return coverage(self.policies, self.corpus, self.corpus.document_ids())

    @cached_property
    def _coverage_by_document(self) -> dict[str, DocumentCoverage]:
        return {d.document: d for d in self.coverage}

    def coverage_of(self, document: str) -> DocumentCoverage | None:
        """The clause coverage of one source document (None for an unknown id)."""
        return self._coverage_by_document.get(document)
