"""The checked policy set of a project, kept on disk by the hash of everything the check reads.

Parsing and checking policies/ took 0.7 s of CPU a process (lark building its LALR tables is
most of it), and a server start did it three times in a row: `zhengce serve` checks the set
before it starts the workers, then each worker loads it. Read back from here it takes a few
milliseconds.

    <cache>/policy-sets/<key>.pickle     the LoadResult of a set without errors

The key hashes FORMAT; the Python version and the versions of the libraries the check runs
on (lark parses, OpenCC normalises quotes, PyYAML reads the classification); every file of
the `dsl` and `kb` packages (the grammar, the checker, how sources are cut into clauses);
whether conflicts are checked; and every file under policies/ (rules, schema,
classification, sources) with its path in policies/. A change to any of them is another key,
so the set is checked again. A set with errors is never kept: it is reported as it is found.

Not the project's own path: a server's second worker loads the snapshot of policies/ that
the first accepted (server.revision), the same files in another folder. A result names its
files by their paths (every span, the texts), so those strings are kept relative to the
policies folder and read back under the folder asked for: what checking that folder gives.

A file is written aside and renamed into place; the newest KEEP files are kept; one that
cannot be read back is checked again, not trusted.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from contextlib import suppress
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any, BinaryIO

import dsl
import kb
from dsl.load import LoadResult, load_folder
from dsl.sources import ClauseSource

__all__ = ["load_checked", "policy_key"]

FORMAT = 1
FOLDER = "policy-sets"
KEEP = 16  # a server keeps a few sets (policies/ and its snapshots), tests many more roots
LIBRARIES = ("lark", "OpenCC", "PyYAML")


def load_checked(
    root: Path, cache_dir: Path, source: ClauseSource, *, conflicts: bool = True
) -> LoadResult:
    """dsl.load.load_folder of root/policies against `source` (the corpus of `root`),
    read from the cache when nothing it depends on changed."""
    folder = root / "policies"
    try:
        key = policy_key(root, conflicts)
    except OSError:  # a file that cannot be read: the check says which, in its own words
        return load_folder(folder, source, conflicts=conflicts)
    path = cache_dir / FOLDER / f"{key}.pickle"
    kept = _read(path, folder)
    if kept is not None:
        return kept
    result = load_folder(folder, source, conflicts=conflicts)
    if result.policies is not None:
        _write(path, result, folder)
    return result


def policy_key(root: Path, conflicts: bool) -> str:
    """The hash of everything that decides root's checked policy set (module docstring).
    Raises OSError when a file under policies/ cannot be read."""
    digest = hashlib.sha256(_code_fingerprint().encode())
    digest.update(f"{conflicts}\0".encode())
    folder = root / "policies"
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:24]


@cache
def _code_fingerprint() -> str:
    """The checker's code and libraries; read once per process."""
    digest = hashlib.sha256(f"{FORMAT}\0{sys.version}\0".encode())
    for name in LIBRARIES:
        digest.update(f"{name}={metadata.version(name)}\0".encode())
    for package in (dsl, kb):
        base = Path(package.__path__[0])
        files = (p for p in base.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        for path in sorted(files):
            digest.update(str(path.relative_to(base.parent)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


class _Pickler(pickle.Pickler):
    """Writes each path under `folder` (a string equal to it or starting with it and a
    separator) as its part after the folder."""

    def __init__(self, file: BinaryIO, folder: Path) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.folder = str(folder)
        self.prefix = self.folder + os.sep

    def persistent_id(self, obj: Any) -> str | None:
        if type(obj) is str and (obj == self.folder or obj.startswith(self.prefix)):
            return obj[len(self.folder) :]
        return None


class _Unpickler(pickle.Unpickler):
    """Reads the paths _Pickler wrote back under `folder`."""

    def __init__(self, file: BinaryIO, folder: Path) -> None:
        super().__init__(file)
        self.folder = str(folder)

    def persistent_load(self, pid: Any) -> str:
        if not isinstance(pid, str):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        return self.folder + pid


def _read(path: Path, folder: Path) -> LoadResult | None:
    try:
        with path.open("rb") as f:
            found = _Unpickler(f, folder).load()
    except FileNotFoundError:
        return None
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError):
        return None  # torn or from code that no longer exists: checked again
    return found if isinstance(found, LoadResult) and found.policies is not None else None


def _write(path: Path, result: LoadResult, folder: Path) -> None:
    """Aside, then renamed into place; then only the newest KEEP are kept. A cache that
    cannot be written costs the next process a check, nothing else."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, aside = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=path.parent)
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as out:
            _Pickler(out, folder).dump(result)
        os.replace(aside, path)
    except OSError:
        Path(aside).unlink(missing_ok=True)
        return
    _prune(path.parent)


def _prune(folder: Path) -> None:
    kept = []
    for p in folder.glob("*.pickle"):
        try:
            kept.append((p.stat().st_mtime_ns, p))
        except FileNotFoundError:  # pruned meanwhile by another process
            continue
    for _, p in sorted(kept, reverse=True)[KEEP:]:
        with suppress(OSError):
            p.unlink(missing_ok=True)
