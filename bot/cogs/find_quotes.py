"""Apps → Find quotes: the quotes the articles hold on any message, posted as a reply to it."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import send_private
from bot.formatting import MAX_QUESTION_CHARS, abstain_embed, answer_embed, one_line
from bot.views import answer_view

if TYPE_CHECKING:
    from bot.client import QuoteBot

_log = logging.getLogger(__name__)

COMMAND = "find-quotes"
MENU_NAME = "Find quotes"
NO_TEXT = ("That message has no text I can look up (only attachments, embeds or nothing at all). "
           "Use `/ask` to type a question instead.")
POSTED = "Posted the quotes as a reply to that message: {link}"


def message_question(content: str | None, limit: int = MAX_QUESTION_CHARS) -> str:
    """The question a message stands for: its text on one line, cut at a word within the question limit."""
    text = one_line(content or "")
    if not any(ch.isalnum() for ch in text):
        return ""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip() + "…"


class FindQuotes(commands.Cog):
    """The message context menu that looks a message's claim up in the articles."""

    def __init__(self, bot: QuoteBot) -> None:
        self.bot = bot
        self.menu = app_commands.guild_only(app_commands.ContextMenu(name=MENU_NAME, callback=self.find_quotes))

    async def cog_load(self) -> None:
        """Add the context menu to the command tree."""
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        """Remove the context menu."""
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    async def find_quotes(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """Answer the target message's text with quotes, as a reply to it (no pings)."""
        started = time.monotonic()
        question = message_question(message.content)
        if not question:
            await send_private(interaction, NO_TEXT)
            await self.bot.log_record(interaction, COMMAND, "invalid", argument=str(message.id), reason=NO_TEXT)
            return
        ask: Any = self.bot.get_cog("Ask")
        if ask is None or not await ask._admit(interaction, COMMAND, question):
            return
        private = self.bot.config(interaction.guild_id).private
        await interaction.response.defer(thinking=True, ephemeral=True)
        with self.bot.flight(interaction) as flight:
            flight.row_id = await self.bot.log_begin(interaction, COMMAND, question=question, argument=str(message.id))
            try:
                result, sent = await self._answer(interaction, message, question, flight.row_id, private)
            except Exception as exc:
                await self.bot.report_error(interaction, COMMAND, exc, row_id=flight.row_id, question=question,
                                            latency_ms=int((time.monotonic() - started) * 1000))
                return
            if flight.row_id is not None:
                row_id = flight.row_id
                await self.bot.log.call(lambda log: log.finish(
                    row_id, status="ok", quotes=result.quotes, abstained=result.abstained or not result.quotes,
                    reason=result.reason, latency_ms=int((time.monotonic() - started) * 1000), message_id=sent.id))

    async def _answer(
        self, interaction: discord.Interaction, message: discord.Message, question: str, row_id: int | None,
        private: bool,
    ) -> tuple[Any, discord.Message]:
        """Run the engine off the loop; reply to the message in its channel (or privately when so configured)."""
        limit = self.bot.config(interaction.guild_id).quotes_per_answer
        engine = self.bot.engine
        result = await asyncio.to_thread(engine.ask, question, limit=limit)
        abstained = result.abstained or not result.quotes
        asked_by = getattr(interaction.user, "display_name", "") or interaction.user.name
        embed = (abstain_embed if abstained else answer_embed)(result, asked_by=asked_by, kind=COMMAND)
        options: dict[str, Any] = {"embed": embed, "allowed_mentions": discord.AllowedMentions.none()}
        view = answer_view(row_id, more=not abstained)
        if view is not None:
            options["view"] = view
        if private:
            return result, await interaction.followup.send(wait=True, **options)
        channel: Any = interaction.channel or self.bot.get_partial_messageable(interaction.channel_id or 0)
        reference = message.to_reference(fail_if_not_exists=False)
        sent = await channel.send(reference=reference, mention_author=False, **options)
        await interaction.edit_original_response(content=POSTED.format(link=sent.jump_url))
        return result, sent


async def setup(bot: QuoteBot) -> None:
    """Load the FindQuotes cog."""
    await bot.add_cog(FindQuotes(bot))
