"""One tree-wide error handler: a short private message for the user, the details for the log."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import review
from bot.client import ChannelNotAllowed, send_private

if TYPE_CHECKING:
    from bot.client import QuoteBot

_log = logging.getLogger(__name__)


def _channels(ids: frozenset[int]) -> str:
    return ", ".join(f"<#{i}>" for i in sorted(ids)[:10])


class Errors(commands.Cog):
    """Handle every application-command error in one place."""

    def __init__(self, bot: QuoteBot) -> None:
        self.bot = bot
        self._previous = bot.tree.on_error

    async def cog_load(self) -> None:
        """Install the handler on the command tree."""
        self.bot.tree.on_error = self.on_app_command_error

    async def cog_unload(self) -> None:
        """Put the default handler back."""
        self.bot.tree.on_error = self._previous

    def member(self, interaction: discord.Interaction) -> str:
        """Who, for the process log: the id the interaction log stores (a keyed hash where anonymised logging is on)."""
        return review.user_key(interaction.user.id, self.bot.anonymize_key_for(interaction.guild_id))

    async def on_app_command_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        """Explain refusals; report failures."""
        command = interaction.command.qualified_name if interaction.command else "unknown"
        if interaction.type is discord.InteractionType.autocomplete:
            _log.warning("Autocomplete for /%s failed: %s", command, error)
            return
        if isinstance(error, app_commands.CommandInvokeError):
            question = getattr(interaction.namespace, "question", None)
            await self.bot.report_error(interaction, command, error.original, question=question)
            return
        if isinstance(error, ChannelNotAllowed):
            text, status = f"I only answer in {_channels(self.bot.allowed_channels(interaction.guild_id))}.", "refused"
        elif isinstance(error, app_commands.CommandOnCooldown):
            text, status = f"Slow down a little — try again in {error.retry_after:.0f} s.", "rate_limited"
        elif isinstance(error, app_commands.NoPrivateMessage):
            text, status = "Please use me in a server channel.", "refused"
        elif isinstance(error, app_commands.CheckFailure):
            text, status = "You can't use this command here.", "refused"
        elif isinstance(error, app_commands.TransformerError):
            text, status = "I couldn't understand one of the options; please check it and try again.", "invalid"
        else:
            await self.bot.report_error(interaction, command, error)
            return
        _log.info("/%s refused for %s: %s", command, self.member(interaction), type(error).__name__)
        try:
            await send_private(interaction, text)
        except discord.HTTPException as exc:
            _log.warning("Could not send the refusal: %s", exc)
        await self.bot.log_record(interaction, command, status, reason=text)


async def setup(bot: QuoteBot) -> None:
    """Load the Errors cog."""
    await bot.add_cog(Errors(bot))
