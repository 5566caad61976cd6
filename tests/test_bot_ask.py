"""/ask end to end through the Discord emulator with the real engine: answers, abstentions, refusals, errors."""

from __future__ import annotations

import sqlite3

import discord
import pytest

from tests.bot_fixtures import (
    IN_SCOPE,
    OUT_OF_SCOPE,
    assert_within_limits,
    custom_ids,
    db_rows,
    wait_private,
    wait_row,
)
from bot.log import AsyncLog
from tests.discord_emulator import connected_client


async def test_commands_are_synced_to_the_dev_guild_only(quote_bot, emulator) -> None:
    puts = emulator.calls_to("PUT", f"/guilds/{emulator.guild.id}/commands")
    assert len(puts) == 1 and puts[0].status == 200
    names = {c["name"] for c in puts[0].json}
    assert names >= {"ask", "followup", "sources", "source"}
    ask = next(c for c in puts[0].json if c["name"] == "ask")
    assert ask["options"][0]["max_length"] == 300 and ask["options"][0]["required"]
    assert not emulator.calls_to("PUT", f"/applications/{emulator.application_id}/commands")  # never global at start


async def test_ask_defers_at_once_then_answers_with_quotes(quote_bot, emulator, bot_settings) -> None:
    rec = await emulator.slash("ask", {"question": IN_SCOPE}, user="alice")
    await rec.wait_response(3)
    assert rec.callback_type == 5 and rec.acknowledged_after < 3
    await rec.wait_final(10)
    message = rec.message
    assert not rec.ephemeral and not rec.loading
    assert_within_limits(message)
    embed = message["embeds"][0]
    assert embed["title"] == IN_SCOPE
    assert embed["description"].startswith("> ") and "**" in embed["description"]
    titles = {a.title for a in quote_bot.engine.articles}
    assert any(t in embed["description"] for t in titles)
    row = await wait_row(bot_settings.database_path, rec.id)
    assert custom_ids(message) == [f"qa:more:{row['id']}", f"qa:follow:{row['id']}",
                                   f"qa:vote:up:{row['id']}", f"qa:vote:down:{row['id']}"]
    assert (row["command"], row["status"], row["abstained"], row["question"]) == ("ask", "ok", 0, IN_SCOPE)
    assert row["guild_id"] == emulator.guild.id and row["channel_id"] == rec.channel_id
    assert row["user_id"] == rec.user_id and row["user_name"] == "Alice" and row["latency_ms"] >= 0
    assert row["message_id"] == message["id"] and row["conversation_id"] is not None
    sql = "SELECT * FROM interaction_quotes WHERE interaction_id = ?"
    quotes = db_rows(bot_settings.database_path, sql, (row["id"],))
    assert len(quotes) == row["quote_count"] >= 1
    assert all(q["passage_id"].startswith(q["article_id"]) and q["text"] for q in quotes)


async def test_out_of_scope_question_abstains_and_points_to_sources(quote_bot, emulator, bot_settings) -> None:
    rec = await emulator.slash("ask", {"question": OUT_OF_SCOPE})
    await rec.wait_final(10)
    embed = rec.message["embeds"][0]
    assert "don't cover this" in embed["description"] and "/sources" in embed["description"]
    assert ">" not in embed["description"]  # no unrelated quote
    assert_within_limits(rec.message)
    row = await wait_row(bot_settings.database_path, rec.id)
    assert row["abstained"] == 1 and row["quote_count"] == 0 and row["reason"]
    assert not any(cid.startswith("qa:more:") for cid in custom_ids(rec.message))


async def test_blank_question_gets_a_private_hint(quote_bot, emulator, bot_settings) -> None:
    rec = await emulator.slash("ask", {"question": "   "})
    await rec.wait_final(5)
    assert rec.callback_type == 4 and rec.ephemeral
    assert "Please type a question" in rec.message["content"]
    row = await wait_row(bot_settings.database_path, rec.id)
    assert (row["command"], row["status"], row["question"]) == ("ask", "invalid", None)


async def test_hostile_question_text_stays_inert(quote_bot, emulator) -> None:
    question = "@everyone <@123456789012345678> **why** did `Putin` go to Beijing?"
    rec = await emulator.slash("ask", {"question": question})
    await rec.wait_final(10)
    assert_within_limits(rec.message)
    title = rec.message["embeds"][0]["title"]
    assert "@everyone" not in title and "<@1" not in title and "\\*\\*why\\*\\*" in title


async def test_a_failing_engine_gives_a_short_private_message_and_an_error_row(
    quote_bot, emulator, bot_settings, bot_errors, monkeypatch
) -> None:
    def explode(*args, **kwargs):
        raise RuntimeError("engine exploded")

    monkeypatch.setattr(quote_bot.engine, "ask", explode)
    bot_errors.emulator = None  # this error is expected: don't fail the waits
    rec = await emulator.slash("ask", {"question": IN_SCOPE})
    reply = await wait_private(rec)
    assert "something went wrong" in reply["content"] and "engine exploded" not in reply["content"]
    assert len(rec.messages) == 1  # the public "thinking" placeholder was removed
    row = await wait_row(bot_settings.database_path, rec.id)
    assert row["status"] == "error" and "RuntimeError: engine exploded" in row["error"]
    assert [r.getMessage() for r in bot_errors.take()] == ["/ask failed (interaction %s)" % rec.id]


