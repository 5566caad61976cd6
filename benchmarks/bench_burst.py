"""A burst of concurrent /ask through the emulator and the real discord.py client, with and without micro-batching.

Usage: python benchmarks/bench_burst.py [--burst 100] [--single 40] [--rounds 3]
Prints a Markdown table: answer latency (dispatch -> answer shown) p50/p95 of the burst and of single questions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
DEV = ROOT / "knowledge" / "data" / "dev.jsonl"


def questions() -> list[str]:
    """The dev questions (under /ask's 300 characters)."""
    return [json.loads(line)["question"][:300] for line in DEV.read_text().splitlines() if line.strip()]


def unbatched(engine) -> None:
    """Embed one question at a time behind a lock (the engine before micro-batching)."""
    lock = threading.Lock()

    def embed(texts):
        with lock:
            return engine.embedder.encode_queries(texts)

    engine.embed = embed


async def timed(rec) -> float:
    """Seconds from dispatch to the answer the member sees."""
    await rec.wait_final(60)
    return time.monotonic() - rec.dispatched_at


async def run(engine, burst: int, single: int, rounds: int) -> dict[str, list[float]]:
    """Answer latencies of `rounds` bursts and of `single` questions asked one by one."""
    from bot.client import QuoteBot
    from bot.config import Settings
    from tests.discord_emulator import DiscordEmulator, connected_client

    pool = questions()
    out: dict[str, list[float]] = {"burst": [], "single": []}
    with tempfile.TemporaryDirectory() as tmp:
        async with DiscordEmulator() as emulator:
            settings = Settings(database_path=Path(tmp) / "interactions.db", index_path=Path(tmp) / "index.db",
                                ask_cooldown_rate=0, discord_guild_id=int(emulator.guild.id))
            async with connected_client(QuoteBot(settings, engine=engine), emulator):
                for n in range(single):
                    rec = await emulator.slash("ask", {"question": pool[n % len(pool)]})
                    out["single"].append(await timed(rec))
                for r in range(rounds):
                    recs = [await emulator.slash("ask", {"question": pool[(r * burst + n) % len(pool)]})
                            for n in range(burst)]
                    out["burst"] += await asyncio.gather(*(timed(rec) for rec in recs))
                    await asyncio.sleep(0.5)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--single", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--index", default=str(ROOT / "data" / "index.db"), help="embedding cache (SQLite)")
    args = parser.parse_args()
    from knowledge import Engine

    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"{time.strftime('%Y-%m-%d')}\n")
    print("| engine | single p50 (ms) | single p95 (ms) | burst p50 (ms) | burst p95 (ms) | burst max (ms) | passes |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label in ("one question per encoder pass (before)", "micro-batched (now)"):
        engine = Engine.open(cache_path=args.index)
        if label.startswith("one"):
            unbatched(engine)
        from knowledge.batching import batcher_for

        before = batcher_for(engine.embedder).passes
        times = asyncio.run(run(engine, args.burst, args.single, args.rounds))
        passes = batcher_for(engine.embedder).passes - before if not label.startswith("one") else "-"
        s, b = np.array(times["single"]) * 1000, np.array(times["burst"]) * 1000
        print(f"| {label} | {np.percentile(s, 50):.0f} | {np.percentile(s, 95):.0f} | {np.percentile(b, 50):.0f} | "
              f"{np.percentile(b, 95):.0f} | {b.max():.0f} | {passes} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
