"""The lexical half of the index: jieba tokens of the normalised text, scored with BM25 (bm25s).

    Tokenizer      normalise (kb.normalize), segment with jieba plus kb/terms.txt, drop
                   punctuation and function words; the same for passages and queries.
                   `grams` gives character bigrams of the same text, for typo tolerance
    Bm25           bm25s over those tokens; save/load as bm25s's own arrays
    highlight_spans  where query tokens occur in the ORIGINAL text (any script), for display

Tokenising the normalised text means a Traditional passage (jiangxi-2019) and a Simplified
query meet on the same tokens. jieba runs in search mode (`cut_for_search`), which adds the
dictionary words inside a long word (产业功能区 also yields 产业, 功能, 功能区), so a question
that names only part of a compound still matches it. A domain term also yields the pieces it is
made of (非供地类项目 -> 非, 供地类项目, 供地, 类, 项目): search mode alone only yields
sub-words that are dictionary entries, and a reviewer writes 不供地的项目, not the term.

Character bigrams are a second lexical channel beside the words (kb.index fuses both): a slip
of the input method (场房 for 厂房, 竟争 for 竞争) or a word jieba cuts differently in a question
than in the passage breaks a word token, but leaves most of the bigrams around it intact.
Bigrams by sound (pinyin) were measured too (bench/fit_search.py): no better on the paraphrase
set's tuning half, for 55 MB and a second of start-up per process (pypinyin's dictionaries).
"""

from __future__ import annotations

import hashlib
import logging
import marshal
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Sequence
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from kb.normalize import normalize, to_simplified

__all__ = ["Bm25", "Tokenizer", "highlight_spans", "load_terms"]

# Bump when tokenisation changes in a way the terms file does not show; part of the index key.
TOKENIZER_VERSION = 2
log = logging.getLogger(__name__)

