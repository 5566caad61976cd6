"""A burst of concurrent /ask through the emulator and the real discord.py client: where the time goes, and how fast.

Usage: python benchmarks/bench_burst.py [--burst 100] [--single 40] [--rounds 3] [--rows stub,before,now,process]
Prints a Markdown table: answer latency (dispatch -> answer shown) p50/p95 of the bursts and of single questions.
Rows: `stub` answers instantly from a table (what the bot and the emulator cost alone, in one process);
`before` embeds one question at a time behind a lock; `now` is the engine as shipped, in-process; `process` runs
`python -m bot run` as a subprocess, so the emulator no longer shares the bot's event loop and GIL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
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
LABELS = {
    "stub": "instant engine (answers from a table): the bot and the emulator alone, in-process",
    "before": "one question per encoder pass, behind a lock, in-process",
    "now": "engine as shipped, in-process",
    "process": "engine as shipped, bot as a subprocess (`python -m bot run`)",
}


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


class TableEngine:
    """An engine that answers every known question instantly from a table (the rest goes to the real engine)."""

    def __init__(self, engine) -> None:
        self._engine = engine
        self._answers = {q: engine.ask(q) for q in questions()}

    def __getattr__(self, name: str):
        return getattr(self._engine, name)

    def ask(self, question: str, **options):
        """The stored answer, or the real engine's."""
        return self._answers.get(question) or self._engine.ask(question, **options)


async def timed(rec) -> float:
    """Seconds from dispatch to the answer the member sees."""
    await rec.wait_final(60)
    return time.monotonic() - rec.dispatched_at


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system) used so far by this process, or by another one."""
    if pid is None:
        return time.process_time()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def ask_all(emulator, burst: int, single: int, rounds: int, bot_pid: int | None = None) -> dict[str, list[float]]:
    """Latencies of `single` questions one by one, then of `rounds` bursts of `burst` concurrent /ask, and the
    CPU seconds each burst cost (this process, plus the bot's when it runs apart)."""
    pool = questions()
    out: dict[str, list[float]] = {"burst": [], "single": [], "cpu": []}
    for n in range(single):
        rec = await emulator.slash("ask", {"question": pool[n % len(pool)]})
        out["single"].append(await timed(rec))

    def cpu() -> float:
        return cpu_seconds() + (cpu_seconds(bot_pid) if bot_pid else 0.0)

    for r in range(rounds):
        before = cpu()
        recs = [await emulator.slash("ask", {"question": pool[(r * burst + n) % len(pool)]}) for n in range(burst)]
        out["burst"] += await asyncio.gather(*(timed(rec) for rec in recs))
        out["cpu"].append(cpu() - before)
        await asyncio.sleep(0.5)
    return out


async def run(engine, burst: int, single: int, rounds: int) -> dict[str, list[float]]:
    """The bot in this process (sharing the emulator's event loop)."""
    from bot.client import QuoteBot
    from bot.config import Settings
    from tests.discord_emulator import DiscordEmulator, connected_client

    with tempfile.TemporaryDirectory() as tmp:
        async with DiscordEmulator() as emulator:
            settings = Settings(database_path=Path(tmp) / "interactions.db", index_path=Path(tmp) / "index.db",
                                ask_cooldown_rate=0, discord_guild_id=int(emulator.guild.id))
            async with connected_client(QuoteBot(settings, engine=engine), emulator):
                for n in range(5):  # warm-up
                    await timed(await emulator.slash("ask", {"question": questions()[n]}))
                return await ask_all(emulator, burst, single, rounds)


async def run_process(index: Path, burst: int, single: int, rounds: int) -> dict[str, list[float]]:
    """`python -m bot run` in a subprocess against the emulator in this one."""
    from tests.discord_emulator import DiscordEmulator

    with tempfile.TemporaryDirectory() as tmp:
        if index.exists():
            shutil.copy(index, Path(tmp) / "index.db")
        async with DiscordEmulator() as emulator:
            env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
            env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1",
                       DATABASE_PATH=str(Path(tmp) / "interactions.db"), INDEX_PATH=str(Path(tmp) / "index.db"),
                       DISCORD_TOKEN="bench-token", DISCORD_API_BASE=emulator.api_base,
                       DISCORD_GATEWAY_URL=emulator.gateway_url, DISCORD_GUILD_ID=str(emulator.guild.id),
                       ASK_COOLDOWN_RATE="0", LOG_LEVEL="WARNING")
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", cwd=tmp, env=env, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
            try:
                await emulator.wait_for_client(timeout=300)
                for n in range(5):  # warm-up (the engine opens after the gateway connects)
                    await timed(await emulator.slash("ask", {"question": questions()[n]}))
                return await ask_all(emulator, burst, single, rounds, process.pid)
            finally:
                process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), 30)
                except asyncio.TimeoutError:
                    process.kill()
                    await process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--single", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", default="stub,before,now,process", help=f"comma-separated, of {', '.join(LABELS)}")
    parser.add_argument("--index", default=str(ROOT / "data" / "index.db"), help="embedding cache (SQLite)")
    args = parser.parse_args()
    from knowledge import Engine
    from knowledge.batching import batcher_for

    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"load {os.getloadavg()[0]:.1f}; {time.strftime('%Y-%m-%d')}\n")
    print("| row | single p50 (ms) | single p95 (ms) | burst p50 (ms) | burst p95 (ms) | burst max (ms) | CPU s per burst | passes |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in args.rows.split(","):
        passes: object = "-"
        if row == "process":
            times = asyncio.run(run_process(Path(args.index), args.burst, args.single, args.rounds))
        else:
            engine = Engine.open(cache_path=args.index)
            if row == "before":
                unbatched(engine)
            before = batcher_for(engine.embedder).passes
            times = asyncio.run(run(TableEngine(engine) if row == "stub" else engine, args.burst, args.single,
                                    args.rounds))
            if row == "now":
                passes = batcher_for(engine.embedder).passes - before
        s, b = np.array(times["single"]) * 1000, np.array(times["burst"]) * 1000
        print(f"| {LABELS[row]} | {np.percentile(s, 50):.0f} | {np.percentile(s, 95):.0f} | "
              f"{np.percentile(b, 50):.0f} | {np.percentile(b, 95):.0f} | {b.max():.0f} | {np.mean(times['cpu']):.2f} | {passes} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
