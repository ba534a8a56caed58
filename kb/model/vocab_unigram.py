"""e5's query tokenizer in pure Python, over kb.model.vocab's pruned vocabulary.

`tokenizers` added 281 MB of RSS for the whole 250,002-piece vocabulary and 123 MB for the
pruned one (its Unigram trie and maps, Tokenizer.from_file); this dict of the pruned pieces adds
35-49 MB and loads in 0.14 s of CPU, and a question takes about 0.08 ms to tokenise.
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
from collections.abc import Iterator
from pathlib import Path

from kb.model.vocab import outside

__all__ = ["UnigramTokenizer"]

_SPACES = re.compile(" {2,}")
_WORD = re.compile("▁[^▁]*")


class UnigramTokenizer:
    """Query text to the pruned vocabulary's ids, as e5's tokenizer.json does."""

    def __init__(self, vocabulary: Path, *, max_length: int) -> None:
        data = json.loads(vocabulary.read_text(encoding="utf-8"))
        specials = set(data["specials"].values())
        # The special tokens' pieces are left out, so that text never turns into them.
        self._ids = {p: i for i, p in enumerate(data["pieces"]) if i not in specials}
        self._specials = re.compile("|".join(map(re.escape, data["specials"])))
        self._scores: list[float] = data["scores"]
        self._longest = max(map(len, self._ids))
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

    def _segment(self, word: str) -> Iterator[int]:
        n = len(word)
        best = [0.0] * (n + 1)
        start = [-1] * (n + 1)
        token = [0] * (n + 1)
        start[0] = 0
        ids, scores = self._ids, self._scores
        for i in range(n):
            here = best[i]
            single = False
            for j in range(i + 1, min(n, i + self._longest) + 1):
                piece = ids.get(word[i:j])
                if piece is None:
                    continue
                score = here + scores[piece]
                if start[j] < 0 or score > best[j]:
                    best[j], start[j], token[j] = score, i, piece
                single = single or j == i + 1
            if not single:
                score = here + self._unk_score
                if start[i + 1] < 0 or score > best[i + 1]:
                    best[i + 1], start[i + 1], token[i + 1] = score, i, self._unk
        found: list[int] = []
        end, unknown = n, n  # word[end:unknown] is a run of <unk> not yet emitted
        while end > 0:
            begin = start[end]
            if token[end] != self._unk:
                if unknown > end:
                    found.append(ids.get(word[end:unknown], self._unk))
                found.append(token[end])
                unknown = begin
            end = begin
        if unknown > 0:
            found.append(ids.get(word[:unknown], self._unk))
        return reversed(found)
