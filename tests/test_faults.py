"""Faults through the emulator: a dropped gateway, a read-only, locked or full log database."""

from __future__ import annotations

import asyncio
import resource
import sqlite3
import time
from pathlib import Path

import pytest

from bot.log import AsyncLog
from tests.bot_fixtures import IN_SCOPE, assert_within_limits, db_rows, wait_row, wait_until
from tests.discord_emulator import connected_client
from tests.test_bot_process import TOKEN, base_env, running_bot, stop_bot, warm_index  # noqa: F401 (fixture)

QUESTIONS = ["Why did Putin go to Beijing right after Trump's visit?", "who is Kurt Campbell?",
             "what currencies do russia and china use for their trade"]


@pytest.mark.parametrize("code", [1001, 4000, 4009])
async def test_a_dropped_gateway_resumes_and_answers_what_came_meanwhile(
    emulator, make_bot, bot_settings, bot_errors, code
) -> None:
    async with connected_client(make_bot(), emulator, reconnect=True):
        before = await emulator.slash("ask", {"question": QUESTIONS[0]})
        await before.wait_final(15)
        await emulator.gateway.drop(code, hold=True)
        gap = [await emulator.slash("ask", {"question": q}) for q in QUESTIONS]
        await asyncio.sleep(0.2)
        assert not any(r.acknowledged for r in gap)  # the bot is not connected: nothing can reach it
        emulator.gateway.reopen()
        for rec in gap:
            await rec.wait_final(15)
        after = await emulator.slash("ask", {"question": QUESTIONS[1]})
        await after.wait_final(15)
        rows = [await wait_row(bot_settings.database_path, r.id) for r in [before, *gap, after]]
    assert len(emulator.identify_payloads) == 1 and len(emulator.gateway.resume_payloads) == 1  # resumed
    for rec in gap:
        assert rec.acknowledged_after < 3
        assert rec.message["embeds"] and not rec.loading
        assert_within_limits(rec.message)
    assert [r["status"] for r in rows] == ["ok"] * 5


async def test_a_gateway_that_forgets_the_session_gets_a_fresh_identify(
    emulator, make_bot, bot_settings, bot_errors
) -> None:
    async with connected_client(make_bot(), emulator, reconnect=True):
        await emulator.gateway.drop(4000, hold=True)
        emulator.gateway.sessions.clear()  # Discord lost the session: RESUME is refused, the bot identifies again
        emulator.gateway.reopen()
        await wait_until(lambda: len(emulator.identify_payloads) == 2 and emulator.gateway.active, 20,
                         "a second IDENTIFY")
        rec = await emulator.slash("ask", {"question": IN_SCOPE})
        await rec.wait_final(15)
        assert (await wait_row(bot_settings.database_path, rec.id))["status"] == "ok"


async def ask_ok(emulator, question: str = IN_SCOPE):
    """Ask and wait for an answer the member can see."""
    rec = await emulator.slash("ask", {"question": question})
    await rec.wait_final(20)
    assert rec.message["embeds"] and rec.message["embeds"][0]["description"].startswith("> "), rec.message.get("content")
    assert_within_limits(rec.message)
    return rec


def answered_rows(path: Path) -> list[int]:
    """Ids of the answered rows."""
    return [r["id"] for r in db_rows(path, "SELECT id FROM interactions WHERE status = 'ok' ORDER BY id")]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("fault", ["read-only", "locked for 10 s"])
async def test_a_failing_log_database_never_costs_an_answer(
    emulator, make_bot, bot_settings, bot_errors, capsys, fault
) -> None:
    bot_errors.emulator = None  # the failure is reported at ERROR on purpose
    db = bot_settings.database_path
    bot = make_bot()
    async with connected_client(bot, emulator):
        bot.log.retry_after_seconds = 0.5
        before = [await ask_ok(emulator, q) for q in QUESTIONS]
        committed = [(await wait_row(db, r.id))["id"] for r in before]
        blocker = sqlite3.connect(db, isolation_level=None)
        started = time.monotonic()
        if fault == "read-only":  # as root every file is writable: make SQLite refuse writes instead
            await bot.log.call(lambda log: log.db.conn.execute("PRAGMA query_only = ON"))
        else:
            blocker.execute("BEGIN EXCLUSIVE")  # another writer holds the database
        during = [await ask_ok(emulator, q) for q in QUESTIONS[:2]]
        if fault == "read-only":
            await asyncio.sleep(0.6)
            await bot.log.call(lambda log: log.db.conn.execute("PRAGMA query_only = OFF"))
        else:
            await asyncio.sleep(max(0.0, 10 - (time.monotonic() - started)))
            blocker.execute("ROLLBACK")
        blocker.close()
        await asyncio.sleep(0.6)
        after = await ask_ok(emulator)
        row = await wait_row(db, after.id)
    assert row["status"] == "ok"
    assert set(committed) <= set(answered_rows(db))  # nothing committed before the fault was lost
    assert all(r.message for r in before + during)
    err = capsys.readouterr().err
    assert sum(line.startswith("interaction log: cannot write") for line in err.splitlines()) == 1, err
    assert bot_errors.take()


@pytest.mark.timeout(240)
async def test_a_full_disk_never_costs_an_answer(emulator, tmp_path: Path, warm_index: Path) -> None:
    db = tmp_path / "interactions.db"
    env = base_env(tmp_path, DISCORD_TOKEN=TOKEN, DISCORD_API_BASE=emulator.api_base,
                   DISCORD_GATEWAY_URL=emulator.gateway_url, DISCORD_GUILD_ID=emulator.guild.id, ASK_COOLDOWN_RATE="0")
    async with running_bot(tmp_path, env, "run") as process:
        await emulator.wait_for_client(timeout=120)
        before = [await ask_ok(emulator, q) for q in QUESTIONS]
        committed = [(await wait_row(db, r.id))["id"] for r in before]
        soft, hard = resource.prlimit(process.pid, resource.RLIMIT_FSIZE)
        resource.prlimit(process.pid, resource.RLIMIT_FSIZE, (1, hard))  # no file may grow: the disk is full
        during = [await ask_ok(emulator, q) for q in QUESTIONS[:2]]
        resource.prlimit(process.pid, resource.RLIMIT_FSIZE, (soft, hard))  # space was freed
        await asyncio.sleep(AsyncLog.retry_after_seconds + 1)
        after = await ask_ok(emulator)
        row = await wait_row(db, after.id, timeout=10)
        text = await stop_bot(process, 20)
    assert process.returncode == 0, text
    assert row["status"] == "ok"
    assert all(r.message for r in during)
    assert set(committed) <= set(answered_rows(db))
    said = [line for line in text.splitlines() if not line.startswith("[")]  # what the bot says, not its log lines
    assert sorted(line.split(":")[0] for line in said) == ["interaction log", "pending answers"], text  # once each
    assert "Interaction log" in text and "is writable again" in text
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone() == ("ok",)
