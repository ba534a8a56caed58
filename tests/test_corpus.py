"""kb.corpus (the ClauseSource protocol), kb.ingest (sources on disk) and kb.show."""

from __future__ import annotations

import inspect
import re
import shutil
import threading
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from dsl.sources import ClauseSource
from kb.corpus import Corpus, UnknownClause, UnknownDocument
from kb.ingest import (
    PROVENANCES,
    Metadata,
    SourceError,
    add_document,
    detect_script,
    ingest_seeds,
    main,
    read_metadata,
    seed_dir,
    sources_dir,
)
from kb.segment import segment
from kb.show import render_tree

ROOT = Path(__file__).resolve().parent.parent
SEED_DIR = seed_dir(ROOT)
DOC_IDS = ["chengdu-2018", "jiading-2017", "jiangxi-2019", "lucheng-2016", "pingliang-2023"]


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return Corpus(ROOT)


def test_corpus_lists_the_five_sources(corpus: Corpus) -> None:
    assert corpus.document_ids() == DOC_IDS
    assert [doc.id for doc in corpus.documents()] == DOC_IDS
    assert corpus.document("lucheng-2016").meta.doc_number == "温鹿政办〔2016〕97号"


def _satisfies_clause_source(corpus: Corpus) -> ClauseSource:
    return corpus  # for a type checker: kb implements the protocol without importing dsl


def test_corpus_has_every_protocol_method_with_its_signature() -> None:
    # kb never imports dsl, so nothing but this test notices when the two drift apart.
    names = [name for name in vars(ClauseSource) if not name.startswith("_")]
    assert names, "ClauseSource lists no methods"
    for name in names:
        want = inspect.signature(getattr(ClauseSource, name), eval_str=True)
        got = inspect.signature(getattr(Corpus, name), eval_str=True)
        assert _shape(got) == _shape(want), name


def _shape(signature: inspect.Signature) -> list[tuple[str, object, object]]:
    parameters = [(p.name, p.kind, p.annotation) for p in signature.parameters.values()]
    return [*parameters, ("return", None, signature.return_annotation)]


def test_protocol_has_document(corpus: Corpus) -> None:
    source: ClauseSource = corpus
    assert all(source.has_document(doc_id) for doc_id in DOC_IDS)
    assert not source.has_document("jiading")
    assert not source.has_document("")


def test_protocol_clause_ids_are_in_reading_order(corpus: Corpus) -> None:
    source: ClauseSource = corpus
    ids = source.clause_ids("pingliang-2023")
    assert ids[:5] == ["p1", "p2", "一", "二", "二.1"]
    assert ids.index("二") < ids.index("二.4") < ids.index("三") < ids.index("三.1")
    for doc_id in DOC_IDS:
        document = corpus.document(doc_id)
        assert source.clause_ids(doc_id) == [clause.id for clause in document.clauses]


def test_protocol_clause_text_includes_sub_clauses(corpus: Corpus) -> None:
    source: ClauseSource = corpus
    section = source.clause_text("pingliang-2023", "二")
    item = source.clause_text("pingliang-2023", "二.4")
    assert section is not None and item is not None
    assert item.startswith("4.加强项目落地管理指导。") and item in section
    assert "1000万元以上的非供地类项目" in item


@pytest.mark.parametrize(
    ("document", "clause"),
    [("pingliang-2023", "二.9"), ("pingliang-2023", "四"), ("no-such-doc", "一"), ("", "")],
)
def test_protocol_clause_text_is_none_when_unknown(
    corpus: Corpus, document: str, clause: str
) -> None:
    assert corpus.clause_text(document, clause) is None


def test_unknown_document_names_the_id_and_the_known_ones(corpus: Corpus) -> None:
    with pytest.raises(UnknownDocument) as caught:
        corpus.clause_ids("pingliang-2022")
    message = str(caught.value)
    assert "'pingliang-2022'" in message
    assert all(doc_id in message for doc_id in DOC_IDS)
    assert not isinstance(caught.value, KeyError)
    assert isinstance(caught.value, LookupError)
    with pytest.raises(UnknownDocument):
        corpus.document("nope")
    with pytest.raises(UnknownDocument):
        corpus.clause("nope", "一")


