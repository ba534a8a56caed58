"""A faster path for embedding ONE query with e5: the transformer traced and frozen by TorchScript.

Query embedding is nearly all of a search's time (BM25 and faiss take ~2 ms together). On this
project's 2-vCPU machine the eager sentence-transformers call took 41-45 ms at p50 for a typical
question, the traced and frozen model 31 ms, with identical vectors (cosine >= 0.9999998 over
the 63 evaluation questions): freezing folds the weights into the graph and drops Python
dispatch between the 12 layers' operators.

`TracedQueries.build` returns None (and the caller keeps the eager path) unless the model is the
expected Transformer -> mean Pooling -> Normalize pipeline AND the traced path reproduces the
eager vectors on probe texts of different lengths; so a model this was not written for can
never get different vectors, only a slower path.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    # Only a type: kb.embed imports this module, so importing it back would be circular.
    from kb.embed import FloatMatrix

__all__ = ["TracedQueries"]

# Probe texts of different lengths: a trace records one input's shapes, so a wrong
# generalisation to other lengths would show here.
PROBES = (
    "园区规划",
    "一个不需要新占地、投资1200万元的项目该报到哪里备案？",
    "對投資額度在1000萬元以上的非供地類項目,由所在工業園區報市園區辦進行備案;對供地類項目,"
    "由所在工業園區報市園區辦彙總後,提交市工業園區領導小組研究分析、論證指導。",
)
_TOLERANCE = 1e-4  # on 1 - cosine; observed differences are ~1e-7


class TracedQueries:
    """Embeds single queries exactly as the SentenceTransformer does, faster."""

    def __init__(self, tokenizer: Any, traced: Any, prompt: str, max_length: int) -> None:
        self._tokenizer = tokenizer
        self._traced = traced
        self._prompt = prompt
        self._max_length = max_length

    @classmethod
    def build(cls, model: Any, prompt_name: str = "query") -> TracedQueries | None:
        """Trace `model` (a SentenceTransformer); None when the model is not the expected
        pipeline, tracing fails, or the traced vectors differ from the eager ones."""
        try:
            import torch

            names = [type(module).__name__ for module in model]
            pooling = model[1].get_config_dict() if len(names) > 1 else {}
            if names != ["Transformer", "Pooling", "Normalize"]:
                return None
            if pooling.get("pooling_mode") != "mean":
                return None
            transformer = model[0].auto_model.eval()
            sample = model.tokenizer([model.prompts[prompt_name] + PROBES[0]], return_tensors="pt")
            # Tracing warns about Python values frozen into the graph (for BERT, shape checks
            # that do not depend on the input's content) and transformers logs config remarks;
            # neither is for the user, and the probes below check the result.
            quiet = logging.getLogger("transformers")
            level = quiet.level
            quiet.setLevel(logging.ERROR)
            try:
                with warnings.catch_warnings(), torch.inference_mode():
                    warnings.simplefilter("ignore")
                    traced = torch.jit.trace(  # type: ignore[no-untyped-call]
                        transformer,
                        (sample["input_ids"], sample["attention_mask"]),
                        strict=False,
                        check_trace=False,
                    )
                    traced = torch.jit.freeze(traced)
            finally:
                quiet.setLevel(level)
            fast = cls(model.tokenizer, traced, model.prompts[prompt_name], model.max_seq_length)
            eager = model.encode(
                list(PROBES),
                prompt_name=prompt_name,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            for text, expected in zip(PROBES, eager, strict=True):
                if 1.0 - float(np.dot(fast.encode(text), expected)) > _TOLERANCE:
                    return None
            return fast
        except Exception:  # any failure leaves the caller on the eager path
            return None

    def encode(self, text: str) -> FloatMatrix:
        """The unit vector of one query (shape (dim,))."""
        import torch

        batch = self._tokenizer(
            [self._prompt + text],
            return_tensors="pt",
            truncation=True,
            max_length=self._max_length,
        )
        with torch.inference_mode():
            output = self._traced(batch["input_ids"], batch["attention_mask"])
            hidden = output["last_hidden_state"] if isinstance(output, dict) else output[0]
            vector = torch.nn.functional.normalize(hidden[0].mean(dim=0), dim=0)
        return np.ascontiguousarray(vector.numpy(), dtype=np.float32)

    def encode_many(self, texts: Sequence[str]) -> FloatMatrix:
        return np.stack([self.encode(text) for text in texts]).astype(np.float32)
