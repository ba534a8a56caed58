"""The decision log: every decision (input, result, revision, time) in a real database.

SQLite by default, any SQLAlchemy URL (PostgreSQL …) by configuration. Writes use group
commit: whatever decisions are waiting go in one transaction, and each is acknowledged only
once it is committed and on disk, so concurrent requests share one commit and a crash,
power loss included, loses no acknowledged decision. Who commits depends on where the
database is (see `write`): the event loop itself for a SQLite file, a writer thread for a
database across a network.

One client's decision never fails another's: a commit that fails for something in its
entries is retried in halves, down to the entry at fault (`_settle_apart`). A failure is
reported to the waiting requests as a fixed message with an incident id; the driver's
message goes to the server log, with the SQL parameters (other clients' input) hidden.
With a retention period, decisions older than it are deleted every hour (`prune`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, InvalidStateError
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Index,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    event,
    insert,
    inspect,
    select,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DataError,
    DBAPIError,
    IntegrityError,
    OperationalError,
    SQLAlchemyError,
)

from kb.filelock import lock, try_lock
from server.incident import report

log = logging.getLogger("zhengce")

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
# For pruning by age; created on an existing log too (`_create_table`).
BY_TIME = Index("decisions_created_at", DECISIONS.c.created_at)

_STOP = object()
# A SQLite file that another program holds locked: how long the event loop keeps retrying a
# commit before the waiting decisions fail (pysqlite's own default busy timeout), and how
# often. Between tries the loop goes on serving.
LOCKED_FOR = 5.0
RETRY_AFTER = 0.0005
# Pruning: how often, and how many rows per transaction, so that the writers waiting for the
# lock meanwhile (the loops retry every RETRY_AFTER) wait milliseconds, not the whole prune.
PRUNE_EVERY = 3600.0
PRUNE_ROWS = 1000


@dataclass(frozen=True)
class RawJSON:
    """A value already encoded as JSON text (the HTTP response body): stored as it is, so a
    decision is serialised once per request, not once for the client and again for the log."""

    text: str


# msgspec: a request's input in a fifth of json.dumps's time (1.5 µs against 8 µs here). JSON
# has no NaN or infinity, so such a number is stored as null; a project holding one is
# refused before it is decided, so no decision's input has one.
_ENCODER = msgspec.json.Encoder()


def _to_json(value: Any) -> str:
    return value.text if isinstance(value, RawJSON) else _ENCODER.encode(value).decode()


@dataclass(frozen=True)
class Entry:
    """One decision as it is written: input and result already JSON text."""

    decision_id: str
    revision: str
    input: RawJSON
    result: RawJSON
    created_at: dt.datetime

    @classmethod
    def of(
        cls,
        decision_id: str,
        revision: str,
        input: dict[str, Any] | RawJSON,
        result: dict[str, Any] | RawJSON,
    ) -> Entry:
        """Encoded now, so that a value that is not JSON fails its own request (TypeError,
        here) rather than the whole batch it would be committed with."""
        now = dt.datetime.now(dt.UTC)
        return cls(decision_id, revision, RawJSON(_to_json(input)), RawJSON(_to_json(result)), now)

    def row(self) -> dict[str, Any]:
        return {
            "decision_id": self.decision_id,
            "created_at": self.created_at,
            "revision": self.revision,
            "input": self.input,
            "result": self.result,
        }


Waiting = tuple[Entry, "Future[None] | asyncio.Future[None]"]


@dataclass(frozen=True)
class LoggedDecision:
    decision_id: str
    created_at: dt.datetime
    revision: str
    input: dict[str, Any]
    result: dict[str, Any]


class DecisionLogError(Exception):
    """The log cannot be written or read; the message is fit for a client (no SQL, no
    paths), the details are in the server log under its incident id."""


def _sqlite_durability(engine: Engine, synchronous: str = "FULL") -> None:
    # WAL lets readers run beside the writer; FULL sync makes each commit survive a crash,
    # power loss included. NORMAL leaves the sync to the caller (DecisionLog._sync_wal).
    @event.listens_for(engine, "connect")
    def _pragmas(conn: Any, _record: Any) -> None:
        cursor = conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.close()


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
        self.engine = create_engine(url, json_serializer=_to_json, hide_parameters=True)
        self._lock_file: Path | None = None
        self._files: tuple[Path, Path] | None = None  # a SQLite file's WAL and database
        # The event loop's own connections (write), which must never wait inside SQLite.
        self._loop_engine: Engine | None = None
        if self.engine.dialect.name == "sqlite":
            _sqlite_durability(self.engine)
            database = self.engine.url.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
                self._lock_file = Path(f"{database}.writer-lock")
                self._files = (Path(f"{database}-wal"), Path(database))
                self._loop_engine = create_engine(
                    url,
                    json_serializer=_to_json,
                    hide_parameters=True,
                    connect_args={"timeout": 0},
                )
                _sqlite_durability(self._loop_engine, "NORMAL")
        self._create_table()
        self._loop_insert = None if self._loop_engine is None else DriverInsert(self._loop_engine)
        self.max_batch = max_batch
        self.batches = 0  # commits made, for the benchmark and the tests
        self._queue: queue.Queue[Any] = queue.Queue()
        self._writer: threading.Thread | None = None
        # Decisions waiting for their loop's next commit, per event loop.
        self._pending: dict[asyncio.AbstractEventLoop, list[Waiting]] = {}
        self.retention_days = retention_days
        self._stop_pruning = threading.Event()
        self._pruner: threading.Thread | None = None
        self.open()

    def open(self) -> None:
        """Start the writer (and the pruner, with a retention period); a log that was closed
        can be opened again (an app's lifespan can end and start again). Does nothing on an
        open log."""
        if self._writer is None:
            self._queue = queue.Queue()
            self._writer = threading.Thread(target=self._run, name="decision-log", daemon=True)
            self._writer.start()
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
        DecisionLogError.

        On a SQLite file the event loop commits itself: every decision it made since its
        last commit goes in one transaction at its next turn, which costs the loop one local
        fsync, made once the workers' writer lock is released (`_sync_wal`). Through the
        writer thread the same commit took three times as long under load, the thread
        waiting for the GIL and a core while it held the workers' shared writer lock, and
        the other workers waiting for that lock: 850-900 against 1,040-1,700 decisions a
        second with two workers (bench/http.py, same machine, same runs otherwise). The loop
        never waits for a lock, though: when another worker or program holds one it serves
        requests and tries again shortly (`_flush`). A database across a network keeps the
        writer thread, so that no loop waits on a round trip."""
        if self._loop_engine is None:
            await asyncio.wrap_future(self.submit(entry))
            return
        if self._writer is None:
            raise DecisionLogError("the decision log is closed")
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        pending = self._pending.setdefault(loop, [])
        if not pending:
            loop.call_soon(self._flush, loop, time.monotonic())
        pending.append((entry, done))
        await done

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

    def _flush(self, loop: asyncio.AbstractEventLoop, since: float) -> None:
        """Commit, on `loop`, the decisions it made; `since`: when the oldest began waiting."""
        assert self._loop_insert is not None and self._lock_file is not None
        pending = self._pending.pop(loop, [])
        if not pending:  # committed by close() meanwhile
            return
        batch, rest = pending[: self.max_batch], pending[self.max_batch :]
        try:
            held = try_lock(self._lock_file)
        except OSError as e:  # the folder is gone, say: nobody may be left waiting
            self._fail(pending, e)
            return
        if held is None:
            self._retry(loop, since, pending, "another worker is writing")
            return
        with held:
            try:
                self._loop_insert(batch)
            except Exception as e:
                if isinstance(e, OperationalError) and "locked" in str(e):
                    self._retry(loop, since, pending, "the database is locked")
                    return
                committed = self._settle_apart(self._loop_insert, batch, e)
            else:
                committed = batch
        # Committed, but on disk only once the WAL is synced, which is done after the lock is
        # released, so that the other workers commit meanwhile (see _sync_wal). A sync that
        # fails leaves decisions in the log that may not survive power loss: their requests
        # fail rather than be acknowledged.
        if committed:
            try:
                self._sync_wal()
            except OSError as e:
                self._fail(committed, e)
            else:
                self._acknowledge(committed)
        if rest:
            self._pending[loop] = rest
            loop.call_soon(self._flush, loop, time.monotonic())

    def _retry(
        self, loop: asyncio.AbstractEventLoop, since: float, waiting: list[Waiting], why: str
    ) -> None:
        if time.monotonic() - since > LOCKED_FOR:
            self._fail(waiting, TimeoutError(f"{why} for more than {LOCKED_FOR:g} s"))
            return
        # Decisions made meanwhile join these, and this is the only flush scheduled.
        self._pending[loop] = waiting
        loop.call_later(RETRY_AFTER, self._flush, loop, since)

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

    def _commit(self, batch: list[Waiting]) -> None:
        """Commit on the writer thread, waiting for the lock."""
        try:
            with self._exclusive():
                insert = functools.partial(_insert, self.engine)
                try:
                    insert(batch)
                except Exception as e:
                    committed = self._settle_apart(insert, batch, e)
                else:
                    committed = batch
                if committed:
                    self._acknowledge(committed)
        except OSError as e:  # the lock file cannot be opened
            self._fail(batch, e)

    def _settle_apart(
        self, insert: Insert, batch: list[Waiting], error: Exception
    ) -> list[Waiting]:
        """A commit failed. When the fault may lie in an entry rather than in the database
        (a value the driver cannot encode, a duplicate id), commit the halves apart, down to
        single entries: only the entries at fault fail, not every decision that happened to
        share their commit. A database that refuses everything fails the batch at once. The
        entries committed, for the caller to acknowledge."""
        if len(batch) == 1 or not _entry_fault(error):
            self._fail(batch, error)
            return []
        middle = len(batch) // 2
        committed = []
        for half in (batch[:middle], batch[middle:]):
            try:
                insert(half)
            except Exception as e:
                committed += self._settle_apart(insert, half, e)
            else:
                committed += half
        return committed

    def _sync_wal(self) -> None:
        """Put what the loop committed on disk. The loop's connections commit with
        synchronous=NORMAL: in WAL mode SQLite then writes a transaction's frames to the WAL
        and syncs it only before a checkpoint (and the database after one). Syncing the WAL
        here, before the decisions are acknowledged, gives synchronous=FULL's guarantee (an
        acknowledged decision survives power loss), but outside the writers' lock: with
        FULL, each worker's commit held the lock through its fsync, so the two workers'
        fsyncs (4-8 ms each on a loaded disk here) queued one behind the other and each
        worker waited for both. One sync covers every frame written before it, the other
        workers' too. Without a WAL (every connection closed, its frames checkpointed into
        the database) the database is synced."""
        assert self._files is not None
        for path in self._files:
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                _datasync(fd)
            finally:
                os.close(fd)
            return
        raise FileNotFoundError(f"neither {self._files[0]} nor {self._files[1]} exists")

    def _acknowledge(self, batch: list[Waiting]) -> None:
        self.batches += 1
        for _, done in batch:
            _settle(done, None)

    def _fail(self, batch: list[Waiting], e: Exception) -> None:
        """The database refused: every waiting request is told, with an incident id."""
        incident = report(log, f"{len(batch)} decision(s) could not be logged", e)
        error = DecisionLogError(f"the decision log cannot be written now (incident {incident})")
        for _, done in batch:
            _settle(done, error)

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
        # Decisions that a loop stopped before committing are committed here, waiting for
        # the lock if need be: a decision that was made is logged.
        pending, self._pending = self._pending, {}
        for waiting in pending.values():
            for start in range(0, len(waiting), self.max_batch):
                self._commit(waiting[start : start + self.max_batch])
        self.engine.dispose()
        if self._loop_engine is not None:
            self._loop_engine.dispose()


# macOS has no fdatasync; its fsync is what SQLite's own FULL sync does there.
_datasync = getattr(os, "fdatasync", os.fsync)


def _entry_fault(error: Exception) -> bool:
    """May the fault lie in an entry? The database's own refusals (disk full, connection
    lost, locked) are DBAPI errors other than these two."""
    return isinstance(error, IntegrityError | DataError) or not isinstance(error, DBAPIError)


Insert = Callable[[list[Waiting]], None]


def _insert(engine: Engine, batch: list[Waiting]) -> None:
    with engine.begin() as conn:
        conn.execute(insert(DECISIONS), [entry.row() for entry, _ in batch])


class DriverInsert:
    """The event loop's insert into a SQLite file: the driver's own statement, with each
    row's values converted here. SQLAlchemy's insert construct sends every value of every
    row through its column type: a commit of 8 decisions took 0.6 ms of CPU that way and
    0.45 ms this way here, spent while the loop holds the writers' lock. The driver's errors
    are still raised as SQLAlchemy's (exec_driver_sql wraps them)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        compiled = insert(DECISIONS).compile(dialect=engine.dialect)
        self.sql = str(compiled)
        self.names = tuple(compiled.positiontup or ())
        stamp = DECISIONS.c.created_at.type.dialect_impl(engine.dialect)
        self.stamp = stamp.bind_processor(engine.dialect) or _unchanged

    def __call__(self, batch: list[Waiting]) -> None:
        rows = []
        for entry, _ in batch:
            values = {
                "decision_id": entry.decision_id,
                "created_at": self.stamp(entry.created_at),
                "revision": entry.revision,
                "input": entry.input.text,
                "result": entry.result.text,
            }
            rows.append(tuple(values[name] for name in self.names))
        with self.engine.begin() as conn:
            conn.exec_driver_sql(self.sql, rows)


def _unchanged(value: Any) -> Any:
    return value


def _settle(done: Future[None] | asyncio.Future[None], error: Exception | None) -> None:
    # A request cancelled while it waited (its client gave up) cancels its future: nobody is
    # told, but the writer goes on, and the decision is logged all the same.
    if done.done() or (isinstance(done, asyncio.Future) and done.get_loop().is_closed()):
        return
    try:
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)
    except InvalidStateError:  # cancelled by another thread since the check above
        pass