def test_empty_corpus_says_so(tmp_path: Path) -> None:
    empty = Corpus(tmp_path)  # nothing is read until asked
    assert empty.document_ids() == []
    with pytest.raises(UnknownDocument, match="none"):
        empty.document("jiading-2017")


@pytest.mark.parametrize(
    ("document", "typed", "canonical"),
    [
        ("jiading-2017", "四．（一）．1", "四.(一).1"),
        ("jiading-2017", "表.13", "表.13"),
        ("lucheng-2016", "一.(二).-1", "一.(二).—1"),
        ("lucheng-2016", "一.(二).——2", "一.(二).—2"),
        ("pingliang-2023", "二 . 4", "二.4"),
    ],
)
def test_clause_lookup_accepts_typed_variants(
    corpus: Corpus, document: str, typed: str, canonical: str
) -> None:
    found = corpus.clause(document, typed)
    assert found is not None and found.id == canonical
    assert corpus.clause_text(document, typed) == found.full_text
    assert corpus.clause(document, "九十九") is None


# (note, document, clause, quote): every quote is in the clause once both are normalised.
QUOTES = [
    (
        "Traditional quote, full-width punctuation, Traditional source across a line break",
        "jiangxi-2019",
        "一.1",
        "（牽頭單位：省商務廳；責任單位：各市、縣（區）政府、贛江新區管委會、各開發區）",
    ),
    (
        "Simplified quote against the Traditional source",
        "jiangxi-2019",
        "四.12",
        "对赋权清单实行动态调整(牵头单位:省审改办;责任单位:各市、县(区)政府)",
    ),
    (
        "Traditional quote against a Simplified source",
        "pingliang-2023",
        "二.4",
        "對投資額度在1000萬元以上的非供地類項目,由所在工業園區(高新區、集中區)報市園區辦進行備案",
    ),
    (
        "a note in the one-line document, full-width brackets",
        "lucheng-2016",
        "二.(二)",
        "（责任单位：区发改局、轻工园区管委会、鞋都管委会、相关街镇）",
    ),
    (
        "a quote spanning two items is in their parent",
        "pingliang-2023",
        "二",
        "报市工业园区(集中区)领导小组审定后实施。\n4.加强项目落地管理指导",
    ),
    (
        "a table row with its responsible units",
        "jiading-2017",
        "表.16",
        "确保利益合理分配。 区委政研室、财政局",
    ),
]


@pytest.mark.parametrize(
    ("note", "document", "clause", "quote"), QUOTES, ids=[case[0] for case in QUOTES]
)
def test_quote_containment_after_normalisation(
    corpus: Corpus, note: str, document: str, clause: str, quote: str
) -> None:
    text = corpus.clause_text(document, clause)
    assert text is not None
    assert corpus.normalize(quote) in corpus.normalize(text), note


def test_quote_spanning_sub_clauses_is_not_in_either_sub_clause(corpus: Corpus) -> None:
    quote = corpus.normalize("报市工业园区(集中区)领导小组审定后实施。4.加强项目落地管理指导")
    for clause in ("二.3", "二.4"):
        text = corpus.clause_text("pingliang-2023", clause)
        assert text is not None and quote not in corpus.normalize(text)


