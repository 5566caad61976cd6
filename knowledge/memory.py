"""A memory of questions already answered: each labelled question, its vector, and where its answer sits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from knowledge.index import Index
from knowledge.labelled import LabelledItem
from knowledge.rows import RowValues
from knowledge.text import fold_article_text


def similarities(vectors: np.ndarray, queries: list[np.ndarray]) -> np.ndarray:
    """Per remembered vector, its best dot product with any query: one way (einsum, one thread) for every caller,
    so the dense and the sparse scores agree to the last bit."""
    return np.max(np.vstack([np.einsum("ij,j->i", vectors, q) for q in queries]), axis=0)


def memory_text(item: LabelledItem) -> str:
    """The text a labelled question is remembered by: a follow-up carries its earlier question."""
    return " ".join([*item.previous[-1:], item.question])


@dataclass(frozen=True)
class Memory:
    """Labelled questions as vectors, with the sentence rows whose sentence or window holds an answer."""

    items: tuple[LabelledItem, ...]
    vectors: np.ndarray  # one query vector per item
    window_rows: tuple[np.ndarray, ...]  # per item: rows whose window holds an answer span
    sentence_rows: tuple[np.ndarray, ...]  # per item: rows whose sentence holds an answer span
    in_scope: np.ndarray  # bool per item

    @classmethod
    def empty(cls, dims: int = 384) -> "Memory":
        """A memory that knows nothing."""
        return cls((), np.zeros((0, dims), dtype=np.float32), (), (), np.zeros(0, dtype=bool))

    def __len__(self) -> int:
        return len(self.items)

    def without(self, ids: set[str]) -> "Memory":
        """The same memory minus some items (cross-validation: a question never remembers itself)."""
        keep = [n for n, item in enumerate(self.items) if item.id not in ids]
        return Memory(tuple(self.items[n] for n in keep), self.vectors[keep],
                      tuple(self.window_rows[n] for n in keep), tuple(self.sentence_rows[n] for n in keep),
                      self.in_scope[keep])

    def scores(self, vectors: list[np.ndarray], size: int, sparse: bool = False) -> tuple:
        """Per sentence row, the best similarity of a remembered question answered in its window / sentence,
        and the best similarity to remembered in-scope and out-of-scope questions (`sparse`: the per-row values
        as RowValues holding the remembered rows only, for large indexes)."""
        if sparse:
            return self._sparse_scores(vectors, size)
        window = np.zeros(size, dtype=np.float32)
        sentence = np.zeros(size, dtype=np.float32)
        if not len(self.items):
            return window, sentence, 0.0, 0.0
        sims = similarities(self.vectors, vectors)
        for n in np.argsort(-sims)[:64]:
            if self.window_rows[n].size:
                rows = self.window_rows[n]
                window[rows] = np.maximum(window[rows], sims[n])
            if self.sentence_rows[n].size:
                rows = self.sentence_rows[n]
                sentence[rows] = np.maximum(sentence[rows], sims[n])
        best_in = float(sims[self.in_scope].max()) if self.in_scope.any() else 0.0
        best_out = float(sims[~self.in_scope].max()) if (~self.in_scope).any() else 0.0
        return window, sentence, best_in, best_out

    def _sparse_scores(self, vectors: list[np.ndarray], size: int) -> tuple:
        """`scores` with RowValues (fill 0): the same values, nothing in proportion to the index."""
        if not len(self.items):
            return RowValues(size, 0.0), RowValues(size, 0.0), 0.0, 0.0
        sims = similarities(self.vectors, vectors)
        best = np.argsort(-sims)[:64]
        out = []
        for per_item in (self.window_rows, self.sentence_rows):
            rows = np.concatenate([np.zeros(0, dtype=np.int64)] + [per_item[n] for n in best]).astype(np.int64)
            values = np.concatenate([np.zeros(0, dtype=np.float32)] +
                                    [np.full(per_item[n].size, sims[n], dtype=np.float32) for n in best])
            unique, inverse = np.unique(rows, return_inverse=True)
            top = np.zeros(len(unique), dtype=np.float32)  # rows start at 0, as the full arrays do
            np.maximum.at(top, inverse, values)
            out.append(RowValues(size, 0.0, unique, top))
        best_in = float(sims[self.in_scope].max()) if self.in_scope.any() else 0.0
        best_out = float(sims[~self.in_scope].max()) if (~self.in_scope).any() else 0.0
        return out[0], out[1], best_in, best_out


def recalled(memory: "Memory", vectors: list[np.ndarray], threshold: float) -> LabelledItem | None:
    """The remembered question that is the same as this one (similarity at least `threshold`), if any."""
    if not len(memory.items):
        return None
    sims = similarities(memory.vectors, vectors)
    best = int(np.argmax(sims))
    return memory.items[best] if sims[best] >= threshold else None


def locate(index: Index, spans: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Sentence rows whose window, and whose sentence, holds one of the spans (compared folded)."""
    wanted = [fold_article_text(s) for s in spans if fold_article_text(s)]
    if not wanted:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    sentences, windows = set(), set()
    for n, article in enumerate(index.articles):
        body = fold_article_text(article.body)
        if not any(w in body for w in wanted):
            continue
        rows = np.flatnonzero(index.sentence_article == n)
        sentences.update(int(r) for r in rows if any(w in fold_article_text(index.sentences[r].text) for w in wanted))
        windows.update(int(r) for r in rows if any(w in fold_article_text(index.window_text(int(r))) for w in wanted))
    return np.asarray(sorted(windows), dtype=np.int64), np.asarray(sorted(sentences), dtype=np.int64)


def build_memory(index: Index, items: list[LabelledItem], vectors: np.ndarray) -> Memory:
    """Remember labelled questions (their vectors from memory_text) against an index."""
    if not items:
        return Memory.empty(index.sentence_vectors.shape[1] if index.sentence_vectors.ndim == 2 else 384)
    located = [locate(index, item.answer_contains) for item in items]
    return Memory(
        items=tuple(items), vectors=np.asarray(vectors, dtype=np.float32),
        window_rows=tuple(w for w, _ in located), sentence_rows=tuple(s for _, s in located),
        in_scope=np.array([item.in_scope for item in items], dtype=bool),
    )
