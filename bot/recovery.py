"""Answers that survive a crash: hold each acknowledged question's token, answer the waiting ones at start-up."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sqlite3
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import discord
from discord.http import handle_message_parameters
from discord.webhook.async_ import async_context

from bot.engine_holder import in_engine_thread
from bot.log import Who
from bot.formatting import abstain_embed, answer_embed, nothing_more_text
from bot.log.pending import PendingAnswer, PendingStore, pending_path, plan
from bot.views import answer_view

if TYPE_CHECKING:
    from bot.client import QuoteBot

_log = logging.getLogger(__name__)
T = TypeVar("T")
LOADING = 1 << 7  # message flag of a "thinking…" placeholder
DELIVERED_NOTE = "delivered before a restart"


class PendingAnswers:
    """The async front of the token store: a failing store is reported once and never stops an answer."""

    def __init__(self, database_path, shard_label: str = "") -> None:
        self.path = pending_path(database_path, shard_label)
        self.store: PendingStore | None = None
        self._failing = False
        # a thread of its own: never queued behind engine work in the default pool
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pending-answers")

    def open(self) -> bool:
        """Open (creating) the store; False when it can't be used."""
        if self.store is None:
            self.store = self._guard(lambda: PendingStore(self.path), None)
        return self.store is not None

    def _guard(self, fn: Callable[[], T], default: Any, *, writes: bool = False) -> T | Any:
        try:
            result = fn()
        except (sqlite3.Error, OSError) as exc:
            if not self._failing:
                self._failing = True
                message = (f"pending answers: cannot write {self.path}: {exc}; answers go on, but a restart can't "
                           "finish the ones in flight")
                print(message, file=sys.stderr, flush=True)
                _log.error(message)
            return default
        if self._failing and writes:  # only a write that added a row shows the store is usable again
            self._failing = False
            _log.warning("Pending answers %s is writable again", self.path)
        return result

    async def _call(self, fn: Callable[[PendingStore], T], default: Any = None, *, writes: bool = False) -> T | Any:
        store = self.store
        if store is None:
            return default
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, lambda: self._guard(lambda: fn(store), default, writes=writes))

    def hold(self, entry: PendingAnswer) -> None:
        """Keep a question's token until its answer is out: written before the acknowledgement, on the event loop
        (one small WAL append), so that no process death after "thinking…" can lose it."""
        if self.store is not None:
            self._guard(lambda: self.store.add(entry), None, writes=True)

    async def update(self, interaction_id: int, **context: Any) -> None:
        """Add the log row and the conversation once known."""
        await self._call(lambda s: s.update(interaction_id, **context))

    async def delivered(self, interaction_id: int, message_id: int | None) -> None:
        """Note that the answer reached the member."""
        await self._call(lambda s: s.delivered(interaction_id, message_id))

    async def release(self, interaction_id: int) -> None:
        """Drop the token: the question is answered (or given up)."""
        await self._call(lambda s: s.remove(interaction_id))

    async def forget(self, guild_id: int | None, user_id: int) -> int:
        """Drop a member's waiting questions in one server: after forget-me nothing of theirs is answered later."""
        return await self._call(lambda s: s.forget(guild_id, user_id), 0, writes=True)

    async def entries(self) -> list[PendingAnswer]:
        """Every question still waiting."""
        return await self._call(lambda s: s.entries(), [])

    def close(self) -> None:
        """Close the store."""
        store, self.store = self.store, None
        if store is not None:
            self._guard(store.close, None)
        self._executor.shutdown(wait=True)


def entry_for(interaction: discord.Interaction, *, kind: str, question: str = "") -> PendingAnswer:
    """The token-store entry of a question just acknowledged (its row and conversation come later)."""
    user = interaction.user
    return PendingAnswer(
        interaction_id=interaction.id, application_id=interaction.application_id, token=interaction.token,
        created_at=interaction.created_at.timestamp(), kind=kind, question=question, guild_id=interaction.guild_id,
        asked_by=getattr(user, "display_name", "") or user.name, channel_id=interaction.channel_id, user_id=user.id,
    )


def _row_of(log, interaction_id: int) -> dict | None:
    rows = list(log.db.query("SELECT * FROM interactions WHERE discord_interaction_id = ? ORDER BY id DESC LIMIT 1",
                             [str(interaction_id)]))
    return rows[0] if rows else None


def _context(log, entry: PendingAnswer) -> PendingAnswer:
    """Fill what the bot died before noting (row, question, conversation) from the log, as the live path does."""
    row = log.interaction(entry.row_id) if entry.row_id is not None else _row_of(log, entry.interaction_id)
    if row is None and entry.question and entry.kind != "more" and entry.user_id is not None:
        who = Who(entry.guild_id, entry.channel_id, entry.user_id, entry.asked_by)  # died before logging it
        return dataclasses.replace(entry, row_id=log.begin(who, entry.kind, question=entry.question,
                                                           discord_interaction_id=entry.interaction_id))
    if row is None:
        return entry
    if entry.previous or entry.exclude:  # the conversation was noted: only the row is to find
        return dataclasses.replace(entry, row_id=row["id"], question=entry.question or row["question"] or "")
    previous, exclude = log.turns(row["parent_id"]) if row["parent_id"] else [], []
    if entry.kind == "more" and row["parent_id"] is not None:
        root = log.interaction(row["parent_id"])
        previous = log.turns(root["parent_id"]) if root and root["parent_id"] else []
        exclude = log.shown_passages(row["parent_id"])
    return dataclasses.replace(entry, row_id=row["id"], question=entry.question or row["question"] or "",
                               previous=tuple(previous), exclude=tuple(exclude))


