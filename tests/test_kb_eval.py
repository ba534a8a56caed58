"""Regression guards on retrieval quality with the real model (not timings; see bench/kb.py).

The floors are issue 16's targets where the pipeline meets them, and otherwise the levels
bench/kb.py measured, less one question of slack for floating-point differences between CPUs:

- documents'-words set: recall@1 at least 0.905 and recall@5 1.000 (measured 0.968 / 1.000);
- paraphrase set, report half (never fitted on): recall@1 >= 0.85, recall@5 >= 0.95 (0.892 /
  1.000), and at most 5% of its answerable questions answered `found: false`, with one
  question of slack (measured 3.1%: 2 of 65); the tuning half likewise (0.866 / 0.985, 1.5%
  not found);
- unanswerable questions reported found: at most 10% (the target), with one question of
  slack, on both halves (measured 1 of 25 on each);
- the check set (tests/data/search_check.yaml, split `check`), development data since it was
  measured once untouched (its header; not fitted on, but looked at and its misses given
  lexicon entries): guarded at the levels measured, recall@1 0.909 (50 of 55), recall@5
  0.982 (54 of 55), 1.8% of its answerable questions `found: false` (1 of 55), and 10 of its
  35 unanswerable questions reported found, which still misses the target;
- free-text routing: every calibration and held-out match right but one, no false match; no
  near miss matched in the calibration part (where the threshold was chosen), at most one
  in the held-out part (measured 1 of 14).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from kb.embed import Embedder
from kb.evaluate import (
    evaluate,
    evaluate_routes,
    false_found,
    load_near_misses,
    load_questions,
    load_route_cases,
    load_unanswerable,
    splits,
)
from kb.search import KnowledgeBase
from server.search import Searcher
from server.service import Service
from tests.conftest import ROOT, question_key

DATA = ROOT / "tests" / "data"
QUESTIONS = load_questions(DATA / "kb_questions.yaml")
PARAPHRASES = DATA / "paraphrase_questions.yaml"
UNANSWERABLE = DATA / "unanswerable_questions.yaml"
CHECK = DATA / "search_check.yaml"
ONE_QUESTION = 1 / len(QUESTIONS)


def test_question_set_is_as_documented() -> None:
    assert len(QUESTIONS) >= 40
    traditional = sum(q.document == "jiangxi-2019" for q in QUESTIONS)
    assert traditional * 3 >= len(QUESTIONS)
    documents = {q.document for q in QUESTIONS}
    assert documents == {p.stem for p in (ROOT / "policies" / "sources").glob("*.yaml")}


def test_paraphrase_and_unanswerable_sets_are_split() -> None:
    tune, report = (load_questions(PARAPHRASES, s) for s in ("tune", "report"))
    assert len(tune) + len(report) >= 80 and min(len(tune), len(report)) >= 30
    assert {q.document for q in report} == {q.document for q in QUESTIONS}
    assert not {q.question for q in tune} & {q.question for q in report}
    refused = [load_unanswerable(UNANSWERABLE, s) for s in ("tune", "report")]
    assert sum(map(len, refused)) >= 15 and all(refused)


def test_gold_clauses_exist(service: Service) -> None:
    for q in QUESTIONS + load_questions(PARAPHRASES) + load_questions(CHECK):
        for clause in (q.clause, *q.also):
            assert service.corpus.clause(q.document, clause) is not None, (q.document, clause)


def test_check_set_is_apart_from_the_other_sets() -> None:
    """Its own split only, answerable and unanswerable questions in their own lists, every
    document asked about, and no question of the sets that were fitted or measured on."""
    data = yaml.safe_load(CHECK.read_text(encoding="utf-8"))
    assert splits(CHECK) == ["check"]
    assert all("document" in q for q in data["answerable"])
    assert not any("document" in q for q in data["unanswerable"])
    answerable, unanswerable = load_questions(CHECK, "check"), load_unanswerable(CHECK, "check")
    assert {q.document for q in answerable} == {q.document for q in QUESTIONS}
    assert len(unanswerable) >= 15
    asked = [question_key(q.question) for q in answerable] + [question_key(u) for u in unanswerable]
    assert len(set(asked)) == len(asked)
    others = [q.question for q in QUESTIONS + load_questions(PARAPHRASES)]
    seen = {question_key(q) for q in others + load_unanswerable(UNANSWERABLE)}
    assert not seen & set(asked), seen & set(asked)


@pytest.fixture(scope="module")
def kb(e5: tuple[Path, Embedder], service: Service) -> KnowledgeBase:
    """The clause index as the service opens it: the project's lexicon included."""
    cache, embedder = e5
    settings = replace(service.settings, cache_dir=cache)
    return Searcher(settings, service.corpus, service.policies, embedder).knowledge_base()


@pytest.mark.slow
def test_documents_words_recall(kb: KnowledgeBase) -> None:
    scores = evaluate(kb, QUESTIONS)
    assert kb.dense_available
    assert scores.recall_at_5 >= 1.0 - ONE_QUESTION, scores.misses
    assert scores.recall_at_1 >= 0.905


@pytest.mark.slow
@pytest.mark.parametrize(("split", "at1", "at5"), [("tune", 0.85, 0.95), ("report", 0.85, 0.95)])
def test_paraphrase_recall_and_found(kb: KnowledgeBase, split: str, at1: float, at5: float) -> None:
    questions = load_questions(PARAPHRASES, split)
    scores = evaluate(kb, questions)
    assert scores.recall_at_1 >= at1, scores.misses
    assert scores.recall_at_5 >= at5, scores.misses
    assert scores.not_found <= 0.05 + 1 / len(questions)


@pytest.mark.slow
@pytest.mark.parametrize("split", ["tune", "report"])
def test_unanswerable_questions_mostly_not_found(kb: KnowledgeBase, split: str) -> None:
    questions = load_unanswerable(UNANSWERABLE, split)
    assert false_found(kb, questions) <= 0.10 + 1 / len(questions)


@pytest.mark.slow
def test_check_set_holds_its_measured_levels(kb: KnowledgeBase) -> None:
    """Floors at what bench/kb.py measured, less one question: a guard against getting worse
    on the development questions, not a target to tune to."""
    questions = load_questions(CHECK, "check")
    one = 1 / len(questions)
    scores = evaluate(kb, questions)
    assert scores.recall_at_1 >= 50 / 55 - one, scores.misses
    assert scores.recall_at_5 >= 54 / 55 - one, scores.misses
    assert scores.not_found <= 1 / 55 + one
    refused = load_unanswerable(CHECK, "check")
    assert false_found(kb, refused) <= 10 / 35 + 1 / len(refused)


@pytest.mark.slow
@pytest.mark.parametrize(("part", "near_misses_matched"), [("calibration", 0), ("held_out", 1)])
def test_free_text_routing(
    part: str, near_misses_matched: int, e5: tuple[Path, Embedder], service: Service
) -> None:
    cache, embedder = e5
    settings = replace(service.settings, cache_dir=cache)
    searcher = Searcher(settings, service.corpus, service.policies, embedder)
    path = DATA / "route_queries.yaml"
    scores = evaluate_routes(searcher.match_routes, load_route_cases(path, part))
    assert scores.false_matches == 0, scores.errors
    assert scores.correct >= scores.matches - 1, scores.errors
    near = evaluate_routes(searcher.match_routes, load_near_misses(path, part))
    assert near.false_matches <= near_misses_matched, near.errors
