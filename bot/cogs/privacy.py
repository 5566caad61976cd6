"""/forget-me, and the LOG_RETENTION_DAYS purge (at start-up and daily)."""

from __future__ import annotations

import logging
from datetime import time, timezone
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot import review
from bot.retention import purge_by_server

if TYPE_CHECKING:
    from bot.client import QuoteBot

_log = logging.getLogger(__name__)

PURGE_AT = time(hour=4, minute=17, tzinfo=timezone.utc)
UNAVAILABLE = "I couldn't reach the log just now, so nothing was deleted. Please try again in a few minutes."
NOTHING = "This server's log holds nothing about you. (Other servers keep their own logs.)"
DONE = ("Done: I deleted {total} record{s} about you from this server's log — {interactions} questions and other "
        "commands, {votes} votes, {conversations} conversations. Moderators can no longer see or search them. "
        "(Other servers keep their own logs.)")
PENDING = " One answer was still being written; run /forget-me again in a minute to remove it too."


class Privacy(commands.Cog):
    """Members' control over what is kept about them, and the retention limit."""

    def __init__(self, bot: QuoteBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        """Purge expired rows now, then every day (not when the client only logs in to sync commands)."""
        if not getattr(self.bot, "serving", True):
            return
        await self.purge()
        per_server = self.bot.retention_days() if hasattr(self.bot, "retention_days") else {}
        if self.bot.settings.log_retention_days > 0 or any(per_server.values()):
            self.daily_purge.start()

    async def cog_unload(self) -> None:
        """Stop the daily purge."""
        self.daily_purge.cancel()

    @tasks.loop(time=PURGE_AT)
    async def daily_purge(self) -> None:
        """Run the retention purge once a day."""
        await self.purge()

    async def purge(self) -> review.Purged | None:
        """Delete rows older than LOG_RETENTION_DAYS (0 keeps everything); None when nothing ran."""
        days = self.bot.settings.log_retention_days
        per_server = self.bot.retention_days() if hasattr(self.bot, "retention_days") else {}
        if days <= 0 and not any(per_server.values()):
            return None
        result = await self.bot.log.call(lambda log: purge_by_server(log.db, days, per_server))
        if result is not None and (result.interactions or result.conversations):
            _log.info("Retention: deleted %d interaction(s) and %d conversation(s) older than %d days",
                      result.interactions, result.conversations, days)
        return result

    @app_commands.command(name="forget-me", description="Delete everything this bot logged about you in this server.")
    @app_commands.guild_only()
    async def forget_me(self, interaction: discord.Interaction) -> None:
        """Delete the caller's rows in this server and say how many; the log keeps only that count."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        user = review.user_key(interaction.user.id, self.bot.anonymize_key_for(interaction.guild_id))
        guild = interaction.guild_id
        result = await self.bot.log.call(lambda log: review.forget_user(log.db, guild, user))
        if result is None:
            text = UNAVAILABLE
        elif result.total == 0 and not result.kept_pending:
            text = NOTHING
        else:
            text = DONE.format(total=result.total, s="s" * (result.total != 1), interactions=result.interactions,
                               votes=result.votes, conversations=result.conversations)
        if result is not None and result.kept_pending:
            text += PENDING
        _log.info("/forget-me removed %d row(s) in one server", 0 if result is None else result.total)
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none())


async def setup(bot: QuoteBot) -> None:
    """Load the Privacy cog."""
    await bot.add_cog(Privacy(bot))
