"""Group commit on the event loop, for a decision log in a SQLite file.

The loop commits itself: the decisions it made since its last commit go in one transaction
at its next turn, under the workers' writer lock, and are acknowledged once the WAL holding
them is synced (server.decision_log_wal). Through the writer thread the same commit took
three times as long under load, the thread waiting for the GIL and a core while it held the
workers' shared writer lock, and the other workers waiting for that lock: 850-900 against
1,040-1,700 decisions a second with two workers (bench/http.py, same machine, same runs
otherwise).

While a commit's sync is under way the loop serves on, and the decisions it makes meanwhile
wait to be committed together once the sync is done: one commit and one sync for all of
them, however many requests are in flight. A loop never waits for a lock either: when
another worker or program holds one it serves requests and tries again shortly (`_flush`).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

from kb.filelock import try_lock
from server.decision_log_batch import DriverInsert, Waiters
from server.decision_log_rows import Entry, Waiting, to_json
from server.decision_log_wal import WalSync, sqlite_durability

# A SQLite file that another program holds locked: how long the event loop keeps retrying a
# commit before the waiting decisions fail (pysqlite's own default busy timeout), and how
# often. Between tries the loop goes on serving.
LOCKED_FOR = 5.0
RETRY_AFTER = 0.0005


@dataclass
class _Turn:
    """One loop's decisions waiting for their commit, and where that loop's commits stand."""

    pending: list[Waiting] = field(default_factory=list)
    since: float = 0.0  # when the oldest pending decision began waiting for the lock
    scheduled: bool = False  # a flush is due on the loop
    syncing: bool = False  # the last commit's sync is under way


class LoopCommits:
    def __init__(self, url: str, database: str, waiters: Waiters, max_batch: int) -> None:
        # The loop's own connections, which must never wait inside SQLite.
        self.engine = create_engine(
            url, json_serializer=to_json, hide_parameters=True, connect_args={"timeout": 0}
        )
        sqlite_durability(self.engine, "NORMAL")
        self.lock_file = Path(f"{database}.writer-lock")
        self.insert = DriverInsert(self.engine)
        self.waiters = waiters
        self.max_batch = max_batch
        self.wal = WalSync((Path(f"{database}-wal"), Path(database)))
        self._turns: dict[asyncio.AbstractEventLoop, _Turn] = {}

    async def write(self, entry: Entry) -> None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        turn = self._turns.get(loop)
        if turn is None:
            turn = self._turns[loop] = _Turn()
        turn.pending.append((entry, done))
        if not turn.scheduled and not turn.syncing:
            self._schedule(loop, turn)
        await done

    def _schedule(self, loop: asyncio.AbstractEventLoop, turn: _Turn) -> None:
        turn.scheduled = True
        turn.since = time.monotonic()
        loop.call_soon(self._flush, loop, turn)

    def _flush(self, loop: asyncio.AbstractEventLoop, turn: _Turn) -> None:
        """Commit, on `loop`, the decisions it made, and have the commit synced."""
        turn.scheduled = False
        if not turn.pending:  # committed by close() meanwhile
            return
        batch, rest = turn.pending[: self.max_batch], turn.pending[self.max_batch :]
        try:
            held = try_lock(self.lock_file)
        except OSError as e:  # the folder is gone, say: nobody may be left waiting
            turn.pending = []
            self.waiters.fail(batch + rest, e)
            return
        if held is None:
            self._retry(loop, turn, "another worker is writing")
            return
        with held:
            try:
                self.insert(batch)
            except Exception as e:
                if isinstance(e, OperationalError) and "locked" in str(e):
                    self._retry(loop, turn, "the database is locked")
                    return
                committed = self.waiters.settle_apart(self.insert, batch, e)
            else:
                committed = batch
        turn.pending = rest
        # Committed, but on disk only once the WAL is synced, which is done after the lock
        # is released, so that the other workers commit meanwhile.
        if committed:
            turn.syncing = True
            self.wal.ask(loop, lambda error: self._synced(loop, turn, committed, error))
        else:
            self._next(loop, turn)

    def _synced(
        self,
        loop: asyncio.AbstractEventLoop,
        turn: _Turn,
        committed: list[Waiting],
        error: OSError | None,
    ) -> None:
        """On the loop, once the sync is done. A sync that failed leaves decisions in the log
        that may not survive power loss: their requests fail rather than be acknowledged."""
        turn.syncing = False
        if error is None:
            self.waiters.acknowledge(committed)
        else:
            self.waiters.fail(committed, error)
        self._next(loop, turn)

    def _next(self, loop: asyncio.AbstractEventLoop, turn: _Turn) -> None:
        """The decisions made meanwhile are committed next; a loop with none is forgotten."""
        if turn.pending:
            self._schedule(loop, turn)
        elif self._turns.get(loop) is turn:
            del self._turns[loop]

    def _retry(self, loop: asyncio.AbstractEventLoop, turn: _Turn, why: str) -> None:
        if time.monotonic() - turn.since > LOCKED_FOR:
            waiting, turn.pending = turn.pending, []
            self.waiters.fail(waiting, TimeoutError(f"{why} for more than {LOCKED_FOR:g} s"))
            return
        # Decisions made meanwhile join these, and this is the only flush scheduled.
        turn.scheduled = True
        loop.call_later(RETRY_AFTER, self._flush, loop, turn)

    def left(self) -> list[Waiting]:
        """The decisions that stopped loops left uncommitted, taken (for close())."""
        left = []
        for turn in self._turns.values():
            left += turn.pending
            turn.pending = []  # a flush still due on the loop then finds nothing
        self._turns = {}
        return left

    def open(self) -> None:
        self.wal.start()

    def close(self) -> None:
        self.wal.stop()
        self.engine.dispose()
