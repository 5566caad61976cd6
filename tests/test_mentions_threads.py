"""@mentions as questions, replies and threads that carry a conversation (also after a restart), end to end."""

from __future__ import annotations

import discord

from bot import formatting
from bot.cogs.mentions import mention_question
from bot.conversations import thread_name
from tests.bot_fixtures import IN_SCOPE, custom_ids, db_rows, wait_row, wait_rows, wait_until
from tests.discord_emulator import EmuUser, connected_client

FOLLOW_UP = "And what did China get out of it?"
PRIVILEGED = (1 << 1) | (1 << 8) | (1 << 15)  # GUILD_MEMBERS, GUILD_PRESENCES, MESSAGE_CONTENT
GUILD_MESSAGES = 1 << 9


def test_the_question_is_the_text_without_the_bot_mention() -> None:
    assert mention_question("<@42> and  what did\nXi say? <@!42>", 42) == "and what did Xi say?"
    assert thread_name("x" * 300).endswith("…") and len(thread_name("x" * 300)) == 100
    assert "@everyone" not in thread_name("@everyone look")


def assert_quiet_reply(message: dict, to: dict) -> None:
    """A reply to `to`, within Discord's limits, pinging nobody (not even the replied-to member)."""
    embeds = [discord.Embed.from_dict(e) for e in message.get("embeds", [])]
    assert formatting.limit_problems(message.get("content"), embeds) == []
    assert message["allowed_mentions"] == {"parse": [], "replied_user": False}
    assert message["message_reference"]["message_id"] == to["id"]


async def bot_reply_to(emulator, message: dict, timeout: float = 15.0) -> dict:
    """The bot's reply to a member's message."""
    def found():
        return next((m for m in emulator.messages.values()
                     if (m.get("message_reference") or {}).get("message_id") == message["id"]
                     and m["author"]["id"] == emulator.bot_user.id), None)

    return await wait_until(found, timeout, f"the bot's reply to {message['id']}")


async def test_only_non_privileged_intents_with_guild_messages(quote_bot, emulator) -> None:
    intents = emulator.identify_payloads[-1]["intents"]
    assert intents & GUILD_MESSAGES and not intents & PRIVILEGED


async def test_a_mention_is_a_question_answered_as_a_quiet_reply(quote_bot, emulator, bot_settings) -> None:
    path = bot_settings.database_path
    asked = await emulator.post_message(f"{emulator.bot_mention} {IN_SCOPE} @everyone", user="alice")
    reply = await bot_reply_to(emulator, asked)
    assert_quiet_reply(reply, asked)
    assert reply["embeds"][0]["description"].startswith("> ")
    row = (await wait_rows(path, "SELECT * FROM interactions WHERE command = 'mention' AND status = 'ok'"))[0]
    assert (row["question"], row["argument"], row["parent_id"]) == (f"{IN_SCOPE} @everyone", asked["id"], None)
    assert row["message_id"] == reply["id"] and f"qa:follow:{row['id']}" in custom_ids(reply)
    empty = await emulator.post_message(emulator.bot_mention, user="alice")
    hint = await bot_reply_to(emulator, empty)
    assert "Mention me with a question" in hint["content"]
    assert_quiet_reply(hint, empty)


async def test_bots_and_everyone_only_mentions_are_ignored(quote_bot, emulator, bot_settings) -> None:
    other_bot = EmuUser(emulator.ids(), "other-bot", "Other Bot", bot=True)
    emulator.users[other_bot.id] = other_bot
    emulator.guild.add_member(other_bot)
    await emulator.post_message(f"{emulator.bot_mention} {IN_SCOPE}", author=other_bot)
    await emulator.post_message(f"@everyone {IN_SCOPE}", user="alice")
    await emulator.sync_client()
    await emulator.post_message(emulator.bot_mention, user="alice")  # a marker (a hint), processed after the two
    await wait_rows(bot_settings.database_path, "SELECT * FROM interactions WHERE command = 'mention'")
    await emulator.sync_client()
    rows = db_rows(bot_settings.database_path, "SELECT question FROM interactions")
    assert [r["question"] for r in rows] == [None]  # only the marker (a hint: no question)
    assert len(emulator.channel_history("general")) == 1


