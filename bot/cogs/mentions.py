"""@mentions of the bot are questions: new ones, or follow-ups when they reply to an answer or sit in its thread."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot.conversations import AnswerFailed, answer_to, thread_parent
from bot.formatting import MAX_QUESTION_CHARS, one_line
from bot.log import Who
from bot.log import threads as thread_log

if TYPE_CHECKING:
    from bot.client import QuoteBot

_log = logging.getLogger(__name__)

COMMAND = "mention"
NONE = discord.AllowedMentions.none()
HINT = "Mention me with a question, e.g. “@{name} why did Putin go to Beijing?”, or reply to one of my answers."
TOO_LONG = f"Please keep questions under {MAX_QUESTION_CHARS} characters."
FAILED = "Sorry, something went wrong on my side. It has been logged; please try again."


def mention_question(content: str, bot_id: int) -> str:
    """The question in a message that mentions the bot: the text without the bot's mentions, on one line."""
    return one_line(re.sub(rf"<@!?{bot_id}>", " ", content or ""))


def mentions_bot(message: discord.Message, bot_id: int) -> bool:
    """Whether a message really mentions the bot (by name or by replying with a ping), not only @everyone."""
    if re.search(rf"<@!?{bot_id}>", message.content or ""):
        return True
    return message.reference is not None and any(u.id == bot_id for u in message.mentions)


class Mentions(commands.Cog):
    """Answer messages that mention the bot, as replies that ping no one."""

    def __init__(self, bot: QuoteBot) -> None:
        self.bot = bot

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """Treat a mention of the bot as a question (bots and @everyone-only messages are ignored)."""
        me = self.bot.user
        if me is None or message.author.bot or message.guild is None or not mentions_bot(message, me.id):
            return
        if self.bot.closing:
            return
        guild_id, channel = message.guild.id, message.channel
        who = Who(guild_id, channel.id, message.author.id, getattr(message.author, "display_name", "")
                  or message.author.name)
        question = mention_question(message.content, me.id)
        if not self.bot.channel_id_allowed(guild_id, channel.id, channel):
            return await self.record(who, "refused", question, message, "channel not in the allow-list")
        problem, status = None, "invalid"
        if not any(ch.isalnum() for ch in question):
            problem = HINT.format(name=me.display_name)
        elif len(question) > MAX_QUESTION_CHARS:
            problem = TOO_LONG
        elif (wait := self.bot.cooldown_for(guild_id).hit(message.author.id)) > 0:
            retry = discord.utils.format_dt(discord.utils.utcnow() + timedelta(seconds=wait + 1), "R")
            problem, status = f"You're asking quickly — try again {retry}.", "rate_limited"
        if problem is not None:
            await self.reply(message, content=problem)
            return await self.record(who, status, question or None, message, problem)
        parent_id = await self.parent_of(message)
        with self.bot.flight(None):
            try:
                await answer_to(self.bot, who=who, question=question, parent_id=parent_id, command=COMMAND,
                                send=lambda **kw: self.reply(message, **kw), asked_by=who.user_name,
                                argument=str(message.id))
            except AnswerFailed as failed:
                _log.error("Answering a mention failed (message %s)", message.id, exc_info=failed.original)
                text = self.bot.scrub(f"{type(failed.original).__name__}: {failed.original}")[:500]
                if failed.row_id is not None:
                    row_id = failed.row_id
                    await self.bot.log.call(lambda log: log.finish(row_id, status="error", error=text))
                try:
                    await self.reply(message, content=FAILED)
                except discord.HTTPException:
                    _log.warning("Could not tell the member about the failure")

    async def parent_of(self, message: discord.Message) -> int | None:
        """The answer a mention continues: the bot answer it replies to, else its thread's conversation."""
        guild_id = message.guild.id if message.guild else None
        reference = message.reference
        if reference is not None and reference.message_id is not None:
            replied = reference.message_id
            row = await self.bot.log.call(lambda log: thread_log.answer_by_message(log.db, guild_id, replied))
            if row is not None:
                return int(row["id"])
        return await thread_parent(self.bot, guild_id, message.channel.id)

    async def reply(self, message: discord.Message, **options) -> discord.Message:
        """Reply to a member's message without pinging anyone."""
        options.setdefault("allowed_mentions", NONE)
        return await message.reply(mention_author=False, **options)

    async def record(self, who: Who, status: str, question: str | None, message: discord.Message, reason: str) -> None:
        """Log a mention that was turned away."""
        await self.bot.log.call(lambda log: log.record(who, COMMAND, status=status, question=question,
                                                       argument=str(message.id), reason=reason))


async def setup(bot: QuoteBot) -> None:
    """Load the Mentions cog."""
    await bot.add_cog(Mentions(bot))
