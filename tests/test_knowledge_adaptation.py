"""Fine-tuning the packaged model: what is trained, what is stored, and both encoders agree on the result."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge.adaptation import (
    STORED_KEPT, StoredTunings, TrainingPlan, adaptation_meta, batches, fine_tune, save_adaptation, training_pairs,
    tuning_key,
)
from knowledge.crossfit import base_encoder, cross_fit
from knowledge.embeddings import ADAPTED_SUFFIX, SMALL_MODEL, Embedder, ModelUnavailable, file_id
from knowledge.labelled import folds, groups, shipped_items
from knowledge.memory import memory_text

TEXTS = ["Which currencies do Russia and China use for trade?", "@everyone 🤔 — “quotes”, 中文"]


@pytest.fixture(scope="module")
def tuned(engine):
    """A quick fine-tuning (one epoch on 30 questions) of the small packaged model."""
    items = [i for i in shipped_items() if i.in_scope][:30]
    pairs = training_pairs(items, engine.index, groups(items))
    return fine_tune(base_encoder(SMALL_MODEL), pairs, TrainingPlan(epochs=1, batch_size=8))


def test_training_pairs_hold_a_span_of_the_answer(engine):
    items = shipped_items()
    pairs = training_pairs(items, engine.index, groups(items))
    answerable = [i for i in items if i.in_scope]
    assert len({q for q, _, _ in pairs}) >= 0.9 * len(answerable)
    by_question = {}
    for question, text, _ in pairs:
        by_question.setdefault(question, []).append(text.lower())
    for item in answerable[:40]:
        texts = by_question.get(item.question, [])
        assert not texts or any(any(s.lower() in t for s in item.answer_contains) for t in texts), item.id
    assert not any(q == i.question for q, _, _ in pairs for i in items if not i.in_scope)


def test_batches_never_repeat_an_answer_or_a_group():
    pairs = [(f"q{n}", f"a{n % 5}", n % 7) for n in range(60)]
    import random

    for batch in batches(pairs, 8, random.Random(1)):
        assert len({pairs[n][1] for n in batch}) == len(batch) == len({pairs[n][2] for n in batch})


def test_fine_tuning_changes_the_layers_only_and_keeps_float16_precision(tuned):
    base = base_encoder(SMALL_MODEL).weights
    assert not any(name.startswith("embeddings.word_embeddings") for name in tuned)
    assert any(name.startswith("encoder.layer.5.") for name in tuned)
    changed = [n for n, w in tuned.items() if not np.allclose(w.numpy(), base[n].numpy(), atol=1e-6)]
    assert len(changed) > len(tuned) // 2
    for tensor in tuned.values():
        assert np.array_equal(tensor.numpy(), tensor.half().float().numpy())


def test_stored_weights_load_the_same_in_both_encoders(tuned, tmp_path):
    path = save_adaptation(tuned, tmp_path / "adapted-model.safetensors", {"hash": "abc"})
    assert adaptation_meta(path) == {"hash": "abc"}
    embedder = Embedder(SMALL_MODEL + ADAPTED_SUFFIX, adaptation=path)
    assert embedder.model_name == f"{SMALL_MODEL}{ADAPTED_SUFFIX}@{file_id(path)}"
    fast, full = embedder.encode_queries(TEXTS), embedder.encode(TEXTS)
    assert np.abs(fast - full).max() < 1e-4
    plain = Embedder(SMALL_MODEL).encode_queries(TEXTS)
    assert np.abs(fast - plain).max() > 1e-3  # the fine-tuned weights are in use


def test_a_damaged_weights_file_is_one_sentence(tmp_path):
    path = tmp_path / "adapted-model.safetensors"
    path.write_bytes(b"not a safetensors file")
    embedder = Embedder(SMALL_MODEL + ADAPTED_SUFFIX, adaptation=path)
    with pytest.raises(ModelUnavailable, match="can't be read .*EMBEDDING_MODEL=all-MiniLM-L6-v2"):
        embedder.encode_queries(TEXTS)
    with pytest.raises(ModelUnavailable, match="can't be read"):
        Embedder(SMALL_MODEL + ADAPTED_SUFFIX, adaptation=tmp_path / "missing.safetensors")


def test_cross_fitting_never_trains_a_fold_on_its_own_questions(engine, monkeypatch):
    """Each fold's model is fine-tuned without the fold, and its engine never remembers the fold's questions."""
    import knowledge.crossfit as crossfit

    seen: list[set[str]] = []

    def recording_fine_tune(encoder, pairs, plan):
        seen.append({question for question, _, _ in pairs})
        return {}  # the packaged weights: this test checks the bookkeeping, the quality test the fitting

    monkeypatch.setattr(crossfit, "fine_tune", recording_fine_tune)
    monkeypatch.setattr(crossfit, "_TUNED", {})  # models fitted by other tests are not reused, nor these kept
    items = shipped_items()[:60]
    fold_of = folds(items, 3)
    fitted = cross_fit(engine, items, k=3, final=True, base_name=SMALL_MODEL)
    assert len(seen) == 4  # three folds and the shipped fit
    for fold in range(3):
        held = {memory_text(i) for i, f in zip(items, fold_of) if f == fold}
        assert held and not held & seen[fold]
    answerable = {memory_text(i) for i in items if i.in_scope}
    assert len(answerable & seen[3]) >= 0.9 * len(answerable)
    for item, fold_engine in fitted.pairs:
        assert item.question not in {i.question for i in fold_engine.memory.items}
    assert fitted.ranker is not None and len(fitted.examples) == len(items)


def test_stored_tunings_keep_what_they_were_given_by_what_it_was_trained_on(tuned, tmp_path):
    pairs = [("why yuan?", "The settlements are in Yuan and Rubles.", 0)]
    key = tuning_key(pairs, TrainingPlan(), SMALL_MODEL)
    assert key != tuning_key(pairs, TrainingPlan(epochs=3), SMALL_MODEL)
    assert key != tuning_key(pairs + [("and rubles?", "Rubles.", 1)], TrainingPlan(), SMALL_MODEL)
    store = StoredTunings(tmp_path / "fine-tunes")
    assert store.get(key) is None
    store.put(key, tuned, {"pairs": 1})
    again = store.get(key)
    assert again.keys() == tuned.keys() and all(np.array_equal(again[k].numpy(), tuned[k].numpy()) for k in tuned)
    store.path(key).write_bytes(b"half a file")  # damaged: ignored, so the fold is simply trained again
    assert store.get(key) is None


def test_stored_tunings_keep_only_the_latest_and_never_fail_a_run(tmp_path):
    import os

    import torch

    store = StoredTunings(tmp_path / "fine-tunes")
    weights = {"encoder.layer.0.output.LayerNorm.bias": torch.zeros(4)}
    for n in range(STORED_KEPT + 2):
        store.put(f"k{n}", weights, {})
        os.utime(store.path(f"k{n}"), (n, n))
    kept = sorted(p.stem for p in store.folder.glob("*.safetensors"))
    assert len(kept) == STORED_KEPT and "k0" not in kept and "k1" not in kept
    blocked = StoredTunings(tmp_path / "a-file")
    (tmp_path / "a-file").write_text("not a folder")
    blocked.put("k", weights, {})  # can't be written: the run goes on without it
    assert blocked.get("k") is None


def test_cross_fitting_reuses_the_models_stored_by_an_earlier_run(engine, monkeypatch, tmp_path):
    import knowledge.crossfit as crossfit

    calls: list[int] = []

    def counting_fine_tune(encoder, pairs, plan):
        calls.append(len(pairs))
        return {"embeddings.LayerNorm.bias": encoder.weights["embeddings.LayerNorm.bias"].clone()}

    monkeypatch.setattr(crossfit, "fine_tune", counting_fine_tune)
    items = shipped_items()[:40]
    monkeypatch.setattr(crossfit, "_TUNED", {})
    cross_fit(engine, items, k=2, stored=tmp_path, base_name=SMALL_MODEL)
    assert len(calls) == 2 and len(list(tmp_path.glob("*.safetensors"))) == 2
    monkeypatch.setattr(crossfit, "_TUNED", {})  # a new process: only the disk remembers
    steps: list[str] = []
    fitted = cross_fit(engine, items, k=2, final=True, stored=tmp_path, on_step=steps.append, base_name=SMALL_MODEL)
    assert len(calls) == 3  # the two folds came from disk; only the shipped model was trained
    assert sum("reused the model fine-tuned" in s for s in steps) == 2
    assert fitted.engine is not None and len(list(tmp_path.glob("*.safetensors"))) == 3
