"""Per-row values of a large index kept for a few rows only, read like a full array (every other row: `fill`).

A question on a large index scores a few hundred of its sentence rows (the approximate search's, BM25's, the
candidates' windows); a full array per signal would make every question cost time and memory in proportion to the
corpus (allocating, filling, taking maxima). `RowValues` holds the scored rows (sorted) and their values, and
answers the reads the features make — `values[row]`, `values[rows]`, `max()`, `argmax()`, `size` — exactly as the
full array with `fill` everywhere else would.
"""

from __future__ import annotations

import numpy as np


class RowValues:
    """A length-`size` vector that is `fill` except at `rows` (sorted, distinct), where it holds `values`."""

    __slots__ = ("size", "fill", "rows", "values")

    def __init__(self, size: int, fill: float, rows: np.ndarray | None = None, values: np.ndarray | None = None,
                 dtype=np.float32) -> None:
        self.size = int(size)
        self.rows = np.zeros(0, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
        self.values = np.zeros(0, dtype=dtype) if values is None else np.asarray(values, dtype=dtype)
        self.fill = self.values.dtype.type(fill)

    @property
    def dtype(self) -> np.dtype:
        return self.values.dtype

    @property
    def shape(self) -> tuple[int]:
        return (self.size,)

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return f"RowValues(size={self.size}, fill={self.fill}, {len(self.rows)} rows)"

    def _find(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions of `rows` in self.rows, and whether each is there."""
        at = np.searchsorted(self.rows, rows)
        if not len(self.rows):
            return at, np.zeros(np.shape(rows), dtype=bool)
        clipped = np.minimum(at, len(self.rows) - 1)
        return clipped, self.rows[clipped] == rows

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            row = int(key) + (self.size if key < 0 else 0)
            if not 0 <= row < self.size:
                raise IndexError(f"row {key} out of range for {self.size} rows")
            at, found = self._find(np.asarray([row]))
            return self.values[at[0]] if found[0] else self.fill
        key = np.asarray(key)
        if key.dtype == bool:  # a mask over every row (tests only: linear in the corpus)
            key = np.flatnonzero(key)
        key = key.astype(np.int64, copy=False)
        out = np.full(key.shape, self.fill, dtype=self.dtype)
        at, found = self._find(key)
        out[found] = self.values[at[found]]
        return out

    def put(self, rows: np.ndarray, values: np.ndarray) -> None:
        """Set `rows` (distinct) to `values`, in place."""
        rows = np.asarray(rows, dtype=np.int64)
        values = np.asarray(values, dtype=self.dtype)
        at, found = self._find(rows)
        self.values[at[found]] = values[found]
        new = ~found
        if new.any():
            merged = np.concatenate([self.rows, rows[new]])
            order = np.argsort(merged, kind="stable")
            self.rows, self.values = merged[order], np.concatenate([self.values, values[new]])[order]

    def has(self, rows: np.ndarray) -> np.ndarray:
        """Whether each of `rows` holds a value of its own."""
        return self._find(np.asarray(rows, dtype=np.int64))[1]

    def _dense_rest(self) -> bool:
        return len(self.rows) < self.size

    def max(self, initial=None):
        """The largest value over all `size` rows (like ndarray.max; `initial` as numpy's)."""
        candidates = []
        if len(self.values):
            candidates.append(self.values.max())
        if self._dense_rest():
            candidates.append(self.fill)
        if initial is not None:
            candidates.append(self.dtype.type(initial))
        if not candidates:
            raise ValueError("zero-size array to reduction operation maximum which has no identity")
        return self.dtype.type(max(candidates))

    def argmax(self) -> int:
        """The first row holding the largest value (like np.argmax)."""
        if not self.size:
            raise ValueError("attempt to get argmax of an empty sequence")
        best_row = None
        if len(self.values):
            at = int(np.argmax(self.values))
            best_row, best = int(self.rows[at]), self.values[at]
        if self._dense_rest() and (best_row is None or self.fill >= best):
            gaps = np.flatnonzero(self.rows != np.arange(len(self.rows)))
            first_gap = int(gaps[0]) if gaps.size else len(self.rows)
            if best_row is None or self.fill > best or first_gap < best_row:
                return first_gap
        return best_row

    def divided(self, top: float) -> "RowValues":
        """Every value (and the fill) divided by `top`, as `array / top` computes it."""
        return RowValues(self.size, (np.asarray([self.fill], dtype=self.dtype) / top)[0], self.rows.copy(), self.values / top,
                         self.dtype)

    def times(self, factor: float) -> "RowValues":
        """Every value (and the fill) multiplied by `factor`, as `array * factor` computes it."""
        return RowValues(self.size, (np.asarray([self.fill], dtype=self.dtype) * factor)[0], self.rows.copy(), self.values * factor,
                         self.dtype)

    def dense(self) -> np.ndarray:
        """The full array (tests and small sizes only)."""
        out = np.full(self.size, self.fill, dtype=self.dtype)
        out[self.rows] = self.values
        return out


def maximum(a, b):
    """Element-wise maximum of two full arrays or two RowValues."""
    if not isinstance(a, RowValues):
        return np.maximum(a, b)
    rows = np.union1d(a.rows, b.rows)
    dtype = np.result_type(a.dtype, b.dtype)
    return RowValues(a.size, max(a.fill, b.fill), rows, np.maximum(a[rows], b[rows]), dtype)


def fetch(values, count: int, among: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rows to choose from and their values: `among` when given, else every row (a RowValues: the rows holding
    a value other than the fill)."""
    if among is not None:
        rows = np.asarray(among, dtype=np.int64)
        return rows, values[rows]
    if isinstance(values, RowValues):
        keep = values.values != values.fill
        return values.rows[keep], values.values[keep]
    return np.arange(values.size), values