# Function words and question words that a reviewer's question is full of and that say nothing
# about which clause answers it. Content characters such as 市 or 县 stay: they distinguish
# 市园区办 from 县级 bodies even after jieba splits a phrase.
_STOPWORD_TEXT = """
    的 了 和 与 及 或 是 在 对 由 为 把 被 将 等 并 也 都 还 就 又 而 其 之 以 于 从 向 给 让
    吗 呢 吧 啊 么 哪 哪个 哪些 哪里 哪儿 什么 怎么 怎样 如何 多少 几 谁 是否 有没有 能否 可以
    需要 要 有 没有 这 那 这些 那些 这个 那个 这类 一个 个 些 该 应该 应当 是不是 具体 一下
    请问 按照 关于 根据 通过 进行 我们 我市 你们 他们 它 啥"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
# Punctuation and symbols (Unicode categories P* and S*), and anything with no letter or digit.
_WORDLIKE = re.compile(r"\w", re.UNICODE)
# Runs of CJK ideographs, and of Latin letters or digits (kept whole as one gram: "ppp", "1000").
_RUNS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[a-z0-9]+")


def load_terms(path: Path | None = None) -> list[str]:
    """The domain terms of kb/terms.txt (or `path`), normalised, in file order."""
    if path is None:
        text = resources.files("kb").joinpath("terms.txt").read_text(encoding="utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    terms: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        # Case-folded because tokens are (ppp and PPP are one token).
        terms.append(normalize(line.split()[0]).lower())
    return terms


class Tokenizer:
    """jieba (search mode) with the domain terms, over normalised text; thread-safe for reading.

    A private `jieba.Tokenizer` rather than jieba's global one: adding user words to the global
    tokenizer would change segmentation for every other user of jieba in the process.
    """

    def __init__(self, terms: Sequence[str] | None = None) -> None:
        self.terms = tuple(load_terms() if terms is None else terms)

    @cached_property
    def _jieba(self) -> Any:
        import jieba

        # jieba logs its dictionary loading at DEBUG to stderr, which would interleave with the
        # CLI's output; its logger is its own, so quieting it affects nothing else.
        jieba.setLogLevel(logging.WARNING)
        tokenizer = jieba.Tokenizer()
        _load_prefix_dictionary(tokenizer, jieba.__version__)
        return tokenizer

    @cached_property
    def _parts(self) -> dict[str, tuple[str, ...]]:
        """Each term's pieces, split before the term itself is added to the tokenizer.

        Terms go in shortest first, so a long term is split into the shorter terms already
        added (非供地类项目 -> 非, 供地类项目), whose own pieces are then added recursively.
        """
        tokenizer = self._jieba
        direct: dict[str, tuple[str, ...]] = {}
        for term in sorted(set(self.terms), key=lambda t: (len(t), t)):
            pieces = tuple(tokenizer.cut(term, HMM=False))
            if len(pieces) > 1:
                direct[term] = pieces
            tokenizer.add_word(term)

        def flatten(term: str) -> tuple[str, ...]:
            out: list[str] = []
            for piece in direct.get(term, ()):
                out.append(piece)
                out.extend(flatten(piece))
            return tuple(dict.fromkeys(out))

        return {term: flatten(term) for term in direct}

    @cached_property
    def fingerprint(self) -> str:
        """Changes with the terms or the tokenisation rules; part of the index key."""
        digest = hashlib.sha256("\n".join(self.terms).encode()).hexdigest()[:16]
        return f"jieba-search:{TOKENIZER_VERSION}:{digest}"

    def tokens(self, text: str) -> list[str]:
        """The BM25 tokens of `text` (any script): normalised, lower-cased, no stopwords.

        Like jieba's `cut_for_search`: each word is preceded by the dictionary 2- and 3-grams
        inside it and followed by its term pieces, each sub-word once per word. HMM new-word
        guessing is off: it splits the same characters differently in different sentences,
        so a passage and a question could disagree on a word that neither of them contains.
        """
        parts = self._parts  # first: building it adds the terms to the tokenizer
        tokenizer = self._jieba
        freq = tokenizer.FREQ
        out: list[str] = []
        for word in tokenizer.cut(normalize(text).lower(), HMM=False):
            if word in _STOPWORDS or not _WORDLIKE.search(word):
                continue
            subwords: dict[str, None] = {}
            for n in (2, 3):
                if len(word) > n:
                    for i in range(len(word) - n + 1):
                        gram = word[i : i + n]
                        if freq.get(gram):
                            subwords[gram] = None
            for piece in parts.get(word, ()):
                subwords[piece] = None
            subwords.pop(word, None)
            out.extend(t for t in subwords if t not in _STOPWORDS and _WORDLIKE.search(t))
            out.append(word)
        return out

    def grams(self, text: str) -> list[str]:
        """Character bigrams of each ideograph run of the normalised, lower-cased text (a run
        of one character is kept as it is), and each Latin or digit run whole."""
        out: list[str] = []
        for run in _RUNS.findall(normalize(text).lower()):
            if run.isascii() or len(run) == 1:
                out.append(run)
            else:
                out.extend(run[i : i + 2] for i in range(len(run) - 1))
        return out


def _load_prefix_dictionary(tokenizer: Any, version: str) -> None:
    """jieba's prefix dictionary (every word and word prefix with its frequency), from a copy
    kept beside jieba's own cache, in the system's temporary folder like it.

    jieba reads its cache with marshal.load on the open file, which reads it in small pieces:
    0.8 s of CPU in every process that searches (a server worker's start), where
    marshal.loads of the whole file takes 0.3 s. The copy is written by the first process
    that loads the dictionary (`zhengce kb build`, which tokenises every passage), from what
    jieba built or read, so it is the same dictionary."""
    folder = Path(tokenizer.tmp_dir or tempfile.gettempdir())
    kept = folder / f"zhengce-jieba-{version}.marshal"
    try:
        freq, total = marshal.loads(kept.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        pass  # not written yet, or torn: jieba's own way, then kept
    else:
        if isinstance(freq, dict) and isinstance(total, int):
            tokenizer.FREQ, tokenizer.total, tokenizer.initialized = freq, total, True
            return
    tokenizer.initialize()
    aside = None
    try:
        fd, aside = tempfile.mkstemp(prefix=".zhengce-jieba-", dir=folder)
        with os.fdopen(fd, "wb") as out:
            out.write(marshal.dumps((tokenizer.FREQ, tokenizer.total)))
        os.replace(aside, kept)
    except OSError:
        log.warning("could not keep jieba's dictionary in %s; the next start reads it slower", kept)
        if aside is not None:
            Path(aside).unlink(missing_ok=True)


FloatArray = npt.NDArray[np.float32]


class Bm25:
    """BM25 scores of token lists (bm25s, Lucene variant, k1=1.5, b=0.75)."""

    def __init__(self, model: Any) -> None:
        self._model = model

    @classmethod
    def build(cls, corpus: Iterable[Sequence[str]]) -> Bm25:
        import bm25s

        model = bm25s.BM25()
        # An empty document (or corpus) would break bm25s's vocabulary; "" is its empty token.
        docs = [list(doc) or [""] for doc in corpus] or [[""]]
        model.index(docs, show_progress=False)
        return cls(model)

    def save(self, folder: Path) -> None:
        """bm25s's arrays, in `folder` (created)."""
        self._model.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> Bm25:
        import bm25s

        return cls(bm25s.BM25.load(str(folder), show_progress=False))

    @property
    def size(self) -> int:
        return int(self._model.scores["num_docs"])

    def scores(self, tokens: Sequence[str]) -> FloatArray:
        """One score per document; all zero when no token is in the vocabulary."""
        vocab = self._model.vocab_dict
        ids = [vocab[t] for t in tokens if t and t in vocab]
        if not ids:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._model.get_scores(ids), dtype=np.float32)

    def documents(self, token: str) -> npt.NDArray[np.int32]:
        """The documents that contain `token`: its postings, none when no document has it."""
        vocab = self._model.vocab_dict
        if token not in vocab:
            return np.zeros(0, dtype=np.int32)
        indptr, t = self._model.scores["indptr"], vocab[token]
        documents: npt.NDArray[np.int32] = self._model.scores["indices"][indptr[t] : indptr[t + 1]]
        return documents

    def idf(self, token: str) -> float:
        """Lucene idf of a token; a token no document has gets the highest idf (df = 0)."""
        n = self.size
        vocab = self._model.vocab_dict
        df = 0
        if token in vocab:
            indptr = self._model.scores["indptr"]
            df = int(indptr[vocab[token] + 1] - indptr[vocab[token]])
        return float(np.log(1.0 + (n - df + 0.5) / (df + 0.5)))


