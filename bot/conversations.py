"""Answers posted as channel messages (mention replies, thread follow-ups), and threads that carry conversations."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord

from bot.engine_holder import in_engine_thread
from bot.formatting import abstain_embed, answer_embed, one_line
from bot.log import Who
from bot.log import threads as thread_log
from bot.views import answer_view

if TYPE_CHECKING:
    from bot.client import QuoteBot

_log = logging.getLogger(__name__)

THREAD_NAME_LIMIT = 100
THREAD_ARCHIVE_MINUTES = 1440


class AnswerFailed(Exception):
    """Answering failed after its log row was started (the row is left for the caller to finish)."""

    def __init__(self, row_id: int | None, original: BaseException) -> None:
        super().__init__(str(original))
        self.row_id, self.original = row_id, original


def thread_name(question: str, limit: int = THREAD_NAME_LIMIT) -> str:
    """A thread's name from the question it continues: one line, within Discord's 100 characters."""
    text = one_line(question).replace("@", "@\u200b") or "Follow-up"
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


async def thread_parent(bot: QuoteBot, guild_id: int | None, channel_id: int | None) -> int | None:
    """The turn a question in this channel continues, when the channel is a thread started from a bot answer."""
    if channel_id is None:
        return None
    row = await bot.log.call(lambda log: thread_log.thread_turn(log.db, guild_id, channel_id))
    return None if row is None else int(row["id"])


async def answer_to(
    bot: QuoteBot,
    *,
    who: Who,
    question: str,
    parent_id: int | None,
    command: str,
    send: Callable[..., Awaitable[discord.Message]],
    asked_by: str,
    argument: str | None = None,
    discord_interaction_id: int | None = None,
) -> tuple[int | None, Any, discord.Message]:
    """Log a turn, run the engine off the loop, send the answer with its buttons via send(), complete the row."""
    started = time.monotonic()
    row_id = await bot.log.call(lambda log: log.begin(who, command, question=question, parent_id=parent_id,
                                                      argument=argument, discord_interaction_id=discord_interaction_id))
    try:
        previous = await bot.log.call(lambda log: log.turns(parent_id), default=[]) if parent_id else []
        engine = bot.engine
        limit = bot.config(who.guild_id).quotes_per_answer
        result = await in_engine_thread(engine.ask, question, previous=previous, limit=limit)
        abstained = result.abstained or not result.quotes
        kind = "followup" if parent_id else "ask"
        embed = (abstain_embed if abstained else answer_embed)(result, asked_by=asked_by, kind=kind)
        options: dict[str, Any] = {"embed": embed, "allowed_mentions": discord.AllowedMentions.none()}
        view = answer_view(row_id, more=not abstained)
        if view is not None:
            options["view"] = view
        sent = await send(**options)
    except Exception as exc:
        raise AnswerFailed(row_id, exc) from exc
    if row_id is not None:
        await bot.log.call(lambda log: log.finish(
            row_id, status="ok", quotes=result.quotes, abstained=abstained, reason=result.reason,
            latency_ms=int((time.monotonic() - started) * 1000), message_id=sent.id))
    return row_id, result, sent


async def open_thread(message: discord.Message, question: str) -> discord.Thread | None:
    """The thread on a bot answer (opened now if needed, named after its question), or None when impossible."""
    if message.flags.ephemeral or isinstance(message.channel, discord.Thread) or message.guild is None:
        return None
    existing = message.guild.get_thread(message.id)
    if existing is not None:
        return existing
    try:
        return await message.create_thread(name=thread_name(question), auto_archive_duration=THREAD_ARCHIVE_MINUTES)
    except discord.HTTPException as exc:
        if exc.code == 160004:  # a thread already exists on this message
            try:
                channel = await message.guild.fetch_channel(message.id)
            except discord.HTTPException:
                return None
            return channel if isinstance(channel, discord.Thread) else None
        _log.warning("Could not open a thread on answer %s: %s", message.id, exc)
        return None
