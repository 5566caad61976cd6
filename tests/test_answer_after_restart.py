"""An acknowledged question is answered even if the bot dies: tokens held beside the log, answered at start-up."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from bot.log.pending import PendingAnswer, PendingStore, pending_path, plan
from knowledge.models import Turn
from tests.bot_fixtures import IN_SCOPE, assert_within_limits, db_rows, wait_row, wait_until
from tests.discord_emulator import connected_client
from tests.test_bot_process import TOKEN, base_env, run_bot, warm_index  # noqa: F401 (fixture)
from tests.test_bot_buttons import FOLLOW_UP
from tests.test_faults import QUESTIONS


def entry(**overrides) -> PendingAnswer:
    """A token-store entry with plain defaults."""
    values = dict(interaction_id=11, application_id=22, token="secret-token", created_at=time.time(), kind="ask",
                  question="why?", row_id=3, guild_id=44, previous=(Turn("who?", ("p1",)),), exclude=("p2",),
                  asked_by="alice", note="")
    return PendingAnswer(**(values | overrides))


def test_the_store_round_trips_and_deletes(tmp_path: Path) -> None:
    path = pending_path(tmp_path / "interactions.db")
    assert path == tmp_path / "interactions.pending.db"
    store = PendingStore(path)
    store.add(entry())
    assert store.entries() == [entry(created_at=store.entries()[0].created_at)]
    assert "secret-token" not in repr(store.entries()[0])
    assert path.stat().st_mode & 0o077 == 0  # only the bot's user may read tokens
    store.delivered(11, 99)
    assert store.entries()[0].delivered_message_id == 99
    store.remove(11)
    assert store.count() == 0
    store.close()
    assert b"secret-token" not in path.read_bytes()


def test_forget_deletes_one_members_waiting_questions_in_one_server(tmp_path: Path) -> None:
    store = PendingStore(pending_path(tmp_path / "interactions.db"))
    store.add(entry(interaction_id=1, user_id=7, guild_id=44))
    store.add(entry(interaction_id=2, user_id=7, guild_id=45))
    store.add(entry(interaction_id=3, user_id=8, guild_id=44))
    assert store.forget(44, 7) == 1
    assert [e.interaction_id for e in store.entries()] == [2, 3]
    assert store.forget(44, 7) == 0
    store.close()


def test_plan_answers_valid_tokens_and_gives_up_expired_ones() -> None:
    now = time.time()
    assert plan(entry(created_at=now - 60), now) == "answer"
    assert plan(entry(created_at=now - 16 * 60), now) == "expired"
    assert plan(entry(created_at=now - 16 * 60, delivered_message_id=5), now) == "delivered"


async def crash_between_defer_and_answer(bot, emulator, question: str):
    """Ask, let the bot acknowledge and compute, then kill the answer before it is sent (like kill -9 there)."""
    cog = bot.get_cog("Ask")
    hung = asyncio.Event()

    async def never(*args, **kwargs):
        hung.set()
        await asyncio.Event().wait()

    cog._send = never
    bot.drain = lambda timeout=None: asyncio.sleep(0, 0)  # a dead process tells nobody anything
    rec = await emulator.slash("ask", {"question": question})
    await rec.wait_response(3)
    await emulator.wait_event(hung, 10, "the answer to be ready to send")
    for task in list(bot._flights):
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return rec


async def test_a_question_acknowledged_before_a_crash_is_answered_after_the_restart(
    emulator, make_bot, bot_settings, bot_errors
) -> None:
    first = make_bot()
    async with connected_client(first, emulator):
        rec = await crash_between_defer_and_answer(first, emulator, IN_SCOPE)
        assert rec.loading
    store_path = pending_path(bot_settings.database_path)
    assert db_rows(store_path, "SELECT COUNT(*) AS n FROM pending")[0]["n"] == 1
    row = db_rows(bot_settings.database_path, "SELECT * FROM interactions WHERE discord_interaction_id = ?",
                  (rec.id,))[0]
    assert row["status"] == "pending"

    second = make_bot()
    async with connected_client(second, emulator):
        await rec.wait_final(15)
        row = await wait_row(bot_settings.database_path, rec.id, timeout=10)
        await second.recovery
        more = await emulator.press(rec.message, f"qa:more:{row['id']}")  # its buttons work like any answer's
        await more.wait_final(15)
    assert not rec.loading
    assert rec.message["embeds"][0]["description"].startswith("> ")
    assert_within_limits(rec.message)
    assert emulator.calls_to("PATCH", f"/webhooks/{emulator.application_id}/{rec.token}/messages/@original")
    assert row["status"] == "ok" and row["answered_after_restart"] == 1 and row["quote_count"] > 0
    assert row["message_id"] == rec.message["id"]
    assert more.message["embeds"]
    assert db_rows(store_path, "SELECT COUNT(*) AS n FROM pending")[0]["n"] == 0
    dump = "\n".join(sqlite3.connect(bot_settings.database_path).iterdump())
    assert rec.token not in dump  # the interaction log never holds a token


async def test_an_expired_token_is_given_up_cleanly(emulator, make_bot, bot_settings, bot_errors) -> None:
    first = make_bot()
    async with connected_client(first, emulator):
        rec = await crash_between_defer_and_answer(first, emulator, IN_SCOPE)
    emulator.token_lifetime = 0.0  # the restart came too late: Discord no longer knows the token
    second = make_bot()
    async with connected_client(second, emulator):
        row = await wait_row(bot_settings.database_path, rec.id, timeout=10)
        if second.recovery is not None:
            await second.recovery
    assert rec.loading  # nothing could be sent
    assert row["status"] == "interrupted" and row["answered_after_restart"] == 0
    assert db_rows(pending_path(bot_settings.database_path), "SELECT COUNT(*) AS n FROM pending")[0]["n"] == 0
    assert not emulator.calls_to("PATCH", f"/messages/@original")


async def test_a_token_older_than_15_minutes_is_not_even_tried(emulator, make_bot, bot_settings, bot_errors) -> None:
    first = make_bot()
    async with connected_client(first, emulator):
        rec = await crash_between_defer_and_answer(first, emulator, IN_SCOPE)
    store = PendingStore(pending_path(bot_settings.database_path))
    store._conn.execute("UPDATE pending SET created_at = created_at - 16 * 60")
    store.close()
    second = make_bot()
    async with connected_client(second, emulator):
        row = await wait_row(bot_settings.database_path, rec.id, timeout=10)
    assert second.recovery is None
    assert row["status"] == "interrupted"
    assert not emulator.calls_to("GET", f"/messages/@original")
    assert db_rows(pending_path(bot_settings.database_path), "SELECT COUNT(*) AS n FROM pending")[0]["n"] == 0


async def test_an_answer_delivered_before_the_crash_is_logged_as_answered(
    emulator, make_bot, bot_settings, bot_errors
) -> None:
    first = make_bot()
    async with connected_client(first, emulator):
        finish = first.log.call

        async def dead_before_finishing(fn, **kwargs):
            if first.pending.store is not None and first.pending.store.count() and \
                    first.pending.store.entries()[0].delivered_message_id:
                await asyncio.Event().wait()  # the process dies after delivering, before the row is finished
            return await finish(fn, **kwargs)

        first.log.call = dead_before_finishing
        first.drain = lambda timeout=None: asyncio.sleep(0, 0)
        rec = await emulator.slash("ask", {"question": IN_SCOPE})
        await rec.wait_final(15)
        await wait_until(lambda: first._flights, 5, "the answer in flight")
        for task in list(first._flights):
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        first.log.call = finish
    second = make_bot()
    async with connected_client(second, emulator):
        row = await wait_row(bot_settings.database_path, rec.id, timeout=10)
    assert row["status"] == "ok" and row["message_id"] == rec.message["id"]
    assert row["answered_after_restart"] == 0
    assert db_rows(pending_path(bot_settings.database_path), "SELECT COUNT(*) AS n FROM pending")[0]["n"] == 0


async def test_the_token_is_gone_once_the_answer_is_sent(emulator, quote_bot, bot_settings) -> None:
    rec = await emulator.slash("ask", {"question": IN_SCOPE})
    await rec.wait_final(15)
    assert (await wait_row(bot_settings.database_path, rec.id))["status"] == "ok"
    await wait_until(lambda: quote_bot.pending.store.count() == 0, 5, "the token to be dropped")


async def test_the_token_is_gone_after_an_error_too(emulator, make_bot, bot_settings, bot_errors, monkeypatch) -> None:
    async with connected_client(make_bot(), emulator) as bot:
        monkeypatch.setattr(bot.engine, "ask", lambda *a, **k: 1 / 0)
        rec = await emulator.slash("ask", {"question": IN_SCOPE})
        assert (await wait_row(bot_settings.database_path, rec.id))["status"] == "error"
        await wait_until(lambda: bot.pending.store.count() == 0, 5, "the token to be dropped")
        assert bot_errors.take()


@pytest.mark.timeout(300)
async def test_kill_9_mid_burst_then_restart_answers_everyone(emulator, tmp_path: Path, warm_index: Path) -> None:
    env = base_env(tmp_path, DISCORD_TOKEN=TOKEN, DISCORD_API_BASE=emulator.api_base,
                   DISCORD_GATEWAY_URL=emulator.gateway_url, DISCORD_GUILD_ID=emulator.guild.id,
                   ASK_COOLDOWN_RATE="0")
    db = tmp_path / "interactions.db"
    process = await run_bot(tmp_path, env, "run")
    try:
        await emulator.wait_for_client(timeout=120)
        recs = [await emulator.slash("ask", {"question": QUESTIONS[n % len(QUESTIONS)]}) for n in range(20)]
        for rec in recs:
            await rec.wait_response(3)
        process.kill()  # SIGKILL: nothing runs, nothing is told
        await process.wait()
        unanswered = [r for r in recs if r.loading]
        process = await run_bot(tmp_path, env, "run")
        try:
            for rec in recs:
                await rec.wait_final(120)
        except Exception:
            process.kill()
            out, err = await process.communicate()
            raise AssertionError(err.decode()[-3000:])
        rows = await wait_until(lambda: (r := db_rows(db, "SELECT * FROM interactions WHERE status != 'pending'"))
                                and len(r) == 20 and r, 30, "every row finished")
        await wait_until(lambda: db_rows(pending_path(db), "SELECT COUNT(*) AS n FROM pending")[0]["n"] == 0, 10,
                         "the token store to empty")
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert all(r.message["embeds"] and not r.loading for r in recs)
    assert [r["status"] for r in rows] == ["ok"] * 20
    assert sum(r["answered_after_restart"] for r in rows) == len(unanswered)
    by_id = {r["discord_interaction_id"]: r for r in rows}
    assert all(by_id[r.id]["answered_after_restart"] == 1 for r in unanswered)


async def test_a_thread_follow_up_acknowledged_before_a_crash_is_answered_after_the_restart(
    emulator, make_bot, bot_settings, bot_errors, monkeypatch
) -> None:
    """The Follow up modal answers in a thread; if the bot dies first, its private "thinking…" gets the answer."""
    path = bot_settings.database_path
    first = make_bot()
    async with connected_client(first, emulator):
        rec = await emulator.slash("ask", {"question": IN_SCOPE})
        await rec.wait_final(15)
        root = await wait_row(path, rec.id, timeout=10)
        hung = asyncio.Event()

        async def never(*args, **kwargs):
            hung.set()
            await asyncio.Event().wait()

        cog_module = sys.modules[type(first.get_cog("Ask")).__module__]  # as the extension loader imported it
        monkeypatch.setattr(cog_module, "answer_to", never)
        first.drain = lambda timeout=None: asyncio.sleep(0, 0)  # a dead process tells nobody anything
        press = await emulator.press(rec.message, f"qa:follow:{root['id']}", user="alice")
        await press.wait_final(5)
        submit = await emulator.submit_modal(press, {"question": FOLLOW_UP})
        await submit.wait_response(3)
        await emulator.wait_event(hung, 10, "the thread answer to start")
        for task in list(first._flights):
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert submit.loading and submit.ephemeral
    waiting = PendingStore(pending_path(path)).entries()
    assert [(e.kind, e.question, len(e.previous)) for e in waiting] == [("followup", FOLLOW_UP, 1)]
    monkeypatch.undo()

    second = make_bot()
    async with connected_client(second, emulator):
        await submit.wait_final(15)
        row = await wait_row(path, submit.id, timeout=10)
        await second.recovery
    assert not submit.loading and submit.message["embeds"][0]["title"] == f"↪ {FOLLOW_UP}"
    assert_within_limits(submit.message)
    assert row["status"] == "ok" and row["answered_after_restart"] == 1 and row["question"] == FOLLOW_UP
    assert db_rows(pending_path(path), "SELECT COUNT(*) AS n FROM pending")[0]["n"] == 0