def answer_message(result: Any, entry: PendingAnswer) -> dict[str, Any]:
    """The keyword arguments of the edit that answers a waiting question (same card and buttons as live)."""
    none = discord.AllowedMentions.none()
    abstained = result.abstained or not result.quotes
    if entry.kind == "more" and abstained:
        return {"content": nothing_more_text(result), "allowed_mentions": none}
    build = abstain_embed if abstained else answer_embed
    options: dict[str, Any] = {"embed": build(result, asked_by=entry.asked_by, kind=entry.kind, note=entry.note),
                               "allowed_mentions": none}
    if (view := answer_view(entry.row_id, more=not abstained)) is not None:
        options["view"] = view
    return options


async def original_response(bot: QuoteBot, entry: PendingAnswer) -> dict | None:
    """The "thinking…" message (or what replaced it), or None when the token no longer works."""
    http = bot.http
    try:
        return await async_context.get().get_original_interaction_response(
            entry.application_id, entry.token, session=http._HTTPClient__session,  # type: ignore[attr-defined]
            proxy=http.proxy, proxy_auth=http.proxy_auth)
    except discord.NotFound:
        return None


async def edit_original(bot: QuoteBot, entry: PendingAnswer, **options: Any) -> dict:
    """PATCH /webhooks/{app_id}/{token}/messages/@original with an answer."""
    http = bot.http
    with handle_message_parameters(**options) as params:
        return await async_context.get().edit_original_interaction_response(
            entry.application_id, entry.token, session=http._HTTPClient__session,  # type: ignore[attr-defined]
            proxy=http.proxy, proxy_auth=http.proxy_auth, payload=params.payload, multipart=params.multipart,
            files=params.files)


async def settle_at_start(bot: QuoteBot) -> list[PendingAnswer]:
    """Before taking questions: log delivered answers, give up expired tokens, interrupt untracked rows.

    Returns the entries still to answer (their rows stay pending).
    """
    now, waiting, keep = time.time(), [], []
    for entry in await bot.pending.entries():
        action = plan(entry, now)
        if action != "expired":
            entry = await bot.log.call(lambda log: _context(log, entry), default=entry)
        if action == "answer" and not entry.question:  # died before the question was known: nothing to answer
            action = "expired"
        if action == "answer":
            waiting.append(entry)
            keep.append(entry.row_id)
            continue
        if action == "delivered" and entry.row_id is not None:
            await log_delivered(bot, entry, entry.delivered_message_id)
            keep.append(entry.row_id)
        await bot.pending.release(entry.interaction_id)
    kept, shards = [k for k in keep if k is not None], bot.own_shards()
    count = await bot.log.call(lambda log: log.interrupt_pending(keep=kept, shards=shards), default=0)
    if count:
        _log.warning("Marked %d interaction(s) left pending by an earlier run as interrupted", count)
    if waiting:
        _log.info("Answering %d question(s) acknowledged before the restart", len(waiting))
    return waiting


async def log_delivered(bot: QuoteBot, entry: PendingAnswer, message_id: int | None) -> None:
    """An answer reached the member but its row was never finished: log it as answered."""
    if entry.row_id is not None:
        await bot.log.call(lambda log: log.finish_if_pending(
            entry.row_id, status="ok", reason=DELIVERED_NOTE, message_id=message_id or None))


async def answer_waiting(bot: QuoteBot, entries: Sequence[PendingAnswer]) -> int:
    """Answer each waiting question by editing its "thinking…" message; return how many were answered."""
    answered = 0
    for entry in entries:
        try:
            answered += await answer_one(bot, entry)
        except Exception:
            _log.exception("Could not answer interaction %s after the restart", entry.interaction_id)
            await bot.log.call(lambda log: log.interrupt_pending([entry.row_id]) if entry.row_id else 0)
            await bot.pending.release(entry.interaction_id)
    return answered


async def answer_one(bot: QuoteBot, entry: PendingAnswer) -> int:
    """Answer one waiting question (or log it delivered, or give it up); 1 when this answered it."""
    original = await original_response(bot, entry)
    if original is None:
        _log.info("The token of interaction %s expired; it can't be answered", entry.interaction_id)
        if entry.row_id is not None:
            await bot.log.call(lambda log: log.interrupt_pending([entry.row_id]))
        await bot.pending.release(entry.interaction_id)
        return 0
    if not int(original.get("flags") or 0) & LOADING:
        await log_delivered(bot, entry, int(original["id"]))
        await bot.pending.release(entry.interaction_id)
        return 0
    started = time.monotonic()
    limit = bot.config(entry.guild_id).quotes_per_answer
    result = await in_engine_thread(bot.engine.ask, entry.question, previous=list(entry.previous),
                                     exclude=list(entry.exclude), limit=limit)
    message = await edit_original(bot, entry, **answer_message(result, entry))
    await bot.pending.delivered(entry.interaction_id, int(message["id"]))
    if entry.row_id is not None:
        abstained = result.abstained or not result.quotes
        shown = () if entry.kind == "more" and abstained else result.quotes
        await bot.log.call(lambda log: log.finish(
            entry.row_id, status="ok", quotes=shown, abstained=abstained, reason=result.reason,
            latency_ms=int((time.monotonic() - started) * 1000), message_id=int(message["id"]), after_restart=True))
    await bot.pending.release(entry.interaction_id)
    return 1
