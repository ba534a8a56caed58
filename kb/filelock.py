"""Advisory locks between processes on a lock file (flock), for the caches and the decision log.

    with lock(cache / ".lock"):                  # wait for exclusive use
    with lock(cache / ".lock", shared=True):     # wait, alongside other readers
    held = try_lock(path)                        # None at once if someone else holds it
    if held is not None:
        with held: ...

The lock is taken when `lock` or `try_lock` returns and released when the `with` block ends.
The file is created if missing and never written; a crashed holder's lock dies with it.
"""

from __future__ import annotations

import fcntl
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

__all__ = ["HeldLock", "lock", "try_lock"]


@dataclass(frozen=True)
class HeldLock:
    """A lock this process holds; leaving its `with` block releases it."""

    handle: IO[str]

    def __enter__(self) -> HeldLock:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
        finally:
            self.handle.close()


def lock(path: Path, *, shared: bool = False) -> HeldLock:
    """Wait until the lock on `path` is ours. Raises OSError when the file cannot be opened."""
    return _acquire(path, _mode(shared))


def try_lock(path: Path, *, shared: bool = False) -> HeldLock | None:
    """The lock on `path` if it is free now, else None without waiting: for an event loop,
    which must retry later rather than block. Raises OSError on any other failure."""
    try:
        return _acquire(path, _mode(shared) | fcntl.LOCK_NB)
    except BlockingIOError:
        return None


def _mode(shared: bool) -> int:
    return fcntl.LOCK_SH if shared else fcntl.LOCK_EX


def _acquire(path: Path, operation: int) -> HeldLock:
    # "a": creates the file when missing and never truncates what another holder opened.
    handle = path.open("a")
    try:
        fcntl.flock(handle, operation)
    except BaseException:
        handle.close()
        raise
    return HeldLock(handle)
