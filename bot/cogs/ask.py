"""/ask and /followup, and the work behind the answer buttons (More quotes, Follow up, 👍/👎)."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import send_private, who_of
from bot.conversations import AnswerFailed, answer_to, open_thread, thread_parent
from bot.engine_holder import in_engine_thread
from bot.log import Who
from bot.recovery import entry_for
from bot.formatting import MAX_QUESTION_CHARS, abstain_embed, answer_embed, nothing_more_text, one_line
from bot.views import answer_view

if TYPE_CHECKING:
    from bot.client import QuoteBot

Question = app_commands.Range[str, 1, MAX_QUESTION_CHARS]
EMPTY_HINT = "Please type a question, for example `/ask question: Why did Putin go to Beijing?`"
TOO_LONG = f"Please keep questions under {MAX_QUESTION_CHARS} characters."
CLOSING = "I'm restarting right now; please ask again in a minute."
GONE = "I can't find that answer any more (it may have been removed from the log). Try `/ask` again."
VOTE_TEXT = {
    ("new", 1): "Thanks for the 👍!",
    ("new", -1): "Thanks — noted 👎. Moderators use this to find where the articles fall short.",
    ("changed", 1): "Changed your vote to 👍.",
    ("changed", -1): "Changed your vote to 👎.",
    ("same", 1): "You already gave this 👍 — one vote per person.",
    ("same", -1): "You already gave this 👎 — one vote per person.",
    ("missing", 1): "That answer is no longer in the log, so the vote can't be recorded.",
    ("failed", 1): "Thanks! (I couldn't record the vote just now.)",
    ("slow", 1): "Thanks for the feedback!",
}
VOTE_WAIT_SECONDS = 2.0


def elapsed_ms(started: float) -> int:
    """Milliseconds since a time.monotonic() reading."""
    return int((time.monotonic() - started) * 1000)


def vote_text(outcome: str, vote: int) -> str:
    """What a voter is told privately."""
    return VOTE_TEXT.get((outcome, vote)) or VOTE_TEXT[(outcome, 1)]


class Ask(commands.Cog):
    """Questions, follow-ups, more quotes and feedback."""

    def __init__(self, bot: QuoteBot) -> None:
        self.bot = bot

    @app_commands.command(name="ask", description="Ask about the articles; I answer by quoting them word for word.")
    @app_commands.describe(question="What do you want to know?",
                           private="Only you see the answer (default: this server's setting)")
    @app_commands.guild_only()
    async def ask(self, interaction: discord.Interaction, question: Question, private: bool | None = None) -> None:
        """Answer a new question."""
        await self.answer(interaction, question, command="ask", private=private)

    @app_commands.command(name="followup", description="Ask a follow-up to your latest question in this channel.")
    @app_commands.describe(question="Your follow-up question")
    @app_commands.guild_only()
    async def followup(self, interaction: discord.Interaction, question: Question) -> None:
        """Continue the caller's latest conversation here."""
        await self.answer(interaction, question, command="followup", latest=True)

    async def answer(
        self,
        interaction: discord.Interaction,
        question: str,
        *,
        command: str,
        parent_id: int | None = None,
        latest: bool = False,
        private: bool | None = None,
    ) -> None:
        """Answer a question: new, after parent_id, or after the caller's latest conversation (latest=True)."""
        started = time.monotonic()
        question = one_line(question)
        if not await self._admit(interaction, command, question):
            return
        self.bot.pending.hold(entry_for(interaction, kind=command, question=question))
        await interaction.response.defer(thinking=True, ephemeral=self._private(interaction, private))
        with self.bot.flight(interaction) as flight:
            note = ""
            if parent_id is None and (in_thread := await thread_parent(
                    self.bot, interaction.guild_id, interaction.channel_id)) is not None:
                parent_id, latest = in_thread, False  # a thread on a bot answer carries its conversation
            if latest:
                parent_id, note = await self._latest_turn(interaction)
            flight.row_id = await self.bot.log_begin(interaction, command, question=question, parent_id=parent_id)
            previous = await self.bot.log.call(lambda log: log.turns(parent_id), default=[]) if parent_id else []
            await self._respond(interaction, flight.row_id, question, previous, (), command, started, note)

    async def follow_up(self, interaction: discord.Interaction, question: str, row_id: int) -> None:
        """The Follow up modal: continue in a thread on the answer (opened if needed), else answer in place."""
        message = interaction.message
        if (message is None or message.flags.ephemeral or isinstance(interaction.channel, discord.Thread)
                or self._private(interaction, None)):
            return await self.answer(interaction, question, command="followup", parent_id=row_id)
        started = time.monotonic()
        question = one_line(question)
        if not await self._admit(interaction, "followup", question):
            return
        # held like /ask: a crash before the thread answer is out answers the private "thinking…" after the restart
        self.bot.pending.hold(entry_for(interaction, kind="followup", question=question))
        await interaction.response.defer(thinking=True, ephemeral=True)
        with self.bot.flight(interaction) as flight:
            previous = await self.bot.log.call(lambda log: log.turns(row_id), default=[])
            await self.bot.pending.update(interaction.id, row_id=None, question=question, previous=previous)
            root = await self._root(row_id)
            thread = await open_thread(message, root["question"] if root else question)
            target: Any = thread or interaction.channel
            user = interaction.user
            who = Who(interaction.guild_id, target.id, user.id, getattr(user, "display_name", "") or user.name)
            send = target.send if thread else (lambda **kw: target.send(reference=message, mention_author=False, **kw))
            try:
                flight.row_id, _, sent = await answer_to(
                    self.bot, who=who, question=question, parent_id=row_id, command="followup", send=send,
                    asked_by=who.user_name, discord_interaction_id=interaction.id)
            except AnswerFailed as failed:
                await self.bot.pending.release(interaction.id)
                await self.bot.report_error(interaction, "followup", failed.original, row_id=failed.row_id,
                                            question=question, latency_ms=elapsed_ms(started))
                return
            await self.bot.pending.delivered(interaction.id, sent.id)
            where = f"in the thread {thread.mention}" if thread else "below the answer"
            await interaction.edit_original_response(content=f"Answered {where}: {sent.jump_url}")
            await self.bot.pending.release(interaction.id)

    async def more(self, interaction: discord.Interaction, row_id: int) -> None:
        """Show the next best quotes for the question behind an answer (anyone may ask for them)."""
        started = time.monotonic()
        if not await self._admit(interaction, "more", None):
            return
        self.bot.pending.hold(entry_for(interaction, kind="more"))
        await interaction.response.defer(thinking=True, ephemeral=self._private(interaction, None))
        with self.bot.flight(interaction) as flight:
            root = await self._root(row_id)
            if root is None:
                await send_private(interaction, GONE)
                await self.bot.pending.release(interaction.id)
                return await self.bot.log_record(interaction, "more", "not_found", argument=str(row_id), reason=GONE)
            question = root["question"]
            flight.row_id = await self.bot.log_begin(interaction, "more", question=question, parent_id=root["id"])
            previous = await self.bot.log.call(lambda log: log.turns(root["parent_id"]), default=[])
            exclude = await self.bot.log.call(lambda log: log.shown_passages(root["id"]), default=[])
            await self._respond(interaction, flight.row_id, question, previous, exclude, "more", started)

    async def vote(self, interaction: discord.Interaction, row_id: int, vote: int) -> None:
        """Record one person's vote on an answer and thank them privately (without waiting long on the log)."""
        who = who_of(interaction)
        write = asyncio.ensure_future(self.bot.log.call(lambda log: log.vote(row_id, who, vote), default="failed"))
        try:
            outcome = await asyncio.wait_for(asyncio.shield(write), VOTE_WAIT_SECONDS)
        except asyncio.TimeoutError:
            outcome = "slow"
        none = discord.AllowedMentions.none()
        await interaction.response.send_message(vote_text(outcome, vote), ephemeral=True, allowed_mentions=none)

    async def report_error(self, interaction: discord.Interaction, command: str, error: BaseException) -> None:
        """Errors from buttons and modals: same treatment as command errors."""
        await self.bot.report_error(interaction, command, error)

    async def _admit(self, interaction: discord.Interaction, command: str, question: str | None) -> bool:
        """Turn away (privately, before deferring) a closing bot, an empty or long question, a user on cooldown."""
        if self.bot.closing:
            await send_private(interaction, CLOSING)
            return False
        problem, status = None, "invalid"
        if question is not None and not question:
            problem = EMPTY_HINT
        elif question is not None and len(question) > MAX_QUESTION_CHARS:
            problem = TOO_LONG
        elif (wait := self.bot.cooldown_for(interaction.guild_id).hit(interaction.user.id)) > 0:
            retry = discord.utils.format_dt(discord.utils.utcnow() + timedelta(seconds=wait + 1), "R")
            problem, status = f"You're asking quickly — try again {retry}.", "rate_limited"
        if problem is None:
            return True
        await send_private(interaction, problem)
        await self.bot.log_record(interaction, command, status, question=question or None, reason=problem)
        return False

    def _private(self, interaction: discord.Interaction, private: bool | None) -> bool:
        """Whether this answer is private: as asked, else the server's default."""
        return self.bot.config(interaction.guild_id).private if private is None else private

    async def _latest_turn(self, interaction: discord.Interaction) -> tuple[int | None, str]:
        """The caller's latest live turn in this channel, or None with a note saying why not."""
        who = who_of(interaction)
        conversation = await self.bot.log.call(lambda log: log.latest_conversation(who))
        if conversation is None:
            return None, "You had no earlier question here, so I answered this on its own."
        minutes = self.bot.settings.conversation_idle_minutes
        idle = timedelta(minutes=minutes)
        if await self.bot.log.call(lambda log: log.is_idle(conversation, idle), default=True):
            return None, f"Your last question here was over {minutes:g} minutes ago, so I answered this on its own."
        return conversation["last_interaction_id"], ""

    async def _root(self, row_id: int) -> dict[str, Any] | None:
        """The question turn an answer (or a More page of it) belongs to."""
        row = await self.bot.log.call(lambda log: log.interaction(row_id))
        if row is not None and row["command"] == "more" and row["parent_id"] is not None:
            row = await self.bot.log.call(lambda log: log.interaction(row["parent_id"]))
        return row if row is not None and row["question"] else None

    async def _respond(
        self,
        interaction: discord.Interaction,
        row_id: int | None,
        question: str,
        previous: list,
        exclude: list | tuple,
        kind: str,
        started: float,
        note: str = "",
    ) -> None:
        """Run the engine off the loop, send the answer with its buttons, complete the log row."""
        engine, limit = self.bot.engine, self.bot.config(interaction.guild_id).quotes_per_answer
        await self.bot.pending.update(interaction.id, row_id=row_id, question=question, previous=previous,
                                      exclude=exclude, note=note)
        try:
            result = await in_engine_thread(engine.ask, question, previous=previous, exclude=exclude, limit=limit)
            message_id = None
            if kind == "more" and (result.abstained or not result.quotes):
                await send_private(interaction, nothing_more_text(result))
            else:
                message_id = (await self._send(interaction, result, row_id, kind, note)).id
        except Exception as exc:
            latency = elapsed_ms(started)
            await self.bot.report_error(interaction, kind, exc, row_id=row_id, question=question, latency_ms=latency)
            await self.bot.pending.release(interaction.id)
            return
        await self.bot.pending.delivered(interaction.id, message_id)
        if row_id is not None:
            abstained = result.abstained or not result.quotes
            await self.bot.log.call(
                lambda log: log.finish(
                    row_id, status="ok", quotes=result.quotes, abstained=abstained, reason=result.reason,
                    latency_ms=elapsed_ms(started), message_id=message_id,
                )
            )
        await self.bot.pending.release(interaction.id)

    async def _send(self, interaction: discord.Interaction, result: Any, row_id: int | None, kind: str, note: str):
        """Send the answer (or the abstention) as the deferred response, with persistent buttons."""
        asked_by = getattr(interaction.user, "display_name", "") or interaction.user.name
        abstained = result.abstained or not result.quotes
        build = abstain_embed if abstained else answer_embed
        options: dict[str, Any] = {
            "embed": build(result, asked_by=asked_by, kind=kind, note=note),
            "allowed_mentions": discord.AllowedMentions.none(),
            "wait": True,
        }
        view = answer_view(row_id, more=not abstained)
        if view is not None:
            options["view"] = view
        return await interaction.followup.send(**options)


async def setup(bot: QuoteBot) -> None:
    """Load the Ask cog."""
    await bot.add_cog(Ask(bot))
