"""The one way in: every use case (evaluate, route, search, a clause, the policies, coverage,
check) is a method or function here that returns a typed result (server.results). The HTTP
API, the CLI and the reviewer's page present those results (server.views, server.present);
none of them holds policy logic or opens the knowledge base itself."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from dsl.compile import ReteEngine
from dsl.compiled import CompiledEvaluator
from dsl.coverage import DocumentCoverage, coverage
from dsl.dates import BadDate, date_or_today, parse_date
from dsl.decide import Citation, Evaluator, decide
from dsl.interpret import Interpreter
from dsl.load import SCHEMA_FILE, LoadResult, load_files, policy_files
from dsl.resolved import PolicySet
from dsl.routing import RouteAnswer, find_route, routes_in_force
from dsl.schema import FactError
from dsl.vocabulary import Code
from kb.corpus import Corpus, Document
from kb.embed import Embedder, Prepared, default_embedder
from kb.index import HybridIndex
from kb.locate import locate
from kb.model import ModelUnavailable
from kb.search import Hit, KnowledgeBase
from server.config import Settings
from server.policy_cache import load_checked
from server.results import (
    CitedText,
    ClauseResult,
    Evaluation,
    PolicyList,
    PolicyResult,
    Related,
    RouteResult,
    SearchResult,
    TitledHit,
)
from server.search import Searcher

log = logging.getLogger("zhengce")

# The compiled evaluator is the fastest that agrees (README, Evaluation engines); the Rete
# engine and the reference interpreter stay selectable.
ENGINES = ("compiled", "rete", "interpret")
DEFAULT_ENGINE = "compiled"
_EVALUATORS: dict[str, Callable[[PolicySet], Evaluator]] = {
    "compiled": CompiledEvaluator,
    "rete": ReteEngine,
    "interpret": Interpreter,
}
RELATED_PER_CLAUSE = 3


class PolicyLoadError(Exception):
    def __init__(self, result: LoadResult) -> None:
        super().__init__(result.render())
        self.result = result


class InputError(Exception):
    def __init__(self, errors: list[FactError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class Example:
    name: str
    project: Mapping[str, Any]
    date: str | None


def _cite_key(c: Citation) -> tuple[str, str, str]:
    return (c.document, c.clause, c.quote)


class UnknownPolicy(LookupError):
    def __init__(self, policy: str, known: Sequence[str]) -> None:
        super().__init__(f"no policy {policy!r}; known: {', '.join(known)}")
        self.policy = policy


def bad_date(date: str, field: str) -> FactError | None:
    """The error for an evaluation date that is not YYYY-MM-DD, located at `field`, or None
    when it is one."""
    try:
        parse_date(date)
    except BadDate as exc:
        return FactError(field, Code.BAD_DATE, str(exc))
    return None


@dataclass
class Service:
    settings: Settings
    corpus: Corpus
    loaded: LoadResult
    policies: PolicySet
    embedder: Embedder | None = None  # the search model (default: e5 from the cache)
    _engines: dict[str, Evaluator] = field(default_factory=dict)
    _searcher: Searcher | None = None
    _related: dict[tuple[str, str, int], tuple[Hit, ...]] = field(default_factory=dict)
    _cited: dict[tuple[str, str, str], tuple[str, tuple[int, int] | None]] = field(
        default_factory=dict
    )

    @classmethod
    def load(
        cls, settings: Settings, *, embedder: Embedder | None = None, conflicts: bool = True
    ) -> Service:
        """Read and check policies/ against the sources under settings.root; raises
        PolicyLoadError with the check report when the policy set has errors. `conflicts`
        False leaves unresolved conflicts out of the check (`zhengce analyze` lists them)."""
        corpus = Corpus(settings.root)
        loaded = load_checked(settings.root, settings.cache_dir, corpus, conflicts=conflicts)
        if loaded.policies is None:
            raise PolicyLoadError(loaded)
        return cls(settings, corpus, loaded, loaded.policies, embedder)

    @property
    def root(self) -> Path:
        return self.settings.root

    def engine(self, name: str = DEFAULT_ENGINE) -> Evaluator:
        if name not in ENGINES:
            raise ValueError(f"unknown engine {name!r}; one of {', '.join(ENGINES)}")
        if name not in self._engines:
            self._engines[name] = _EVALUATORS[name](self.policies)
        return self._engines[name]

    # ------------------------------------------------------------------------ evaluate

    def evaluate(
        self,
        project: Mapping[str, Any],
        date: str | None = None,
        explain: bool = True,
        engine: str = DEFAULT_ENGINE,
        *,
        related: bool | None = None,
    ) -> Evaluation:
        """The decision with its cited clauses' text; with `explain` (or `related`) also the
        clauses of other documents close to each cited one. Raises InputError."""
        facts, errors = self.policies.schema.validate(project)
        # Not the project's own `date` fact: the evaluation date beside it.
        wrong_date = bad_date(date, "evaluation_date") if date is not None else None
        if wrong_date:
            errors.append(wrong_date)
        if errors:
            raise InputError(errors)
        decision = decide(self.policies, self.engine(engine), facts, date, explain)
        used = {r.id for r in decision.rules} | {u.rule for u in decision.undetermined}
        used |= {f"{p.policy}/{p.name}" for p in decision.parameters}
        cited = tuple(
            replace(
                self.cited_text(c),
                backs=tuple(k for k in self._citers.get(_cite_key(c), ()) if k in used),
            )
            for c in decision.citations
        )
        near = dict.fromkeys((c.document, c.clause) for c in decision.citations)
        with_related = explain if related is None else related
        return Evaluation(
            decision,
            cited,
            tuple(
                Related(clause, hit)
                for clause in (near if with_related else ())
                for hit in self.related(*clause)
            ),
        )

    @cached_property
    def _citers(self) -> dict[tuple[str, str, str], tuple[str, ...]]:
        """Who cites each (document, clause, quote): rule and route keys, and parameters as
        `policy/name`, in file order."""
        found: dict[tuple[str, str, str], list[str]] = {}
        for p in self.policies.policies:
            for name, cite in p.cites():
                key = (p.header.source, cite.clause, cite.quote)
                found.setdefault(key, []).append(f"{p.id}/{name}")
        return {k: tuple(v) for k, v in found.items()}

    def cited_text(self, citation: Citation) -> CitedText:
        """A citation with its clause's full text and where the quote sits in it;
        remembered, as every decision that fires the rule cites it again."""
        key = (citation.document, citation.clause, citation.quote)
        found = self._cited.get(key)
        if found is None:
            text = self.corpus.document(citation.document).require(citation.clause).full_text
            found = self._cited[key] = (text, locate(text, citation.quote))
        return CitedText(citation, *found)

    def related(self, document: str, clause: str, k: int = RELATED_PER_CLAUSE) -> tuple[Hit, ...]:
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

    # --------------------------------------------------------------------------- route

    def is_route_id(self, text: str) -> bool:
        """Whether `text` is a routing rule id: a rule's key or bare name in any region, or
        anything shaped like a key (`<policy id>/…`), so that a mistyped id is answered with
        the ids that exist rather than routed as free text."""
        policy, slash, _ = text.partition("/")
        if slash and self.policies.policy(policy) is not None:
            return True
        return any(text in (r.key, r.ast.name) for r in self.policies.routes)

    def route(self, matter: str, region: str, date: str | None = None, k: int = 5) -> RouteResult:
        """Who leads and shares a matter, named by a routing rule id or in plain words; free
        text is matched among the rules in force for the region and date (server.search).
        Raises dsl.dates.BadDate."""
        day = date_or_today(date)
        in_force = routes_in_force(self.policies, region, day)
        if not in_force:
            message = f"no routing rules are in force for {region} on {day}"
            return RouteResult(None, (), None, None, (), None, None, message)
        if self.is_route_id(matter):
            answer = find_route(self.policies, matter, region, day)
            if answer is None:
                known = ", ".join(r.key for r in in_force)
                message = f"no routing rule {matter!r} in force for {region} on {day}"
                return RouteResult(None, (), None, None, (), None, None, f"{message}: {known}")
            by_id = self._route_citations(answer)
            return RouteResult(answer, by_id, None, None, (), None, None, f"matched {answer.rule}")
        found = self.searcher.route_text(matter, region, day, k)
        if found.answer is None:
            message = "no routing rule matches this matter well enough; see the candidates"
            cited: tuple[CitedText, ...] = ()
        else:
            message = f"matched {found.answer.rule}"
            cited = self._route_citations(found.answer)
        return RouteResult(
            found.answer,
            cited,
            found.score,
            found.matched_text,
            found.candidates,
            found.threshold,
            found.dense_available,
            message,
        )

    def _route_citations(self, answer: RouteAnswer) -> tuple[CitedText, ...]:
        return tuple(replace(self.cited_text(c), backs=(answer.rule,)) for c in answer.citations)

    # -------------------------------------------------------------------------- search

    @property
    def searcher(self) -> Searcher:
        """Clause search and free-text routing; opens the index and model on first use."""
        if self._searcher is None:
            self._searcher = Searcher(self.settings, self.corpus, self.policies, self.embedder)
        return self._searcher

    def search(self, query: str, k: int = 10, region: str | None = None) -> SearchResult:
        """Clauses of every source document, best first, within `region` when given."""
        kb = self.searcher.knowledge_base()
        hits = self.searcher.search(query, k, region or None)  # remembered
        return SearchResult(
            query,
            tuple(TitledHit(h, self.title(h.document)) for h in hits),
            kb.dense_available,
            kb.degraded_reason,
        )

    def title(self, document: str) -> str:
        """A source document's title ("" for an unknown id)."""
        return self.corpus.document(document).title if self.corpus.has_document(document) else ""

    # ---------------------------------------------------------------- clauses, policies

    def clause(self, document: str, clause: str) -> ClauseResult:
        """One clause of a source document; raises kb.corpus.UnknownDocument or
        UnknownClause (both suggest near ids)."""
        doc = self.corpus.document(document)
        found = doc.require(clause)
        cov = self.coverage_of(doc.id)
        status = next((c for c in cov.clauses if c.clause == found.id), None) if cov else None
        children = tuple(c.id for c in doc.children(found.id))
        return ClauseResult(doc, found, children, status)

    def policy(self, policy_id: str) -> PolicyResult:
        """One policy with its source's clause coverage; raises UnknownPolicy."""
        p = self.policies.policy(policy_id)
        if p is None:
            raise UnknownPolicy(policy_id, [x.id for x in self.policies.policies])
        source = p.header.source
        return PolicyResult(p, self.coverage_of(source), self.title(source))

    def policy_list(self) -> PolicyList:
        return PolicyList(
            self.policies.revision, tuple(self.policy(p.id) for p in self.policies.policies)
        )

    @cached_property
    def examples(self) -> tuple[Example, ...]:
        """policies/examples/*.json: projects a drafter keeps beside the rules, offered on the
        page and evaluated for the API's documented examples. A file that is not a JSON
        object is left out with a warning."""
        found = []
        for path in sorted((self.root / "policies" / "examples").glob("*.json")):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                log.warning("example %s is not readable JSON; left out", path)
                continue
            project = data.get("project", data) if isinstance(data, dict) else None
            if not isinstance(project, dict):
                log.warning("example %s holds no project object; left out", path)
                continue
            date = data.get("date")
            found.append(Example(path.stem, project, date if isinstance(date, str) else None))
        return tuple(found)

    @cached_property
    def coverage(self) -> tuple[DocumentCoverage, ...]:
        """Per source document: which clauses are encoded, skipped or open."""
        return tuple(coverage(self.policies, self.corpus, self.corpus.document_ids()))

    @cached_property
    def _coverage_by_document(self) -> dict[str, DocumentCoverage]:
        return {d.document: d for d in self.coverage}

    def coverage_of(self, document: str) -> DocumentCoverage | None:
        """The clause coverage of one source document (None for an unknown id)."""
        return self._coverage_by_document.get(document)

    def document_coverage(self, name: str) -> DocumentCoverage:
        """The clause coverage of one source document, named by its id or by the id of the
        policy that encodes it; raises UnknownPolicy, listing the documents."""
        policy = self.policies.policy(name)
        found = self.coverage_of(policy.header.source if policy else name)
        if found is None:
            raise UnknownPolicy(name, self.corpus.document_ids())
        return found


