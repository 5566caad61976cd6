"""How many servers one bot process holds, and how fast it answers: `python -m bot run` against the emulator.

Usage: python benchmarks/bench_shards.py [--guilds 1,1000,5000] [--processes 1] [--questions 200] [--per-shard 1000]

For each guild count: the emulator (in this process) creates that many servers (--channels text channels and
--roles roles each, as GUILD_CREATE carries them), recommends one shard per --per-shard servers from /gateway/bot,
and --processes bot processes split the shards (SHARD_COUNT / SHARD_IDS; one process: SHARD_COUNT unset). It
prints a Markdown row per run: time until every shard is ready, each process's RSS, then --questions /ask spread
over the servers in bursts of --burst, with throughput and latency from dispatch to the answer shown.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
QUESTIONS = ["why did putin go to beijing?", "what does russia mostly sell to china?", "who is Kurt Campbell?",
             "what currencies do russia and china use for their trade", "what did xi and putin sign?",
             "is russia the weaker partner?", "what did trump do in beijing?", "what is the power of siberia 2?"]


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """A process's resident set size (or VmHWM, its peak) from /proc, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def split(shards: int, processes: int) -> list[list[int]]:
    """Shard ids per process, in contiguous blocks."""
    size = math.ceil(shards / processes)
    return [list(range(shards))[i:i + size] for i in range(0, shards, size)]


