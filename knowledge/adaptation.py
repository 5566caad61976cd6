"""Teach the embedding model this domain: fine-tune it on labelled question -> answer pairs.

Training is a plain loop over the light encoder (knowledge/query_encoder.py) with in-batch negatives (the
MultipleNegativesRankingLoss of sentence-transformers). Only the fine-tuned tensors are stored (float16: about
21 MB for MiniLM, 125 MB for the 9-layer mpnet); knowledge/embeddings.py lays them over the packaged model's
weights when the model loads.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

from knowledge.labelled import LabelledItem
from knowledge.memory import locate, memory_text



@dataclass(frozen=True)
class TrainingPlan:
    """How the model is fine-tuned (chosen by grouped cross-validation, see BENCHMARKS.md)."""

    epochs: int = 2
    learning_rate: float = 2e-5
    batch_size: int = 16
    max_length: int = 128
    scale: float = 20.0
    seed: int = 13
    freeze_embeddings: bool = True  # the word embeddings stay as packaged (a smaller file, less to overfit)


Pair = tuple[str, str, int]  # (question text, answer text, follow-up group)
RECIPE = "minilm-mnrl-1"  # names the training loop below: change it when the loop changes, and old files go unused
STORED_KEPT = 6  # fine-tuned models kept on disk: the five folds of `eval` and what `train` adds to them


def training_pairs(items: Sequence[LabelledItem], index, item_groups: Sequence[int]) -> list[Pair]:
    """(question, answering sentence / window, group) for every answerable labelled question."""
    pairs: list[Pair] = []
    for item, group in zip(items, item_groups):
        if not item.in_scope:
            continue
        window_rows, sentence_rows = locate(index, item.answer_contains)
        text = memory_text(item)
        for row in sentence_rows[:2]:
            pairs.append((text, index.sentences[int(row)].text, group))
        sentence_set = {int(s) for s in sentence_rows}
        hits = [int(r) for r in window_rows if int(r) not in sentence_set]
        for row in (hits or [int(r) for r in window_rows])[:1]:
            pairs.append((text, index.window_text(row), group))
    return pairs


def batches(pairs: Sequence[Pair], size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches in which no answer text and no question group repeats (no false in-batch negatives)."""
    order = list(range(len(pairs)))
    rng.shuffle(order)
    open_batches: list[tuple[list[int], set[str], set[int]]] = []
    for n in order:
        _, positive, group = pairs[n]
        for batch, texts, seen in open_batches:
            if len(batch) < size and positive not in texts and group not in seen:
                batch.append(n)
                texts.add(positive)
                seen.add(group)
                break
        else:
            open_batches.append(([n], {positive}, {group}))
    result = [batch for batch, _, _ in open_batches if len(batch) > 1]
    rng.shuffle(result)
    return result


def fine_tune(encoder, pairs: Sequence[Pair], plan: TrainingPlan = TrainingPlan()) -> dict:
    """Fine-tune a copy of the encoder's weights on the pairs; return the new weights (the encoder is untouched)."""
    import torch

    torch.manual_seed(plan.seed)
    rng = random.Random(plan.seed)
    weights = {k: v.detach().clone() for k, v in encoder.weights.items()}
    trainable = [v for k, v in weights.items()
                 if not (plan.freeze_embeddings and k.startswith("embeddings.") and "LayerNorm" not in k)]
    for tensor in trainable:
        tensor.requires_grad_(True)
    optimiser = torch.optim.AdamW(trainable, lr=plan.learning_rate, weight_decay=0.0)
    truncation = encoder.tokenizer.truncation
    encoder.tokenizer.enable_truncation(plan.max_length)
    threads = torch.get_num_threads()
    torch.set_num_threads(os.cpu_count() or 1)  # every core (the query path may have left torch at one thread)
    try:
        steps = [b for _ in range(plan.epochs) for b in batches(pairs, plan.batch_size, rng)]
        for step, batch in enumerate(steps):
            for group in optimiser.param_groups:  # linear warm-up over the first 10% of steps, then linear decay
                warm = max(1, len(steps) // 10)
                group["lr"] = plan.learning_rate * min((step + 1) / warm, (len(steps) - step) / (len(steps) - warm + 1))
            anchors = encoder.forward(*encoder.tensors([pairs[n][0] for n in batch]), weights)
            positives = encoder.forward(*encoder.tensors([pairs[n][1] for n in batch]), weights)
            logits = anchors @ positives.T * plan.scale
            loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(batch)))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    finally:
        torch.set_num_threads(threads)
        if truncation:
            encoder.tokenizer.enable_truncation(truncation["max_length"])
        else:
            encoder.tokenizer.no_truncation()
    return {k: v.detach().to(torch.float16).float() for k, v in weights.items()
            if v.requires_grad and v.grad is not None}  # a tensor no loss reached (a pooler) is as packaged


def save_adaptation(weights: dict, path: Path | str, meta: dict) -> Path:
    """Write the fine-tuned tensors as float16 safetensors (atomically), with a note of their origin."""
    from safetensors.torch import save_file
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tensors = {name: tensor.to(torch.float16).contiguous() for name, tensor in sorted(weights.items())}
    save_file(tensors, str(tmp), metadata={"adaptation": json.dumps(meta, sort_keys=True)})
    tmp.chmod(0o644)
    tmp.replace(path)
    return path


def adaptation_meta(path: Path | str) -> dict:
    """The note stored with an adaptation file (empty when it has none)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        return json.loads((handle.metadata() or {}).get("adaptation", "{}"))


def plan_dict(plan: TrainingPlan) -> dict:
    """The plan as plain data (stored with the model)."""
    return asdict(plan)


def tuning_key(pairs: Sequence[Pair], plan: TrainingPlan, base_name: str) -> str:
    """What a fine-tuning depends on, hashed: the pairs, the plan, the base model and the training loop."""
    data = {"recipe": RECIPE, "base": base_name, "plan": plan_dict(plan), "pairs": [list(p) for p in pairs]}
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()[:24]


class StoredTunings:
    """Fine-tuned weights kept on disk by `tuning_key`, so `eval` then `train` fine-tune each fold once.

    Only a shortcut: an unreadable file is ignored (and trained again), a folder that can't be written is
    skipped, and only the STORED_KEPT most recently used files stay.
    """

    def __init__(self, folder: Path | str):
        self.folder = Path(folder)

    def path(self, key: str) -> Path:
        """The file for one key."""
        return self.folder / f"{key}.safetensors"

    def get(self, key: str) -> dict | None:
        """The weights stored under `key` (float32), or None."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        path = self.path(key)
        try:
            weights = {name: tensor.float() for name, tensor in load_file(str(path)).items()}
            os.utime(path)  # used now: pruning keeps it
        except (OSError, SafetensorError, ValueError, RuntimeError):
            return None
        return weights

    def put(self, key: str, weights: dict, meta: dict) -> None:
        """Store weights under `key` and drop the least recently used files beyond STORED_KEPT."""
        try:
            save_adaptation(weights, self.path(key), meta)
            stored = sorted(self.folder.glob("*.safetensors"), key=lambda p: p.stat().st_mtime, reverse=True)
            for old in stored[STORED_KEPT:]:
                old.unlink(missing_ok=True)
        except OSError:  # a read-only or full disk: the weights are still in hand, and nothing half-written stays
            with contextlib.suppress(OSError):
                self.path(key).with_name(self.path(key).name + ".tmp").unlink(missing_ok=True)
