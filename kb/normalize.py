"""The one normalisation used whenever source text is matched (quotes, search, lookups).

    normalize(text) = repeat until stable: NFKC width folding -> drop whitespace -> OpenCC t2s

- NFKC folds full-width ASCII forms to ASCII: （）：，；．１２Ａ become ():,;.12A. It leaves the
  CJK punctuation that has no ASCII twin alone (、。“”〔〕《》——), so 、 and , stay different.
- Whitespace, including U+3000 and zero-width characters, carries no meaning in Chinese
  legal text but varies with line wrapping and web scraping, so all of it is removed — before
  t2s, so that a phrase broken by a line break converts like the unbroken phrase.
- OpenCC `t2s` maps Traditional to Simplified characters and phrases, so a quote typed in
  either script matches a source written in the other.

The steps are repeated to a fixed point because one can enable another (dropping a space can
put a combining mark next to its base letter, which NFKC then composes); this is what makes
`normalize` idempotent. Case is deliberately kept: a quote must be verbatim up to script,
width and whitespace.

The OpenCC converter is built on first use, not at import time, under a lock, exactly once
per process.
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from collections.abc import Callable

import opencc

__all__ = ["normalize", "to_simplified"]

# Whitespace as str.isspace sees it, plus the zero-width characters that scraping leaves
# behind and that isspace does not count.
_SPACE = re.compile(r"[\s\u200b\u200c\u200d\u2060\ufeff]+")
_MAX_PASSES = 8
_BUILD_LOCK = threading.Lock()


@functools.cache
def _build_t2s() -> Callable[[str], str]:
    converter = opencc.OpenCC("t2s")
    convert: Callable[[str], str] = converter.convert
    return convert


def _t2s() -> Callable[[str], str]:
    # functools.cache alone may run the builder twice when two threads miss at once; the lock
    # makes the first build the only one.
    with _BUILD_LOCK:
        return _build_t2s()


def to_simplified(text: str) -> str:
    """OpenCC `t2s` only: Traditional characters and phrases to Simplified, nothing else."""
    if not text:
        return text
    return _t2s()(text)


def _one_pass(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text)
    return to_simplified(_SPACE.sub("", folded))


def normalize(text: str) -> str:
    """Text in the form used for every comparison: simplified, width-folded, no whitespace."""
    return _remembered(text) if len(text) <= _REMEMBERED_LENGTH else _normalized(text)


# A search normalises the same short texts again and again: its question in each channel and
# feature, and the passages it weighs for the kind of answer asked (about 27 µs a passage of
# 120 characters). Those of up to _REMEMBERED_LENGTH characters are remembered, the last
# _REMEMBERED of them (a few MB at most); a whole document is not.
_REMEMBERED, _REMEMBERED_LENGTH = 8192, 1024


@functools.lru_cache(maxsize=_REMEMBERED)
def _remembered(text: str) -> str:
    return _normalized(text)


def _normalized(text: str) -> str:
    result = text
    for _ in range(_MAX_PASSES):
        step = _one_pass(result)
        if step == result:
            break
        result = step
    return result
