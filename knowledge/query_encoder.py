"""A light query encoder for BERT and MPNet sentence-transformers models: torch + tokenizers, no heavy imports.

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

SUPPORTED_MODULES = ("Transformer", "Pooling", "Normalize")  # the class names, whatever module path holds them
MPNET_PADDING_IDX = 1  # transformers' MPNetEmbeddings fixes it at 1 whatever the config says
# Token lengths are padded to a multiple of this: torch's oneDNN kernels (bfloat16) are compiled and cached once per
# tensor shape, so every new question length cost a compile and about 0.2 MB kept (1,024 shapes: +250 MB).
PAD_MULTIPLE = 16


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
    if tuple(m.rsplit(".", 1)[-1] for m in modules) != SUPPORTED_MODULES or \
            not all(m.startswith("sentence_transformers.") for m in modules):
        raise UnsupportedModel(f"modules {modules} are not Transformer + Pooling + Normalize")
    if not mean_pooling(pooling):
        raise UnsupportedModel("only mean pooling is supported")
    if config.get("model_type") not in ("bert", "mpnet") or config.get("hidden_act") != "gelu" or \
            config.get("position_embedding_type", "absolute") != "absolute":
        raise UnsupportedModel("only BERT (absolute positions) and MPNet models with GELU are supported")
    if not (folder / "model.safetensors").exists() or not (folder / "tokenizer.json").exists():
        raise UnsupportedModel("model.safetensors or tokenizer.json is missing")
    return config


def padding_multiple(max_length: int, multiple: int = PAD_MULTIPLE) -> int | None:
    """The multiple to pad token lengths to, or None when padding could pass the model's longest input."""
    return multiple if max_length % multiple == 0 else None


def mean_pooling(pooling: dict) -> bool:
    """True for a mean-pooling config, in the sentence-transformers 2-5 form or the 6.x form."""
    if "pooling_mode" in pooling:
        mode = pooling["pooling_mode"]
        return mode == "mean" or mode == ["mean"]
    return bool(pooling.get("pooling_mode_mean_tokens")) and not any(
        pooling.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens")
    )


# Where each family keeps a layer's tensors: attention projections and norms.
LAYER_NAMES = {
    "bert": {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "o": "attention.output.dense", "norm": "attention.output.LayerNorm"},
    "mpnet": {"q": "attention.attn.q", "k": "attention.attn.k", "v": "attention.attn.v",
              "o": "attention.attn.o", "norm": "attention.LayerNorm"},
}


def relative_buckets(length: int, buckets: int = 32, max_distance: int = 128):
    """MPNet's (T5-style) relative position bucket of every (query, key) pair of a sequence."""
    import torch

    position = torch.arange(length)
    n = -(position[None, :] - position[:, None])
    half = buckets // 2
    result = (n < 0).long() * half
    n = n.abs()
    exact = half // 2
    large = exact + (torch.log(n.float() / exact) / math.log(max_distance / exact) * (half - exact)).long()
    large = torch.clamp(large, max=half - 1)
    return result + torch.where(n < exact, n, large)


