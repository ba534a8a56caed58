"""How much of a question is about things no document names ("年终奖的个人所得税怎么算？").

A question on the documents' topic that asks for something they never state shares their
topic words, so every similarity looks like an answer; but the thing it asks about (所得税,
租金, 天然气, 许可证) is often a noun that no document uses at all. `novel_share` is the share
of the question's word weight (BM25 idf, each word once) held by such nouns, and it is a
feature of relevance (kb.calibration.Features.novel).

Only nouns count, as jieba's dictionary tags them (kb.tags): a person asks in everyday verbs
and particles (想, 跟, 搞定, 报一下) that no document uses either, and those say nothing about
what is asked; nor do question words that jieba tags as nouns (哪几个). A phrase the lexicon
(kb.lexicon) recognises is not novel: it stands for the documents' own terms. A slip of the
input method (场房) can make a noun the documents lack; the calibration weighs that against
the other features, it does not refuse on it alone. Nor do the examples an asker gives
("哪几个优势产业，比如飞机、中药这些？") count: they illustrate what is asked, and the
documents may well name the same things otherwise (航空, 中医药).
"""

from __future__ import annotations

import re

from kb.index import Query
from kb.lexical import Bm25
from kb.normalize import normalize
from kb.tags import tags

__all__ = ["is_noun", "novel_share"]

# No token is this: its idf is that of a word no document has.
_NOWHERE = "\x00"
# Question words jieba may tag as nouns (哪几个, 什么样): they ask, they are not what is asked.
_ASKING = re.compile(r"^(?:哪|什么|多少|几|谁|怎)")
# Examples the asker gives, to the end of their sentence or clause.
_EXAMPLES = re.compile(r"(?:比如|例如|譬如|诸如|比方说)([^，。？！；,?!;]*)")


def is_noun(word: str) -> bool:
    """Whether jieba's dictionary tags `word` as a noun (kb.tags.NOUN_TAGS)."""
    return tags().is_noun(word)


def novel_share(query: Query, bm25: Bm25) -> float:
    """The share of `query`'s own word weight held by nouns that no passage of `bm25` has and
    that no lexicon phrase of the question covers nor its examples name; 0 for a question of
    no words."""
    unseen = bm25.idf(_NOWHERE)
    examples = " ".join(m.group(1) for m in _EXAMPLES.finditer(normalize(query.text)))
    asked = novel = 0.0
    for word in dict.fromkeys(query.words[: query.own]):
        weight = bm25.idf(word)
        asked += weight
        if (
            weight >= unseen
            and not any(word in phrase for phrase in query.expansion.matched)
            and word not in examples
            and not _ASKING.match(word)
            and is_noun(word)
        ):
            novel += weight
    return novel / asked if asked else 0.0
