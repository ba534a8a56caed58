"""How a serving process started, phase by phase: what /readyz shows under `startup` and
bench/startup.py prints, so that a slow start says where its time went.

The first phase, `imports`, is everything before the runtime was made: the interpreter,
uvicorn's start of the worker, the imports of the app. The others are timed where they
happen (server.runtime). CPU seconds are the whole process's (every thread: the event loop
answering probes meanwhile included), which a busy machine changes far less than the clock's.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from server.revision import start_ticks

__all__ = ["Phase", "StartLog", "process_age"]


@dataclass(frozen=True)
class Phase:
    name: str
    cpu: float  # seconds of the process's CPU time
    wall: float  # seconds of the clock
    after_ready: bool = False  # done once the process was ready (it did not wait for this)


class StartLog:
    """The phases of one process's start, in order, and when it became ready."""

    def __init__(self) -> None:
        self.phases: list[Phase] = [Phase("imports", time.process_time(), process_age())]
        self.ready_after: float | None = None  # seconds from the process's start to ready

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        cpu, wall = time.process_time(), time.perf_counter()
        yield
        after = self.ready_after is not None
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        self.phases.append(Phase(name, cpu, wall, after))

    def ready(self) -> None:
        if self.ready_after is None:
            self.ready_after = process_age()

    def view(self) -> dict[str, Any]:
        return {
            "ready_after": None if self.ready_after is None else round(self.ready_after, 3),
            "phases": [
                {
                    "name": p.name,
                    "cpu": round(p.cpu, 3),
                    "wall": round(p.wall, 3),
                    "after_ready": p.after_ready,
                }
                for p in self.phases
            ],
        }


_LOADED = time.monotonic()


def process_age() -> float:
    """Seconds since this process started; where /proc is missing, since this module was
    imported (the interpreter's own start then goes uncounted)."""
    ticks = start_ticks(os.getpid())
    if ticks is None:
        return time.monotonic() - _LOADED
    return time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
