"""One commit of waiting decisions: its insert (SQLAlchemy's for any database, the driver's own
for the event loop's SQLite connections), and the telling of its waiters.

One client's decision never fails another's: a commit that fails for something in its entries
is retried in halves, down to the entry at fault (`Waiters.settle_apart`). A failure is
reported to the waiting requests as a fixed message with an incident id; the driver's message
goes to the server log, with the SQL parameters (other clients' input) hidden.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from server.decision_log_rows import DECISIONS, DecisionLogError, Waiting, settle
from server.incident import report

log = logging.getLogger("zhengce")

Insert = Callable[[list[Waiting]], None]


def sqlalchemy_insert(engine: Engine) -> Insert:
    def run(batch: list[Waiting]) -> None:
        with engine.begin() as conn:
            conn.execute(insert(DECISIONS), [entry.row() for entry, _ in batch])

    return run


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


class Waiters:
    """Tells the requests waiting for a commit how it went, and counts the commits."""

    def __init__(self) -> None:
        self.batches = 0  # commits acknowledged, for the benchmark and the tests

    def commit(self, insert: Insert, batch: list[Waiting]) -> list[Waiting]:
        """Insert `batch`; the entries committed (the others' requests are told why not)."""
        try:
            insert(batch)
        except Exception as e:
            return self.settle_apart(insert, batch, e)
        return batch

    def settle_apart(self, insert: Insert, batch: list[Waiting], error: Exception) -> list[Waiting]:
        """A commit failed. When the fault may lie in an entry rather than in the database
        (a value the driver cannot encode, a duplicate id), commit the halves apart, down to
        single entries: only the entries at fault fail, not every decision that happened to
        share their commit. A database that refuses everything fails the batch at once. The
        entries committed, for the caller to acknowledge."""
        if len(batch) == 1 or not _entry_fault(error):
            self.fail(batch, error)
            return []
        middle = len(batch) // 2
        committed = []
        for half in (batch[:middle], batch[middle:]):
            try:
                insert(half)
            except Exception as e:
                committed += self.settle_apart(insert, half, e)
            else:
                committed += half
        return committed

    def acknowledge(self, batch: list[Waiting]) -> None:
        self.batches += 1
        for _, done in batch:
            settle(done, None)

    def fail(self, batch: list[Waiting], e: Exception) -> None:
        """The database refused: every waiting request is told, with an incident id."""
        incident = report(log, f"{len(batch)} decision(s) could not be logged", e)
        error = DecisionLogError(f"the decision log cannot be written now (incident {incident})")
        for _, done in batch:
            settle(done, error)


def _entry_fault(error: Exception) -> bool:
    """May the fault lie in an entry? The database's own refusals (disk full, connection
    lost, locked) are DBAPI errors other than these two."""
    return isinstance(error, IntegrityError | DataError) or not isinstance(error, DBAPIError)