async def test_an_error_in_another_command_goes_through_the_tree_handler(
    quote_bot, emulator, bot_settings, bot_errors, monkeypatch
) -> None:
    monkeypatch.setattr(type(quote_bot.engine), "articles", property(lambda self: 1 / 0))
    bot_errors.emulator = None
    rec = await emulator.slash("sources")
    await rec.wait_final(5)
    assert rec.ephemeral and "something went wrong" in rec.message["content"]
    row = await wait_row(bot_settings.database_path, rec.id)
    assert (row["command"], row["status"]) == ("sources", "error") and "ZeroDivisionError" in row["error"]
    assert len(bot_errors.take()) == 1


async def test_cooldown_says_when_to_retry(emulator, make_bot, bot_settings, bot_errors) -> None:
    async with connected_client(make_bot(ask_cooldown_rate=1, ask_cooldown_seconds=60), emulator):
        first = await emulator.slash("ask", {"question": IN_SCOPE}, user="alice")
        await first.wait_final(10)
        second = await emulator.slash("ask", {"question": IN_SCOPE}, user="alice")
        await second.wait_final(5)
        assert second.ephemeral and "try again <t:" in second.message["content"]
        other = await emulator.slash("ask", {"question": IN_SCOPE}, user="moderator")
        await other.wait_final(10)
        assert other.message["embeds"]  # the cooldown is per user
    assert (await wait_row(bot_settings.database_path, second.id))["status"] == "rate_limited"


async def test_channels_outside_the_allow_list_are_refused(emulator, make_bot, bot_settings, bot_errors) -> None:
    general = emulator.guild.channel("general")
    async with connected_client(make_bot(allowed_channel_ids=frozenset({int(general.id)})), emulator):
        refused = await emulator.slash("ask", {"question": IN_SCOPE}, channel_id="random")
        await refused.wait_final(5)
        assert refused.ephemeral and f"<#{general.id}>" in refused.message["content"]
        allowed = await emulator.slash("ask", {"question": IN_SCOPE}, channel_id="general")
        await allowed.wait_final(10)
        assert allowed.message["embeds"] and not allowed.ephemeral
    row = await wait_row(bot_settings.database_path, refused.id)
    assert row["status"] == "refused" and row["channel_id"] == emulator.guild.channel("random").id


@pytest.mark.parametrize("question", ["x" * 300])
async def test_long_questions_fit_the_title(quote_bot, emulator, question: str) -> None:
    rec = await emulator.slash("ask", {"question": question})
    await rec.wait_final(10)
    assert_within_limits(rec.message)
    assert isinstance(discord.Embed.from_dict(rec.message["embeds"][0]).title, str)


async def test_an_unusable_log_never_costs_the_user_the_answer(
    emulator, make_bot, bot_errors, tmp_path, capsys
) -> None:
    bot_errors.emulator = None  # the log failure is reported at ERROR on purpose
    async with connected_client(make_bot(database_path=tmp_path), emulator):  # a directory: can't be opened
        rec = await emulator.slash("ask", {"question": IN_SCOPE})
        await rec.wait_final(10)
        assert rec.message["embeds"][0]["description"].startswith("> ")
        assert custom_ids(rec.message) == []  # nothing logged, so no buttons that could not work
    assert capsys.readouterr().err.count("interaction log: cannot write") == 1
    assert bot_errors.take()


async def test_a_locked_log_still_answers(emulator, make_bot, bot_settings, bot_errors, capsys) -> None:
    bot_errors.emulator = None
    bot = make_bot()
    bot.log = AsyncLog(bot_settings.database_path, busy_timeout=0.2)
    async with connected_client(bot, emulator):
        blocker = sqlite3.connect(bot_settings.database_path, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            rec = await emulator.slash("ask", {"question": IN_SCOPE})
            await rec.wait_final(10)
            assert rec.message["embeds"][0]["description"].startswith("> ")
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
    err = capsys.readouterr().err
    assert err.count("interaction log: cannot write") == 1 and "locked" in err
    assert bot_errors.take()


async def test_a_question_with_a_typo_is_answered_and_says_how_it_was_read(quote_bot, emulator, bot_settings) -> None:
    question = "When did Putin arrive in Beijng?"
    rec = await emulator.slash("ask", {"question": question}, user="alice")
    await rec.wait_final(10)
    embed = rec.message["embeds"][0]
    assert_within_limits(rec.message)
    assert embed["title"] == question  # shown as asked
    assert embed["description"].startswith("> ")  # answered, not refused as an unknown name
    assert "Read as: When did Putin arrive in Beijing?" in embed["footer"]["text"]
    row = await wait_row(bot_settings.database_path, rec.id)
    assert (row["question"], row["abstained"]) == (question, 0)  # the log keeps what the member typed