class QueryEncoder:
    """Encode short texts with a BERT or MPNet sentence-transformer's weights (CPU, inference only).

    `layers` keeps only those transformer layers, in order (a cut model); `dtype="bfloat16"` runs the layers in
    bfloat16 (about half the time on CPUs with AVX-512 BF16 or AMX), with pooling in float32.
    """

    def __init__(self, folder: Path | str, overrides: dict | None = None, layers: list[int] | None = None,
                 dtype: str = "float32"):
        import torch
        from tokenizers import Tokenizer

        folder = Path(folder)
        self.config = check_model_folder(folder)
        self.kind = self.config["model_type"]
        self.names = LAYER_NAMES[self.kind]
        try:
            max_length = int(json.loads((folder / "sentence_bert_config.json").read_text()).get("max_seq_length", 256))
        except (OSError, ValueError):
            max_length = 256
        self.torch = torch
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length)
        self.pad_id = int(self.config.get("pad_token_id", 0))
        self.tokenizer.enable_padding(pad_id=self.pad_id, pad_to_multiple_of=padding_multiple(max_length))
        total = int(self.config["num_hidden_layers"])
        self.kept = list(range(total)) if layers is None else list(layers)
        if not self.kept or any(not 0 <= i < total for i in self.kept):
            raise UnsupportedModel(f"layers {self.kept} are not within the model's {total}")
        weights, names = self.packaged(folder / "model.safetensors", set(overrides or ()))
        unknown = sorted(set(overrides or ()) - names)
        if unknown:
            raise UnsupportedModel(f"the fine-tuned weights hold tensors this model lacks ({unknown[0]})")
        weights.update(overrides or {})
        if dtype not in ("float32", "bfloat16"):
            raise UnsupportedModel(f"dtype {dtype!r} is not float32 or bfloat16")
        self.dtype = getattr(torch, dtype)
        self.weights = {k: v.to(self.dtype if k.startswith("encoder.layer.") else torch.float32)
                        for k, v in weights.items()}
        self.heads = int(self.config["num_attention_heads"])
        self.layers = len(self.kept)
        self.eps = float(self.config.get("layer_norm_eps", 1e-12))

    def packaged(self, path: Path, replaced: set[str]) -> tuple[dict, set[str]]:
        """The packaged tensors (kept layers numbered 0… as kept) that no override replaces, and every kept name.

        Tensors of layers cut away, and those the fine-tuned weights replace, are never read from the file.
        """
        from safetensors import safe_open

        number = {old: new for new, old in enumerate(self.kept)}
        weights, names = {}, set()
        with safe_open(str(path), framework="pt") as handle:
            for key in handle.keys():
                name = key.removeprefix("bert.").removeprefix("mpnet.")
                if name.startswith("encoder.layer."):
                    old, rest = name[len("encoder.layer."):].split(".", 1)
                    if int(old) not in number:
                        continue
                    name = f"encoder.layer.{number[int(old)]}.{rest}"
                names.add(name)
                if name not in replaced:
                    weights[name] = handle.get_tensor(key)
        return weights, names

    def _norm(self, x, name: str, w: dict):
        return self.torch.nn.functional.layer_norm(x, x.shape[-1:], w[f"{name}.weight"], w[f"{name}.bias"], self.eps)

    def _linear(self, x, name: str, w: dict):
        return self.torch.nn.functional.linear(x, w[f"{name}.weight"], w[f"{name}.bias"])

    def _layer(self, x, bias, i: int, w: dict):
        torch, F, names = self.torch, self.torch.nn.functional, self.names
        p = f"encoder.layer.{i}"
        batch, length, hidden = x.shape
        size = hidden // self.heads

        def split(t):
            return t.view(batch, length, self.heads, size).transpose(1, 2)

        q = split(self._linear(x, f"{p}.{names['q']}", w))
        k = split(self._linear(x, f"{p}.{names['k']}", w))
        v = split(self._linear(x, f"{p}.{names['v']}", w))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(size) + bias
        context = torch.matmul(scores.softmax(dim=-1), v).transpose(1, 2).reshape(batch, length, hidden)
        x = self._norm(x + self._linear(context, f"{p}.{names['o']}", w), f"{p}.{names['norm']}", w)
        inner = F.gelu(self._linear(x, f"{p}.intermediate.dense", w))
        return self._norm(x + self._linear(inner, f"{p}.output.dense", w), f"{p}.output.LayerNorm", w)

    def tensors(self, texts: list[str]):
        """Token ids, attention mask and token types of a batch of texts."""
        torch = self.torch
        encodings = self.tokenizer.encode_batch(list(texts))
        ids = torch.tensor([e.ids for e in encodings], dtype=torch.long)
        mask = torch.tensor([e.attention_mask for e in encodings], dtype=torch.float32)
        types = torch.tensor([e.type_ids for e in encodings], dtype=torch.long)
        return ids, mask, types

    def encode(self, texts: list[str], threads: int = 1, batch_size: int = 32) -> np.ndarray:
        """L2-normalised mean-pooled embeddings, one row per text (longest texts batched together)."""
        torch = self.torch
        texts = list(texts)
        before = torch.get_num_threads()
        torch.set_num_threads(threads)  # one short query: one thread is as fast and does not stall when cores are busy
        try:
            if len(texts) <= batch_size:
                with torch.inference_mode():
                    return self.forward(*self.tensors(texts)).numpy().astype(np.float32)
            order = sorted(range(len(texts)), key=lambda n: len(texts[n]))
            out = np.zeros((len(texts), int(self.config["hidden_size"])), dtype=np.float32)
            with torch.inference_mode():
                for start in range(0, len(order), batch_size):
                    chunk = order[start : start + batch_size]
                    out[chunk] = self.forward(*self.tensors([texts[n] for n in chunk])).numpy()
            return out
        finally:
            torch.set_num_threads(before)

    def forward(self, ids, mask, types, weights: dict | None = None):
        """The forward pass, mean pooling and normalisation (differentiable when weights need it)."""
        torch = self.torch
        w = self.weights if weights is None else weights
        if self.kind == "mpnet":
            real = (ids != MPNET_PADDING_IDX).long()  # fairseq-style positions: start after the padding index
            positions = torch.cumsum(real, dim=1) * real + MPNET_PADDING_IDX
            x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][positions]
        else:
            positions = torch.arange(ids.shape[1]).unsqueeze(0)
            x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][positions] \
                + w["embeddings.token_type_embeddings.weight"][types]
        x = self._norm(x, "embeddings.LayerNorm", w).to(self.dtype)
        bias = ((1.0 - mask) * torch.finfo(torch.float32).min)[:, None, None, :]
        if self.kind == "mpnet":
            buckets = relative_buckets(ids.shape[1], int(self.config.get("relative_attention_num_buckets", 32)))
            bias = bias + w["encoder.relative_attention_bias.weight"][buckets].permute(2, 0, 1).unsqueeze(0)
        bias = bias.to(self.dtype)
        for i in range(self.layers):
            x = self._layer(x, bias, i, w)
        x = x.float()
        summed = (x * mask.unsqueeze(-1)).sum(dim=1)
        pooled = summed / mask.sum(dim=1, keepdim=True).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=1)