def check(
    root: Path, paths: Sequence[Path], unsaved: Mapping[Path, str] | None = None
) -> tuple[LoadResult, int]:
    """Parse and check policy files (default: policies/) against the sources under `root`:
    the check report and how many policy files it read. `unsaved`: the text of files an
    editor holds (checked instead of the disk's; such a file need not exist yet). Raises
    FileNotFoundError for a path that does not exist."""
    files: list[Path] = []
    schema = root / "policies" / SCHEMA_FILE
    for p in paths or [root / "policies"]:
        if p.is_dir():
            files += policy_files(p)
            if (p / SCHEMA_FILE).exists():
                schema = p / SCHEMA_FILE
        elif p.exists() or p in (unsaved or {}):
            files.append(p)
        else:
            raise FileNotFoundError(p)
    files = list(dict.fromkeys(files))  # a file named and also in a folder named is read once
    return load_files([schema, *files], schema, Corpus(root), unsaved=unsaved), len(files)


def source_document(root: Path, document: str) -> Document:
    """A source document as clauses; needs no policy set (a drafter reads the sources before
    the rules load). Raises kb.corpus.UnknownDocument."""
    return Corpus(root).document(document)


@dataclass(frozen=True)
class IndexBuilt:
    label: str
    folder: Path
    entries: int
    built: bool  # False: reused, up to date
    build_seconds: float
    seconds: float


