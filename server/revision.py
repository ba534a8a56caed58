"""The policy set every worker of one server serves, kept on disk: all workers serve one
revision, a reload reaches each of them, and a restarted worker finds the set again even
while policies/ has errors.

Under <root>/var/policy-set/:

    snapshots/<revision>-<digest>/policies/   an accepted set exactly as it was checked (the
                                              policy files from the texts that were loaded)
    last-good                                 names the snapshot accepted last, by any server
    fleets/<owner>/current                    the snapshot the owner's workers serve
    fleets/<owner>/workers/<pid>              the revision each of those workers serves

A fleet is the workers of one server: the processes `zhengce serve --workers N` (or
`uvicorn --workers N`) spawns share their parent, the owner; a process started on its own is
a fleet of one. `current` is only ever replaced whole (written aside, then renamed over), so
its inode changes with every acceptance and a worker learns of a new revision with one stat.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path

from kb.filelock import lock

__all__ = [
    "RevisionStore",
    "Snapshot",
    "Stamp",
    "WorkerState",
    "served_snapshot",
    "start_ticks",
]

Stamp = tuple[int, int]  # the marker's inode and modification time
POLL = 0.05  # seconds between looks at the workers while a reload waits for them
STALE_DRAFT = 600.0  # seconds after which a snapshot left half-written by a crash is removed


@dataclass(frozen=True)
class Snapshot:
    """An accepted policy set on disk; `problem` says why a fleet serves it other than
    because it was just accepted (policies/ had errors when the fleet started)."""

    name: str
    revision: str
    problem: str | None = None


@dataclass(frozen=True)
class WorkerState:
    """What one worker serves: its revision (None while it has nothing to serve) and what is
    wrong, if anything, for /readyz."""

    pid: int
    revision: str | None
    problem: str | None


class RevisionStore:
    def __init__(self, folder: Path, fleet: str, worker: int) -> None:
        self.folder = folder
        self.snapshots = folder / "snapshots"
        self.fleet = folder / "fleets" / fleet
        self.workers_dir = self.fleet / "workers"
        self.marker = self.fleet / "current"
        self.worker = worker
        for d in (self.snapshots, self.workers_dir):
            d.mkdir(parents=True, exist_ok=True)

    @classmethod
    def of_process(cls, root: Path) -> RevisionStore:
        """This process's store: its fleet is its parent's when a multiprocessing parent
        spawned it (uvicorn's workers), else its own."""
        parent = multiprocessing.parent_process()
        owner = parent.pid if parent is not None and parent.pid is not None else os.getpid()
        return cls(root / "var" / "policy-set", _identity(owner), os.getpid())

    # ------------------------------------------------------------------- the fleet's set

    def stamp(self) -> Stamp | None:
        """Cheap enough for every request: one stat."""
        try:
            st = os.stat(self.marker)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns)

    def current(self) -> Snapshot | None:
        return _read_snapshot(self.marker)

    def last_good(self) -> Snapshot | None:
        return _read_snapshot(self.folder / "last-good")

    def root_of(self, snapshot: Snapshot) -> Path:
        """The project folder to load `snapshot` from (it holds policies/)."""
        return self.snapshots / snapshot.name

    def accept(
        self, root: Path, texts: Mapping[str, str], revision: str, *, first: bool = False
    ) -> Snapshot:
        """Keep root's policies/ with the policy files as `texts` (what was loaded and
        checked, not what is on disk now, which may have changed since) and make it the
        fleet's set and the last good one. With `first`, a set the fleet already has wins:
        the workers of a new server start together, and the first to load decides."""
        with self.lock():
            if first and (found := self.current()) is not None:
                return found
            snapshot = Snapshot(self._keep(root, texts, revision), revision)
            _write_json(self.marker, asdict(snapshot))
            _write_json(self.folder / "last-good", asdict(snapshot) | {"problem": None})
            self._prune()
            return snapshot

    def adopt(self, snapshot: Snapshot, *, first: bool = False) -> None:
        """Make a snapshot on disk the fleet's set; with `first`, only if it has none."""
        with self.lock():
            if not (first and self.current() is not None):
                _write_json(self.marker, asdict(snapshot))

    @contextmanager
    def lock(self) -> Iterator[None]:
        """One acceptance (or reload) at a time in the fleet."""
        with lock(self.fleet / "lock"):
            yield

    # --------------------------------------------------------------------- the workers

    def report(self, state: WorkerState) -> None:
        _write_json(self.workers_dir / str(state.pid), asdict(state))

    def leave(self) -> None:
        with suppress(FileNotFoundError):
            (self.workers_dir / str(self.worker)).unlink()

    def workers(self) -> list[WorkerState]:
        """The fleet's live workers, by pid; a dead one's report is removed."""
        found = []
        for path in sorted(self.workers_dir.iterdir()):
            if not path.name.isdigit():
                continue
            if not _alive(int(path.name)):
                with suppress(FileNotFoundError):
                    path.unlink()
                continue
            with suppress(OSError, ValueError, TypeError):
                found.append(WorkerState(**json.loads(path.read_text("utf-8"))))
        return found

    def wait_for(self, revision: str, seconds: float) -> list[WorkerState]:
        """Wait until every live worker serves `revision`, at most `seconds`; the workers
        that still do not."""
        deadline = time.monotonic() + seconds
        while True:
            behind = [w for w in self.workers() if w.revision != revision]
            if not behind or time.monotonic() > deadline:
                return behind
            time.sleep(POLL)

    # -------------------------------------------------------------------------- on disk

    def _keep(self, root: Path, texts: Mapping[str, str], revision: str) -> str:
        draft = Path(tempfile.mkdtemp(prefix=".draft-", dir=self.snapshots))
        try:
            shutil.copytree(root / "policies", draft / "policies")
            for path, text in texts.items():
                (draft / Path(path).relative_to(root)).write_text(text, "utf-8")
            name = f"{revision}-{_digest(draft)}"
            try:
                draft.rename(self.snapshots / name)
            except OSError:  # the same content is kept already
                if not (self.snapshots / name).is_dir():
                    raise
        finally:
            shutil.rmtree(draft, ignore_errors=True)
        return name

    def _prune(self) -> None:
        """Forget the fleets whose owner is gone, then every snapshot no fleet serves and
        that is not the last good one."""
        fleets = self.folder / "fleets"
        for fleet in fleets.iterdir():
            if fleet != self.fleet and not _owner_alive(fleet.name):
                shutil.rmtree(fleet, ignore_errors=True)
        kept = {s.name for s in (self.last_good(), *map(_read_snapshot, _markers(fleets))) if s}
        for path in self.snapshots.iterdir():
            draft = path.name.startswith(".draft-")
            if draft and time.time() - path.stat().st_mtime < STALE_DRAFT:
                continue
            if path.name not in kept:
                shutil.rmtree(path, ignore_errors=True)


