"""/sources lists the articles; /source shows one (with autocomplete)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.formatting import choices_for, find_article, one_line, source_embed, sources_embed

if TYPE_CHECKING:
    from bot.client import QuoteBot

NOT_FOUND = "No article matches {query!r}. Use `/sources` to see them all."


def elapsed_ms(started: float) -> int:
    """Milliseconds since a time.monotonic() reading."""
    return int((time.monotonic() - started) * 1000)


class Sources(commands.Cog):
    """What the bot can quote from."""

    def __init__(self, bot: QuoteBot) -> None:
        self.bot = bot

    @app_commands.command(name="sources", description="List the articles I quote from.")
    @app_commands.guild_only()
    async def sources(self, interaction: discord.Interaction) -> None:
        """List every article with outlet, date and passage count."""
        started = time.monotonic()
        engine = self.bot.engine
        counts = {a.id: len(engine.passages_for(a.id)) for a in engine.articles}
        await self._reply(interaction, embed=sources_embed(engine.articles, counts))
        await self.bot.log_record(interaction, "sources", "ok", latency_ms=elapsed_ms(started))

    @app_commands.command(name="source", description="Show one article's details and opening lines.")
    @app_commands.describe(article="Start typing a title")
    @app_commands.guild_only()
    async def source(self, interaction: discord.Interaction, article: str) -> None:
        """Show one article."""
        started = time.monotonic()
        found = find_article(self.bot.engine.articles, article)
        if found is None:
            await self._reply(interaction, content=NOT_FOUND.format(query=one_line(article)[:100]))
            status, argument = "not_found", article
        else:
            await self._reply(interaction, embed=source_embed(found, self.bot.engine.passages_for(found.id)))
            status, argument = "ok", found.id
        await self.bot.log_record(interaction, "source", status, argument=argument, latency_ms=elapsed_ms(started))

    @source.autocomplete("article")
    async def article_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Titles matching what has been typed so far."""
        matches = choices_for(self.bot.engine.articles, current)
        return [app_commands.Choice(name=name, value=value) for name, value in matches]

    async def _reply(self, interaction: discord.Interaction, **message) -> None:
        """Answer privately, pinging no one."""
        none = discord.AllowedMentions.none()
        await interaction.response.send_message(ephemeral=True, allowed_mentions=none, **message)


async def setup(bot: QuoteBot) -> None:
    """Load the Sources cog."""
    await bot.add_cog(Sources(bot))
