"""The light encoder reads MPNet models as sentence-transformers does, cuts layers, and runs in bfloat16."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from knowledge.embeddings import model_path
from knowledge.query_encoder import QueryEncoder, UnsupportedModel, relative_buckets

TEXTS = [
    "What currencies do Russia and China use for their trade?",
    "x",
    "@everyone 🤔 — “quotes”, émigrés, 中文, and <@123> mentions",
    "A long text that goes past the model's 256 word pieces. " * 60,
]


@pytest.fixture(scope="module")
def tiny_mpnet(tmp_path_factory):
    """A small randomly initialised MPNet saved as a sentence-transformers folder (MiniLM's tokenizer)."""
    from transformers import MPNetConfig, MPNetModel

    folder = tmp_path_factory.mktemp("mpnet")
    source = model_path("all-MiniLM-L6-v2")
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json",
                 "modules.json", "sentence_bert_config.json"):
        shutil.copy(f"{source}/{name}", folder / name)
    shutil.copytree(f"{source}/1_Pooling", folder / "1_Pooling")
    torch.manual_seed(3)
    config = MPNetConfig(vocab_size=30527, hidden_size=64, num_hidden_layers=4, num_attention_heads=4,
                         intermediate_size=128, max_position_embeddings=514, pad_token_id=0)
    model = MPNetModel(config, add_pooling_layer=False)
    with torch.no_grad():  # a random model's relative bias starts near zero: make it matter
        model.encoder.relative_attention_bias.weight.normal_(0, 1.0)
    model.save_pretrained(folder, safe_serialization=True)
    return folder


def test_relative_buckets_match_transformers():
    from transformers.models.mpnet.modeling_mpnet import MPNetEncoder

    for length in (1, 2, 9, 70, 300):
        position = torch.arange(length)
        expected = MPNetEncoder.relative_position_bucket(position[None, :] - position[:, None], num_buckets=32)
        assert torch.equal(relative_buckets(length, 32), expected)


def test_mpnet_matches_sentence_transformers(tiny_mpnet):
    from sentence_transformers import SentenceTransformer

    fast = QueryEncoder(tiny_mpnet).encode(TEXTS)
    full = SentenceTransformer(str(tiny_mpnet), device="cpu").encode(TEXTS, normalize_embeddings=True)
    assert fast.shape == full.shape == (len(TEXTS), 64)
    assert np.abs(fast - full).max() < 1e-5


def test_a_cut_model_is_the_model_saved_with_those_layers(tiny_mpnet, tmp_path):
    from transformers import MPNetModel

    model = MPNetModel.from_pretrained(tiny_mpnet, add_pooling_layer=False)
    model.encoder.layer = torch.nn.ModuleList([model.encoder.layer[i] for i in (0, 3)])
    model.config.num_hidden_layers = 2
    folder = tmp_path / "cut"
    shutil.copytree(tiny_mpnet, folder)
    model.save_pretrained(folder, safe_serialization=True)
    cut = QueryEncoder(tiny_mpnet, layers=[0, 3]).encode(TEXTS)
    assert np.abs(cut - QueryEncoder(folder).encode(TEXTS)).max() < 1e-6
    assert np.abs(cut - QueryEncoder(tiny_mpnet).encode(TEXTS)).max() > 1e-3  # the cut changes the vectors
    with pytest.raises(UnsupportedModel):
        QueryEncoder(tiny_mpnet, layers=[0, 4])
    with pytest.raises(UnsupportedModel):
        QueryEncoder(tiny_mpnet, layers=[])


def test_bfloat16_keeps_the_vectors():
    folder = model_path("all-MiniLM-L6-v2")
    exact = QueryEncoder(folder).encode(TEXTS)
    half = QueryEncoder(folder, dtype="bfloat16").encode(TEXTS)
    assert half.dtype == np.float32 and np.allclose(np.linalg.norm(half, axis=1), 1.0, atol=1e-5)
    assert (exact * half).sum(axis=1).min() > 0.995
    with pytest.raises(UnsupportedModel):
        QueryEncoder(folder, dtype="float16")


def test_mpnet_config_is_read(tiny_mpnet):
    assert json.loads((tiny_mpnet / "config.json").read_text())["model_type"] == "mpnet"
    assert QueryEncoder(tiny_mpnet).kind == "mpnet"
