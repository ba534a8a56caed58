"""Retrieval quality on the project's question sets.

- Clause search (tests/data/kb_questions.yaml): recall@1, recall@5 and MRR. A question counts
  as answered at rank r when the r-th hit is its gold clause or one of its `also` clauses.
- Free-text routing (tests/data/route_queries.yaml): how often the right rule is the match,
  and the score distributions of right answers and of questions no rule answers, which is
  what the threshold in kb.items is chosen from.

Shared by bench/kb.py (which prints them) and tests/test_kb_eval.py (regression guards).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from kb.index import Mode
from kb.items import ItemAnswer
from kb.search import KnowledgeBase

__all__ = [
    "Question",
    "RouteCase",
    "RouteScores",
    "Scores",
    "evaluate",
    "evaluate_routes",
    "load_questions",
    "load_route_cases",
]


@dataclass(frozen=True)
class Question:
    question: str
    document: str
    clause: str
    also: tuple[str, ...] = ()

    @property
    def gold(self) -> frozenset[tuple[str, str]]:
        return frozenset((self.document, c) for c in (self.clause, *self.also))


@dataclass(frozen=True)
class Scores:
    mode: str
    questions: int
    recall_at_1: float
    recall_at_5: float
    mrr: float
    misses: tuple[Question, ...]  # not in the top 5


def load_questions(path: Path) -> list[Question]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        Question(q["question"], q["document"], str(q["clause"]), tuple(q.get("also", ())))
        for q in data["questions"]
    ]


def evaluate(
    kb: KnowledgeBase, questions: Sequence[Question], mode: Mode = "hybrid", depth: int = 10
) -> Scores:
    """Recall@1, recall@5 and MRR (over the top `depth`) of `kb.search` in `mode`."""
    at1 = at5 = 0
    reciprocal = 0.0
    misses = []
    for q in questions:
        hits = kb.search(q.question, k=depth, mode=mode)
        rank = next(
            (i for i, h in enumerate(hits, start=1) if (h.document, h.clause) in q.gold), None
        )
        at1 += rank == 1
        at5 += rank is not None and rank <= 5
        reciprocal += 1.0 / rank if rank else 0.0
        if rank is None or rank > 5:
            misses.append(q)
    n = len(questions) or 1
    return Scores(mode, len(questions), at1 / n, at5 / n, reciprocal / n, tuple(misses))


DEFAULT_DATE = "2024-06-01"


@dataclass(frozen=True)
class RouteCase:
    query: str
    region: str
    date: str
    rules: frozenset[str]  # empty: no rule should match


@dataclass(frozen=True)
class RouteScores:
    cases: int
    matches: int  # cases with a right rule
    correct: int  # a right rule is the match (above the threshold)
    top_right: int  # a right rule is the best candidate, whatever its score
    false_matches: int  # a no-match case matched, or a match case matched a wrong rule
    lowest_right: float  # lowest score of a right best candidate
    highest_wrong: float  # highest best-candidate score of a no-match case
    threshold: float
    errors: tuple[str, ...]


def load_route_cases(path: Path, part: str) -> list[RouteCase]:
    """The `part` ("calibration" or "held_out") of a route question file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))[part]
    cases = []
    for m in data["matches"]:
        rules = m["rule"] if isinstance(m["rule"], list) else [m["rule"]]
        date = str(m.get("date", DEFAULT_DATE))
        cases.append(RouteCase(m["query"], m["region"], date, frozenset(rules)))
    for region, date in data["no_match"]["regions"].items():
        queries = data["no_match"]["queries"]
        cases.extend(RouteCase(q, region, str(date), frozenset()) for q in queries)
    return cases


def evaluate_routes(
    match: Callable[[str, str, str], ItemAnswer], cases: Sequence[RouteCase]
) -> RouteScores:
    """Run `match(query, region, date)` on every case and tally the outcomes."""
    correct = top_right = false_matches = 0
    lowest_right, highest_wrong, threshold = 1.0, 0.0, 0.0
    errors = []
    for case in cases:
        answer = match(case.query, case.region, case.date)
        threshold = answer.threshold
        best = answer.candidates[0] if answer.candidates else None
        picked = answer.match.id if answer.match else None
        if case.rules:
            if best is not None and best.id in case.rules:
                top_right += 1
                lowest_right = min(lowest_right, best.score)
            if picked in case.rules:
                correct += 1
            else:
                false_matches += picked is not None
                errors.append(f"{case.query} [{case.region}] -> {picked} (want {set(case.rules)})")
        else:
            highest_wrong = max(highest_wrong, best.score if best else 0.0)
            if picked is not None:
                false_matches += 1
                errors.append(f"{case.query} [{case.region}] -> {picked} (want no match)")
    return RouteScores(
        len(cases),
        sum(1 for c in cases if c.rules),
        correct,
        top_right,
        false_matches,
        lowest_right,
        highest_wrong,
        threshold,
        tuple(errors),
    )
