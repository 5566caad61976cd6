"""Soak the engine (and optionally the bot through the emulator) with mixed and hostile questions; print RSS growth.

Usage: python benchmarks/soak_memory.py [--warmup 500] [--questions 10000] [--every 1000] [--bot N]
Prints a Markdown table of RSS after warm-up and every `--every` questions (goal: growth <= 20 MB), split into
private memory (RssAnon: the heap, caches, tensors) and file-backed pages (RssFile: the code of torch's shared
libraries, read in the first time a kernel runs, shared between processes and dropped by the kernel under pressure).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
DEV = ROOT / "knowledge" / "data" / "dev.jsonl"
ORDINARY = ["who is Kurt Campbell?", "what currencies do russia and china use for their trade",
            "why did putin go to beijing?", "what does russia mostly sell to china?"]
ODD = ["\u200b", "\u202e", "\u0000", "\u2066", "@everyone", "@here", "```", "**", "~~", "||", "> ", "\n", "\t",
       "<@123456789012345678>", "<@&123456789012345678>", "<#123456789012345678>", "🙂", "مرحبا", "你好", "Привет",
       "שלום", "नमस्ते", "𝕏", "e\u0301", "\ufeff", "[link](https://example.com)", "javascript:", "%s", "{0}"]
LETTERS = "abcdefghijklmnopqrstuvwxyzéßøłçğ"


def rss_mb(field: str = "VmRSS") -> float:
    """Resident set size of this process (or its RssAnon / RssFile part), from /proc (MB)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def memory() -> tuple[float, float, float]:
    """RSS, its private part and its file-backed part (MB)."""
    return rss_mb(), rss_mb("RssAnon"), rss_mb("RssFile")


def ordinary_questions() -> list[str]:
    """The dev questions, else a few built-in ones."""
    if DEV.exists():
        return [json.loads(line)["question"] for line in DEV.read_text().splitlines() if line.strip()]
    return ORDINARY


def random_word(rng: random.Random) -> str:
    """A made-up word: a typo, a name nobody mentions, or gibberish of any length."""
    return "".join(rng.choice(LETTERS) for _ in range(rng.randint(3, 40)))


def hostile(rng: random.Random, base: list[str]) -> str:
    """A question that is hostile in a random way: new words, odd characters, great length, mixed scripts."""
    kind = rng.randrange(6)
    if kind == 0:
        return " ".join(random_word(rng) for _ in range(rng.randint(1, 60)))
    if kind == 1:
        words = rng.choice(base).split()
        return " ".join(w + rng.choice(ODD) if rng.random() < 0.4 else w for w in words)
    if kind == 2:
        return "".join(rng.choice(ODD + list(LETTERS) + [" "]) for _ in range(rng.randint(1, 1000)))
    if kind == 3:
        return (rng.choice(base) + " ") * rng.randint(5, 40)
    if kind == 4:
        return f"What did {random_word(rng).title()} {random_word(rng).title()} say about {random_word(rng)}?"
    return "".join(chr(rng.randint(0x20, 0x2FFF)) for _ in range(rng.randint(1, 400)))


def mixed(count: int, seed: int) -> list[str]:
    """count questions: a third ordinary, two thirds hostile, each at most 1000 characters."""
    rng = random.Random(seed)
    base = ordinary_questions()
    return [(rng.choice(base) if rng.random() < 0.33 else hostile(rng, base))[:1000] for _ in range(count)]


def soak_engine(engine, warmup: int, count: int, every: int, seed: int) -> list[tuple]:
    """Ask warmup questions, then count more; RSS after warm-up and every `every` questions."""
    for question in mixed(warmup, seed):
        engine.ask(question)
    gc.collect()
    points = [(0, *memory())]
    for n, question in enumerate(mixed(count, seed + 1), start=1):
        engine.ask(question)
        if n % every == 0:
            points.append((n, *memory()))
    return points


async def soak_bot(engine, warmup: int, count: int, every: int, seed: int) -> list[tuple]:
    """The same through the real discord.py client and the emulator (/ask, answers logged to SQLite)."""
    from bot.client import QuoteBot
    from bot.config import Settings
    from tests.discord_emulator import DiscordEmulator, connected_client

    with tempfile.TemporaryDirectory() as tmp:
        async with DiscordEmulator() as emulator:
            settings = Settings(database_path=Path(tmp) / "interactions.db", index_path=Path(tmp) / "index.db",
                                ask_cooldown_rate=0, discord_guild_id=int(emulator.guild.id))
            async with connected_client(QuoteBot(settings, engine=engine), emulator):
                async def ask_all(questions: list[str], start: int, points: list) -> None:
                    for n, question in enumerate(questions, start=1):
                        rec = await emulator.slash("ask", {"question": question[:300] or "?"})  # /ask takes 300
                        await rec.wait_final(30)
                        emulator.interactions.pop(rec.id, None)  # the emulator's own records are not the bot's
                        emulator.calls.clear()
                        emulator.messages.clear()
                        if (start + n) % every == 0:
                            points.append((start + n, *memory()))

                await ask_all(mixed(warmup, seed), -warmup, [])
                gc.collect()
                points = [(0, *memory())]
                await ask_all(mixed(count, seed + 1), 0, points)
                return points


def table(title: str, points: list[tuple]) -> str:
    """A Markdown table of RSS over the soak, with the growth of its private and file-backed parts."""
    _, rss0, anon0, file0 = points[0]
    lines = [f"### {title}", "", "| questions after warm-up | RSS (MB) | RSS growth (MB) | private growth (MB) | "
             "library pages growth (MB) |", "| ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {n} | {rss:.1f} | {rss - rss0:+.1f} | {anon - anon0:+.1f} | {file - file0:+.1f} |"
              for n, rss, anon, file in points]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--questions", type=int, default=10_000)
    parser.add_argument("--every", type=int, default=1000)
    parser.add_argument("--bot", type=int, default=0, help="also soak the bot through the emulator with N questions")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--index", default=str(ROOT / "data" / "index.db"), help="embedding cache (SQLite)")
    args = parser.parse_args()
    from knowledge import Engine

    engine = Engine.open(cache_path=args.index)
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"{time.strftime('%Y-%m-%d')}")
    started = time.monotonic()
    engine_points = soak_engine(engine, args.warmup, args.questions, args.every, args.seed)
    print(table(f"Engine: {args.questions} mixed and hostile questions after {args.warmup} "
                f"({time.monotonic() - started:.0f} s)", engine_points))
    if args.bot:
        started = time.monotonic()
        bot_points = asyncio.run(soak_bot(engine, args.warmup, args.bot, max(args.bot // 5, 1), args.seed))
        print()
        print(table(f"Bot through the emulator: {args.bot} /ask after {args.warmup} "
                    f"({time.monotonic() - started:.0f} s)", bot_points))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
