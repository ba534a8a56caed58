"""A decision log in a SQLite file: its durability settings, and the WAL sync that makes the
event loop's commits durable, done on a thread of its own so that the loop serves meanwhile.

WAL lets readers run beside the writer. The writer thread's connections sync every commit
(synchronous=FULL). The event loop's commit with synchronous=NORMAL: in WAL mode SQLite then
writes a transaction's frames to the WAL and syncs it only before a checkpoint (and the
database after one). Syncing the WAL before the decisions are acknowledged gives FULL's
guarantee (an acknowledged decision survives power loss), and it is done outside the
workers' writer lock: with FULL, each worker's commit held the lock through its fsync, so
the two workers' fsyncs (4-8 ms each on a loaded disk here) queued one behind the other and
each worker waited for both. One sync covers every frame written before it, the other
workers' too.

The sync runs on `WalSync`'s thread, not on the loop: on the loop, each fsync (2.5 ms under
load here) stopped the worker from reading, deciding and answering the next requests, which
left an explained evaluation's worker idle a quarter of the time (bench/http.py). fsync
releases the GIL, so the loop goes on while the disk works.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

# macOS has no fdatasync; its fsync is what SQLite's own FULL sync does there.
_datasync = getattr(os, "fdatasync", os.fsync)

Synced = Callable[[OSError | None], None]  # told on its loop: None once synced, or the error

_STOP = None


def sqlite_durability(engine: Engine, synchronous: str = "FULL") -> None:
    @event.listens_for(engine, "connect")
    def _pragmas(conn: Any, _record: Any) -> None:
        cursor = conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.close()


def sync_wal(files: tuple[Path, Path]) -> None:
    """Put on disk what was committed to the SQLite file whose (WAL, database) these are.
    Without a WAL (every connection closed, its frames checkpointed into the database) the
    database is synced. Raises OSError."""
    for path in files:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            _datasync(fd)
        finally:
            os.close(fd)
        return
    raise FileNotFoundError(f"neither {files[0]} nor {files[1]} exists")


class WalSync:
    """A thread that syncs the WAL when asked, and tells each asker on its own loop. Asks
    that arrive during a sync share the next one (they may have been committed after the
    sync began, so the one under way does not cover them)."""

    def __init__(self, files: tuple[Path, Path]) -> None:
        self.files = files
        self._asks: queue.SimpleQueue[tuple[asyncio.AbstractEventLoop, Synced] | None] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._asks = queue.SimpleQueue()
            self._thread = threading.Thread(target=self._run, name="wal-sync", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Once the syncs asked for are done."""
        if self._thread is not None:
            self._asks.put(_STOP)
            self._thread.join(timeout=30)
            self._thread = None

    def ask(self, loop: asyncio.AbstractEventLoop, synced: Synced) -> None:
        """Sync what `loop` has committed so far; then `synced` runs on the loop."""
        self._asks.put((loop, synced))

    def _run(self) -> None:
        while (first := self._asks.get()) is not _STOP:
            asked = [first]
            while not self._asks.empty():
                more = self._asks.get()
                if more is _STOP:
                    self._asks.put(_STOP)
                    break
                asked.append(more)
            error: OSError | None = None
            try:
                sync_wal(self.files)
            except OSError as e:
                error = e
            for loop, synced in asked:
                # A loop that is closed has nobody left waiting on it.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(synced, error)
