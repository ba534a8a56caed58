"""The XLM-R tokenizer (tokenizer.json) rebuilt from the vocabulary and normaliser in the file."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from kb.model.fileformat import Contents

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = ["build_tokenizer"]


def _precompiled_charsmap(table: Sequence[tuple[str, str]]) -> bytes:
    """SentencePiece's precompiled normaliser: u32 trie size, a darts-clone double-array trie
    from UTF-8 keys to offsets, then the NUL-terminated replacement strings.

    The file has only a per-character table (e5.c applies it one code point at a time), so the
    keys are single characters. One difference remains: tokenizers' Precompiled first looks up
    a whole grapheme cluster, so a mapped character followed by combining marks is replaced
    marks and all; Hugging Face's own XLM-R tokenizer does the same."""
    blob = bytearray()
    at: dict[bytes, int] = {}
    keys: dict[bytes, int] = {}
    for char, replacement in table:
        rep = replacement.encode()
        if rep not in at:
            at[rep] = len(blob)
            blob += rep + b"\0"
        keys[char.encode()] = at[rep]
    units = _double_array(keys)
    trie = np.asarray(units, dtype="<u4").tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(blob)


def _double_array(keys: dict[bytes, int]) -> list[int]:
    """Place a byte trie in darts-clone units. A node at p with base b keeps its child for byte
    c at b ^ c and its value (if any) at b ^ 0. A lookup only checks a unit's label, so bases
    must be unique: then landing on another parent's child always fails the label check."""
    children: dict[bytes, set[int]] = {}
    for key in keys:
        for i in range(len(key)):
            children.setdefault(key[:i], set()).add(key[i])
    units: dict[int, int] = {}
    occupied, bases = {0}, set()
    position = {b"": 0}
    queue, first_free = [b""], 1
    for prefix in queue:  # breadth first; the loop appends
        labels = sorted(children.get(prefix, ()))
        slots = ([0] if prefix in keys else []) + labels
        while first_free in occupied:
            first_free += 1
        free = first_free
        while True:
            base = free ^ slots[0]
            if base not in bases and all(base ^ s not in occupied for s in slots):
                break
            free += 1
            while free in occupied:
                free += 1
        bases.add(base)
        node = position[prefix]
        offset = node ^ base
        if offset >= 1 << 21:
            raise AssertionError("normaliser trie too large for darts-clone offsets")
        label = prefix[-1] if prefix else 0
        units[node] = label | (prefix in keys) << 8 | offset << 10
        if prefix in keys:
            units[base] = keys[prefix] | 1 << 31
            occupied.add(base)
        for c in labels:
            position[prefix + bytes([c])] = base ^ c
            occupied.add(base ^ c)
            queue.append(prefix + bytes([c]))
    # Lookups probe base ^ byte for any byte, so every base's 256-unit block must exist.
    size = max(max(occupied), max(b | 0xFF for b in bases)) + 1
    return [units.get(i, 0) for i in range(size)]


def build_tokenizer(src: Contents) -> Tokenizer:
    """The tokenizer e5.c implements, as a `tokenizers` Tokenizer (imported here: it is heavy)."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models
    from tokenizers import normalizers as norm
    from tokenizers import pre_tokenizers as pre
    from tokenizers import processors as post

    # The file's pieces are already in XLM-R's fairseq order (<s> <pad> </s> <unk> ... <mask>),
    # which is the order e5.c indexes the embedding rows with, so ids are list positions.
    tok = Tokenizer(models.Unigram(list(zip(src.pieces, src.scores, strict=True)), src.unk, False))
    charsmap = _precompiled_charsmap(src.normaliser)
    # e5.c, like XLM-R's tokenizer.json: map characters, squeeze runs of spaces, then
    # metaspace with a "▁" prepended unless the text already starts with a space.
    tok.normalizer = norm.Sequence([norm.Precompiled(charsmap), norm.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = src.pieces[src.bos], src.pieces[src.eos]
    tok.post_processor = post.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, src.bos), (eos, src.eos)],
    )
    specials = [src.pieces[i] for i in (src.bos, src.pad, src.eos, src.unk)]
    tok.add_special_tokens(
        [AddedToken(s, normalized=False, special=True) for s in specials]
        + [AddedToken("<mask>", lstrip=True, normalized=False, special=True)]
    )
    return tok