async def test_a_reply_mention_continues_the_answer_it_replies_to(quote_bot, emulator, bot_settings) -> None:
    path = bot_settings.database_path
    rec = await emulator.slash("ask", {"question": IN_SCOPE}, user="alice")
    await rec.wait_final(15)
    root = await wait_row(path, rec.id)
    follow = await emulator.post_message(f"{emulator.bot_mention} {FOLLOW_UP}", user="alice", reply_to=rec.message)
    reply = await bot_reply_to(emulator, follow)
    assert reply["embeds"][0]["title"] == f"↪ {FOLLOW_UP}"
    row = db_rows(path, "SELECT * FROM interactions WHERE command = 'mention'")[0]
    assert (row["parent_id"], row["conversation_id"]) == (root["id"], root["conversation_id"])


async def test_threads_carry_the_conversation_across_a_restart(emulator, make_bot, bot_settings, bot_errors) -> None:
    path = bot_settings.database_path
    long_question = IN_SCOPE + " " + "and also " * 20
    async with connected_client(make_bot(), emulator):
        rec = await emulator.slash("ask", {"question": long_question.strip()}, user="alice")
        await rec.wait_final(15)
        root = await wait_row(path, rec.id)
        press = await emulator.press(rec.message, f"qa:follow:{root['id']}", user="alice")
        await press.wait_final(5)
        submit = await emulator.submit_modal(press, {"question": FOLLOW_UP})
        await submit.wait_final(15)
        thread = emulator.threads()[0]
        assert len(thread.name) == 100 and thread.name.startswith(IN_SCOPE)
        first = await wait_row(path, submit.id)
        inside = await emulator.post_message(f"{emulator.bot_mention} and what about the oil?", channel_id=thread,
                                             user="moderator")
        reply = await bot_reply_to(emulator, inside)
        assert_quiet_reply(reply, inside)
        second = (await wait_rows(path, "SELECT * FROM interactions WHERE command = 'mention' AND status = 'ok'"))[0]
        assert second["parent_id"] == first["id"] and second["channel_id"] == thread.id
    async with connected_client(make_bot(), emulator):  # a restart: the thread's conversation lives in the log
        followup = await emulator.slash("followup", {"question": "Why?"}, channel_id=thread, user="moderator")
        await followup.wait_final(15)
        assert not followup.ephemeral and followup.message["embeds"][0]["title"] == "↪ Why?"
        third = await wait_row(path, followup.id)
        assert third["parent_id"] == second["id"]
        asked = await emulator.slash("ask", {"question": "What about trade?"}, channel_id=thread, user="alice")
        await asked.wait_final(15)
        assert (await wait_row(path, asked.id))["parent_id"] == third["id"]
        more = await emulator.press(reply, f"qa:more:{second['id']}", user="alice")
        await more.wait_final(15)
        assert (await wait_row(path, more.id))["parent_id"] == second["id"]
        again = await emulator.press(rec.message, f"qa:follow:{root['id']}", user="alice")
        await again.wait_final(5)
        submit = await emulator.submit_modal(again, {"question": "Anything else?"})
        await submit.wait_final(15)
        assert len(emulator.threads()) == 1  # the same thread is reused
        assert (await wait_row(path, submit.id))["channel_id"] == thread.id


async def test_mentions_obey_the_allow_list_and_the_cooldown(emulator, make_bot, bot_settings, bot_errors) -> None:
    path = bot_settings.database_path
    general = emulator.guild.channel("general")
    bot = make_bot(allowed_channel_ids=frozenset({int(general.id)}), ask_cooldown_rate=1, ask_cooldown_seconds=60)
    async with connected_client(bot, emulator):
        outside = await emulator.post_message(f"{emulator.bot_mention} {IN_SCOPE}", channel_id="random", user="alice")
        refused = (await wait_rows(path, "SELECT * FROM interactions WHERE status = 'refused'"))[0]
        assert (refused["command"], refused["argument"]) == ("mention", outside["id"])
        assert emulator.channel_history("random") == []  # not answered there, and no noise either
        first = await emulator.post_message(f"{emulator.bot_mention} {IN_SCOPE}", channel_id="general", user="alice")
        assert (await bot_reply_to(emulator, first))["embeds"]
        second = await emulator.post_message(f"{emulator.bot_mention} {IN_SCOPE}", channel_id="general", user="alice")
        slow = await bot_reply_to(emulator, second)
        assert "try again <t:" in slow["content"]
        assert_quiet_reply(slow, second)
    assert db_rows(path, "SELECT status FROM interactions WHERE argument = ?", (second["id"],)) == [
        {"status": "rate_limited"}]
