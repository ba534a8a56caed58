"""Retrieval quality on the project's question sets.

- Clause search: recall@1, recall@5 and MRR, on tests/data/kb_questions.yaml (the documents'
  own words) and tests/data/paraphrase_questions.yaml (how people ask; `split: tune` is what
  kb.calibration was fitted on, `report` is held out). A question counts as answered at rank
  r when the r-th hit is its gold clause or one of its `also` clauses; `not_found` is the
  share of these answerable questions that search reported as `found: false`. A file may
  hold both kinds of question: those that name a `document` are answerable, the others not.
  Its questions are in one `questions` list, or in `answerable` and `unanswerable` lists
  (tests/data/search_check.yaml, the `check` split nobody tunes on).
- Questions no document answers (tests/data/unanswerable_questions.yaml): the share that
  search reported as found (`false_found`), which should be small.
- Free-text routing (tests/data/route_queries.yaml): how often the right rule is the match,
  and the score distributions of right answers and of questions no rule answers, which is
  what the threshold in kb.items is chosen from.

Shared by bench/kb.py (which prints them) and tests/test_kb_eval.py (regression guards).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kb.index import Mode
from kb.items import ItemAnswer
from kb.search import KnowledgeBase, found

__all__ = [
    "Question",
    "RouteCase",
    "RouteScores",
    "Scores",
    "evaluate",
    "evaluate_routes",
    "false_found",
    "load_near_misses",
    "load_questions",
    "load_route_cases",
    "load_unanswerable",
    "splits",
]


@dataclass(frozen=True)
class Question:
    question: str
    document: str
    clause: str
    also: tuple[str, ...] = ()
    kind: str = ""  # paraphrase set: colloquial, typo, script, english, mixed

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
    not_found: float  # share of the questions answered `found: false`
    misses: tuple[Question, ...]  # not in the top 5


# The lists a question file may hold; whether a question names a `document` is what makes it
# answerable, whichever list it is in.
_QUESTION_LISTS = ("questions", "answerable", "unanswerable")


def _part(path: Path, split: str | None) -> list[dict[str, Any]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    rows: list[dict[str, Any]] = [q for key in _QUESTION_LISTS for q in data.get(key) or ()]
    return [q for q in rows if split is None or q.get("split") == split]


def splits(path: Path) -> list[str | None]:
    """The split names of a question file in the order they first occur (None for questions
    without one)."""
    return list(dict.fromkeys(q.get("split") for q in _part(path, None)))


def load_questions(path: Path, split: str | None = None) -> list[Question]:
    """The answerable questions of `path` (those naming a `document`); only those of `split`
    ("tune", "report", …) when given."""
    return [
        Question(
            q["question"],
            q["document"],
            str(q["clause"]),
            tuple(str(c) for c in q.get("also", ())),
            q.get("kind", ""),
        )
        for q in _part(path, split)
        if "document" in q
    ]


def load_unanswerable(path: Path, split: str | None = None) -> list[str]:
    """The questions of `path` that no document answers (those naming none)."""
    return [q["question"] for q in _part(path, split) if "document" not in q]


def evaluate(
    kb: KnowledgeBase, questions: Sequence[Question], mode: Mode = "pipeline", depth: int = 10
) -> Scores:
    """Recall@1, recall@5, MRR (over the top `depth`) and the not-found share of `kb.search`
    in `mode`."""
    at1 = at5 = lost = 0
    reciprocal = 0.0
    misses = []
    for q in questions:
        hits = kb.search(q.question, k=depth, mode=mode)
        lost += not found(hits)
        rank = next(
            (i for i, h in enumerate(hits, start=1) if (h.document, h.clause) in q.gold), None
        )
        at1 += rank == 1
        at5 += rank is not None and rank <= 5
        reciprocal += 1.0 / rank if rank else 0.0
        if rank is None or rank > 5:
            misses.append(q)
    n = len(questions) or 1
    return Scores(mode, len(questions), at1 / n, at5 / n, reciprocal / n, lost / n, tuple(misses))


def false_found(kb: KnowledgeBase, questions: Sequence[str], mode: Mode = "pipeline") -> float:
    """The share of `questions` (none of which any document answers) reported as found."""
    wrong = sum(found(kb.search(q, k=10, mode=mode)) for q in questions)
    return wrong / (len(questions) or 1)


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


def load_near_misses(path: Path, part: str) -> list[RouteCase]:
    """The `part` of the file's `near_miss` questions: each must match no rule."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))["near_miss"][part]
    return [RouteCase(m["query"], m["region"], str(m["date"]), frozenset()) for m in data]


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
