"""Fixtures for the bot's tests: settings on tmp_path, a QuoteBot connected to the emulator, log helpers."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot import formatting
from bot.config import Settings

OUT_OF_SCOPE = "Who won Taiwan's 2024 presidential election?"
IN_SCOPE = "Why did Putin go to Beijing right after Trump's visit?"


def db_rows(path: Path, sql: str, params: tuple | list = ()) -> list[dict[str, Any]]:
    """Query the interaction log from the test (a separate read connection)."""
    if not Path(path).exists():
        return []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


async def wait_until(predicate: Callable[[], Any], timeout: float = 5.0, what: str = "a condition") -> Any:
    """Poll predicate until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


async def wait_row(path: Path, interaction_id: str, timeout: float = 5.0) -> dict[str, Any]:
    """The finished (not pending) log row of one Discord interaction."""
    sql = "SELECT * FROM interactions WHERE discord_interaction_id = ? AND status != 'pending'"
    rows = await wait_until(lambda: db_rows(path, sql, (interaction_id,)), timeout, f"the log row of {interaction_id}")
    return rows[0]


async def wait_rows(path: Path, sql: str, params: tuple = (), count: int = 1, timeout: float = 5.0) -> list[dict]:
    """Wait until a query returns at least count rows."""
    return await wait_until(lambda: (r := db_rows(path, sql, params)) and len(r) >= count and r, timeout, sql)


def custom_ids(message: dict) -> list[str]:
    """All component custom_ids on a message, in order."""
    rows = message.get("components", [])
    return [c["custom_id"] for row in rows for c in row.get("components", []) if "custom_id" in c]


def assert_within_limits(message: dict) -> None:
    """A message the emulator stored respects Discord's limits and pings nobody."""
    import discord

    embeds = [discord.Embed.from_dict(e) for e in message.get("embeds", [])]
    assert formatting.limit_problems(message.get("content"), embeds) == []
    assert message["allowed_mentions"] == {"parse": []}


async def wait_private(rec, timeout: float = 5.0) -> dict:
    """The ephemeral message an interaction ended with (after any placeholder was removed)."""
    def found():
        return next((m for m in rec.messages if m["flags"] & 64 and m.get("content")), None)

    return await wait_until(found, timeout, f"an ephemeral reply to {rec}")


@pytest.fixture
def bot_settings(tmp_path: Path, emulator) -> Settings:
    """Settings for an in-process bot: a tmp log, the emulator's guild, no cooldown."""
    return Settings(
        discord_guild_id=int(emulator.guild.id),
        database_path=tmp_path / "interactions.db",
        index_path=tmp_path / "index.db",
        ask_cooldown_rate=0,
    )


@pytest.fixture
def bot_errors(emulator) -> Iterator[Any]:
    """Collect ERROR records of the bot's own loggers; unexpected ones fail the test (and its waits)."""
    from tests.discord_emulator import ErrorLogCollector

    collector = ErrorLogCollector(emulator, loggers=("bot",))
    with collector.installed():
        yield collector
    if collector.records:
        pytest.fail("the bot logged errors:\n" + "\n".join(collector.describe(r) for r in collector.records))


@pytest.fixture
def make_bot(engine, bot_settings):
    """Build QuoteBots sharing the session engine; settings can be overridden per bot."""
    from bot.client import QuoteBot

    def build(**overrides: Any) -> QuoteBot:
        return QuoteBot(replace(bot_settings, **overrides), engine=engine)

    return build


@pytest_asyncio.fixture
async def quote_bot(emulator, make_bot, bot_errors) -> AsyncIterator[Any]:
    """A QuoteBot connected to the emulator with the real engine."""
    from tests.discord_emulator import connected_client

    async with connected_client(make_bot(), emulator) as bot:
        yield bot
