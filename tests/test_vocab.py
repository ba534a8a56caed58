"""kb.model.vocab and kb.model.vocab_unigram: the pruned query vocabulary gives exactly the
whole vocabulary's tokens and vectors for the text we serve, and reads other text as stated.

The references are e5's tokenizer.json in the session's model folder, read by `tokenizers`,
and the int8 graph of the whole vocabulary, exported here once (as kb.onnx_query exports it,
before it slices the word embeddings). The export under test is the session's (tests/conftest.py
`e5`), built by `LazyE5.prepare` as `zhengce kb build` builds it.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from kb.corpus import Corpus
from kb.embed import Embedder, LazyE5
from kb.model.config import QUERY_PROMPT
from kb.model.vocab import KEPT, outside
from kb.model.vocab_unigram import UnigramTokenizer
from kb.onnx_query import OnnxQueries, export_dir, open_export
from tests.conftest import ROOT, examples

# Characters that join the one before them into a grapheme cluster, outside the M* categories.
JOINERS = {0x200C, 0x200D, 0xFF9E, 0xFF9F}
LEFT_OUT = {"Cyrillic": (0x0400, 0x04FF), "Hangul": (0xAC00, 0xD7AF), "jamo": (0x1100, 0x11FF)}


def test_the_kept_set_has_no_grapheme_joining_character() -> None:
    for first, last in KEPT:
        for code in range(first, last + 1):
            assert not unicodedata.category(chr(code)).startswith("M"), f"U+{code:04X}"
            assert code not in JOINERS, f"U+{code:04X}"
            assert not any(a <= code <= b for a, b in LEFT_OUT.values()), f"U+{code:04X}"


def test_outside_names_the_first_character_out_of_the_set() -> None:
    assert outside("投资1200万元、≥5000㎡（含）的项目，α·β ①ǎ▁") is None
    assert outside("园区😀规划") == "😀"
    assert outside("Москва 园区") == "М"
    assert outside("e\u0301") == "\u0301"


# ------------------------------------------------------------------ against the whole model


@pytest.fixture(scope="module")
def export(e5: tuple[Path, Embedder]) -> OnnxQueries:
    _, embedder = e5
    assert isinstance(embedder, LazyE5)
    embedder.prepare()
    return open_export(embedder.home, embedder.fingerprint)


@pytest.fixture(scope="module")
def pruned(export: OnnxQueries) -> UnigramTokenizer:
    return export.tokenizer


@pytest.fixture(scope="module")
def original_ids(e5: tuple[Path, Embedder], export: OnnxQueries) -> np.ndarray[Any, Any]:
    """The whole vocabulary's id of each pruned id."""
    _, embedder = e5
    assert isinstance(embedder, LazyE5)
    folder = export_dir(embedder.home, embedder.fingerprint)
    vocabulary = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
    return np.asarray(vocabulary["ids"])


@pytest.fixture(scope="module")
def full(e5_folder: Path) -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(e5_folder / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=512)
    return tokenizer


