"""The JSON files that make a folder of BertModel weights a sentence-transformers model with
e5's prompts, mean pooling and normalisation."""

from __future__ import annotations

import json
from pathlib import Path

from kb.model.fileformat import Contents

__all__ = ["PASSAGE_PROMPT", "QUERY_PROMPT", "write_configs"]

QUERY_PROMPT = "query: "
PASSAGE_PROMPT = "passage: "

_ST_MODULES = [("", "Transformer"), ("1_Pooling", "Pooling"), ("2_Normalize", "Normalize")]
_POOLING_MODES = (
    "cls_token mean_tokens max_tokens mean_sqrt_len_tokens weightedmean_tokens lasttoken"
)


def write_configs(folder: Path, src: Contents) -> None:
    """Write the model, tokenizer and sentence-transformers configuration into `folder`."""
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
