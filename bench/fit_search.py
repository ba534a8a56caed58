"""Fit search's numbers (kb/calibration.py) on the TUNING halves, and print them.

    python bench/fit_search.py [--cache DIR] [--keep-fusion] [--with-development]

The `split: tune` questions of tests/data/paraphrase_questions.yaml and
unanswerable_questions.yaml are fitted on; the report halves are never loaded here. The
development check sets (tests/data/search_check.yaml … search_check6.yaml:
each measured once untouched, then looked at; their headers say so) are read to print how the
fitted relevance fares on them, held out; `--with-development` fits relevance on them too,
and then prints each held out in turn (fitted on the tuning half and the others). The
untouched check set that bench/kb.py reports last is never read here.

1. Fusion: every combination of the grid below is scored by MRR on the tuning half (recall@1
   breaks ties, then fewer and lighter channels); the documents'-words set
   (tests/data/kb_questions.yaml) is printed beside it as a check, never fitted on.
2. Relevance, for each fusion of kb.calibration.FUSIONS (and the pipeline without the model),
   in two steps. First a logistic regression of "this hit is a gold clause" on the hit's
   features (kb.calibration.Features, without `novel`) over the top ten hits of every tuning
   question, unanswerable ones included: it ranks the hits. Then a logistic regression of
   "some document answers this question" on the best hit's logit and the question's `novel`
   share, over the tuning questions (answerable and not), folded into the first (it is
   linear in the same features). For each set (tune, and the development set) it prints the
   questions not found and found wrongly, and each signal's separation: the AUC of its value
   for the answerable questions' hits against the unanswerable ones' (`SIGNALS`), beside the
   fitted score's. The cut-off `low` refuses as many of the tuning half's unanswerable
   questions as a cut-off can that keeps at most 5% of its answerable ones from being
   reported not found, and sits in the middle (in log-odds) of the interval of such cut-offs
   (`cut_off`); `medium` and `high` are fixed probabilities (0.75, 0.9).

3. Routing (kb.items): the same logistic form over each candidate rule's features, on the
   `calibration` part of tests/data/route_queries.yaml (matches, questions no rule answers,
   near misses), with and without the model; a rule matches at `low`, the lowest cut-off at
   which no calibration question is matched to a wrong rule (or to any, for those no rule
   answers) — the `held_out` part is not read.

Paste the printed `PIPELINE`, `RELEVANCE` and `ROUTES` into kb/calibration.py.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may be downloaded
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from dsl.routing import routes_in_force  # noqa: E402
from kb.calibration import (  # noqa: E402
    FUSIONS,
    PIPELINE,
    Calibration,
    Features,
    Fusion,
    Relevance,
)
from kb.embed import Embedder, FloatMatrix, default_embedder  # noqa: E402
from kb.evaluate import (  # noqa: E402
    Question,
    RouteCase,
    load_near_misses,
    load_questions,
    load_route_cases,
    load_unanswerable,
)
from kb.index import DenseUnavailableWarning  # noqa: E402
from kb.items import ItemAnswer, ItemIndex  # noqa: E402
from kb.lexicon import load_lexicon  # noqa: E402
from kb.search import Candidate, KnowledgeBase  # noqa: E402
from server.config import Settings  # noqa: E402
from server.route_text import matter_of  # noqa: E402
from server.search import route_items  # noqa: E402
from server.service import Service  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
# Development data since each was measured once untouched (their headers say so): relevance is
# fitted on them beside the tuning halves (`--with-development`); the fusion grid is not. The
# untouched check set (bench/kb.py's CHECKS, the last) is never read here.
DEVELOPMENT = {
    "check": DATA / "search_check.yaml",
    "check2": DATA / "search_check2.yaml",
    "check3": DATA / "search_check3.yaml",
    "check4": DATA / "search_check4.yaml",
    "check5": DATA / "search_check5.yaml",
    "check6": DATA / "search_check6.yaml",
}
DEPTH = 10
MEDIUM, HIGH = 0.75, 0.9
# Routing's levels: a rule's score is the first step's alone (no `fit_found`), a likelier scale.
ROUTE_MEDIUM, ROUTE_HIGH = 0.3, 0.6
MAX_NOT_FOUND = 0.05
GRID = {
    "words": (1.0,),
    "grams": (0.0, 0.5, 1.0),
    "dense": (0.5, 1.0, 1.5),
    "k": (10, 30, 60),
    "sentences": (False, True),
    "expand": (False, True),
}


class Memo:
    """An embedder that remembers query vectors: the grid asks the same questions often."""

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner
        self._queries: dict[str, FloatMatrix] = {}

    @property
    def dim(self) -> int:
        return self._inner.dim

    @property
    def fingerprint(self) -> str:
        return self._inner.fingerprint

    def encode_queries(self, texts: Sequence[str]) -> FloatMatrix:
        todo = [t for t in texts if t not in self._queries]
        if todo:
            self._queries.update(zip(todo, self._inner.encode_queries(todo), strict=True))
        return np.stack([self._queries[t] for t in texts])

    def encode_passages(self, texts: Sequence[str]) -> FloatMatrix:
        return self._inner.encode_passages(texts)


def ranks(kb: KnowledgeBase, questions: Sequence[Question], fusion: Fusion) -> list[int | None]:
    out = []
    for q in questions:
        _, found = kb.candidates(q.question, DEPTH, mode=fusion)
        hit = (kb.index.entries[c.scored.row] for c in found)
        keys = [(e.document, e.key) for e in hit]
        out.append(next((i for i, key in enumerate(keys, 1) if key in q.gold), None))
    return out


def summary(found: Sequence[int | None]) -> tuple[float, float, float]:
    n = len(found) or 1
    at1 = sum(r == 1 for r in found) / n
    at5 = sum(r is not None and r <= 5 for r in found) / n
    mrr = sum(1 / r for r in found if r) / n
    return mrr, at1, at5


def fit_fusion(kb: KnowledgeBase, tune: Sequence[Question], words: Sequence[Question]) -> Fusion:
    print(f"\n== fusion grid: MRR, recall@1, recall@5 on {len(tune)} tuning questions")
    results = []
    for values in itertools.product(*GRID.values()):
        fusion = Fusion(**dict(zip(GRID, values, strict=True)))  # type: ignore[arg-type]
        mrr, at1, at5 = summary(ranks(kb, tune, fusion))
        weight = fusion.words + fusion.grams + fusion.dense
        results.append(((round(mrr, 4), at1, -weight), fusion, (mrr, at1, at5)))
    results.sort(key=lambda r: r[0], reverse=True)
    for _, fusion, (mrr, at1, at5) in results[:12]:
        w_mrr, w1, w5 = summary(ranks(kb, words, fusion))
        print(
            f"tune {mrr:.3f} {at1:.3f} {at5:.3f} | documents' words {w_mrr:.3f} {w1:.3f} "
            f"{w5:.3f} | {fusion}"
        )
    return results[0][1]


def logistic(
    x: np.ndarray, y: np.ndarray, l2: float = 1e-3, weights: np.ndarray | None = None
) -> np.ndarray:
    """Newton's method for L2-regularised logistic regression; x has a bias column, and each
    row counts `weights` times (once each by default)."""
    w = np.zeros(x.shape[1])
    r = np.ones(len(y)) if weights is None else weights
    for _ in range(100):
        p = 1 / (1 + np.exp(-(x @ w)))
        gradient = x.T @ (r * (p - y)) + l2 * w
        hessian = (x.T * (r * p * (1 - p))) @ x + l2 * np.eye(len(w))
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-9:
            break
    return w


def vector(f: Features, dense: bool) -> list[float]:
    cosine = (f.cosine or 0.0) if dense else 0.0
    return [
        1.0,
        cosine,
        f.coverage,
        f.fused,
        float(f.lacks),
        float(f.elsewhere),
        f.novel,
    ]


def fit_model(
    rows: list[list[float]], labels: list[bool], dense: bool, ranked: bool = True
) -> Relevance:
    """The logistic model of `labels` on feature `rows` (`vector`), cut-offs still to set;
    without the cosine when not `dense`, without the fused score when not `ranked`, and
    always without `novel` (a question's feature, the same for all its hits: `fit_found`)."""
    x, y = np.asarray(rows), np.asarray(labels, dtype=float)
    # A constant column's weight stays 0 under the L2 term.
    x[:, 6] = 0.0
    if not dense:
        x[:, 1] = 0.0
    if not ranked:
        x[:, 3] = 0.0
    weights = (round(float(v), 3) for v in logistic(x, y))
    bias, cosine, coverage, fused, lacking, elsewhere, _ = weights
    return Relevance(
        bias, cosine, coverage, fused, lacking, elsewhere, high=HIGH, medium=MEDIUM, low=0.0
    )


def logit(model: Relevance, f: Features) -> float:
    p = min(max(model.score(f), 1e-12), 1 - 1e-12)
    return float(np.log(p / (1 - p)))


def fit_found(
    model: Relevance,
    answerable: Sequence[Sequence[Features]],
    refused: Sequence[Sequence[Features]],
) -> Relevance:
    """Step two: whether a question is answered at all. A logistic regression, over the tuning
    questions, of "some document answers it" on its best hit's logit under `model` and its
    `novel` share, folded back into `model` (logit a*z + b*novel + c is linear in the same
    features), so that one score ranks the hits and says whether any answers."""
    rows = [[1.0, max(logit(model, f) for f in hits), hits[0].novel] for hits in answerable]
    rows += [[1.0, max(logit(model, f) for f in hits), hits[0].novel] for hits in refused]
    labels = [1.0] * len(answerable) + [0.0] * len(refused)
    # Each class weighs as much as the other: how many unanswerable questions were written
    # says nothing about how often people ask one.
    weights = [len(rows) / 2 / len(answerable)] * len(answerable)
    weights += [len(rows) / 2 / len(refused)] * len(refused)
    x, y = np.asarray(rows), np.asarray(labels)
    c, a, b = (float(v) for v in logistic(x, y, l2=1e-2, weights=np.asarray(weights)))
    return replace(
        model,
        bias=round(c + a * model.bias, 3),
        cosine=round(a * model.cosine, 3),
        coverage=round(a * model.coverage, 3),
        fused=round(a * model.fused, 3),
        lacks=round(a * model.lacks, 3),
        elsewhere=round(a * model.elsewhere, 3),
        novel=round(b, 3),
    )


def cut_off(answerable: Sequence[float], refused: Sequence[float]) -> float:
    """`low`, from the best scores of the tuning questions: the highest cut-off that keeps at
    most MAX_NOT_FOUND of the answerable ones below it refuses the most unanswerable ones, and
    so does every cut-off down to the next unanswerable score below it; of that interval, its
    middle in log-odds, as far from the answerable questions it lets pass as from the
    unanswerable ones it refuses."""
    allowed = int(MAX_NOT_FOUND * len(answerable))  # questions that may fall below `low`
    highest = sorted(answerable)[allowed]
    below = max((r for r in refused if r < highest), default=0.0)
    lo, hi = (min(max(p, 1e-6), 1 - 1e-6) for p in (below, highest))
    middle = (np.log(lo / (1 - lo)) + np.log(hi / (1 - hi))) / 2
    return round(float(1 / (1 + np.exp(-middle))), 3)


@dataclass(frozen=True)
class Part:
    """A named set of questions the relevance model is fitted on: answerable ones and ones no
    document answers."""

    name: str
    answerable: Sequence[Question]
    unanswerable: Sequence[str]


# Each signal's value for a question, from its hits' features: what a best hit has of it (a
# larger value should mean "answered"), so that its AUC compares signals on one scale.
SIGNALS: dict[str, Callable[[Sequence[Features]], float]] = {
    "cosine": lambda hits: max(f.cosine or 0.0 for f in hits),
    "coverage": lambda hits: max(f.coverage for f in hits),
    "fused": lambda hits: max(f.fused for f in hits),
    "not lacks": lambda hits: float(not all(f.lacks for f in hits)),
    "not elsewhere": lambda hits: float(not all(f.elsewhere for f in hits)),
    "1 - novel": lambda hits: 1.0 - hits[0].novel,
}


def auc(answered: Sequence[float], refused: Sequence[float]) -> float:
    """The probability that an answerable question's value is above an unanswerable one's
    (ties count half): 0.5 separates nothing, 1.0 separates them all."""
    if not answered or not refused:
        return float("nan")
    a, r = np.asarray(answered)[:, None], np.asarray(refused)[None, :]
    return float((a > r).mean() + 0.5 * (a == r).mean())


def fit_relevance(
    kb: KnowledgeBase,
    parts: Sequence[Part],
    held_out: Sequence[Part],
    fusion: Fusion,
    dense: bool,
    quiet: bool = False,
) -> Relevance:
    """The relevance model of `fusion` fitted on `parts` together; prints each part's figures
    and `held_out`'s, and each signal's separation of a part's answerable questions from its
    unanswerable ones (only the held-out parts' counts when `quiet`)."""
    rows: list[list[float]] = []
    labels: list[bool] = []
    hits: dict[str, tuple[list[list[Features]], list[list[Features]]]] = {}
    fitted = {part.name for part in parts}
    for part in (*parts, *held_out):
        start = len(rows)
        answerable: list[list[Features]] = []
        for q in part.answerable:
            _, found = kb.candidates(q.question, DEPTH, mode=fusion)
            for c in found:
                rows.append(vector(c.features, dense))
                labels.append(key(kb, c) in q.gold)
            answerable.append([c.features for c in found])
        refused: list[list[Features]] = []
        for text in part.unanswerable:
            _, found = kb.candidates(text, DEPTH, mode=fusion)
            rows.extend(vector(c.features, dense) for c in found)
            labels.extend(False for _ in found)
            refused.append([c.features for c in found])
        hits[part.name] = answerable, refused
        if part.name not in fitted:
            del rows[start:], labels[start:]
    # A question without any hit (BM25 alone, no word in common) is refused whatever the
    # model: it says nothing about the model.
    every = [h for name in fitted for h in hits[name][0] if h]
    every_refused = [h for name in fitted for h in hits[name][1] if h]
    model = fit_found(fit_model(rows, labels, dense), every, every_refused)
    tops = [max(model.score(f) for f in h) for h in every]
    refused_tops = [max(model.score(f) for f in h) for h in every_refused]
    model = replace(model, low=min(cut_off(tops, refused_tops), MEDIUM))

    def score(h: Sequence[Features]) -> float:
        return max(model.score(f) for f in h)

    signals = {**SIGNALS, "score": score}
    hits = {name: ([h for h in a if h], [h for h in r if h]) for name, (a, r) in hits.items()}
    if quiet:
        signals = {}
    else:
        print("   " + " " * 45 + " ".join(f"{name:>13}" for name in signals))
    for name, (answerable, refused) in hits.items():
        if quiet and name in fitted:
            continue
        not_found = sum(score(h) < model.low for h in answerable)
        wrongly = sum(score(h) >= model.low for h in refused)
        print(
            f"   {name + ('' if name in fitted else ' (held out)'):17} not found "
            f"{not_found:2}/{len(answerable):3}, found {wrongly:2}/{len(refused):2}; AUC "
            + " ".join(
                f"{auc([s(h) for h in answerable], [s(h) for h in refused]):13.3f}"
                for s in signals.values()
            )
        )
    return model


def fit_routes(index: ItemIndex, service: Service, cases: Sequence[RouteCase]) -> Relevance:
    dense = index.dense_available

    def answers(items: ItemIndex) -> list[tuple[RouteCase, ItemAnswer]]:
        out = []
        for case in cases:
            in_force = [r.key for r in routes_in_force(service.policies, case.region, case.date)]
            query = matter_of(case.query) or case.query
            out.append((case, items.match(query, case.region, ids=in_force, k=DEPTH)))
        return out

    rows, labels = [], []
    for case, answer in answers(index):
        for m in answer.candidates:
            rows.append(vector(Features(m.semantic, m.lexical, m.fused), dense))
            labels.append(m.id in case.rules)
    # Without the fused score: a rule's rank among the rules says nothing about whether any
    # of them is what was asked (the best one of a question no rule answers ranks first too).
    model = fit_model(rows, labels, dense, ranked=False)
    # The lowest cut-off above every wrong best candidate, as the fitted model ranks them.
    fitted = ItemIndex(index.index, Calibration(model, model))
    wrong: list[float] = [0.0]
    right: list[float] = []
    for case, answer in answers(fitted):
        if answer.candidates:
            best = answer.candidates[0]
            (right if best.id in case.rules else wrong).append(best.score)
    low = round(max(wrong) + 5e-4, 3)
    matched = sum(score >= low for score in right)
    matches = sum(1 for case in cases if case.rules)
    print(f"   calibration: {matched}/{matches} matched right at low={low}, no false match")
    return replace(model, low=low, medium=ROUTE_MEDIUM, high=ROUTE_HIGH)


def key(kb: KnowledgeBase, c: Candidate) -> tuple[str, str]:
    entry = kb.index.entries[c.scored.row]
    return entry.document, entry.key


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, help="index cache (default: a fresh one)")
    parser.add_argument(
        "--keep-fusion", action="store_true", help="skip the grid: keep kb.calibration.PIPELINE"
    )
    parser.add_argument(
        "--with-development",
        action="store_true",
        help="fit relevance on the development check sets too ("
        + ", ".join(path.name for path in DEVELOPMENT.values())
        + ")",
    )
    args = parser.parse_args(argv)
    cache = args.cache or Path(tempfile.mkdtemp(prefix="zhengce-fit-"))
    embedder, reason = default_embedder(cache)
    if embedder is None:
        print(f"the model is unavailable: {reason}")
        return 1
    lexicon = load_lexicon(ROOT / "policies" / "lexicon.yaml")
    memo = Memo(embedder)
    kb = KnowledgeBase.open(ROOT, cache, memo, progress=True, lexicon=lexicon)
    tune = load_questions(DATA / "paraphrase_questions.yaml", "tune")
    words = load_questions(DATA / "kb_questions.yaml")
    parts = [Part("tune", tune, load_unanswerable(DATA / "unanswerable_questions.yaml", "tune"))]
    development = [
        Part(name, load_questions(path, name), load_unanswerable(path, name))
        for name, path in DEVELOPMENT.items()
    ]
    fitted_on, held_out = (
        ([*parts, *development], []) if args.with_development else (parts, development)
    )

    pipeline = PIPELINE if args.keep_fusion else fit_fusion(kb, tune, words)
    print(f"PIPELINE = {pipeline}")
    print(
        "\n== relevance, fitted on the tuning halves"
        + (" and the development check sets" if args.with_development else "")
    )
    fitted = {}
    runs = [(name, FUSIONS[name] if name != "pipeline" else pipeline, True) for name in FUSIONS]
    runs.append(("pipeline/lexical", replace(pipeline, dense=0.0), False))
    for name, fusion, dense in runs:
        print(f"-- {name}")
        fitted[name] = fit_relevance(kb, fitted_on, held_out, fusion, dense and fusion.dense > 0)
        if args.with_development and name == "pipeline":
            # What fitting on development data is worth on questions it was not fitted on:
            # each development set held out in turn, fitted on the tuning half and the others.
            print("   each development set held out, fitted on the tuning half and the others:")
            for part in development:
                others = [p for p in development if p is not part]
                fit_relevance(kb, [*parts, *others], [part], fusion, dense, quiet=True)
    print("RELEVANCE: dict[str, Relevance] = {")
    for name, model in fitted.items():
        print(f"    {name!r}: {model},")
    print("}")

    print("\n== routing (calibration part of route_queries.yaml, near misses included)")
    service = Service.load(Settings.from_env({"ZHENGCE_CACHE": str(cache)}, root=ROOT))
    items = route_items(service.policies)
    routes = DATA / "route_queries.yaml"
    cases = load_route_cases(routes, "calibration") + load_near_misses(routes, "calibration")
    models = {}
    embedders: tuple[tuple[str, Embedder | None], ...] = (("dense", memo), ("lexical", None))
    for label, encoder in embedders:
        print(f"-- {label}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DenseUnavailableWarning)  # on purpose, here
            index = ItemIndex.open(
                cache, f"fit-{label}", items, encoder, degraded_reason="-", lexicon=lexicon
            )
        models[label] = fit_routes(index, service, cases)
    print(f"ROUTES = Calibration(dense={models['dense']}, lexical={models['lexical']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
