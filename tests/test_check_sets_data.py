"""The check sets for clause search written apart from the work on it (tests/data/
search_check2.yaml … search_check7.yaml) are well formed.

Nothing here runs search or looks at a score: a set is a check only while nobody has seen how
search does on it. These tests guard its shape: one split of its own, gold clause ids that
exist in the corpus as `zhengce kb show` prints them, the counts the issue asks for, and no
question that any other question file already asks.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from kb.evaluate import load_questions, load_unanswerable, splits
from server.service import Service
from tests.conftest import ROOT, question_key

DATA = ROOT / "tests" / "data"
QUESTIONS = load_questions(DATA / "kb_questions.yaml")

VOICES = {"reviewer", "investor", "citizen"}
KINDS = {"colloquial", "typo", "script", "english", "mixed"}


@dataclass(frozen=True)
class CheckSet:
    path: Path
    split: str
    # The sizes each set was written to: check3's brief asked for fewer than check2's.
    answerable: int
    per_document: int
    unanswerable: int


CHECK_SETS = [
    CheckSet(DATA / "search_check2.yaml", "check2", 60, 12, 40),
    CheckSet(DATA / "search_check3.yaml", "check3", 40, 8, 30),
    CheckSet(DATA / "search_check4.yaml", "check4", 60, 12, 45),
    CheckSet(DATA / "search_check5.yaml", "check5", 60, 12, 45),
    CheckSet(DATA / "search_check6.yaml", "check6", 60, 12, 45),
    CheckSet(DATA / "search_check7.yaml", "check7", 60, 12, 45),
]
each_set = pytest.mark.parametrize("check", CHECK_SETS, ids=lambda c: c.split)


def _entries(check: CheckSet) -> dict[str, list[dict[str, Any]]]:
    data: dict[str, list[dict[str, Any]]] = yaml.safe_load(check.path.read_text(encoding="utf-8"))
    return data


@each_set
def test_entries_are_in_their_own_split_and_described(check: CheckSet) -> None:
    data = _entries(check)
    assert splits(check.path) == [check.split]
    for q in data["answerable"]:
        assert {"question", "document", "clause", "voice", "kind", "split"} <= set(q), q
        assert q["voice"] in VOICES and q["kind"] in KINDS, q
    for q in data["unanswerable"]:
        assert "document" not in q and "clause" not in q, q
        assert q["voice"] in VOICES and q["kind"] in KINDS, q
        # `why` is what makes an unanswerable question checkable by a reader.
        assert isinstance(q.get("why"), str) and q["why"].strip(), q


@each_set
def test_gold_clauses_are_ids_of_the_corpus(check: CheckSet, service: Service) -> None:
    # Exact ids, not Document.clause's lenient lookup (which also takes a bare item number):
    # the evaluation compares hit ids with these strings.
    for q in load_questions(check.path):
        known = service.corpus.clause_ids(q.document)
        for clause in (q.clause, *q.also):
            assert clause in known, (q.question, q.document, clause)
        assert q.clause not in q.also, q


@each_set
def test_counts_cover_every_document(check: CheckSet) -> None:
    answerable = load_questions(check.path, check.split)
    per_document = Counter(q.document for q in answerable)
    assert set(per_document) == {q.document for q in QUESTIONS}
    assert len(answerable) >= check.answerable, len(answerable)
    assert min(per_document.values()) >= check.per_document, per_document
    assert {q.kind for q in answerable} == KINDS
    assert len(load_unanswerable(check.path, check.split)) >= check.unanswerable


@each_set
def test_no_question_is_asked_twice_or_elsewhere(check: CheckSet) -> None:
    """Two questions are the same when only script, width, spacing, case or punctuation
    differ (test_kb_eval's rule); none may repeat within the set or one of another file,
    the other check sets included."""
    asked = [question_key(q.question) for q in load_questions(check.path)]
    asked += [question_key(u) for u in load_unanswerable(check.path)]
    assert len(set(asked)) == len(asked), [a for a, n in Counter(asked).items() if n > 1]
    others = [path for path in sorted(DATA.glob("*.yaml")) if path != check.path]
    seen = {question_key(q.question) for path in others for q in load_questions(path)}
    seen |= {question_key(u) for path in others for u in load_unanswerable(path)}
    assert len(seen) > len(QUESTIONS)
    assert not seen & set(asked), seen & set(asked)
