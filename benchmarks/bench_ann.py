"""Compare approximate-nearest-neighbour libraries on the engine's dense candidate search, at one corpus size.

Usage: python benchmarks/bench_ann.py [--passages 100000] [--libraries usearch-f16,usearch-i8,faiss-hnsw-sq8,...]
The vectors are shaped like the real ones (sentences near their passage's topic, topics near real article vectors;
see `structured_vectors`); the queries are the labelled questions' real embeddings. What is searched is each
sentence's fused dense vector 0.5·sentence + window + 0.6·passage (inner product = the dense part of the fixed
fusion that picks candidates), as the engine does above its threshold. Recall@10: the exact top 10 found among the
ANN's top 100 re-ranked exactly. Prints a Markdown table (build time, query p50/p95, added RSS, recall@10).
faiss-cpu is a dependency; usearch and sqlite-vec are only compared (`pip install usearch sqlite-vec` first).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

FETCH = 100  # ANN candidates re-ranked exactly (the engine's ANN_FETCH)


def rss_mb() -> float:
    """Current resident memory of this process."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def real_vectors() -> tuple[np.ndarray, np.ndarray]:
    """The real articles' passage vectors (topics) and the labelled questions' embeddings (queries)."""
    from knowledge import Engine
    from knowledge.labelled import shipped_items

    engine = Engine.open(cache_path=ROOT / "data" / "index.db", remembered=[])
    questions = [item.question for item in shipped_items()]
    return np.asarray(engine.index.passage_vectors, dtype=np.float32), engine.embed(questions)


