"""Cross-fitting: fine-tune the embedding model and fit the ranker so that every figure comes from unseen questions.

For k folds of the labelled questions, a model is fine-tuned on the other folds and scores the fold's questions
(their candidates and features). The ranker is fitted on those out-of-fold rows, so it learns how a fine-tuned
model behaves on questions it never saw. The cross-validated figures use, for each fold, that fold's model, a
ranker fitted on the other folds' rows, and a memory without the fold. What ships is a model fine-tuned on
everything with the ranker fitted on all the out-of-fold rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Collection, Sequence

from knowledge.adaptation import StoredTunings, TrainingPlan, fine_tune, training_pairs, tuning_key
from knowledge.embeddings import BASE_MODEL, Embedder, model_path, model_shape
from knowledge.engine import Engine
from knowledge.labelled import LabelledItem, folds, groups, items_hash
from knowledge.ranker import Ranker
from knowledge.training import Example, examples_for, fit_examples, prepare


TUNED_KEPT = 12  # fine-tuned models kept in this process (training with and without the log reuses them)
_TUNED: dict = {}


@dataclass
class CrossFit:
    """The cross-validated engines (one per item) and, when asked for, what ships."""

    pairs: list[tuple[LabelledItem, Engine]]
    examples: list[Example]
    weights: dict | None = None
    ranker: Ranker | None = None
    engine: Engine | None = None


def adapted_engine(weights: dict, tag: str, knowledge_dir: Path | str | None, base_name: str = BASE_MODEL) -> Engine:
    """An engine over the articles with a fine-tuned model held in memory (its index is not cached on disk)."""
    embedder = Embedder.with_weights(base_name, weights, tag)
    return Engine.open(knowledge_dir, cache_path=None, embedder=embedder, remembered=[])


def base_encoder(base_name: str = BASE_MODEL):
    """The packaged model's light encoder (float32, cut as the model is), the starting point of every fine-tuning."""
    from knowledge.query_encoder import QueryEncoder

    layers = model_shape(base_name).layers
    return QueryEncoder(model_path(base_name), layers=list(layers) if layers is not None else None)


def cross_fit(
    index_engine: Engine, items: Sequence[LabelledItem], k: int = 5, plan: TrainingPlan = TrainingPlan(),
    knowledge_dir: Path | str | None = None, extra_training: Sequence[LabelledItem] = (),
    final: bool = False, on_step: Callable[[str], None] | None = None, fold_of: Sequence[int] | None = None,
    tune_on: Collection[str] | None = None, stored: Path | str | None = None, base_name: str = BASE_MODEL,
) -> CrossFit:
    """Out-of-fold models and ranker rows for `items`; with `final`, also the model and ranker that ship.

    `index_engine` only locates answer spans (any model will do); `extra_training` items join every fold's
    training data, the memory and the shipped model, never a fold's test data (they have no out-of-fold rows,
    so the ranker does not learn from them). `tune_on` (item ids) limits what the model is fine-tuned on: the
    other items still train the ranker and the memory. A model fitted on the same questions before, in this
    process or (with `stored`, a folder) in an earlier run, is reused. `base_name` is the packaged model that
    is fine-tuned.
    """
    items = list(items)
    extra = list(extra_training)
    everything = items + extra
    group_of = dict(zip([i.id for i in everything], groups(everything)))
    fold_of = list(fold_of) if fold_of is not None else folds(items, k)
    encoder = None
    disk = StoredTunings(stored) if stored is not None else None
    step = on_step or (lambda _message: None)

    def tuned(train: list[LabelledItem], tag: str) -> tuple[Engine, dict]:
        nonlocal encoder
        train = [i for i in train if tune_on is None or i.id in tune_on]
        pairs = training_pairs(train, index_engine.index, [group_of[i.id] for i in train])
        key = (tuple(pairs), plan, str(knowledge_dir), index_engine.index.model_name, base_name)
        if key not in _TUNED:
            disk_key = tuning_key(pairs, plan, base_name)
            weights = disk.get(disk_key) if disk else None
            if weights is None:
                encoder = encoder or base_encoder(base_name)
                weights = fine_tune(encoder, pairs, plan)
                if disk:
                    disk.put(disk_key, weights, {"pairs": len(pairs), "tag": tag})
            else:
                step(f"{tag}: reused the model fine-tuned on the same questions before (kept in {disk.folder})")
            _TUNED[key] = (adapted_engine(weights, tag, knowledge_dir, base_name), weights)
            while len(_TUNED) > TUNED_KEPT:
                _TUNED.pop(next(iter(_TUNED)))
        return _TUNED[key]

    examples: list[Example] = []
    fold_engines: list[Engine] = []
    fold_examples: list[list[Example]] = []
    for fold in range(k):
        held = [i for i, f in zip(items, fold_of) if f == fold]
        train = [i for i, f in zip(items, fold_of) if f != fold] + extra
        engine, _ = tuned(train, f"fold{fold}")
        memory = engine.remember(everything)
        rows = examples_for(engine, prepare(engine, held), memory)
        fold_engines.append(engine.with_knowledge(memory=memory.without({i.id for i in held})))
        fold_examples.append(rows)
        examples.extend(rows)
        step(f"fold {fold + 1} of {k} fine-tuned and scored")
    pairs: list[tuple[LabelledItem, Engine]] = []
    for fold in range(k):
        others = [e for f, rows in enumerate(fold_examples) if f != fold for e in rows]
        ranker = fit_examples(others, fold_engines[fold].embedder.model_name)
        engine = fold_engines[fold].with_knowledge(ranker)
        pairs.extend((i, engine) for i, f in zip(items, fold_of) if f == fold)
    order = {item.id: n for n, item in enumerate(items)}
    pairs.sort(key=lambda pair: order[pair[0].id])
    result = CrossFit(pairs, examples)
    if final:
        engine, result.weights = tuned(everything, "final")
        step("the shipped model fine-tuned on every question")
        result.ranker = fit_examples(examples, engine.embedder.model_name).with_training(
            items=len(everything), hash=items_hash(everything))
        result.engine = engine.with_knowledge(result.ranker, engine.remember(everything))
    return result