@pytest.fixture(scope="module")
def full_graph(e5_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The int8 graph of the whole vocabulary, as kb.onnx_query makes it before slicing."""
    import onnxruntime as ort

    from kb.model.onnx_export import SESSION_UNFUSED, export_fp32, quantize_int8

    folder = tmp_path_factory.mktemp("full-graph")
    export_fp32(e5_folder, folder / "fp32.onnx", "园区规划")
    quantize_int8(folder / "fp32.onnx", folder / "int8.onnx")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    # Loaded as kb.onnx_query loads the export: fused at load, its int8 arithmetic would differ.
    return ort.InferenceSession(
        str(folder / "int8.onnx"), options, disabled_optimizers=list(SESSION_UNFUSED)
    )


def served_texts() -> Iterator[str]:
    """Every clause, clause with its sub-clauses and document of the corpus, and every string
    in tests/data's YAML files (questions, routes, checks)."""
    for document in Corpus(ROOT).documents():
        yield document.title
        yield document.text
        for clause in document.clauses:
            yield clause.text
            yield clause.full_text
    for path in sorted((ROOT / "tests" / "data").glob("*.yaml")):
        yield from strings(yaml.safe_load(path.read_text(encoding="utf-8")))


def strings(data: object) -> Iterator[str]:
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for value in data.values():
            yield from strings(value)
    elif isinstance(data, list):
        for value in data:
            yield from strings(value)


def ids_of(pruned: UnigramTokenizer, original: np.ndarray[Any, Any], text: str) -> list[int]:
    """The pruned tokenizer's ids of the query `text`, as the whole vocabulary's ids."""
    return [int(i) for i in original[pruned.encode(QUERY_PROMPT + text)]]


@pytest.mark.slow
def test_the_served_texts_get_the_whole_vocabularys_tokens(
    pruned: UnigramTokenizer, original_ids: np.ndarray[Any, Any], full: Any
) -> None:
    texts = list(dict.fromkeys(served_texts()))
    assert len(texts) > 800  # the corpus and the YAML files were read
    for text in texts:
        assert pruned.covers(QUERY_PROMPT + text), text
        assert ids_of(pruned, original_ids, text) == full.encode(QUERY_PROMPT + text).ids, text


@pytest.mark.slow
def test_the_served_texts_get_the_whole_models_vectors(
    export: OnnxQueries, original_ids: np.ndarray[Any, Any], full: Any, full_graph: Any
) -> None:
    # By length, so that a batch is padded little (a padded batch is checked as well).
    texts = sorted(dict.fromkeys(served_texts()), key=lambda t: len(export.tokenizer.encode(t)))
    for start in range(0, len(texts), 16):
        batch = texts[start : start + 16]
        encodings = full.encode_batch([QUERY_PROMPT + t for t in batch])
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(batch), width), 1, dtype=np.int64)  # <pad>
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        (hidden,) = full_graph.run(None, {"input_ids": ids, "attention_mask": mask})
        mean = (hidden * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        whole = mean / np.linalg.norm(mean, axis=1, keepdims=True)
        np.testing.assert_allclose(export.encode(batch), whole, atol=2e-6)


def kept_text() -> st.SearchStrategy[str]:
    """Text of kb.model.vocab's set: whole pieces (so that long pieces compete), single
    characters of any kept block, spaces and line breaks of several kinds, and ▁."""
    blocks = [st.characters(min_codepoint=a, max_codepoint=b) for a, b in KEPT]
    pieces = st.sampled_from(["园区", "项目备案", "▁投资", "1200万元", "Park", "▁the", "μg", "㎡"])
    spaces = st.sampled_from([" ", "  ", "\r\n", "\n", "\t", "\u3000", "▁", "▁▁"])
    return st.lists(st.one_of(pieces, spaces, *blocks), max_size=40).map("".join)


@pytest.mark.slow
@settings(
    max_examples=examples(400),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(text=kept_text())
def test_text_of_the_kept_set_gets_the_whole_vocabularys_tokens(
    pruned: UnigramTokenizer, original_ids: np.ndarray[Any, Any], full: Any, text: str
) -> None:
    # About 140 kept characters normalise out of the set (¨ to a space and a combining mark).
    assume(pruned.covers(QUERY_PROMPT + text))
    assert ids_of(pruned, original_ids, text) == full.encode(QUERY_PROMPT + text).ids


@pytest.mark.slow
def test_remembered_words_keep_the_whole_vocabularys_tokens(
    pruned: UnigramTokenizer, original_ids: np.ndarray[Any, Any], full: Any
) -> None:
    # Several times more short words than the tokenizer remembers, read twice in opposite
    # orders: once segmented, then remembered or segmented again after it forgot them.
    texts = [f"第{n}条 第{n}款 Park{n}号 园区{n * 7}万元" for n in range(1500)]
    for text in [*texts, *reversed(texts)]:
        assert ids_of(pruned, original_ids, text) == full.encode(QUERY_PROMPT + text).ids, text


@pytest.mark.slow
@pytest.mark.parametrize("foreign", ["😀", "Москва", "서울시", "ภาษี", "\u0301"])
def test_a_run_of_characters_no_kept_piece_holds_reads_as_one_unk(
    pruned: UnigramTokenizer,
    original_ids: np.ndarray[Any, Any],
    full: Any,
    export: OnnxQueries,
    foreign: str,
) -> None:
    # 丄 is kept but in no piece of the whole vocabulary: that model reads it as one <unk>.
    unknown = "丄"
    assert full.encode(unknown, add_special_tokens=False).ids[-1] == full.token_to_id("<unk>")
    for text in (f"园区{foreign}规划怎么申请", f"{foreign} 的项目", f"投资 {foreign}"):
        assert not pruned.covers(QUERY_PROMPT + text)
        assert (
            ids_of(pruned, original_ids, text)
            == full.encode(QUERY_PROMPT + text.replace(foreign, unknown)).ids
        )
    vectors = export.encode([f"园区{foreign}规划怎么申请"])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


@pytest.mark.slow
def test_special_token_strings_are_read_as_text(
    pruned: UnigramTokenizer, original_ids: np.ndarray[Any, Any], full: Any
) -> None:
    specials = {full.token_to_id(s) for s in ("<s>", "</s>", "<pad>", "<unk>", "<mask>")}
    for text in ("请<mask>说明", "<s>园区</s>", "<unk>", "＜pad＞"):
        assert not pruned.covers(QUERY_PROMPT + text)
        ids = ids_of(pruned, original_ids, text)
        assert not specials & set(ids[1:-1]), text
    # The whole tokenizer turns them into the special tokens: a user's text should not.
    assert full.token_to_id("<mask>") in full.encode(QUERY_PROMPT + "请<mask>说明").ids
