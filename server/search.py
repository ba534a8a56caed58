"""Search and free-text routing for the service: kb's indexes, fed from the policy set.

kb indexes plain items and knows nothing about routing; this module turns the policy set's
routing rules into items (title, matter phrases and cited quotes without their unit lists,
with the policy's region; server.route_text) and a matched item back into the rule's
RouteAnswer. A free-text matter is matched without its question words. `Searcher` opens the
clause index, the routing index and the model lazily, once, on first use: `zhengce check` or
`eval` never load torch, and a server starts before the model is loaded. Both indexes expand
questions with the drafters' lexicon, policies/lexicon.yaml (kb.lexicon).

The Searcher remembers its last ZHENGCE_SEARCH_CACHE answers of each kind, and the query
vectors behind them (server.search_cache): a Searcher belongs to one policy set and corpus,
so a reload, which makes a new one, starts empty. An answer is keyed by every input it depends
on: the text as asked (not normalised: the embedding sees the text as typed, so two spellings
that normalise alike can still score differently), the filters, and whether dense search is
on (a model that fails makes the index degrade for good, and its later answers differ).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dsl.resolved import PolicySet
from dsl.routing import RouteAnswer, answer, routes_in_force
from kb.corpus import Corpus
from kb.embed import Embedder, default_embedder
from kb.items import Item, ItemAnswer, ItemIndex
from kb.lexical import Tokenizer
from kb.lexicon import Lexicon, load_lexicon
from kb.search import Hit, KnowledgeBase
from server.config import Settings
from server.results import Candidate
from server.route_text import matter_of, task_text
from server.search_cache import CachedQueries, Lru

__all__ = ["RouteMatch", "Searcher", "route_items"]


LEXICON = Path("policies") / "lexicon.yaml"  # in the project root
RouteKey = tuple[str, str, str, int, bool]  # matter, region, date, k, dense search on


def route_items(policies: PolicySet) -> list[Item]:
    """One item per text a routing rule can be recognised by, keyed by the rule's id: its
    title (first), its name, its matters and its quotes' tasks (a quote that is only a unit
    list is left out)."""
    items = []
    for route in policies.routes:
        policy = policies.policy(route.policy)
        region = policy.header.region if policy else ""
        a = route.ast
        tasks = (task_text(c.quote) for c in a.cites)
        for text in (a.title, a.name, *a.matters, *tasks):
            if text.strip():
                items.append(Item(route.key, text, region))
    return items


@dataclass(frozen=True)
class RouteMatch:
    """Free text routed: the rule's answer and score, or None below the threshold; either
    way the nearest candidates."""

    answer: RouteAnswer | None
    score: float | None
    matched_text: str | None
    candidates: tuple[Candidate, ...]
    threshold: float
    dense_available: bool


class Searcher:
    """The clause index and the routing index of one project, opened on first use."""

    def __init__(
        self,
        settings: Settings,
        corpus: Corpus,
        policies: PolicySet,
        embedder: Embedder | None = None,
    ) -> None:
        self.settings = settings
        self.corpus = corpus
        self.policies = policies
        self._embedder = self._remembering(embedder)
        self._reason: str | None = None
        self._resolved = embedder is not None
        self._lock = threading.Lock()
        self._kb: KnowledgeBase | None = None
        self._routes: ItemIndex | None = None
        self._tokenizer = Tokenizer()  # one jieba dictionary for both indexes, loaded lazily
        self._lexicon: Lexicon | None = None
        self._routes_by_key = {r.key: r for r in policies.routes}
        self._routed: Lru[RouteKey, RouteMatch] = Lru(settings.search_cache)
        self._found: Lru[tuple[str, int, str | None, bool], tuple[Hit, ...]] = Lru(
            settings.search_cache
        )

    def _remembering(self, embedder: Embedder | None) -> Embedder | None:
        if embedder is None or self.settings.search_cache <= 0:
            return embedder
        return CachedQueries(embedder, self.settings.search_cache)

    def lexicon(self) -> Lexicon:
        """The drafters' lexicon; raises kb.lexicon.LexiconError when the file is malformed."""
        if self._lexicon is None:
            self._lexicon = load_lexicon(self.settings.root / LEXICON)
        return self._lexicon

    def _model(self) -> tuple[Embedder | None, str | None]:
        # One embedder for both indexes, so the model is loaded once per process.
        if not self._resolved:
            embedder, self._reason = default_embedder(
                self.settings.cache_dir, torch_threads=self.settings.torch_threads
            )
            self._embedder = self._remembering(embedder)
            self._resolved = True
        return self._embedder, self._reason

    def knowledge_base(self, progress: bool = False) -> KnowledgeBase:
        with self._lock:
            if self._kb is None:
                embedder, reason = self._model()
                self._kb = KnowledgeBase.open(
                    self.settings.root,
                    self.settings.cache_dir,
                    embedder,
                    progress,
                    corpus=self.corpus,
                    degraded_reason=reason,
                    tokenizer=self._tokenizer,
                    lexicon=self.lexicon(),
                )
            return self._kb

    def route_index(self, progress: bool = False) -> ItemIndex:
        with self._lock:
            if self._routes is None:
                embedder, reason = self._model()
                self._routes = ItemIndex.open(
                    self.settings.cache_dir,
                    "routes",
                    route_items(self.policies),
                    embedder,
                    degraded_reason=reason,
                    progress=progress,
                    tokenizer=self._tokenizer,
                    lexicon=self.lexicon(),
                )
            return self._routes

    def status(self) -> dict[str, Any]:
        """For /readyz: whether semantic search is on, and why not (None until first use)."""
        index = self._kb.index if self._kb else self._routes.index if self._routes else None
        return {
            "opened": index is not None,
            "dense_available": index.dense_available if index else None,
            "degraded_reason": index.degraded_reason if index else self._reason,
        }

    def search(self, query: str, k: int = 10, region: str | None = None) -> tuple[Hit, ...]:
        """The clause index's best `k` hits for `query` within `region`, remembered."""
        kb = self.knowledge_base()
        key = (query, k, region, kb.dense_available)
        return self._found.get(key, lambda: tuple(kb.search(query, k, region)))

    def remembered_search(self, query: str, k: int = 10, region: str | None = None) -> bool:
        """Whether `search` has these hits at hand (neither embedding nor opening the index,
        so it may be asked on the event loop)."""
        kb = self._kb
        return kb is not None and (query, k, region, kb.dense_available) in self._found

    def match_routes(self, text: str, region: str, date: str, k: int = 5) -> ItemAnswer:
        """kb's answer among the routing rules in force for `region` on `date`, for the
        matter of `text` (its question words left out)."""
        return self._match(matter_of(text) or text, region, date, k)

    def _match(self, matter: str, region: str, date: str, k: int) -> ItemAnswer:
        in_force = [r.key for r in routes_in_force(self.policies, region, date)]
        return self.route_index().match(matter, region, ids=in_force, k=k)

    def route_text(self, text: str, region: str, date: str, k: int = 5) -> RouteMatch:
        """The routing rule that answers `text`'s matter, remembered by the matter (two
        questions with one matter are routed alike)."""
        matter = matter_of(text) or text
        key: RouteKey = (matter, region, date, k, self.route_index().dense_available)
        return self._routed.get(key, lambda: self._route(matter, region, date, k))

    def remembered_route(self, text: str, region: str, date: str, k: int = 5) -> RouteKey | None:
        """The key `route_text` remembers this answer by, when it has it at hand (neither
        embedding nor opening an index, so it may be asked on the event loop); else None."""
        routes = self._routes
        if routes is None:
            return None
        key: RouteKey = (matter_of(text) or text, region, date, k, routes.dense_available)
        return key if key in self._routed else None

    def _route(self, matter: str, region: str, date: str, k: int) -> RouteMatch:
        found = self._match(matter, region, date, k)
        by_key = self._routes_by_key
        candidates = tuple(Candidate(m, by_key[m.id].ast.title) for m in found.candidates)
        dense = self.route_index().dense_available
        if found.match is None:
            return RouteMatch(None, None, None, candidates, found.threshold, dense)
        rule = answer(self.policies, by_key[found.match.id])
        return RouteMatch(
            rule, found.match.score, found.match.text, candidates, found.threshold, dense
        )
