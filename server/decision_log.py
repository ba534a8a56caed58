"""The decision log: every decision (input, result, revision, time) in a real database.

SQLite by default, any SQLAlchemy URL (PostgreSQL …) by configuration. Writes use group
commit: whatever decisions are waiting go in one transaction, and each is acknowledged only
once it is committed and on disk, so concurrent requests share one commit and a crash,
power loss included, loses no acknowledged decision. Who commits depends on where the
database is (see `write`): the event loop itself for a SQLite file
(server.decision_log_loop, its WAL synced by server.decision_log_wal), a writer thread for a
database across a network.

What a row is: server.decision_log_rows; one commit and the telling of its waiters, a failing
entry retried apart from the others: server.decision_log_batch. With a retention period,
decisions older than it are deleted every hour (`prune`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, delete, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from kb.filelock import lock
from server.decision_log_batch import Waiters, sqlalchemy_insert
from server.decision_log_loop import LoopCommits
from server.decision_log_rows import (
    BY_TIME,
    DECISIONS,
    METADATA,
    DecisionLogError,
    Entry,
    LoggedDecision,
    RawJSON,
    Waiting,
    to_json,
)
from server.decision_log_wal import sqlite_durability
from server.incident import report

__all__ = [
    "DECISIONS",
    "METADATA",
    "DecisionLog",
    "DecisionLogError",
    "Entry",
    "LoggedDecision",
    "RawJSON",
    "shown_url",
]

log = logging.getLogger("zhengce")

_STOP = object()
# Pruning: how often, and how many rows per transaction, so that the writers waiting for the
# lock meanwhile (the loops retry every decision_log_loop.RETRY_AFTER) wait milliseconds,
# not the whole prune.
PRUNE_EVERY = 3600.0
PRUNE_ROWS = 1000


def shown_url(url: str) -> str:
    """The URL with its password hidden, for the console and the logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(not a database URL)"


