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
PAYLOAD_LOGGER = "discord"  # at DEBUG it prints Discord's raw payloads: member ids, names, message text
UNAVAILABLE = "I couldn't reach the log just now, so nothing was deleted. Please try again in a few minutes."
NOTHING = "This server's log holds nothing about you. (Other servers keep their own logs.)"
DONE = ("Done: I deleted {total} about you from this server's log: {interactions}, {votes} of yours, "
        "{votes_on_theirs} others gave your answers (a vote goes with its answer), {conversations}.")
ALSO = " I also removed {parts}."
AFTER = " Moderators can no longer see or search any of it. (Other servers keep their own logs.)"
PENDING = " One answer was still being written; run /forget-me again in a minute to remove it too."


def _count(n: int, word: str, plural: str | None = None) -> str:
    """'1 vote', '2 votes'."""
    return f"{n} {word if n == 1 else plural or word + 's'}"


def reply_text(result: review.Forgotten | None) -> str:
    """What the member is told: each kind of row deleted, what changed in other members' rows, what was kept."""
    if result is None:
        return UNAVAILABLE
    if result.total == 0 and not (result.kept_pending or result.lookups or result.copies):
        return NOTHING
    text = DONE.format(
        total=_count(result.total, "record"),
        interactions=_count(result.interactions, "question or other command", "questions and other commands"),
        votes=_count(result.votes, "vote"), votes_on_theirs=_count(result.votes_on_theirs, "vote"),
        conversations=_count(result.conversations, "conversation"),
    )
    parts: list[str] = []
    if result.lookups:
        parts.append(f"your id from {_count(result.lookups, 'moderator look-up')}")
    if result.copies:
        parts.append(f"your question from {_count(result.copies, 'More page')} of other members")
    if result.judgements:
        parts.append(f"{_count(result.judgements, 'moderator judgement')} of your questions")
    if parts:
        text += ALSO.format(parts=" and ".join(parts))
    text += AFTER
    if result.kept_pending:
        text += PENDING
    return text


def quiet_payloads() -> int:
    """Raise discord.py's logger to INFO at least (its DEBUG lines carry raw ids); return its previous level."""
    logger = logging.getLogger(PAYLOAD_LOGGER)
    previous = logger.level
    if logger.getEffectiveLevel() < logging.INFO:
        logger.setLevel(logging.INFO)
    return previous


class Privacy(commands.Cog):
    """Members' control over what is kept about them, and the retention limit."""

    def __init__(self, bot: QuoteBot) -> None:
        self.bot = bot
        self._payload_level: int | None = None

    async def cog_load(self) -> None:
        """Keep raw payloads out of anonymised process logs; purge expired rows now, then every day (when serving)."""
        overrides = getattr(self.bot, "server_overrides", {})
        if self.bot.settings.anonymize_users or any(self.bot.config(g).anonymize_users for g in overrides):
            self._payload_level = quiet_payloads()
        if not getattr(self.bot, "serving", True):
            return
        await self.purge()
        per_server = self.bot.retention_days() if hasattr(self.bot, "retention_days") else {}
        if self.bot.settings.log_retention_days > 0 or any(per_server.values()):
            self.daily_purge.start()

    async def cog_unload(self) -> None:
        """Stop the daily purge; give discord.py's logger its level back (unless the bot is closing)."""
        self.daily_purge.cancel()
        if self._payload_level is not None and not getattr(self.bot, "closing", False):
            logging.getLogger(PAYLOAD_LOGGER).setLevel(self._payload_level)
            self._payload_level = None

    @tasks.loop(time=PURGE_AT)
    async def daily_purge(self) -> None:
        """Run the retention purge once a day."""
        await self.purge()

    async def purge(self) -> review.Purged | None:
        """Delete rows older than LOG_RETENTION_DAYS (0 keeps everything); None when nothing ran."""
        days = self.bot.settings.log_retention_days
        if getattr(self.bot, "own_shards", lambda: None)() is not None:
            await self.bot.load_server_settings()  # processes sharing the log: another may have changed a server's days
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
        waiting = await self.bot.pending.forget(guild, interaction.user.id)  # and their questions still waiting
        text = reply_text(result)
        _log.info("/forget-me removed %d row(s) and %d waiting question(s) in one server",
                  0 if result is None else result.total, waiting)
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none())


async def setup(bot: QuoteBot) -> None:
    """Load the Privacy cog."""
    await bot.add_cog(Privacy(bot))
