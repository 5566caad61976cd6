"""The light query encoder gives the same vectors as sentence-transformers, and unknown models fall back."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from knowledge.embeddings import Embedder, model_path
from knowledge.query_encoder import PAD_MULTIPLE, QueryEncoder, UnsupportedModel, padding_multiple

TEXTS = [
    "What currencies do Russia and China use for their trade?",
    "x",
    "@everyone 🤔 — “quotes”, émigrés, 中文, and <@123> mentions",
    "A long text that goes past the model's 256 word pieces. " * 60,
]


def test_query_encoder_matches_sentence_transformers():
    folder = model_path("all-MiniLM-L6-v2")
    fast = QueryEncoder(folder).encode(TEXTS)
    full = Embedder("all-MiniLM-L6-v2").encode(TEXTS)
    assert fast.shape == full.shape == (len(TEXTS), 384)
    assert np.abs(fast - full).max() < 1e-4
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)


def test_unsupported_model_folder_falls_back(tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(model_path("all-MiniLM-L6-v2"), folder)
    modules = json.loads((folder / "modules.json").read_text())
    (folder / "modules.json").write_text(json.dumps(modules[:2]))  # no Normalize module
    with pytest.raises(UnsupportedModel):
        QueryEncoder(folder)
    embedder = Embedder(str(folder))
    vectors = embedder.encode_queries(["Who is Kurt Campbell?"])
    assert vectors.shape == (1, 384) and embedder.load_query_encoder() is False


def test_sentence_transformers_6_folder_is_accepted(tmp_path):
    """A folder saved by sentence-transformers 6.x names its modules and pooling differently; same weights."""
    folder = tmp_path / "model"
    shutil.copytree(model_path("all-MiniLM-L6-v2"), folder)
    modules = json.loads((folder / "modules.json").read_text())
    modules[0]["type"] = "sentence_transformers.base.modules.transformer.Transformer"
    modules[1]["type"] = "sentence_transformers.sentence_transformer.modules.pooling.Pooling"
    modules[2]["type"] = "sentence_transformers.base.modules.normalize.Normalize"
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps({"embedding_dimension": 384, "pooling_mode": "mean", "include_prompt": True}))
    fast = QueryEncoder(folder).encode(TEXTS[:2])
    assert np.abs(fast - QueryEncoder(model_path("all-MiniLM-L6-v2")).encode(TEXTS[:2])).max() < 1e-6


def test_question_lengths_share_a_few_padded_shapes_and_padding_never_moves_a_vector():
    encoder = QueryEncoder(model_path("all-MiniLM-L6-v2"))
    questions = [" ".join(["oil"] * n) for n in range(1, 300)]
    shapes = {encoder.tensors([q])[0].shape[1] for q in questions}
    assert all(length % PAD_MULTIPLE == 0 for length in shapes) and len(shapes) == 256 // PAD_MULTIPLE
    one_by_one = np.vstack([encoder.encode([q]) for q in questions[::37]])
    unpadded = QueryEncoder(model_path("all-MiniLM-L6-v2"))
    unpadded.tokenizer.enable_padding(pad_id=unpadded.pad_id)
    assert np.abs(one_by_one - np.vstack([unpadded.encode([q]) for q in questions[::37]])).max() < 1e-5


def test_padding_never_passes_the_models_longest_input():
    assert padding_multiple(256) == padding_multiple(384) == PAD_MULTIPLE
    assert padding_multiple(250) is None
