"""Regression guards on retrieval quality with the real model (not timings; see bench/kb.py).

The floors are the levels bench/kb.py measured, less one question of slack for floating-point
differences between CPUs: hybrid recall@5 1.000 and recall@1 0.905 on 63 questions; free-text
routing right on every calibration and held-out match, with no false match.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from kb.embed import Embedder
from kb.evaluate import evaluate, evaluate_routes, load_questions, load_route_cases
from kb.search import KnowledgeBase
from server.search import Searcher
from server.service import Service
from tests.conftest import ROOT

DATA = ROOT / "tests" / "data"
QUESTIONS = load_questions(DATA / "kb_questions.yaml")
ONE_QUESTION = 1 / len(QUESTIONS)


def test_question_set_is_as_documented() -> None:
    assert len(QUESTIONS) >= 40
    traditional = sum(q.document == "jiangxi-2019" for q in QUESTIONS)
    assert traditional * 3 >= len(QUESTIONS)
    documents = {q.document for q in QUESTIONS}
    assert documents == {p.stem for p in (ROOT / "policies" / "sources").glob("*.yaml")}


def test_gold_clauses_exist(service: Service) -> None:
    for q in QUESTIONS:
        for clause in (q.clause, *q.also):
            assert service.corpus.clause(q.document, clause) is not None, (q.document, clause)


@pytest.mark.slow
def test_hybrid_recall(e5_kb: KnowledgeBase) -> None:
    scores = evaluate(e5_kb, QUESTIONS, "hybrid")
    assert e5_kb.dense_available
    assert scores.recall_at_5 >= 1.0 - ONE_QUESTION, scores.misses
    assert scores.recall_at_1 >= 0.905 - ONE_QUESTION


@pytest.mark.slow
@pytest.mark.parametrize("part", ["calibration", "held_out"])
def test_free_text_routing(part: str, e5: tuple[Path, Embedder], service: Service) -> None:
    cache, embedder = e5
    settings = replace(service.settings, cache_dir=cache)
    searcher = Searcher(settings, service.corpus, service.policies, embedder)
    cases = load_route_cases(DATA / "route_queries.yaml", part)
    scores = evaluate_routes(searcher.match_routes, cases)
    assert scores.false_matches == 0, scores.errors
    assert scores.correct >= scores.matches - 1, scores.errors
