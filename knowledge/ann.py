"""Approximate nearest neighbours for large indexes: an HNSW graph (usearch) over each sentence's fused vector."""

from __future__ import annotations

import os

import numpy as np

# Below this many sentences search stays exhaustive and exact (the real corpus has a few hundred).
ANN_MIN_SENTENCES = 20_000
ANN_FETCH = 100  # rows the graph returns per query; their exact similarities decide
# The dense part of the fixed fusion that picks candidates is linear in the query vector:
# 0.5·(q·sentence) + (q·window) + 0.6·(q·passage) = q·(0.5·sentence + window + 0.6·passage).
FUSION_WEIGHTS = (0.5, 1.0, 0.6)


def fused_vectors(sentence: np.ndarray, window: np.ndarray, passage_of_sentence: np.ndarray) -> np.ndarray:
    """Each sentence's fused dense vector (float32), whose inner product with a query is its dense fusion score."""
    a, b, c = FUSION_WEIGHTS
    out = np.empty(sentence.shape, dtype=np.float32)
    step = 65_536  # in slices: no float32 copy of the whole matrices at once
    for start in range(0, len(out), step):
        end = start + step
        out[start:end] = a * sentence[start:end].astype(np.float32) + window[start:end].astype(np.float32) \
            + c * passage_of_sentence[start:end].astype(np.float32)
    return out


class DenseANN:
    """An inner-product HNSW graph over fused sentence vectors, stored as int8 (the exact vectors live elsewhere)."""

    def __init__(self, vectors: np.ndarray, connectivity: int = 16, expansion_add: int = 64,
                 expansion_search: int = 256) -> None:
        from usearch.index import Index

        self.size = len(vectors)
        self.graph = Index(ndim=vectors.shape[1], metric="ip", dtype="i8", connectivity=connectivity,
                           expansion_add=expansion_add, expansion_search=expansion_search)
        if self.size:
            self.graph.add(np.arange(self.size, dtype=np.uint64), np.ascontiguousarray(vectors, dtype=np.float32),
                           threads=os.cpu_count() or 1)

    def search(self, vector: np.ndarray, count: int = ANN_FETCH) -> np.ndarray:
        """Sentence rows whose fused vectors have (approximately) the largest inner products with `vector`."""
        if not self.size:
            return np.zeros(0, dtype=np.int64)
        found = self.graph.search(np.asarray(vector, dtype=np.float32), min(count, self.size), threads=1)
        return np.asarray(found.keys, dtype=np.int64)

    @property
    def nbytes(self) -> int:
        """Memory the graph and its int8 vectors take."""
        return int(self.graph.memory_usage)
