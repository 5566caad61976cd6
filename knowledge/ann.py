"""Approximate nearest neighbours for large indexes: a faiss inverted file (IVF, product-quantised codes) over fused
vectors; and the 8-bit rows large indexes keep their sentence, window and passage vectors in."""

from __future__ import annotations

import os
import threading

import numpy as np

# Below this many sentences search stays exhaustive and exact (the real corpus has a few hundred).
ANN_MIN_SENTENCES = 20_000
ANN_FETCH = 200  # rows the approximate search returns per query; their exact similarities decide
# Product quantisation (one byte per PQ_DIMS dimensions) needs this many rows to train its 256 centroids per part;
# fewer rows get 4-bit scalar codes.
PQ_DIMS = 4
PQ_MIN_ROWS = 39 * 256
# Inverted lists searched per query: at 100k passages recall@10 is 1.000 for questions the corpus answers and
# 0.978 for questions nothing in it answers (near-ties everywhere), in about 2.5-3 ms (BENCHMARKS.md, "Scale run").
PROBES = 256
# The dense part of the fixed fusion that picks candidates is linear in the query vector:
# 0.5·(q·sentence) + (q·window) + 0.6·(q·passage) = q·(0.5·sentence + window + 0.6·passage).
FUSION_WEIGHTS = (0.5, 1.0, 0.6)
_FAISS_LOCK = threading.Lock()


def fused_vectors(sentence: np.ndarray, window: np.ndarray, passage_of_sentence: np.ndarray) -> np.ndarray:
    """Each sentence's fused dense vector (float32), whose inner product with a query is its dense fusion score."""
    a, b, c = FUSION_WEIGHTS
    out = np.empty(sentence.shape, dtype=np.float32)
    step = 65_536  # in slices: no float32 copy of the whole matrices at once
    for start in range(0, len(out), step):
        end = start + step
        out[start:end] = a * sentence[start:end].astype(np.float32) + b * window[start:end].astype(np.float32) \
            + c * passage_of_sentence[start:end].astype(np.float32)
    return out


class FusedRows:
    """The sentences' fused vectors as `fused_vectors` gives them, computed a slice or a set of rows at a time when
    read (`rows[a:b]`, `rows[ids]`): the approximate index is built without a float32 copy of every row."""

    def __init__(self, sentence, window, passage, sentence_passage: np.ndarray) -> None:
        self.sentence, self.window, self.passage = sentence, window, passage
        self.sentence_passage = np.asarray(sentence_passage)
        self.shape = (len(sentence), sentence.shape[1])

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows) -> np.ndarray:
        return fused_vectors(self.sentence[rows], self.window[rows], self.passage[self.sentence_passage[rows]])


