"""The decision log: every decision (input, result, revision, time) in a real database.

SQLite by default, any SQLAlchemy URL (PostgreSQL …) by configuration. Writes use group
commit: a writer thread takes whatever decisions are waiting, inserts them in one transaction
and only then acknowledges each, so concurrent requests share one commit and a crash loses
no acknowledged decision.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import Future, InvalidStateError
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    insert,
    inspect,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

METADATA = MetaData()
DECISIONS = Table(
    "decisions",
    METADATA,
    Column("decision_id", String(64), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revision", String(64), nullable=False),
    Column("input", JSON, nullable=False),
    Column("result", JSON, nullable=False),
)

_STOP = object()


@dataclass(frozen=True)
class RawJSON:
    """A value already encoded as JSON text (the HTTP response body): stored as it is, so a
    decision is serialised once per request, not once for the client and again for the log."""

    text: str


def _to_json(value: Any) -> str:
    return value.text if isinstance(value, RawJSON) else json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True)
class LoggedDecision:
    decision_id: str
    created_at: dt.datetime
    revision: str
    input: dict[str, Any]
    result: dict[str, Any]


class DecisionLogError(Exception):
    pass


def _sqlite_durability(engine: Engine) -> None:
    # WAL lets readers run beside the writer; FULL sync makes each commit survive a crash.
    @event.listens_for(engine, "connect")
    def _pragmas(conn: Any, _record: Any) -> None:
        cursor = conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()


class DecisionLog:
    def __init__(self, url: str, *, max_batch: int = 512) -> None:
        self.url = url
        self.engine = create_engine(url, json_serializer=_to_json)
        self._lock_file: Path | None = None
        if self.engine.dialect.name == "sqlite":
            _sqlite_durability(self.engine)
            database = self.engine.url.database
            if database and database != ":memory:":
                self._lock_file = Path(f"{database}.writer-lock")
        self._create_table()
        self.max_batch = max_batch
        self.batches = 0  # commits made, for the benchmark and the tests
        self._queue: queue.Queue[Any] = queue.Queue()
        self._writer: threading.Thread | None = None
        self.open()

    def open(self) -> None:
        """Start the writer; a log that was closed can be opened again (an app's lifespan
        can end and start again). Does nothing on an open log."""
        if self._writer is None:
            self._queue = queue.Queue()
            self._writer = threading.Thread(target=self._run, name="decision-log", daemon=True)
            self._writer.start()

    def submit(
        self,
        decision_id: str,
        revision: str,
        input: dict[str, Any] | RawJSON,
        result: dict[str, Any] | RawJSON,
    ) -> Future[None]:
        """Queue a decision; the future resolves once it is committed."""
        done: Future[None] = Future()
        if self._writer is None:
            done.set_exception(DecisionLogError("the decision log is closed"))
            return done
        row = {
            "decision_id": decision_id,
            "created_at": dt.datetime.now(dt.UTC),
            "revision": revision,
            # Encoded now, so a value that is not JSON fails this request (TypeError, here)
            # rather than the writer's whole batch.
            "input": RawJSON(_to_json(input)),
            "result": RawJSON(_to_json(result)),
        }
        self._queue.put((row, done))
        return done

    def record(
        self,
        decision_id: str,
        revision: str,
        input: dict[str, Any] | RawJSON,
        result: dict[str, Any] | RawJSON,
        timeout: float = 30.0,
    ) -> None:
        """Write a decision and wait until it is committed."""
        self.submit(decision_id, revision, input, result).result(timeout)

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

    def _create_table(self) -> None:
        # The workers of a server start together on a new database: one creates the table,
        # the others must find it rather than fail on "already exists".
        with self._exclusive():
            try:
                METADATA.create_all(self.engine)
            except SQLAlchemyError:
                if not inspect(self.engine).has_table(DECISIONS.name):
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
        with self._lock_file.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _commit(self, batch: list[tuple[dict[str, Any], Future[None]]]) -> None:
        try:
            with self._exclusive(), self.engine.begin() as conn:
                conn.execute(insert(DECISIONS), [row for row, _ in batch])
        except Exception as e:  # the database refused: every waiting request learns why
            error = DecisionLogError(f"the decision log could not be written: {e}")
            for _, done in batch:
                _settle(done, error)
            return
        self.batches += 1
        for _, done in batch:
            _settle(done, None)

    def get(self, decision_id: str) -> LoggedDecision | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(DECISIONS).where(DECISIONS.c.decision_id == decision_id)
            ).first()
        if row is None:
            return None
        created = row.created_at
        if created.tzinfo is None:  # SQLite keeps no zone; every time written here is UTC
            created = created.replace(tzinfo=dt.UTC)
        return LoggedDecision(row.decision_id, created, row.revision, row.input, row.result)

    def close(self) -> None:
        if self._writer is not None:
            self._queue.put(_STOP)
            self._writer.join(timeout=30)
            self._writer = None
        self.engine.dispose()


def _settle(done: Future[None], error: Exception | None) -> None:
    # A request cancelled while it waited (its client gave up) cancels its future: nobody is
    # told, but the writer must go on (and the decision is logged all the same).
    try:
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)
    except InvalidStateError:
        pass