def structured_vectors(topics: np.ndarray, passages: int, per_passage: int = 5, seed=0,
                       per_article: int = 20, flat: bool = False):
    """Sentence, window and passage unit vectors shaped like real ones: each synthetic article about its own
    subject near a real topic, its passages near that subject, their sentences near the passage (`flat`: every
    passage straight around one of the real topics, a harder cloud of near-ties)."""
    rng = np.random.default_rng(seed)
    dims = topics.shape[1]

    def unit(m: np.ndarray) -> np.ndarray:
        return (m / np.linalg.norm(m, axis=1, keepdims=True)).astype(np.float32)

    def noise(rows: int, scale: float) -> np.ndarray:
        return rng.standard_normal((rows, dims), dtype=np.float32) * scale

    if flat:
        centre = unit(topics[rng.integers(0, len(topics), passages)] + noise(passages, 0.06))
    else:
        articles = -(-passages // per_article)
        subject = unit(topics[rng.integers(0, len(topics), articles)] + noise(articles, 0.06))
        centre = unit(np.repeat(subject, per_article, axis=0)[:passages] + noise(passages, 0.04))
    sentence = unit(np.repeat(centre, per_passage, axis=0) + noise(passages * per_passage, 0.045))
    padded = sentence.reshape(passages, per_passage, dims)
    window = padded.copy()
    window[:, 1:] += padded[:, :-1]
    window[:, :-1] += padded[:, 1:]
    window = unit(window.reshape(-1, dims))
    passage = unit(padded.sum(axis=1))
    return sentence, window, passage


def structured_chunks(topics: np.ndarray, passages: int, per_passage: int = 5, seed: int = 0, per_article: int = 20,
                      articles_per_chunk: int = 500):
    """`structured_vectors` a run of whole articles at a time, each run from its own seed: yields (first passage,
    sentence, window, passage vectors), the same on every call, so a corpus too large to hold as float32 is made,
    and made again, without ever being whole."""
    step = per_article * articles_per_chunk
    for number, first in enumerate(range(0, passages, step)):
        count = min(step, passages - first)
        yield (first, *structured_vectors(topics, count, per_passage, seed=(seed, number), per_article=per_article))


def answerable_queries(sentence: np.ndarray, count: int, seed: int = 1) -> np.ndarray:
    """Unit vectors each near one random sentence (cosine about 0.7): questions whose answer is in the corpus."""
    rng = np.random.default_rng(seed)
    picked = sentence[rng.integers(0, len(sentence), count)]
    noisy = picked + rng.standard_normal(picked.shape, dtype=np.float32) * (1.0 / np.sqrt(picked.shape[1]))
    return (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)


class Exact:
    """numpy matrix-vector product over every row (what the engine does below the threshold)."""

    def __init__(self, data: np.ndarray, dtype=np.float32):
        self.data = data.astype(dtype)

    def search(self, vector: np.ndarray, k: int) -> np.ndarray:
        scores = self.data @ vector.astype(self.data.dtype)
        top = np.argpartition(-scores, k)[:k]
        return top[np.argsort(-scores[top])]


class USearch:
    """usearch HNSW, inner product (`i8s`: int8, rows and query scaled to fill [-1, 1]; `…cos`: a cosine graph)."""

    def __init__(self, data: np.ndarray, dtype: str, ef: int = 64):
        from usearch.index import Index

        self.metric = "cos" if dtype.endswith("cos") else "ip"
        dtype = dtype.removesuffix("cos")
        self.scaled = dtype == "i8s"
        self.scale = 1.0 / float(np.abs(data).max()) if self.scaled else 1.0
        self.index = Index(ndim=data.shape[1], metric=self.metric, dtype=dtype.rstrip("s"), connectivity=16,
                           expansion_add=ef)
        self.index.add(np.arange(len(data), dtype=np.uint64), data * self.scale, threads=os.cpu_count() or 1)

    def search(self, vector: np.ndarray, k: int) -> np.ndarray:
        if self.scaled:  # inner-product order is the same for any positive multiple of the query
            vector = vector / float(np.abs(vector).max())
        return np.asarray(self.index.search(vector, k, threads=1).keys, dtype=np.int64)

    def depth(self, ef: int) -> None:
        """Search this deep from now on."""
        self.index.expansion_search = ef


class Faiss:
    """faiss: HNSW over scalar-quantised vectors, or an inverted file (IVF) over them."""

    def __init__(self, data: np.ndarray, kind: str, ef: int = 64):
        import faiss

        d = data.shape[1]
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        if kind.startswith("hnsw"):
            qt = faiss.ScalarQuantizer.QT_fp16 if kind.endswith("fp16") else faiss.ScalarQuantizer.QT_8bit
            self.index = faiss.IndexHNSWSQ(d, qt, 16, faiss.METRIC_INNER_PRODUCT)
            self.index.hnsw.efConstruction = ef
            self.index.train(data[:50_000])
            self.index.add(data)
        else:
            nlist = max(16, int(4 * np.sqrt(len(data))))
            quantizer = faiss.IndexFlatIP(d)
            self.index = faiss.IndexIVFScalarQuantizer(quantizer, d, nlist, faiss.ScalarQuantizer.QT_8bit,
                                                       faiss.METRIC_INNER_PRODUCT)
            self.index.train(data[np.random.default_rng(0).permutation(len(data))[: 40 * nlist]])
            self.index.add(data)
            self._quantizer = quantizer
        faiss.omp_set_num_threads(1)

    def depth(self, ef: int) -> None:
        """Search this deep from now on (HNSW: efSearch; IVF: ef / 8 lists probed)."""
        if hasattr(self.index, "hnsw"):
            self.index.hnsw.efSearch = ef
        else:
            self.index.nprobe = max(1, ef // 8)

    def search(self, vector: np.ndarray, k: int) -> np.ndarray:
        _, ids = self.index.search(vector[None, :].astype(np.float32), k)
        return ids[0][ids[0] >= 0].astype(np.int64)


class SqliteVec:
    """sqlite-vec's vec0 table (a brute-force scan in SQLite: no approximate index yet)."""

    def __init__(self, data: np.ndarray):
        import sqlite3

        import sqlite_vec

        self.db = sqlite3.connect(":memory:")
        if not hasattr(self.db, "enable_load_extension"):
            raise RuntimeError("this Python's sqlite3 cannot load extensions")
        self.db.enable_load_extension(True)
        sqlite_vec.load(self.db)
        self.db.execute(f"create virtual table v using vec0(embedding float[{data.shape[1]}] distance_metric=cosine)")
        self.db.executemany("insert into v(rowid, embedding) values (?, ?)",
                            ((int(n), row.astype(np.float32).tobytes()) for n, row in enumerate(data)))

    def search(self, vector: np.ndarray, k: int) -> np.ndarray:
        rows = self.db.execute("select rowid from v where embedding match ? and k = ? order by distance",
                               (vector.astype(np.float32).tobytes(), k)).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)


def build(name: str, data: np.ndarray):
    """One of the compared indexes over `data` (`name@N`: build depth N, efConstruction / expansion_add)."""
    name, _, ef = name.partition("@")
    options = {"ef": int(ef)} if ef else {}
    if name == "exact-f32":
        return Exact(data)
    if name == "exact-f16":
        return Exact(data, np.float16)
    if name.startswith("usearch-"):
        return USearch(data, name.split("-", 1)[1], **options)
    if name.startswith("faiss-"):
        return Faiss(data, name.split("-", 1)[1], **options)
    if name == "sqlite-vec":
        return SqliteVec(data)
    raise ValueError(name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--libraries", default="exact-f32,sqlite-vec,usearch-i8,usearch-f16,faiss-hnsw-sq8,faiss-ivf-sq8")
    parser.add_argument("--queries", choices=("answerable", "real"), default="answerable",
                        help="answerable: near a random synthetic sentence (cos ≈ 0.7), as a question whose answer "
                             "is in the corpus; real: the labelled questions, which nothing synthetic answers")
    parser.add_argument("--flat", action="store_true", help="passages straight around the real topics (harder)")
    parser.add_argument("--depths", default="64,128,256,512", help="search depths tried (ef; IVF: 8 × nprobe)")
    args = parser.parse_args()
    topics, queries = real_vectors()
    sentence, window, passage = structured_vectors(topics, args.passages, flat=args.flat)
    if args.queries == "answerable":
        queries = answerable_queries(sentence, len(queries))
    fused = (0.5 * sentence + window + 0.6 * np.repeat(passage, 5, axis=0)).astype(np.float32)
    del sentence, window, passage
    gc.collect()
    truth = [set(np.argsort(-(fused @ q))[:10].tolist()) for q in queries]
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared), load {os.getloadavg()[0]:.1f}; "
          f"{time.strftime('%Y-%m-%d')}; {args.passages:,} passages = {len(fused):,} fused vectors; "
          f"{len(queries)} {args.queries} queries; vectors {'flat around the real topics' if args.flat else 'article → passage → sentence'}\n")
    print("| library | build | query p50 | query p95 | added RSS | recall@10 (top 100 re-ranked) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name in args.libraries.split(","):
        gc.collect()
        before = rss_mb()
        started = time.perf_counter()
        try:
            index = build(name, fused)
        except Exception as exc:  # a library that fails here is reported, not fatal
            print(f"| {name} | failed: {exc} | | | | |", flush=True)
            continue
        built = time.perf_counter() - started
        added = rss_mb() - before
        for depth in [int(d) for d in args.depths.split(",")] if hasattr(index, "depth") else [0]:
            if depth:
                index.depth(depth)
            latencies, hits = [], 0
            for q, want in zip(queries, truth):
                t = time.perf_counter()
                found = index.search(q, FETCH)
                latencies.append((time.perf_counter() - t) * 1000)
                exact = fused[found] @ q
                hits += len(want & set(found[np.argsort(-exact)[:10]].tolist()))
            label = f"{name}, search depth {depth}" if depth else name
            print(f"| {label} | {built:.1f} s | {np.percentile(latencies, 50):.2f} ms | "
                  f"{np.percentile(latencies, 95):.2f} ms | {added:.0f} MB | {hits / (10 * len(queries)):.3f} |",
                  flush=True)
        del index
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