@dataclass(frozen=True)
class SearchBuild:
    model: Prepared | None  # the model folder and how queries are embedded; None: unavailable
    model_seconds: float
    indexes: tuple[IndexBuilt, ...]
    dense_available: bool
    warnings: tuple[str, ...]


def build_search(settings: Settings, say: Callable[[str], None]) -> SearchBuild:
    """Build (or check) the embedding model and the search indexes, reporting progress
    through `say`. The clause index is built even when the policies do not load."""
    warnings: list[str] = []
    started = time.perf_counter()
    # One embedder for the model, its ONNX export and both indexes: torch loads once.
    embedder, reason = default_embedder(settings.cache_dir, torch_threads=settings.torch_threads)
    model = None
    try:
        model = embedder.prepare(progress=say) if embedder is not None else None
    except ModelUnavailable as e:
        embedder, reason = None, str(e)
    if reason is not None:
        warnings.append(reason)
    model_seconds = time.perf_counter() - started
    try:
        service: Service | None = Service.load(settings, embedder=embedder)
    except PolicyLoadError as e:
        service = None
        warnings.append(
            f"the policies do not load ({len(e.result.errors)} error(s), see `zhengce check`): "
            "building the clause index only"
        )
    indexes = []
    step = time.perf_counter()
    if service is not None:
        kb = service.searcher.knowledge_base(progress=True)
    else:
        kb = KnowledgeBase.open(settings.root, settings.cache_dir, embedder, degraded_reason=reason)
    indexes.append(_built("clauses", kb.index, step))
    if service is not None:
        step = time.perf_counter()
        indexes.append(_built("routes", service.searcher.route_index(progress=True).index, step))
    return SearchBuild(model, model_seconds, tuple(indexes), kb.dense_available, tuple(warnings))


def _built(label: str, index: HybridIndex, since: float) -> IndexBuilt:
    return IndexBuilt(
        label,
        index.folder,
        len(index.entries),
        index.built,
        index.build_seconds,
        time.perf_counter() - since,
    )
