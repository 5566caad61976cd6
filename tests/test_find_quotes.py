"""Apps → Find quotes on a member's message, end to end through the emulator with the real engine."""

from __future__ import annotations

import discord

from bot import formatting
from bot.cogs.find_quotes import message_question
from tests.bot_fixtures import OUT_OF_SCOPE, custom_ids, wait_row
from tests.discord_emulator import connected_client

CLAIM = "Russia and China now settle their trade in yuan and rubles, not dollars @everyone"


def test_the_question_is_the_message_text_within_the_limit() -> None:
    assert message_question("  why\n did Putin go? ") == "why did Putin go?"
    assert message_question("") == message_question("🙂 ...") == ""
    long = message_question("word " * 200)
    assert len(long) <= formatting.MAX_QUESTION_CHARS and long.endswith("…")


def assert_quiet(message: dict) -> None:
    """Within Discord's limits, and pings nobody: not @everyone, not the replied-to author."""
    embeds = [discord.Embed.from_dict(e) for e in message.get("embeds", [])]
    assert formatting.limit_problems(message.get("content"), embeds) == []
    assert message["allowed_mentions"]["parse"] == [] and not message["allowed_mentions"].get("replied_user")


async def test_find_quotes_replies_to_the_message_in_the_channel(quote_bot, emulator, bot_settings) -> None:
    synced = {(c["name"], c["type"]) for c in emulator.commands[emulator.guild.id]}
    assert ("Find quotes", 3) in synced
    target = await emulator.post_message(CLAIM, user="alice", dispatch=False)
    rec = await emulator.message_command("Find quotes", target, user="moderator")
    await rec.wait_response(3)
    assert rec.acknowledged_after < 3
    await rec.wait_final(15)
    assert rec.ephemeral and "Posted the quotes" in rec.message["content"]
    posted = emulator.channel_history("general")[-1]
    assert posted["message_reference"]["message_id"] == target["id"]
    assert_quiet(posted)
    embed = posted["embeds"][0]
    assert embed["description"].startswith("> ") and "@everyone" not in embed["title"]
    row = await wait_row(bot_settings.database_path, rec.id)
    assert (row["command"], row["status"], row["argument"], row["abstained"]) == ("find-quotes", "ok", target["id"], 0)
    assert row["question"] == message_question(CLAIM) and row["message_id"] == posted["id"]
    assert custom_ids(posted)[:2] == [f"qa:more:{row['id']}", f"qa:follow:{row['id']}"]
    more = await emulator.press(posted, f"qa:more:{row['id']}", user="alice")
    await more.wait_final(15)
    assert (await wait_row(bot_settings.database_path, more.id))["parent_id"] == row["id"]


async def test_an_abstention_says_the_articles_have_nothing_on_it(quote_bot, emulator, bot_settings) -> None:
    target = await emulator.post_message(OUT_OF_SCOPE, user="alice", dispatch=False)
    rec = await emulator.message_command("Find quotes", target)
    await rec.wait_final(15)
    posted = emulator.channel_history("general")[-1]
    assert "articles have nothing on this message" in posted["embeds"][0]["description"]
    assert ">" not in posted["embeds"][0]["description"]
    assert_quiet(posted)
    row = await wait_row(bot_settings.database_path, rec.id)
    assert (row["abstained"], row["quote_count"]) == (1, 0)


async def test_an_empty_or_attachment_only_message_gets_a_private_reply(quote_bot, emulator, bot_settings) -> None:
    picture = emulator.upload("photo.png", b"\x89PNG", "image/png")
    target = await emulator.post_message("", user="alice", attachments=[picture], dispatch=False)
    rec = await emulator.message_command("Find quotes", target)
    await rec.wait_final(5)
    assert rec.ephemeral and "no text I can look up" in rec.message["content"]
    assert emulator.channel_history("general") == []
    row = await wait_row(bot_settings.database_path, rec.id)
    assert (row["command"], row["status"], row["argument"]) == ("find-quotes", "invalid", target["id"])


async def test_find_quotes_honours_the_allow_list_and_the_cooldown(
    emulator, make_bot, bot_settings, bot_errors
) -> None:
    general = emulator.guild.channel("general")
    bot = make_bot(allowed_channel_ids=frozenset({int(general.id)}), ask_cooldown_rate=1, ask_cooldown_seconds=60)
    async with connected_client(bot, emulator):
        elsewhere = await emulator.post_message(CLAIM, channel_id="random", user="alice", dispatch=False)
        refused = await emulator.message_command("Find quotes", elsewhere)
        await refused.wait_final(5)
        assert refused.ephemeral and f"<#{general.id}>" in refused.message["content"]
        here = await emulator.post_message(CLAIM, channel_id="general", user="alice", dispatch=False)
        first = await emulator.message_command("Find quotes", here)
        await first.wait_final(15)
        second = await emulator.message_command("Find quotes", here)
        await second.wait_final(5)
        assert second.ephemeral and "try again" in second.message["content"]
    assert (await wait_row(bot_settings.database_path, refused.id))["status"] == "refused"
    assert (await wait_row(bot_settings.database_path, second.id))["status"] == "rate_limited"
