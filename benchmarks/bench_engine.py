"""Benchmark the knowledge engine: warm latency, cold start, first build, memory, and a synthetic scale run.

Usage: python benchmarks/bench_engine.py [--quick] [--scale 1000,10000,100000]
Prints Markdown tables (paste them into BENCHMARKS.md with the machine and date).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
DEV = ROOT / "knowledge" / "data" / "dev.jsonl"
FALLBACK_QUESTIONS = [
    "who is Kurt Campbell?", "what currencies do russia and china use for their trade",
    "why does putin need both trump AND xi at the same time", "what does russia mostly sell to china?",
]

COLD_SCRIPT = """
import time, sys, json
t0 = time.perf_counter()
from knowledge import Engine
engine = Engine.open(cache_path=sys.argv[1])
t1 = time.perf_counter()
engine.ask("What currencies do Russia and China use for their trade?")
t2 = time.perf_counter()
import resource
print(json.dumps({"open": t1 - t0, "first_answer": t2 - t0,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def questions() -> list[dict]:
    """Dev questions when available, else a few built-in ones."""
    if DEV.exists():
        return [json.loads(line) for line in DEV.read_text().splitlines() if line.strip()]
    return [{"question": q} for q in FALLBACK_QUESTIONS]


def pct(values: list[float], q: float) -> float:
    """Percentile of a list."""
    return float(np.percentile(values, q))


def table(title: str, header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table."""
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def cold_start(cache: Path) -> dict:
    """Process start to first answer, in a fresh interpreter, with the given cache."""
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", COLD_SCRIPT, str(cache)], cwd=ROOT, capture_output=True,
                         text=True, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    wall = time.perf_counter() - started
    data = json.loads(out.stdout.strip().splitlines()[-1])
    data["wall"] = wall
    return data


def bench_real(rounds: int) -> str:
    """Latency and start-up numbers on the real articles with the real model."""
    from knowledge import Engine
    from knowledge.models import Turn

    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "index.db"
        build = cold_start(cache)  # first run builds the index
        warm_start = [cold_start(cache) for _ in range(3)]
        engine = Engine.open(cache_path=cache)
        items = questions()
        for item in items[:5]:
            engine.ask(item["question"])  # warm-up
        latencies, embeds, single, follow, as_text = [], [], [], [], []
        for _ in range(rounds):
            for item in items:
                previous = []
                if item.get("previous"):  # as the bot asks: the earlier question with the passages it was shown
                    earlier = engine.ask(item["previous"])
                    previous = [Turn(item["previous"], earlier.passage_ids)]
                started = time.perf_counter()
                answer = engine.ask(item["question"], previous=previous)
                latencies.append((time.perf_counter() - started) * 1000)
                (follow if previous else single).append(latencies[-1])
                embeds.append(answer.timings_ms.get("embed", 0.0))
                if previous:  # as `bot ask --previous` gives it: text only, so the earlier answer is worked out again
                    started = time.perf_counter()
                    engine.ask(item["question"], previous=[item["previous"]])
                    as_text.append((time.perf_counter() - started) * 1000)
        report = engine.index.report
    rows = [
        ["corpus", f"{report.articles} articles, {report.passages} passages, {report.sentences} sentences", ""],
        ["first index build, process start → first answer", f"{build['first_answer']:.1f} s",
         f"embeds {report.cached} texts"],
        ["cold start with cached index → first answer (median of 3)",
         f"{statistics.median(r['first_answer'] for r in warm_start):.2f} s", "goal ≤ 5 s"],
        ["  of which Engine.open", f"{statistics.median(r['open'] for r in warm_start):.2f} s", ""],
        ["warm question latency p50", f"{pct(latencies, 50):.1f} ms", f"{len(latencies)} questions"],
        ["warm question latency p95", f"{pct(latencies, 95):.1f} ms", "goal ≤ 50 ms"],
        ["  of which query embedding p50", f"{pct(embeds, 50):.1f} ms", ""],
        ["  single questions p50 / p95", f"{pct(single, 50):.1f} / {pct(single, 95):.1f} ms", f"{len(single)}"],
        ["  follow-ups p50 / p95", f"{pct(follow, 50):.1f} / {pct(follow, 95):.1f} ms",
         f"{len(follow)}, after the earlier question was answered (as the bot asks them)"],
        ["follow-up given as text only, p50 / p95", f"{pct(as_text, 50):.1f} / {pct(as_text, 95):.1f} ms",
         "`bot ask --previous`: the earlier answer is worked out again (not in the rows above)"],
        ["peak memory (RSS) of the cold-start process", f"{statistics.median(r['peak_rss_mb'] for r in warm_start):.0f} MB", ""],
    ]
    return table("Real articles, real model", ["measure", "value", "note"], rows)


def synthetic_index(passages: int, per_passage: int, topics: np.ndarray, vocabulary: list[str]):
    """An Index of random sentences with vectors shaped like real ones (see bench_ann.structured_vectors)."""
    from knowledge.index import BuildReport, assemble_index, settle
    from knowledge.models import Article, Passage, Sentence

    pick = random.Random(0)
    n = passages * per_passage
    texts = [" ".join(pick.choices(vocabulary, k=22)) + "." for _ in range(n)]
    articles, sentences, passage_rows, sp = [], [], [], []
    per_article = 20
    for a in range(0, passages, per_article):
        count = min(per_article, passages - a)
        chunk = texts[a * per_passage : (a + count) * per_passage]
        body = " ".join(chunk)
        article = Article(id=f"a{a}", title=f"Synthetic {a}", body=body)
        articles.append(article)
        offset = 0
        for p in range(count):
            first = len(sentences)
            for s in range(per_passage):
                text = chunk[p * per_passage + s]
                sentences.append(Sentence(article.id, len(sentences), offset, offset + len(text), text))
                sp.append(len(passage_rows))
                offset += len(text) + 1
            start, end = sentences[first].start, sentences[-1].end
            passage_rows.append(Passage(f"{article.id}#{p}", article.id, p, start, end, body[start:end],
                                        tuple(range(first, len(sentences)))))
    del texts
    sentence, window, passage = corpus_vectors(topics, passages, per_passage)
    index = assemble_index(articles, sentences, passage_rows, np.asarray(sp), sentence, window, passage,
                           "synthetic", BuildReport())
    if index.ann is not None:  # as build_index does: the objects the index kept as columns go, and the heap with them
        del sentences, passage_rows, sentence, window, passage
        settle(index)
    return index


def corpus_vectors(topics: np.ndarray, passages: int, per_passage: int):
    """Sentence, window and passage vectors (bench_ann.structured_chunks), filled a run of articles at a time: as
    float32 for a small corpus, as the 8-bit rows a large index keeps otherwise (no float32 copy of the corpus)."""
    from bench_ann import structured_chunks
    from knowledge.ann import ANN_MIN_SENTENCES, Int8Rows

    dims, count = topics.shape[1], passages * per_passage
    if count >= ANN_MIN_SENTENCES:
        out = Int8Rows.empty(count, dims), Int8Rows.empty(count, dims), Int8Rows.empty(passages, dims)
    else:
        out = np.empty((count, dims), np.float32), np.empty((count, dims), np.float32), np.empty((passages, dims),
                                                                                                  np.float32)
    for first, *parts in structured_chunks(topics, passages, per_passage):
        for matrix, part, start in zip(out, parts, (first * per_passage, first * per_passage, first)):
            if isinstance(matrix, np.ndarray):
                matrix[start : start + len(part)] = part
            else:
                matrix.put(start, part)
    return out


def exact_top10(vectors: np.ndarray, topics: np.ndarray, passages: int, per_passage: int) -> list[set[int]]:
    """Each vector's 10 sentence rows of largest fused similarity, by exact search over the float32 vectors as
    generated (made again a run at a time: never the whole corpus as float32)."""
    from bench_ann import structured_chunks
    from knowledge.ann import fused_vectors

    best = np.full((len(vectors), 10), -np.inf, dtype=np.float32)
    rows = np.zeros((len(vectors), 10), dtype=np.int64)
    for first, sentence, window, passage in structured_chunks(topics, passages, per_passage):
        fused = fused_vectors(sentence, window, np.repeat(passage, per_passage, axis=0))
        scores = np.hstack([best, vectors @ fused.T])
        ids = np.hstack([rows, np.broadcast_to(first * per_passage + np.arange(len(fused)),
                                               (len(vectors), len(fused)))])
        top = np.argpartition(-scores, 9, axis=1)[:, :10]
        best, rows = np.take_along_axis(scores, top, 1), np.take_along_axis(ids, top, 1)
    return [set(r.tolist()) for r in rows]


def reset_peak() -> None:
    """Start this process's peak resident memory (VmHWM) again from what it holds now (Linux)."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass


def peak_mb() -> float:
    """This process's peak resident memory since `reset_peak` (or since it started)."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def rss_mb() -> float:
    """Current resident memory of this process."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def dense_recall(index, vectors: np.ndarray, truth: list[set[int]]) -> float:
    """Recall@10 of the dense part: the ANN's rows re-ranked by the vectors the index keeps (as search does), against
    `truth`, exact search over every row's float32 vectors as generated (`exact_top10`)."""
    from knowledge.ann import ANN_FETCH, FusedRows

    if index.ann is None:
        return 1.0
    fused = FusedRows(index.sentence_vectors, index.window_vectors, index.passage_vectors, index.sentence_passage)
    hits = 0
    for v, expected in zip(vectors, truth):
        found = index.ann.search(v, ANN_FETCH)
        exact = fused[found] @ v
        hits += len(expected & set(found[np.argsort(-exact)[:10]].tolist()))
    return hits / (10 * len(vectors))


def bench_scale(sizes: list[int]) -> str:
    """Query cost as the corpus grows (structured vectors, real query embedding, real BM25, features and ranker)."""
    from bench_ann import real_vectors
    from knowledge.articles import load_articles
    from knowledge.memory import Memory
    from knowledge.ranker import load_ranker
    from knowledge.search import search
    from knowledge.text import content_words

    vocabulary = sorted({w for a in load_articles()[0] for w in content_words(a.body)})
    topics, labelled = real_vectors()
    qs = [item["question"] for item in questions()]
    from knowledge.embeddings import Embedder

    vectors = Embedder().encode_queries(qs)
    ranker, memory = load_ranker(), Memory.empty(vectors.shape[1])
    rows = []
    for size in sizes:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**20
        needed = 400 + size * 0.0176  # MB: the build's peak, measured at 10k (547 MB) and 100k (2,132 MB)
        if needed > available * 0.8:
            rows.append([f"{size:,}", f"{size * 5:,}", f"skipped: the build needs ~{needed / 1024:.0f} GB, "
                         f"{available / 1024:.0f} GB free", "", "", "", "", "", ""])
            continue
        from knowledge.heap import trim

        gc.collect()
        trim()  # what earlier sizes freed goes back to the system: the build can't reuse it unseen
        before = rss_mb()
        reset_peak()
        started = time.perf_counter()
        index = synthetic_index(size, 5, topics, vocabulary)
        built = time.perf_counter() - started
        after, peak = rss_mb(), peak_mb()
        latencies = []
        for q, v in zip(qs, vectors):
            t = time.perf_counter()
            search(index, q, v, ranker, memory)
            latencies.append((time.perf_counter() - t) * 1000)
        for q, v in zip(qs, vectors):  # a second round: p95 over twice as many questions
            t = time.perf_counter()
            search(index, q, v, ranker, memory)
            latencies.append((time.perf_counter() - t) * 1000)
        from bench_ann import answerable_queries

        answerable = answerable_queries(index.sentence_vectors, 100)
        truth = exact_top10(np.vstack([answerable, labelled]), topics, size, 5) if index.ann is not None else []
        recall = dense_recall(index, answerable, truth[: len(answerable)])
        recall_real = dense_recall(index, labelled, truth[len(answerable) :])
        mode = "exact, float32" if index.ann is None else \
            "ANN (faiss IVF-PQ, 96-byte codes); int8 sentence, window and passage vectors"
        print(f"{size:,} passages: p50 {pct(latencies, 50):.1f} ms, p95 {pct(latencies, 95):.1f} ms, "
              f"{after - before:.0f} MB; build peak {peak:.0f} MB (from {before:.0f}); load {os.getloadavg()}",
              file=sys.stderr, flush=True)
        rows.append([f"{size:,}", f"{size * 5:,}", mode, f"{built:.1f} s", f"{pct(latencies, 50):.1f} ms",
                     f"{pct(latencies, 95):.1f} ms", f"{after - before:.0f} MB", f"{peak - before:.0f} MB",
                     f"{recall:.3f} / {recall_real:.3f}"])
        del index
        gc.collect()
    return table("Scale run (synthetic corpus; search only, query embedding excluded)",
                 ["passages", "sentences", "search", "build (BM25 + arrays + index)", "search p50", "search p95",
                  "added RAM", "build peak, added", "dense recall@10 (answerable / real questions)"], rows)


def main() -> int:
    """Run the benchmarks and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one latency round and a small scale run")
    parser.add_argument("--scale", default=None, help="comma-separated passage counts")
    parser.add_argument("--no-real", action="store_true", help="the scale run only")
    args = parser.parse_args()
    sizes = [int(s) for s in (args.scale or ("1000,10000" if args.quick else "1000,10000,100000,1000000")).split(",")]
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.platform()}; date {time.strftime('%Y-%m-%d')}\n")
    if not args.no_real:
        print(bench_real(rounds=1 if args.quick else 3))
        print()
    print(bench_scale(sizes))
    print(f"\nPeak RSS of this benchmark process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