_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"


# Every hit of every search highlights its passage, and the passages are the same few
# thousand texts: mapping one took about 0.25 ms, a quarter of a seed-corpus search's CPU
# apart from the embedding. Bounded (about 2 MB for sentence passages).
@lru_cache(maxsize=1024)
def _char_map(text: str) -> tuple[str, tuple[int, ...]]:
    """`text` width-folded, without whitespace and simplified, with each character's index
    in `text` — the normalisation of kb.normalize, done so that positions can be traced back."""
    if unicodedata.is_normalized("NFKC", text):
        flat, origin = _visible(text)
    else:
        flat, origin = _folded(text)
    simplified = to_simplified(flat)
    if len(simplified) != len(flat):
        # A phrase conversion changed the length; convert character by character instead, which
        # keeps positions (a highlight may then miss a phrase-converted word, nothing worse).
        simplified = "".join(s if len(s := to_simplified(c)) == 1 else c for c in flat)
    lowered = simplified.lower()
    return (lowered if len(lowered) == len(simplified) else simplified), origin


def _folded(text: str) -> tuple[str, tuple[int, ...]]:
    """Each character of `text` NFKC-folded, without spaces and invisible characters, and
    the index in `text` each comes from."""
    chars: list[str] = []
    positions: list[int] = []
    for i, ch in enumerate(text):
        for c in unicodedata.normalize("NFKC", ch):
            if not c.isspace() and c not in _INVISIBLE:
                chars.append(c)
                positions.append(i)
    return "".join(chars), tuple(positions)


def _visible(text: str) -> tuple[str, tuple[int, ...]]:
    """`_folded` of an NFKC-normalised text, where each character is its own NFKC form (most
    passages: the documents are normalised when ingested), so only the spaces go."""
    origin = tuple(i for i, c in enumerate(text) if not c.isspace() and c not in _INVISIBLE)
    return "".join(text[i] for i in origin), origin


def highlight_spans(text: str, terms: Iterable[str]) -> tuple[tuple[int, int], ...]:
    """Sorted, merged (start, end) spans of `text` where a term occurs after normalisation.

    Single characters are not highlighted (they would light up half a clause) unless they
    are digits or Latin letters.
    """
    wanted = sorted(
        {t for t in terms if len(t) >= 2 or t.isascii()},
        key=len,
        reverse=True,
    )
    if not wanted or not text:
        return ()
    flat, origin = _char_map(text)
    spans: list[tuple[int, int]] = []
    for term in wanted:
        start = flat.find(term)
        while start != -1:
            end = start + len(term)
            spans.append((origin[start], origin[end - 1] + 1))
            start = flat.find(term, end)
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return tuple(merged)
