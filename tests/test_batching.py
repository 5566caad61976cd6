"""The micro-batcher: concurrent callers share encoder passes and each gets its own rows, in order."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from knowledge.batching import MicroBatcher, split_rows, take_batch, _Job
from knowledge.heap import Trimmer, trim


def fake_encode(texts: list[str]) -> np.ndarray:
    """A deterministic embedder: each text's length and first character code."""
    return np.array([[len(t), ord(t[0]) if t else 0] for t in texts], dtype=np.float32)


def test_split_rows_and_take_batch() -> None:
    parts = split_rows(np.arange(6).reshape(6, 1), [1, 3, 2])
    assert [p.ravel().tolist() for p in parts] == [[0], [1, 2, 3], [4, 5]]
    queue = [_Job(["a"] * 3), _Job(["b"] * 3), _Job(["c"] * 70)]
    assert [len(j.texts) for j in take_batch(queue, 5)] == [3]
    assert [len(j.texts) for j in take_batch(queue, 5)] == [3]
    assert [len(j.texts) for j in take_batch(queue, 5)] == [70]  # an oversized job still goes, alone
    assert queue == []


def test_a_lone_caller_runs_at_once() -> None:
    batcher = MicroBatcher(fake_encode)
    assert batcher.encode(["hello", "x"]).tolist() == [[5, 104], [1, 120]]
    assert batcher.passes == 1


def test_concurrent_callers_share_passes_and_get_their_own_rows() -> None:
    gate, calls = threading.Event(), []

    def slow_encode(texts: list[str]) -> np.ndarray:
        calls.append(len(texts))
        gate.wait(5)
        return fake_encode(texts)

    batcher = MicroBatcher(slow_encode)
    results: dict[int, list] = {}

    def ask(n: int) -> None:
        results[n] = batcher.encode([f"{n}" * (n + 1), "q"]).tolist()

    first = threading.Thread(target=ask, args=(0,))
    first.start()
    while not calls:
        pass
    others = [threading.Thread(target=ask, args=(n,)) for n in range(1, 9)]
    for thread in others:
        thread.start()
    while len(batcher._queue) < 8:
        pass
    gate.set()
    for thread in [first, *others]:
        thread.join(5)
    assert results == {n: [[n + 1, ord(str(n))], [1, ord("q")]] for n in range(9)}
    assert calls == [2, 16]  # the first alone, then the eight that arrived meanwhile in one pass


def test_an_encoder_error_reaches_every_caller_of_that_pass() -> None:
    def broken(texts: list[str]) -> np.ndarray:
        raise RuntimeError("no model")

    batcher = MicroBatcher(broken)
    with pytest.raises(RuntimeError, match="no model"):
        batcher.encode(["a"])
    assert not batcher._running  # the next caller is not left waiting


def test_the_trimmer_trims_every_n_passes() -> None:
    trims = []
    trimmer = Trimmer(every=3, trim_fn=lambda: trims.append(1))
    batcher = MicroBatcher(fake_encode, trimmer=trimmer)
    for _ in range(7):
        batcher.encode(["a"])
    assert len(trims) == 2
    assert trim() in (True, False)  # callable on any C library


def test_tuning_the_heap_is_harmless_and_idempotent() -> None:
    from knowledge.heap import tune

    assert tune() == tune()
