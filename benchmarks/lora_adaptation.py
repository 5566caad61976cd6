"""Teach the embedding model this domain: low-rank (LoRA) updates of MiniLM fitted on question -> answer pairs.

The update is a few hundred kilobytes (two thin matrices per linear layer), stored beside the ranker with the
hash of the data it was fitted on, and merged into the packaged weights when the model loads. Training is a
plain loop over the light encoder (knowledge/query_encoder.py) with in-batch negatives
(the MultipleNegativesRankingLoss of sentence-transformers).
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from knowledge.adaptation import batches  # the same batching as the shipped fine-tuning

TARGETS = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
           "intermediate.dense", "output.dense")
SHIPPED_ADAPTER = Path(__file__).parent / "data" / "adapter.safetensors"


class AdapterError(ValueError):
    """An adapter file that cannot be used, with a reason a person can act on."""


@dataclass(frozen=True)
class TrainingPlan:
    """How an adapter is fitted (the defaults were chosen by grouped cross-validation, see BENCHMARKS.md)."""

    rank: int = 8
    alpha: float = 16.0
    epochs: int = 3
    learning_rate: float = 5e-4
    batch_size: int = 16
    max_length: int = 128
    scale: float = 20.0
    seed: int = 13


def layer_names(layers: int) -> list[str]:
    """The linear layers that get a low-rank update."""
    return [f"encoder.layer.{i}.{t}" for i in range(layers) for t in TARGETS]


def merged(weights: dict, factors: dict, scaling: float) -> dict:
    """Weights with each layer's low-rank update added: W + (B @ A) * scaling."""
    out = dict(weights)
    for name, (a, b) in factors.items():
        out[f"{name}.weight"] = weights[f"{name}.weight"] + (b @ a) * scaling
    return out


def adapter_id(path: Path | str) -> str:
    """A short content hash of an adapter file (it names the adapted model in the embedding cache)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def save_adapter(path: Path | str, factors: dict, plan: TrainingPlan, meta: dict) -> None:
    """Write the low-rank factors and what they were fitted on (safetensors, atomically)."""
    from safetensors.torch import save_file

    tensors = {}
    for name, (a, b) in factors.items():
        tensors[f"{name}.lora_a"] = a.detach().contiguous()
        tensors[f"{name}.lora_b"] = b.detach().contiguous()
    metadata = {"rank": str(plan.rank), "alpha": str(plan.alpha), "meta": json.dumps(meta, sort_keys=True)}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    tmp.replace(path)


def load_adapter(path: Path | str) -> tuple[dict, float, dict]:
    """Read an adapter: (factors by layer name, scaling, metadata)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except FileNotFoundError:
        raise AdapterError(f"No adapter file at {path}.") from None
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise AdapterError(f"The adapter file {path} cannot be read ({exc}).") from None
    factors = {}
    for key in tensors:
        if key.endswith(".lora_a"):
            name = key.removesuffix(".lora_a")
            if f"{name}.lora_b" not in tensors:
                raise AdapterError(f"The adapter file {path} is damaged (no lora_b for {name}).")
            factors[name] = (tensors[key].float(), tensors[f"{name}.lora_b"].float())
    try:
        scaling = float(metadata["alpha"]) / float(metadata["rank"])
        meta = json.loads(metadata.get("meta", "{}"))
    except (KeyError, ValueError):
        raise AdapterError(f"The adapter file {path} has no usable metadata.") from None
    return factors, scaling, meta


def train_adapter(encoder, pairs: Sequence[tuple[str, str, int]], plan: TrainingPlan = TrainingPlan()) -> dict:
    """Fit low-rank factors on (question, answer text, group) pairs; return {layer: (A, B)}."""
    import torch

    torch.manual_seed(plan.seed)
    rng = random.Random(plan.seed)
    base = {k: v.detach() for k, v in encoder.weights.items()}
    factors = {}
    for name in layer_names(encoder.layers):
        out_features, in_features = base[f"{name}.weight"].shape
        a = torch.empty(plan.rank, in_features)
        torch.nn.init.kaiming_uniform_(a, a=5 ** 0.5)
        factors[name] = (a.requires_grad_(), torch.zeros(out_features, plan.rank, requires_grad=True))
    parameters = [t for pair in factors.values() for t in pair]
    optimiser = torch.optim.AdamW(parameters, lr=plan.learning_rate, weight_decay=0.0)
    scaling = plan.alpha / plan.rank
    truncation = encoder.tokenizer.truncation
    encoder.tokenizer.enable_truncation(plan.max_length)
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, threads))
    try:
        for _ in range(plan.epochs):
            for batch in batches(pairs, plan.batch_size, rng):
                weights = merged(base, factors, scaling)
                anchors = encoder.forward(*encoder.tensors([pairs[n][0] for n in batch]), weights)
                positives = encoder.forward(*encoder.tensors([pairs[n][1] for n in batch]), weights)
                logits = anchors @ positives.T * plan.scale
                loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(batch)))
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
    finally:
        if truncation:
            encoder.tokenizer.enable_truncation(truncation["max_length"])
        torch.set_num_threads(threads)
    return {name: (a.detach(), b.detach()) for name, (a, b) in factors.items()}


def training_pairs(items, index, memory_texts: Sequence[str], item_groups: Sequence[int]) -> list[tuple[str, str, int]]:
    """(question, answering sentence / window, group) for every answerable labelled question."""
    from knowledge.memory import locate

    pairs = []
    for item, text, group in zip(items, memory_texts, item_groups):
        if not item.in_scope:
            continue
        window_rows, sentence_rows = locate(index, item.answer_contains)
        for row in sentence_rows[:2]:
            pairs.append((text, index.sentences[int(row)].text, group))
        hits = [int(r) for r in window_rows if int(r) not in set(int(s) for s in sentence_rows)]
        for row in (hits or [int(r) for r in window_rows])[:1]:
            pairs.append((text, index.window_text(row), group))
    return pairs


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
