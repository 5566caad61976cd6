"""Running the bot the way users do (`python -m bot run`, env only), and shutting down cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import signal
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from bot import runner
from bot.config import Settings
from tests.bot_fixtures import IN_SCOPE, assert_within_limits, db_rows, wait_row, wait_until
from tests.discord_emulator import connected_client

TOKEN = "fake-token-NEVER-LOGGED-4f9c2b"
REPO = Path(__file__).resolve().parents[1]


def base_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A clean environment: nothing from the developer's shell or .env leaks in."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    env.update(DATABASE_PATH=str(tmp_path / "interactions.db"), INDEX_PATH=str(tmp_path / "index.db"))
    env.update(extra)
    return env


async def run_bot(tmp_path: Path, env: dict[str, str], *args: str, stdin=asyncio.subprocess.DEVNULL):
    """Start `python -m bot ...` in tmp_path."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=tmp_path, env=env, stdin=stdin,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )


@contextlib.asynccontextmanager
async def running_bot(tmp_path: Path, env: dict[str, str], *args: str):
    """`python -m bot ...` running for the block; killed afterwards if the block did not stop it."""
    process = await run_bot(tmp_path, env, *args)
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def stop_bot(process, timeout: float) -> str:
    """Send SIGTERM, wait for the exit, and return everything the process printed."""
    process.send_signal(signal.SIGTERM)
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    return (out + err).decode()


@pytest.fixture
def warm_index(tmp_path: Path, engine, engine_cache: Path) -> Path:
    """A copy of the session's embedding cache, so the subprocess doesn't re-embed everything."""
    target = tmp_path / "index.db"
    if engine_cache.exists():
        source = sqlite3.connect(engine_cache)
        with sqlite3.connect(target) as copy:
            source.backup(copy)
        source.close()
    return target


@pytest.mark.timeout(180)
async def test_run_subprocess_answers_then_stops_cleanly_on_sigterm(emulator, tmp_path: Path, warm_index: Path) -> None:
    env = base_env(
        tmp_path, DISCORD_TOKEN=TOKEN, DISCORD_API_BASE=emulator.api_base, DISCORD_GATEWAY_URL=emulator.gateway_url,
        DISCORD_GUILD_ID=emulator.guild.id, LOG_LEVEL="DEBUG",
    )
    async with running_bot(tmp_path, env, "run") as process:
        await emulator.wait_for_client(timeout=120)
        assert emulator.calls_to("PUT", f"/guilds/{emulator.guild.id}/commands")
        rec = await emulator.slash("ask", {"question": IN_SCOPE})
        await rec.wait_response(3)
        await rec.wait_final(15)
        assert rec.message["embeds"][0]["description"].startswith("> ")
        assert_within_limits(rec.message)
        row = await wait_row(tmp_path / "interactions.db", rec.id)
        assert row["status"] == "ok"
        started = time.monotonic()
        text = await stop_bot(process, 10)
        assert time.monotonic() - started < 5
    assert process.returncode == 0, text
    assert "Shutting down" in text and "Traceback" not in text
    assert "\x1b[" not in text  # log lines to a file carry no colour codes, even in a container
    assert TOKEN not in text
    dump = "\n".join(sqlite3.connect(tmp_path / "interactions.db").iterdump())
    assert TOKEN not in dump
    wal = tmp_path / "interactions.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0  # checkpointed on close


async def test_run_without_token_or_terminal_explains_and_exits_1(tmp_path: Path) -> None:
    process = await run_bot(tmp_path, base_env(tmp_path), "run")
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1
    text = err.decode()
    assert "bot' and 'applications.commands'" in text and "no privileged intents" in text
    assert "No terminal is attached" in text


async def test_a_bad_setting_exits_2_with_one_sentence(tmp_path: Path) -> None:
    process = await run_bot(tmp_path, base_env(tmp_path, DISCORD_TOKEN=TOKEN, DISCORD_GUILD_ID="my-server"), "run")
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    assert err.decode().strip().startswith("Configuration error: DISCORD_GUILD_ID must be a Discord id")
    assert TOKEN not in (out + err).decode()


@pytest.mark.timeout(120)
async def test_sync_publishes_globally_only_when_asked(emulator, tmp_path: Path) -> None:
    env = base_env(tmp_path, DISCORD_TOKEN=TOKEN, DISCORD_API_BASE=emulator.api_base,
                   DISCORD_GATEWAY_URL=emulator.gateway_url)
    process = await run_bot(tmp_path, env, "sync")
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    names = {c["name"] for c in emulator.commands[None]}
    assert names >= {"ask", "followup", "sources", "source"}
    assert f"Synced {len(names)} commands to all servers" in out.decode()
    process = await run_bot(tmp_path, env, "sync", "--guild", emulator.guild.id)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0 and f"server {emulator.guild.id}" in out.decode()
    assert not (tmp_path / "interactions.db").exists()  # syncing opens no log


async def test_shutdown_waits_for_an_answer_in_flight(
    emulator, make_bot, bot_settings, bot_errors, monkeypatch
) -> None:
    bot = make_bot()
    slow_ask = bot.engine.ask

    def slow(*args, **kwargs):
        time.sleep(0.8)
        return slow_ask(*args, **kwargs)

    async with connected_client(bot, emulator):
        monkeypatch.setattr(bot.engine, "ask", slow)
        rec = await emulator.slash("ask", {"question": IN_SCOPE})
        await rec.wait_response(3)
        await wait_until(lambda: bot.in_flight, 5, "the answer to start")
    await rec.wait_final(1)
    assert rec.message["embeds"] and not rec.loading
    assert (await wait_row(bot_settings.database_path, rec.id))["status"] == "ok"


async def test_shutdown_logs_an_answer_that_cannot_finish_as_interrupted(
    emulator, make_bot, bot_settings, bot_errors, monkeypatch
) -> None:
    bot = make_bot()
    bot.drain_seconds = 0.3

    def stuck(*args, **kwargs):
        time.sleep(2)
        raise AssertionError("should have been abandoned")

    async with connected_client(bot, emulator):
        monkeypatch.setattr(bot.engine, "ask", stuck)
        rec = await emulator.slash("ask", {"question": IN_SCOPE})
        await rec.wait_response(3)
        await wait_until(lambda: db_rows(bot_settings.database_path, "SELECT id FROM interactions"), 5, "the row")
    rows = db_rows(bot_settings.database_path, "SELECT * FROM interactions WHERE discord_interaction_id = ?", (rec.id,))
    assert rows[0]["status"] == "interrupted"
    assert "restarted before I could answer" in rec.message["content"]


def test_without_a_token_a_terminal_gets_the_local_prompt(engine, monkeypatch, capsys, tmp_path: Path) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("bot.client.open_engine", lambda settings, progress=False: engine)
    out = io.StringIO()
    settings = Settings(database_path=tmp_path / "interactions.db")
    code = runner.run_locally(settings, stdin=Terminal(f"{IN_SCOPE}\nquit\n"), stdout=out)
    assert code == 0
    assert "applications.commands" in capsys.readouterr().err
    assert any(article.title in out.getvalue() for article in engine.articles)
    assert db_rows(settings.database_path, "SELECT command, question FROM interactions") == [
        {"command": "local", "question": IN_SCOPE}]  # `make browse` has something to show