def bot_env(emulator, work: Path, index: Path, shard_count: int | None, shard_ids: list[int] | None) -> dict:
    """The environment of one bot process (a clean one, like the tests')."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1",
               DISCORD_TOKEN="bench-token", DISCORD_API_BASE=emulator.api_base, LOG_LEVEL="WARNING",
               DISCORD_GATEWAY_URL=emulator.gateway_url, DATABASE_PATH=str(work / "interactions.db"),
               INDEX_PATH=str(index), ASK_COOLDOWN_RATE="0", LOG_RETENTION_DAYS="0")
    if shard_count is not None and shard_ids is not None:
        env.update(SHARD_COUNT=str(shard_count), SHARD_IDS=",".join(map(str, shard_ids)))
    return env


async def one_run(guild_count: int, args: argparse.Namespace, index: Path) -> dict:
    """Start the emulator and the bot processes, wait for every shard, measure memory, then ask questions."""
    from tests.discord_emulator import DiscordEmulator

    shards = max(1, math.ceil(guild_count / args.per_shard))
    emulator = DiscordEmulator(default_guild=False, ack_deadline=30.0, shard_count=shards)
    guilds = []
    for n in range(guild_count):
        guild = emulator.add_guild(f"Server {n}", channels=[f"channel-{c}" for c in range(args.channels)])
        for r in range(args.roles):
            guild.add_role(f"role-{r}")
        emulator.add_member(guild, "alice")
        guilds.append(guild)
    emulator.commands[None] = []  # filled from the first guild sync below
    processes = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        async with emulator:
            blocks = split(shards, args.processes) if args.processes > 1 else [None]
            started = time.monotonic()
            for n, block in enumerate(blocks):
                env = bot_env(emulator, work, index, shards if block else None, block)
                if n == 0:
                    env["DISCORD_GUILD_ID"] = guilds[0].id
                processes.append(await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "bot", "run", cwd=work, env=env,
                    stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE))
            try:
                await emulator.wait_for_shards(range(shards), timeout=args.timeout)
                while not all(s.ready.is_set() for s in emulator.gateway.active):
                    await asyncio.sleep(0.1)
                ready_s = time.monotonic() - started
                await asyncio.sleep(3)  # discord.py waits guild_ready_timeout (2 s) after the last GUILD_CREATE
                emulator.commands[None] = emulator.commands[guilds[0].id]  # as after `python -m bot sync`
                rss_ready = [rss_mb(p.pid) for p in processes]
                latencies, elapsed = await ask(emulator, guilds, args)
                rss_after = [rss_mb(p.pid) for p in processes]
                peak = [rss_mb(p.pid, "VmHWM") for p in processes]
            finally:
                for process in processes:
                    if process.returncode is None:
                        process.terminate()
                for process in processes:
                    try:
                        await asyncio.wait_for(process.wait(), 20)
                    except asyncio.TimeoutError:
                        process.kill()
            stderr = b"".join([await p.stderr.read() for p in processes]).decode(errors="replace")
            with sqlite3.connect(work / "interactions.db") as conn:
                logged = conn.execute("SELECT COUNT(*) FROM interactions WHERE command = 'ask' AND status = 'ok'"
                                      ).fetchone()[0]
            answered = len(latencies)
            return {
                "guilds": guild_count, "shards": shards, "processes": len(processes), "ready_s": ready_s,
                "rss_ready": rss_ready, "rss_after": rss_after, "peak": peak, "answered": answered,
                "asked": args.questions, "logged": logged, "log_errors": stderr.count("interaction log:"),
                "qps": answered / elapsed if elapsed else float("nan"),
                "p50": statistics.median(latencies) if latencies else float("nan"),
                "p95": sorted(latencies)[int(0.95 * (answered - 1))] if latencies else float("nan"),
            }


async def ask(emulator, guilds: list, args: argparse.Namespace) -> tuple[list[float], float]:
    """Send --questions /ask in bursts of --burst over random servers; return latencies (ms) and the total time."""
    from tests.discord_emulator.records import now

    rng = random.Random(7)
    latencies: list[float] = []
    started = time.monotonic()
    remaining = args.questions
    while remaining > 0:
        batch = min(args.burst, remaining)
        remaining -= batch
        records = [await emulator.slash("ask", {"question": rng.choice(QUESTIONS)}, guild_id=rng.choice(guilds),
                                        user="alice") for _ in range(batch)]

        async def final(rec) -> None:
            try:
                await rec.wait_final(60)
            except Exception:  # noqa: BLE001  (an unanswered question counts as not answered)
                return
            latencies.append(1000 * (now() - rec.dispatched_at))

        await asyncio.gather(*(final(r) for r in records))
    return latencies, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--guilds", default="1,1000,5000", help="comma-separated server counts, one run each")
    parser.add_argument("--processes", type=int, default=1, help="bot processes splitting the shards")
    parser.add_argument("--per-shard", type=int, default=1000, help="servers per shard /gateway/bot recommends")
    parser.add_argument("--channels", type=int, default=20, help="text channels per server")
    parser.add_argument("--roles", type=int, default=10, help="roles per server besides @everyone and the bot's")
    parser.add_argument("--questions", type=int, default=200, help="/ask sent after start-up (0: none)")
    parser.add_argument("--burst", type=int, default=50, help="questions sent at once")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for every shard")
    parser.add_argument("--index", default=str(ROOT / "data" / "index.db"), help="embedding cache to copy")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(tmp) / "index.db"
        if Path(args.index).exists():
            with sqlite3.connect(args.index) as source, sqlite3.connect(index) as copy:
                source.backup(copy)
        print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
              f"load {os.getloadavg()[0]:.1f}", file=sys.stderr)
        print("| servers | shards | processes | all shards ready | RSS when ready (MB) | RSS after /ask | peak RSS "
              "| answered | logged | questions/s | p50 | p95 |")
        print("| ---: | ---: | ---: | ---: | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |")
        for count in [int(c) for c in args.guilds.split(",")]:
            r = asyncio.run(one_run(count, args, index))
            mbs = lambda xs: " + ".join(f"{x:.0f}" for x in xs)  # noqa: E731
            logged = f"{r['logged']}" + (f" ({r['log_errors']} log errors)" if r["log_errors"] else "")
            print(f"| {r['guilds']:,} | {r['shards']} | {r['processes']} | {r['ready_s']:.1f} s "
                  f"| {mbs(r['rss_ready'])} "
                  f"| {mbs(r['rss_after'])} | {mbs(r['peak'])} | {r['answered']}/{r['asked']} "
                  f"| {logged} | {r['qps']:.1f} "
                  f"| {r['p50']:.0f} ms | {r['p95']:.0f} ms |", flush=True)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