def test_concurrent_readers_see_one_document(tmp_path: Path) -> None:
    shared = Corpus(ROOT)
    results: list[str | None] = []
    threads = [
        threading.Thread(target=lambda: results.append(shared.clause_text("jiading-2017", "表.13")))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1 and results[0] is not None


# ---------------------------------------------------------------- ingest

PAGE = (
    "当前位置: 政策文件\n\n苏州市关于园区发展的意见\n\n发布日期:2020-05-06 10:00:00\n\n"
    "苏州市关于园区发展的意见\n\n一、总则\n\n1.加强管理。(责任单位:市商务局)\n\n"
    "扫一扫在手机打开当前页\n"
)
META = {"title": "苏州市关于园区发展的意见", "region": "江苏省/苏州市", "kind": "policy"}


def test_add_document_writes_a_source_the_corpus_reads(tmp_path: Path) -> None:
    txt, meta_path = add_document(PAGE, "suzhou-2020", META, tmp_path)
    assert txt == tmp_path / "policies" / "sources" / "suzhou-2020.txt"
    assert txt.read_text(encoding="utf-8") == (
        "苏州市关于园区发展的意见\n\n一、总则\n\n1.加强管理。(责任单位:市商务局)\n"
    )
    meta = read_metadata(meta_path)
    assert meta.published == "2020-05-06"  # from the page's metadata line
    assert (meta.doc_number, meta.issuer, meta.issued) == ("", "", "")  # never invented
    assert meta.script == "zh-Hans" and meta.id == "suzhou-2020"
    corpus = Corpus(tmp_path)
    assert corpus.clause_ids("suzhou-2020") == ["p1", "一", "一.1"]
    assert corpus.clause_text("suzhou-2020", "一.1") == "1.加强管理。(责任单位:市商务局)"


def test_add_document_detects_traditional_script(tmp_path: Path) -> None:
    _, meta_path = add_document("一、強化項目支撐\n1.狠抓重大項目招引。", "tw-1", META, tmp_path)
    assert read_metadata(meta_path).script == "zh-Hant"


@pytest.mark.parametrize(
    ("doc_id", "meta", "problem"),
    [
        ("Suzhou 2020", META, "lower-case"),
        ("suzhou-2020", {"title": "x", "kind": "policy"}, "region"),
        ("suzhou-2020", {**META, "id": "other"}, "differs"),
        ("suzhou-2020", {**META, "script": "zh-CN"}, "script"),
        ("suzhou-2020", {**META, "colour": "red"}, "unknown fields ['colour']"),
    ],
)
def test_add_document_rejects_bad_input(
    tmp_path: Path, doc_id: str, meta: dict[str, str], problem: str
) -> None:
    with pytest.raises(SourceError, match=re.escape(problem)):
        add_document(PAGE, doc_id, meta, tmp_path)


def test_add_document_does_not_overwrite_by_accident(tmp_path: Path) -> None:
    add_document(PAGE, "suzhou-2020", META, tmp_path)
    with pytest.raises(SourceError, match="already exists"):
        add_document(PAGE, "suzhou-2020", META, tmp_path)
    add_document(PAGE, "suzhou-2020", {**META, "notes": "again"}, tmp_path, overwrite=True)
    assert read_metadata(tmp_path / "policies/sources/suzhou-2020.yaml").notes == "again"


def test_read_metadata_is_strict_but_accepts_unquoted_dates(tmp_path: Path) -> None:
    path = tmp_path / "x-1.yaml"
    fields = {name: "" for name in Metadata.__dataclass_fields__}
    path.write_text(yaml.safe_dump({**fields, "id": "x-1", "script": "zh-Hans"}), "utf-8")
    assert read_metadata(path).id == "x-1"
    path.write_text(path.read_text("utf-8").replace("issued: ''", "issued: 2017-03-13"), "utf-8")
    assert read_metadata(path).issued == "2017-03-13"
    path.write_text(yaml.safe_dump({**fields, "id": "x-2", "script": "zh-Hans"}), "utf-8")
    with pytest.raises(SourceError, match="differs from the file name"):
        read_metadata(path)
    path.write_text("id: x-1\ntitle: [a]\n", "utf-8")
    with pytest.raises(SourceError, match="missing fields"):
        read_metadata(path)


def test_metadata_provenance_is_optional_and_one_of_the_kinds(tmp_path: Path) -> None:
    """A source says what its text is (official, news_report, unofficial_copy, reprint); a
    metadata file without the field reads as unknown ("")."""
    path = tmp_path / "x-1.yaml"
    fields = {n: "" for n in Metadata.__dataclass_fields__ if not n.startswith("provenance")}
    path.write_text(yaml.safe_dump({**fields, "id": "x-1", "script": "zh-Hans"}), "utf-8")
    assert (read_metadata(path).provenance, read_metadata(path).provenance_note) == ("", "")
    for kind in PROVENANCES:
        data = {**fields, "id": "x-1", "script": "zh-Hans", "provenance": kind}
        path.write_text(yaml.safe_dump(data), "utf-8")
        assert read_metadata(path).provenance == kind
    path.write_text(
        yaml.safe_dump({**fields, "id": "x-1", "script": "zh-Hans", "provenance": "blog"})
    )
    with pytest.raises(SourceError, match="provenance 'blog' must be one of"):
        read_metadata(path)


def test_protocol_document_provenance(corpus: Corpus) -> None:
    source: ClauseSource = corpus
    assert source.document_provenance("chengdu-2018") == "news_report"
    assert source.document_provenance("lucheng-2016") == "official"
    assert source.document_provenance("no-such-document") is None


def test_cli_add(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page, meta = tmp_path / "page.txt", tmp_path / "meta.yaml"
    page.write_text(PAGE, "utf-8")
    meta.write_text(yaml.safe_dump(META, allow_unicode=True), "utf-8")
    argv = ["add", str(page), "--id", "suzhou-2020", "--meta", str(meta), "--root", str(tmp_path)]
    assert main(argv) == 0
    assert "suzhou-2020.yaml" in capsys.readouterr().out
    assert main(argv) == 1
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize("doc_id", DOC_IDS)
def test_stored_metadata_is_complete_and_consistent(corpus: Corpus, doc_id: str) -> None:
    document = corpus.document(doc_id)
    assert document.meta == read_metadata(sources_dir(ROOT) / f"{doc_id}.yaml")
    assert document.meta.seed  # every stored source names the page it was cleaned from
    assert document.meta.script == detect_script(document.text)
    assert document.clauses == tuple(segment(document.text))


def test_stored_sources_are_what_ingest_produces(tmp_path: Path) -> None:
    if not SEED_DIR.is_dir():
        pytest.skip(f"the seed pages are not beside this checkout ({SEED_DIR} is absent)")
    (tmp_path / "policies").mkdir()
    shutil.copytree(
        sources_dir(ROOT), sources_dir(tmp_path), ignore=shutil.ignore_patterns("*.txt")
    )
    written = ingest_seeds(SEED_DIR, tmp_path)
    assert sorted(path.name for path in written) == sorted(
        f"{doc_id}{suffix}" for doc_id in DOC_IDS for suffix in (".txt", ".yaml")
    )
    for path in written:
        stored = sources_dir(ROOT) / path.name
        assert path.read_bytes() == stored.read_bytes(), path.name


# ---------------------------------------------------------------- show


def _render(corpus: Corpus, document: str, clause: str | None = None) -> str:
    console = Console(record=True, width=160, color_system=None)
    console.print(render_tree(corpus.document(document), clause))
    return console.export_text()


def test_show_whole_tree(corpus: Corpus) -> None:
    out = _render(corpus, "lucheng-2016")
    assert out.startswith("lucheng-2016  鹿城区产业(工业)平台整合提升三年行动计划")
    for expected in ("一.(二).—1  形成“1+2+N”产业平台布局", "二.(十)  推进产城融合发展", "抄送"):
        assert expected in out
    lines = out.splitlines()
    section = next(line for line in lines if "一  总体要求" in line)
    goals = next(line for line in lines if "一.(二)  主要目标" in line)
    dash = next(line for line in lines if "一.(二).—1" in line)
    assert section.index("一") < goals.index("一.(二)") < dash.index("一.(二).—1")


def test_show_one_clause_prints_full_own_text_and_children(corpus: Corpus) -> None:
    out = _render(corpus, "jiading-2017", "四.(一)")
    assert "四.(一)  统筹招商模式" in out
    assert "四.(一).1  统筹产业项目评审准入" in out and "四.(一).3" in out
    assert "四.(二)" not in out
    item = "".join(_render(corpus, "pingliang-2023", "二.4").split())  # undo line wrapping
    assert "1000万元以上的非供地类项目" in item and "提请市政府常务会审定。" in item


def test_show_unknown_clause_suggests_near_ids(corpus: Corpus) -> None:
    with pytest.raises(UnknownClause) as caught:
        render_tree(corpus.document("pingliang-2023"), "二.9")
    assert "二.8" in caught.value.suggestions
    assert "zhengce kb show pingliang-2023" in str(caught.value)
