"""A light query encoder for BERT-style sentence-transformers models: torch + tokenizers, no heavy imports.

`import sentence_transformers` costs seconds (it pulls scikit-learn and most of transformers). Questions are
short and arrive one at a time, so the query path runs the same weights through a minimal BERT forward pass
(mean pooling, L2 normalisation: exactly the model's modules.json). A test checks it matches
sentence-transformers to 1e-5; any model this does not understand falls back to sentence-transformers.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

SUPPORTED_MODULES = [
    "sentence_transformers.models.Transformer",
    "sentence_transformers.models.Pooling",
    "sentence_transformers.models.Normalize",
]


class UnsupportedModel(ValueError):
    """The model folder is not a plain BERT + mean pooling + normalise sentence-transformer."""


def check_model_folder(folder: Path) -> dict:
    """Read and validate the folder's configs; return the BERT config."""
    try:
        modules = [m["type"] for m in json.loads((folder / "modules.json").read_text())]
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UnsupportedModel(f"cannot read the model configuration: {exc}") from None
    if modules != SUPPORTED_MODULES:
        raise UnsupportedModel(f"modules {modules} are not Transformer + Pooling + Normalize")
    if not pooling.get("pooling_mode_mean_tokens") or any(
        pooling.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens")
    ):
        raise UnsupportedModel("only mean pooling is supported")
    if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu" or \
            config.get("position_embedding_type", "absolute") != "absolute":
        raise UnsupportedModel("only absolute-position BERT models with GELU are supported")
    if not (folder / "model.safetensors").exists() or not (folder / "tokenizer.json").exists():
        raise UnsupportedModel("model.safetensors or tokenizer.json is missing")
    return config


class QueryEncoder:
    """Encode short texts with a BERT sentence-transformer's weights (CPU, inference only)."""

    def __init__(self, folder: Path | str):
        import torch
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        folder = Path(folder)
        self.config = check_model_folder(folder)
        try:
            max_length = int(json.loads((folder / "sentence_bert_config.json").read_text()).get("max_seq_length", 256))
        except (OSError, ValueError):
            max_length = 256
        self.torch = torch
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length)
        self.tokenizer.enable_padding(pad_id=int(self.config.get("pad_token_id", 0)))
        self.weights = {k.removeprefix("bert."): v.float() for k, v in load_file(str(folder / "model.safetensors")).items()}
        self.heads = int(self.config["num_attention_heads"])
        self.layers = int(self.config["num_hidden_layers"])
        self.eps = float(self.config.get("layer_norm_eps", 1e-12))

    def _norm(self, x, name: str):
        w = self.weights
        return self.torch.nn.functional.layer_norm(x, x.shape[-1:], w[f"{name}.weight"], w[f"{name}.bias"], self.eps)

    def _linear(self, x, name: str):
        return self.torch.nn.functional.linear(x, self.weights[f"{name}.weight"], self.weights[f"{name}.bias"])

    def _layer(self, x, bias, i: int):
        torch, F = self.torch, self.torch.nn.functional
        p = f"encoder.layer.{i}"
        batch, length, hidden = x.shape
        size = hidden // self.heads

        def split(t):
            return t.view(batch, length, self.heads, size).transpose(1, 2)

        q = split(self._linear(x, f"{p}.attention.self.query"))
        k = split(self._linear(x, f"{p}.attention.self.key"))
        v = split(self._linear(x, f"{p}.attention.self.value"))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(size) + bias
        context = torch.matmul(scores.softmax(dim=-1), v).transpose(1, 2).reshape(batch, length, hidden)
        x = self._norm(x + self._linear(context, f"{p}.attention.output.dense"), f"{p}.attention.output.LayerNorm")
        inner = F.gelu(self._linear(x, f"{p}.intermediate.dense"))
        return self._norm(x + self._linear(inner, f"{p}.output.dense"), f"{p}.output.LayerNorm")

    def encode(self, texts: list[str]) -> np.ndarray:
        """L2-normalised mean-pooled embeddings, one row per text."""
        torch = self.torch
        encodings = self.tokenizer.encode_batch(list(texts))
        ids = torch.tensor([e.ids for e in encodings], dtype=torch.long)
        mask = torch.tensor([e.attention_mask for e in encodings], dtype=torch.float32)
        types = torch.tensor([e.type_ids for e in encodings], dtype=torch.long)
        w = self.weights
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # one short query: one thread is as fast and does not stall when cores are busy
        try:
            return self._forward(ids, mask, types, w)
        finally:
            torch.set_num_threads(threads)

    def _forward(self, ids, mask, types, w) -> np.ndarray:
        """The BERT forward pass, mean pooling and normalisation."""
        torch = self.torch
        with torch.inference_mode():
            positions = torch.arange(ids.shape[1]).unsqueeze(0)
            x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][positions] \
                + w["embeddings.token_type_embeddings.weight"][types]
            x = self._norm(x, "embeddings.LayerNorm")
            bias = ((1.0 - mask) * torch.finfo(torch.float32).min)[:, None, None, :]
            for i in range(self.layers):
                x = self._layer(x, bias, i)
            summed = (x * mask.unsqueeze(-1)).sum(dim=1)
            pooled = summed / mask.sum(dim=1, keepdim=True).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=1).numpy().astype(np.float32)