def list_count(rows: int) -> int:
    """Inverted lists for `rows` vectors: about 4·√rows, with at least 39 training vectors per list."""
    return max(1, min(int(4 * np.sqrt(rows)), rows // 39))


class DenseANN:
    """Inner-product search over fused sentence vectors stored as short codes (the exact vectors live elsewhere).

    Product-quantised, one byte per 4 dimensions (96 bytes a row at 384 dimensions, a quarter of 8-bit codes): at
    100k passages, with the best 200 re-scored exactly, recall@10 is as with 8-bit codes and the best 100 (what it
    misses is in the lists not probed). Below PQ_MIN_ROWS rows, or dimensions not a multiple of 4: 4-bit codes."""

    def __init__(self, vectors, probes: int = PROBES, seed: int = 0, step: int = 65_536) -> None:
        """`vectors`: a float32 matrix, or rows read a slice at a time (`FusedRows`), added `step` rows at once."""
        import faiss

        if isinstance(vectors, np.ndarray):
            vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.size, dims = vectors.shape
        lists = list_count(self.size)
        self._quantizer = faiss.IndexFlatIP(dims)  # kept: the index refers to it
        if self.size >= PQ_MIN_ROWS and dims % PQ_DIMS == 0:
            self.index = faiss.IndexIVFPQ(self._quantizer, dims, lists, dims // PQ_DIMS, 8, faiss.METRIC_INNER_PRODUCT)
        else:
            self.index = faiss.IndexIVFScalarQuantizer(self._quantizer, dims, lists, faiss.ScalarQuantizer.QT_4bit,
                                                       faiss.METRIC_INNER_PRODUCT)
        sample = np.random.default_rng(seed).permutation(self.size)[: 40 * lists]
        with _FAISS_LOCK:
            faiss.omp_set_num_threads(os.cpu_count() or 1)
            try:
                if self.size:
                    sample = np.sort(sample)
                    training = np.empty((len(sample), dims), dtype=np.float32)
                    for start in range(0, len(sample), step):  # in slices: rows read lazily never pile up
                        training[start : start + step] = vectors[sample[start : start + step]]
                    self.index.train(training)
                    del training
                    for start in range(0, self.size, step):  # the same lists and codes as one add, in slices
                        self.index.add(np.ascontiguousarray(vectors[start : start + step], dtype=np.float32))
            finally:
                faiss.omp_set_num_threads(1)  # one query at a time per thread: no OpenMP pool per question
        self.index.nprobe = min(probes, lists)

    def search(self, vector: np.ndarray, count: int = ANN_FETCH) -> np.ndarray:
        """Sentence rows whose fused vectors have (approximately) the largest inner products with `vector`."""
        if not self.size:
            return np.zeros(0, dtype=np.int64)
        _, ids = self.index.search(np.asarray(vector, dtype=np.float32).reshape(1, -1), min(count, self.size))
        return ids[0][ids[0] >= 0].astype(np.int64)

    @property
    def nbytes(self) -> int:
        """Memory the codes and row ids take (about)."""
        return int(self.index.ntotal * (self.index.code_size + 8))


class Int8Rows:
    """A large index's sentence or window vectors: each row as int8 codes with one float32 scale (a quarter of
    float32, half of float16). Reading rows (`m[rows]`, `m[a:b]`) gives float32: codes × scale, within half a
    step (scale / 2) of the original in each dimension."""

    def __init__(self, matrix, step: int = 65_536) -> None:
        rows, dims = matrix.shape
        self.codes = np.empty((rows, dims), dtype=np.int8)
        self.scales = np.empty(rows, dtype=np.float32)
        for start in range(0, rows, step):  # in slices: no float32 copy of the whole matrix at once
            self.put(start, matrix[start : start + step])

    @classmethod
    def empty(cls, rows: int, dims: int) -> Int8Rows:
        """Room for `rows` vectors, filled by `put` (a matrix too large to hold as float32 at once)."""
        room = cls.__new__(cls)
        room.codes, room.scales = np.empty((rows, dims), dtype=np.int8), np.empty(rows, dtype=np.float32)
        return room

    def put(self, start: int, part) -> None:
        """Store float vectors as rows start, start + 1, …"""
        part = np.asarray(part, dtype=np.float32)
        top = np.abs(part).max(axis=1) if part.size else np.zeros(len(part), dtype=np.float32)
        scale = np.where(top > 0, top / 127.0, 1.0).astype(np.float32)
        self.codes[start : start + len(part)] = np.rint(part / scale[:, None])
        self.scales[start : start + len(part)] = scale

    @property
    def shape(self) -> tuple[int, int]:
        return self.codes.shape

    @property
    def size(self) -> int:
        return self.codes.size

    @property
    def ndim(self) -> int:
        return 2

    @property
    def dtype(self) -> np.dtype:
        return self.codes.dtype

    @property
    def nbytes(self) -> int:
        return self.codes.nbytes + self.scales.nbytes

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, key) -> np.ndarray:
        return self.codes[key].astype(np.float32) * self.scales[key][..., None]

    def __matmul__(self, vector: np.ndarray) -> np.ndarray:
        """Every row's inner product with `vector` (in slices)."""
        vector = np.asarray(vector, dtype=np.float32)
        step = 65_536
        return np.concatenate([self[start : start + step] @ vector for start in range(0, len(self), step)]
                              or [np.zeros(0, dtype=np.float32)])
