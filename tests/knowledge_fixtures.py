"""Fixtures for the knowledge engine: the real engine once per session, a fake embedder for cache tests."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DEV_SET = SHARED / "eval" / "dev.jsonl"
RAW_ARTICLES = SHARED / "articles"


class HashEmbedder:
    """Deterministic stand-in for the model in cache tests: counts what it embeds."""

    def __init__(self, model_name: str = "fake-hash-model", dims: int = 16):
        self.model_name = model_name
        self.dims = dims
        self.encoded: list[str] = []

    def load(self):
        """Nothing to load."""
        return self

    def encode(self, texts, progress: bool = False) -> np.ndarray:
        """Unit vectors derived from each text's hash."""
        self.encoded.extend(texts)
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            vector = np.random.default_rng(seed).standard_normal(self.dims).astype(np.float32)
            rows.append(vector / np.linalg.norm(vector))
        return np.vstack(rows) if rows else np.zeros((0, self.dims), dtype=np.float32)


@pytest.fixture(scope="session")
def engine_cache(tmp_path_factory) -> Path:
    """One embedding cache for the whole test session."""
    return tmp_path_factory.mktemp("index") / "index.db"


@pytest.fixture(scope="session")
def engine(engine_cache):
    """The real engine over the packaged articles with the real model (built once)."""
    from knowledge import Engine

    return Engine.open(cache_path=engine_cache)


def copy_database(source: Path, target: Path) -> Path:
    """Copy a SQLite file consistently (its WAL included) with SQLite's backup API."""
    import sqlite3

    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return target


@pytest.fixture
def hash_embedder() -> HashEmbedder:
    """A fresh fake embedder."""
    return HashEmbedder()


@pytest.fixture
def article_dir(tmp_path) -> Path:
    """A writable copy of the packaged articles."""
    from knowledge.articles import PACKAGED_DIR

    target = tmp_path / "articles"
    target.mkdir()
    for path in PACKAGED_DIR.glob("*.md"):
        (target / path.name).write_bytes(path.read_bytes())
    return target
