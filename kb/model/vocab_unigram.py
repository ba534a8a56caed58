"""e5's query tokenizer in pure Python, over kb.model.vocab's pruned vocabulary.

`tokenizers` added 281 MB of RSS for the whole 250,002-piece vocabulary and 123 MB for the
pruned one (its Unigram trie and maps, Tokenizer.from_file); this dict of the pruned pieces adds
35-49 MB and loads in 0.14 s of CPU. A question that was never asked takes 0.47 of the CPU time
a plain Viterbi over every substring of up to 16 characters took (43 against 92 µs over the 63
evaluation questions, 2026-11): the Viterbi tries only substrings that can be pieces, and the
prompt's word is remembered.
The steps are those of the tokenizer.json kb.model.tokenizer builds, one for one:

1. the per-character normaliser table (CR LF, one grapheme cluster, maps as CR alone), then
   runs of two or more spaces squeezed to one;
2. Metaspace: spaces become ▁, one ▁ is prepended unless the text starts with it, and the text
   is split before every ▁;
3. Unigram: the best-scoring segmentation of each word (of paths tied at a position, the one
   whose last piece starts first, as in tokenizers), a character without a one-character
   piece read as <unk> at the whole vocabulary's lowest score minus 10, and runs of <unk>
   fused into one token;
4. <s> ... </s> around the first `max_length` - 2 tokens.

For a text of kb.model.vocab's character set K whose normalised form is in K too and which
holds no special token's string (`covers`), that is exactly what tokenizers gives with the
whole vocabulary, mapped to the pruned ids (tests/test_vocab.py proves it on the corpus, the
test questions and generated text). Other text is tokenized the same way, with the pruned
vocabulary: a run of characters that no kept piece holds becomes one <unk>, as characters
unknown to the whole vocabulary do. And the special tokens' strings (<s>, <mask>...) in a
text are read as text, never as the tokens.

Why <unk> rather than the whole model for such text: that would put `tokenizers` and the
whole graph in the worker at the first such question (an opened export: +377 MB against +72 MB
over Python, bench/embed.py), for characters the corpus never holds. With Cyrillic, Hangul,
Thai or an emoji in the middle of the 63 evaluation questions, the vectors stayed at cosine
0.946 or more to the whole model's (mean 0.970-0.989), and the lexical channel still reads
those characters.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from kb.model.vocab import outside

__all__ = ["UnigramTokenizer"]

_SPACES = re.compile(" {2,}")
_WORD = re.compile("▁[^▁]*")
_NEVER = float("-inf")
# Words a tokenizer remembers, and the longest it remembers: at most about 0.7 MB.
_KNOWN, _KNOWN_LENGTH = 1024, 64


class UnigramTokenizer:
    """Query text to the pruned vocabulary's ids, as e5's tokenizer.json does."""

    def __init__(self, vocabulary: Path, *, max_length: int) -> None:
        data = json.loads(vocabulary.read_text(encoding="utf-8"))
        specials = set(data["specials"].values())
        # The special tokens' pieces are left out, so that text never turns into them.
        self._ids = {p: i for i, p in enumerate(data["pieces"]) if i not in specials}
        self._specials = re.compile("|".join(map(re.escape, data["specials"])))
        self._scores: list[float] = data["scores"]
        # The longest piece that starts with each character, and with each pair of characters
        # that starts a piece of three or more: the Viterbi tries no longer substring there,
        # and none past a pair that starts no such piece. Most characters start pieces of one
        # to three; the longest piece has 16. 9,134 characters and 5,484 pairs: 0.9 MB.
        by_length = sorted(self._ids, key=len)  # so that the longest piece is the last written
        self._reach = {p[:1]: len(p) for p in by_length} | {
            p[:2]: len(p) for p in by_length if len(p) > 2
        }
        # Short words already segmented: every query starts with the prompt's word
        # ("▁query:", a fifth of a Chinese question's time), and a repeated question repeats
        # its words. Emptied when full.
        self._known: dict[str, tuple[int, ...]] = {}
        self._table = str.maketrans(data["normaliser"])
        self._cr_maps = "\r" in data["normaliser"]
        self.bos, self.eos, self.pad = data["bos"], data["eos"], data["pad"]
        self._unk, self._unk_score = data["unk"], data["unk_score"]
        self._room = max_length - 2  # for <s> and </s>

    def __len__(self) -> int:
        return len(self._scores)

    def normalise(self, text: str) -> str:
        """The text as the Unigram model sees it, before the metaspace."""
        if self._cr_maps:
            text = text.replace("\r\n", "\r")
        return _SPACES.sub(" ", text.translate(self._table))

    def covers(self, text: str) -> bool:
        """Are this tokenizer's ids for `text` provably the whole vocabulary's? When `text`
        and its normalised form lie in K and hold no special token's string."""
        normalised = self.normalise(text)
        return not any(
            outside(t) is not None or self._specials.search(t) for t in (text, normalised)
        )

    def encode(self, text: str) -> list[int]:
        """The ids of `text`, with <s> and </s>, truncated to `max_length`."""
        spaced = self.normalise(text).replace(" ", "▁")
        if not spaced.startswith("▁"):
            spaced = "▁" + spaced
        ids = [i for word in _WORD.findall(spaced) for i in self._segment(word)]
        return [self.bos, *ids[: self._room], self.eos]

    def _segment(self, word: str) -> tuple[int, ...]:
        found = self._known.get(word)
        if found is None:
            found = self._viterbi(word)
            if len(word) <= _KNOWN_LENGTH:
                if len(self._known) >= _KNOWN:
                    self._known.clear()
                self._known[word] = found
        return found

    def _viterbi(self, word: str) -> tuple[int, ...]:
        n = len(word)
        best = [_NEVER] * (n + 1)  # any path beats it: no "not reached yet" test
        start = [0] * (n + 1)
        token = [0] * (n + 1)
        best[0] = 0.0
        ids, scores, reach, unk = self._ids, self._scores, self._reach, self._unk
        for i, first in enumerate(word):
            # Ends are tried in increasing order and only a higher score replaces a path, so
            # of paths tied at an end the one whose last piece starts first stays.
            here = best[i]
            piece = ids.get(first)
            if piece is None:
                piece, score = unk, here + self._unk_score
            else:
                score = here + scores[piece]
            if score > best[i + 1]:
                best[i + 1], start[i + 1], token[i + 1] = score, i, piece
            if reach.get(first, 0) < 2:
                continue
            pair = word[i : i + 2]
            for j in range(i + 2, min(n, i + max(2, reach.get(pair, 0))) + 1):
                piece = ids.get(word[i:j])
                if piece is not None:
                    score = here + scores[piece]
                    if score > best[j]:
                        best[j], start[j], token[j] = score, i, piece
        found: list[int] = []
        end, unknown = n, n  # word[end:unknown] is a run of <unk> not yet emitted
        while end > 0:
            begin = start[end]
            if token[end] != unk:
                if unknown > end:
                    found.append(ids.get(word[end:unknown], self._unk))
                found.append(token[end])
                unknown = begin
            end = begin
        if unknown > 0:
            found.append(ids.get(word[:unknown], self._unk))
        return tuple(reversed(found))
