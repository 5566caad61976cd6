"""RowValues (per-row values of a large index held for a few rows) read exactly like the full arrays they stand for."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge.features import _rel, top_rows
from knowledge.lexical import LexicalIndex
from knowledge.memory import Memory
from knowledge.labelled import LabelledItem
from knowledge.rows import RowValues, maximum


def sparse(size: int, fill: float, seed: int, count: int = 7) -> tuple[RowValues, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(size, count, replace=False))
    values = rng.standard_normal(count).astype(np.float32)
    held = RowValues(size, fill, rows, values)
    return held, held.dense()


@pytest.mark.parametrize("fill", [-1.0, 0.0, -np.inf])
def test_reads_like_the_full_array(fill) -> None:
    held, full = sparse(40, fill, 1)
    picks = np.array([0, 3, 39, 17, 17, 5])
    assert np.array_equal(held[picks], full[picks])
    assert all(held[int(r)] == full[r] for r in range(40)) and held[-1] == full[-1]
    assert held.max() == full.max() and held.max(initial=5.0) == full.max(initial=5.0)
    assert held.argmax() == int(np.argmax(full)) and held.size == full.size == len(held)
    held.put(np.array([2, 3, 30]), np.array([9.0, -9.0, 0.5]))
    full[[2, 3, 30]] = [9.0, -9.0, 0.5]
    assert np.array_equal(held.dense(), full) and held.argmax() == int(np.argmax(full)) == 2
    assert list(held.has(np.array([2, 4]))) == [True, bool(4 in held.rows)]


def test_argmax_of_the_fill_is_the_first_row_without_a_value() -> None:
    assert RowValues(10, 0.0).argmax() == 0
    assert RowValues(10, 0.0, np.array([0, 1, 4]), np.array([-1.0, -2.0, -3.0])).argmax() == 2
    assert RowValues(10, 0.0, np.array([3]), np.array([0.0])).argmax() == 0  # ties: the first row, as numpy
    assert RowValues(3, 0.0, np.arange(3), np.array([-1.0, -2.0, -0.5])).argmax() == 2


def test_maximum_relative_and_top_rows_agree_with_the_full_arrays() -> None:
    (a, fa), (b, fb) = sparse(50, 0.0, 2), sparse(50, 0.0, 3)
    assert np.array_equal(maximum(a, b).dense(), np.maximum(fa, fb))
    a_pos = RowValues(50, 0.0, a.rows, np.abs(a.values))
    assert np.array_equal(_rel(a_pos).dense(), _rel(a_pos.dense()))
    rows = np.array([1, 2, a.rows[0]])
    assert np.array_equal(_rel(a_pos, rows), _rel(a_pos.dense(), rows))
    assert np.array_equal(a_pos.times(3.5).dense(), a_pos.dense() * 3.5)
    base = RowValues(50, -np.inf, a.rows, a.values)
    full = base.dense()
    assert np.array_equal(top_rows(base, 4), top_rows(full, 4, np.flatnonzero(full > -np.inf)))
    assert np.array_equal(top_rows(a, 3), top_rows(fa, 3, np.flatnonzero(fa)))


def test_bm25_over_the_matching_rows_is_bit_for_bit_the_full_scores() -> None:
    texts = ["The gas pipeline runs to China.", "Trade in yuan grew.", "Gas, gas and more gas for China's trade.",
             "Nothing here.", "Pipeline talks stalled over gas prices."] * 7
    lexical = LexicalIndex(texts)
    for query in ["gas pipeline China trade trade", "yuan", "unheard-of words", "", "the"]:
        full = lexical.scores(query)
        held = lexical.row_scores(query)
        assert held.dtype == full.dtype and np.array_equal(held.dense(), full), query
        assert np.array_equal(held.rows, np.flatnonzero(full))


def test_memory_scores_over_the_remembered_rows_match_the_full_arrays() -> None:
    rng = np.random.default_rng(4)
    items = tuple(LabelledItem(id=f"q{n}", question=f"q{n}", answer_contains=("x",) if n % 3 else ())
                  for n in range(5))
    vectors = rng.standard_normal((5, 8)).astype(np.float32)
    rows = tuple(np.sort(rng.choice(30, n, replace=False)) for n in (3, 0, 4, 2, 5))
    memory = Memory(items, vectors, rows, rows[::-1], np.array([i.in_scope for i in items]))
    query = [rng.standard_normal(8).astype(np.float32)]
    full = memory.scores(query, 30)
    held = memory.scores(query, 30, sparse=True)
    assert np.array_equal(held[0].dense(), full[0]) and np.array_equal(held[1].dense(), full[1])
    assert held[2:] == full[2:]
    empty = Memory.empty(8).scores(query, 30, sparse=True)
    assert empty[0].size == 30 and not len(empty[0].rows) and empty[2:] == (0.0, 0.0)
