"""Micro-batching: texts embedded by concurrent callers share one encoder pass (thread-safe)."""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from knowledge.heap import Trimmer, tune

MAX_TEXTS = 64  # texts per encoder pass
CHUNK = 16  # a pass runs as forward passes of this many texts, sorted by length (less padding: ~25% less CPU)


@dataclass(eq=False)
class _Job:
    """One caller's texts, and what it gets back."""

    texts: list[str]
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False  # woken to run the next pass rather than with a result
    result: np.ndarray | None = None
    error: BaseException | None = None


def split_rows(vectors: np.ndarray, sizes: Sequence[int]) -> list[np.ndarray]:
    """Cut a stacked result back into one block of rows per caller."""
    bounds = np.cumsum([0, *sizes])
    return [vectors[start:end] for start, end in zip(bounds[:-1], bounds[1:])]


def take_batch(queue: list[_Job], max_texts: int) -> list[_Job]:
    """Pop the oldest jobs that fit in one pass (always at least one)."""
    batch, total = [], 0
    while queue and (not batch or total + len(queue[0].texts) <= max_texts):
        total += len(queue[0].texts)
        batch.append(queue.pop(0))
    return batch


class MicroBatcher:
    """Wrap `encode(list[str]) -> array`: a caller that finds the encoder idle runs at once (after `window`
    seconds, 0 by default); callers arriving while a pass runs wait and go together in the next one."""

    def __init__(self, encode: Callable[[list[str]], np.ndarray], *, window: float = 0.0,
                 max_texts: int = MAX_TEXTS, trimmer: Trimmer | None = None) -> None:
        self._encode = encode
        self.window, self.max_texts = window, max_texts
        self._trimmer = trimmer
        self._lock = threading.Lock()
        self._queue: list[_Job] = []
        self._running = False
        self.passes = 0  # encoder passes run (for benchmarks)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts, sharing an encoder pass with concurrent callers; rows in the order given."""
        job = _Job(list(texts))
        if not job.texts:
            return self._encode([])
        with self._lock:
            self._queue.append(job)
            lead = not self._running
            self._running = True
        if not lead:
            job.done.wait()
        if lead or job.lead:
            if self.window:
                time.sleep(self.window)
            self._run_one_pass()
            job.done.wait()
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[return-value]

    def _run_one_pass(self) -> None:
        """Encode the next batch, hand out the rows, and pass the lead to the next waiting caller (if any)."""
        with self._lock:
            batch = take_batch(self._queue, self.max_texts)
        try:
            vectors = self._encode([t for job in batch for t in job.texts])
            for job, rows in zip(batch, split_rows(np.asarray(vectors), [len(j.texts) for j in batch])):
                job.result = rows
        except BaseException as exc:  # every caller of the pass gets the error
            for job in batch:
                job.error = exc
        finally:
            self.passes += 1
            with self._lock:
                if self._queue:
                    self._queue[0].lead = True
                    self._queue[0].done.set()
                else:
                    self._running = False
            for job in batch:
                job.done.set()
            if self._trimmer is not None:
                self._trimmer.tick()


_SHARED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_SHARED_LOCK = threading.Lock()


def encode_chunked(embedder, texts: list[str]) -> np.ndarray:
    """Embed query texts, a long list as length-sorted chunks of CHUNK (the same vectors, less padding)."""
    load = getattr(embedder, "load_query_encoder", None)
    encoder = load() if load else None
    if encoder:
        return encoder.encode(texts, batch_size=CHUNK, threads=getattr(embedder, "query_threads", 1))
    return embedder.encode_queries(texts)


def batcher_for(embedder) -> MicroBatcher:
    """The one batcher of an embedder's query path (engines swapped in by a re-index share it)."""
    with _SHARED_LOCK:
        batcher = _SHARED.get(embedder)
        if batcher is None:
            tune()
            ref = weakref.ref(embedder)
            batcher = _SHARED[embedder] = MicroBatcher(lambda texts: encode_chunked(ref(), texts), trimmer=Trimmer())
        return batcher