class DecisionLog:
    def __init__(
        self, url: str, *, max_batch: int = 512, retention_days: int | None = None
    ) -> None:
        self.url = url
        # hide_parameters: a driver's error message otherwise quotes every row of the
        # failed commit, that is other clients' projects.
        self.engine = create_engine(url, json_serializer=to_json, hide_parameters=True)
        self._waiters = Waiters()
        self._lock_file: Path | None = None
        self._loop: LoopCommits | None = None  # the event loops' commits, on a SQLite file
        if self.engine.dialect.name == "sqlite":
            sqlite_durability(self.engine)
            database = self.engine.url.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
                self._lock_file = Path(f"{database}.writer-lock")
                self._loop = LoopCommits(url, database, self._waiters, max_batch)
        self._create_table()
        self.max_batch = max_batch
        self._queue: queue.Queue[Any] = queue.Queue()
        self._writer: threading.Thread | None = None
        self.retention_days = retention_days
        self._stop_pruning = threading.Event()
        self._pruner: threading.Thread | None = None
        self.open()

    @property
    def batches(self) -> int:
        """Commits made, for the benchmark and the tests."""
        return self._waiters.batches

    def open(self) -> None:
        """Start the writer (and the pruner, with a retention period); a log that was closed
        can be opened again (an app's lifespan can end and start again). Does nothing on an
        open log."""
        if self._writer is None:
            self._queue = queue.Queue()
            self._writer = threading.Thread(target=self._run, name="decision-log", daemon=True)
            self._writer.start()
        if self._loop is not None:
            self._loop.open()
        if self.retention_days is not None and self._pruner is None:
            self._stop_pruning = threading.Event()
            self._pruner = threading.Thread(target=self._prune_hourly, name="prune", daemon=True)
            self._pruner.start()

    def submit(self, entry: Entry) -> Future[None]:
        """Queue a decision for the writer thread, from any thread; the future resolves once
        it is committed."""
        done: Future[None] = Future()
        if self._writer is None:
            done.set_exception(DecisionLogError("the decision log is closed"))
            return done
        self._queue.put((entry, done))
        return done

    async def write(self, entry: Entry) -> None:
        """Log a decision from a coroutine; returns once it is committed, or raises
        DecisionLogError. On a SQLite file the event loop commits itself
        (server.decision_log_loop); a database across a network keeps the writer thread, so
        that no loop waits on a round trip."""
        if self._writer is None:
            raise DecisionLogError("the decision log is closed")
        if self._loop is None:
            await asyncio.wrap_future(self.submit(entry))
            return
        await self._loop.write(entry)

    def record(
        self,
        decision_id: str,
        revision: str,
        input: dict[str, Any] | RawJSON,
        result: dict[str, Any] | RawJSON,
        timeout: float = 30.0,
    ) -> None:
        """Write a decision and wait until it is committed."""
        self.submit(Entry.of(decision_id, revision, input, result)).result(timeout)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    self._queue.put(_STOP)
                    break
                batch.append(item)
            self._commit(batch)

    def _commit(self, batch: list[Waiting]) -> None:
        """Commit on the writer thread, waiting for the lock."""
        try:
            with self._exclusive():
                committed = self._waiters.commit(sqlalchemy_insert(self.engine), batch)
                if committed:
                    self._waiters.acknowledge(committed)
        except OSError as e:  # the lock file cannot be opened
            self._waiters.fail(batch, e)

    def _create_table(self) -> None:
        # The workers of a server start together on a new database: one creates the table,
        # the others must find it rather than fail on "already exists". The index is also
        # added to a log made before it existed.
        with self._exclusive():
            try:
                METADATA.create_all(self.engine)
                BY_TIME.create(self.engine, checkfirst=True)
            except SQLAlchemyError:
                found = inspect(self.engine)
                names = {i["name"] for i in found.get_indexes(DECISIONS.name)}
                if not found.has_table(DECISIONS.name) or BY_TIME.name not in names:
                    raise

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """On a SQLite file, one writer at a time across the worker processes, queued on a
        file lock. SQLite's own lock is polled by a busy handler that sleeps up to 100 ms a
        try, which gave multi-worker servers stalls of a second and more; flock wakes the
        next writer as soon as the last one commits."""
        if self._lock_file is None:
            yield
            return
        with lock(self._lock_file):
            yield

    def get(self, decision_id: str) -> LoggedDecision | None:
        """The logged decision, or None; raises DecisionLogError when the log cannot be read."""
        try:
            with self.engine.connect() as conn:
                row = conn.execute(
                    select(DECISIONS).where(DECISIONS.c.decision_id == decision_id)
                ).first()
        except SQLAlchemyError as exc:
            incident = report(log, f"decision {decision_id!r} could not be read", exc)
            message = f"the decision log cannot be read now (incident {incident})"
            raise DecisionLogError(message) from exc
        if row is None:
            return None
        created = row.created_at
        if created.tzinfo is None:  # SQLite keeps no zone; every time written here is UTC
            created = created.replace(tzinfo=dt.UTC)
        return LoggedDecision(row.decision_id, created, row.revision, row.input, row.result)

    def prune(self, now: dt.datetime | None = None) -> int:
        """Delete the decisions older than the retention period, a few rows per transaction;
        the number deleted. Without a retention period, nothing."""
        if self.retention_days is None:
            return 0
        cutoff = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=self.retention_days)
        oldest = select(DECISIONS.c.decision_id).where(DECISIONS.c.created_at < cutoff)
        deleted = 0
        while True:
            with self._exclusive(), self.engine.begin() as conn:
                gone = conn.execute(
                    delete(DECISIONS).where(DECISIONS.c.decision_id.in_(oldest.limit(PRUNE_ROWS)))
                ).rowcount
            deleted += gone
            if gone < PRUNE_ROWS:
                return deleted

    def _prune_hourly(self) -> None:
        while True:
            try:
                if deleted := self.prune():
                    log.info("decision log: %d decision(s) past retention deleted", deleted)
            except (SQLAlchemyError, OSError) as e:
                report(log, "pruning the decision log failed", e)
            if self._stop_pruning.wait(PRUNE_EVERY):
                return

    def close(self) -> None:
        if self._pruner is not None:
            self._stop_pruning.set()
            self._pruner.join(timeout=30)
            self._pruner = None
        if self._writer is not None:
            self._queue.put(_STOP)
            self._writer.join(timeout=30)
            self._writer = None
        if self._loop is not None:
            # Decisions that a loop stopped before committing are committed here, waiting
            # for the lock if need be: a decision that was made is logged.
            left = self._loop.left()
            for start in range(0, len(left), self.max_batch):
                self._commit(left[start : start + self.max_batch])
            self._loop.close()
        self.engine.dispose()