def _markers(fleets: Path) -> Iterator[Path]:
    return (f / "current" for f in fleets.iterdir())


def served_snapshot(folder: Path) -> tuple[Path, Snapshot] | None:
    """The set a live server keeps in `folder` (var/policy-set/) and where its policies/ is:
    the one accepted last when several servers run, else the last good one; None when no
    server ever accepted one. Read-only (`zhengce impact --base served`)."""
    fleets = folder / "fleets"
    markers = _markers(fleets) if fleets.is_dir() else iter(())
    live = [m for m in markers if _owner_alive(m.parent.name) and m.exists()]
    marker = max(live, key=lambda m: m.stat().st_mtime_ns, default=folder / "last-good")
    snapshot = _read_snapshot(marker)
    return None if snapshot is None else (folder / "snapshots" / snapshot.name, snapshot)


def _identity(pid: int) -> str:
    """A process id with its start time, so that a fleet folder is never taken for that of
    a later process given the same id. Where /proc is missing, the id alone."""
    ticks = start_ticks(pid)
    return str(pid) if ticks is None else f"{pid}-{ticks}"


def start_ticks(pid: int) -> int | None:
    """When a process started, in clock ticks since boot (the 22nd field of its stat); None
    where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return int(fields[19])


def _owner_alive(fleet: str) -> bool:
    pid, _, _ = fleet.partition("-")
    return pid.isdigit() and _alive(int(pid)) and _identity(int(pid)) == fleet


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return state != "Z"  # a worker killed but not yet reaped by its parent


def _digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def _read_snapshot(path: Path) -> Snapshot | None:
    try:
        return Snapshot(**json.loads(path.read_text("utf-8")))
    except FileNotFoundError:
        return None


def _write_json(path: Path, value: object) -> None:
    """Written aside and renamed over: a reader sees the old file or the new, never half."""
    fd, aside = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(value, out)
    os.replace(aside, path)
