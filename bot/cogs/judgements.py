"""Moderators judge answers from /review listings: the judge card, verdicts, the sentence modal, /review judged."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from bot import judgements
from bot.judgements._views import (
    DYNAMIC_ITEMS,
    SentenceModal,
    card_embed,
    card_view,
    judged_embed,
    judged_view,
)
from bot.judgements.sentences import MIN_CHARS, find_sentence

if TYPE_CHECKING:
    from bot.client import QuoteBot

_log = logging.getLogger(__name__)

NONE = discord.AllowedMentions.none()
UNAVAILABLE = "I can't read the interaction log right now; please try again in a minute."
MISSING = "That answer is no longer in this server's log (it was removed), so it can't be judged."
INVALID = "That verdict doesn't fit this answer (it was judged as shown: answered or refused)."
NOT_FOUND = ("I couldn't find that sentence in any article, so nothing was saved. Paste it exactly as the article "
             "has it (at least {min} characters; quotes, dashes, bold and case don't matter).")
JUDGE_FIRST = "Judge this answer first; then you can keep your judgement for training."
EXPIRED = "This listing is no longer available (its log entry was removed). Please run /review judged again."
SAVED = {"new": "Saved: {verdict}.", "changed": "Changed to: {verdict}.", "same": "Already saved: {verdict}."}


class Judgements(commands.Cog):
    """The work behind the judge buttons; permission is checked again on every press."""

    def __init__(self, bot: QuoteBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        """Register the judge buttons so they keep working after a restart."""
        self.bot.add_dynamic_items(*DYNAMIC_ITEMS)

    async def cog_unload(self) -> None:
        """Unregister the judge buttons."""
        self.bot.remove_dynamic_items(*DYNAMIC_ITEMS)

    def review(self) -> Any:
        """The Review cog: its permission check, refusal and audit trail are the ones used here."""
        return self.bot.get_cog("Review")

    async def admit(self, interaction: discord.Interaction, what: str) -> bool:
        """Moderators only (as /review): anyone else is refused, and the attempt is logged."""
        review = self.review()
        if review is None:
            await interaction.response.send_message(UNAVAILABLE, ephemeral=True, allowed_mentions=NONE)
            return False
        return await review.admit(interaction, what)

    def moderator(self, interaction: discord.Interaction) -> str:
        """The key the log stores for the moderator (a keyed hash when anonymising)."""
        return self.review().key_of(interaction.user, interaction.guild_id)

    async def card(self, guild: int, row_id: int, moderator: str) -> tuple[discord.Embed, discord.ui.View] | None:
        """The judge card of an answer for one moderator, or None when the answer is gone."""
        def read(log: Any) -> tuple[dict, list[dict]] | None:
            found = judgements.answer(log.db, guild, row_id)
            return None if found is None else (found, judgements.of_answer(log.db, guild, row_id))

        result = await self.bot.log.call(read)
        if result is None:
            return None
        found, given = result
        mine = next((j for j in given if j["moderator_id"] == moderator), None)
        return card_embed(found, given), card_view(found, mine)

    async def open_card(self, interaction: discord.Interaction, row_id: int) -> None:
        """Show the judge card of one answer, privately."""
        if not await self.admit(interaction, "judge"):
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        made = await self.card(interaction.guild_id, row_id, self.moderator(interaction))
        if made is None:
            await interaction.followup.send(MISSING, ephemeral=True, allowed_mentions=NONE)
            return
        embed, view = made
        await interaction.followup.send(embed=embed, view=view, ephemeral=True, allowed_mentions=NONE)

    async def give_verdict(self, interaction: discord.Interaction, row_id: int, verdict: str, rank: int | None) -> None:
        """Record a verdict (the sentence verdict opens the modal first)."""
        if not await self.admit(interaction, "judge"):
            return
        if verdict == judgements.SAID:
            await interaction.response.send_modal(SentenceModal(row_id, interaction.id))
            return
        await self.save(interaction, row_id, judgements.Verdict(verdict, rank))

    async def sentence_given(self, interaction: discord.Interaction, row_id: int, pasted: str) -> None:
        """Accept the pasted sentence only if an article holds it verbatim (after folding)."""
        if not await self.admit(interaction, "judge"):
            return
        articles = getattr(self.bot.engine, "articles", ()) or ()
        found = await asyncio.to_thread(find_sentence, pasted, articles)
        if found is None:
            await interaction.response.send_message(NOT_FOUND.format(min=MIN_CHARS), ephemeral=True,
                                                    allowed_mentions=NONE)
            return
        verdict = judgements.Verdict(judgements.SAID, sentence=found.text, article_id=found.article_id,
                                     source=found.source or None)
        await self.save(interaction, row_id, verdict)

    async def save(self, interaction: discord.Interaction, row_id: int, verdict: judgements.Verdict) -> None:
        """Store the verdict, then show the card again with the verdict marked."""
        guild, moderator = interaction.guild_id, self.moderator(interaction)
        if verdict.verdict == judgements.QUOTE:
            verdict = await self.with_quote_source(guild, row_id, verdict)
        outcome = await self.bot.log.call(lambda log: judgements.judge(log.db, guild, row_id, moderator, verdict))
        if outcome in (None, "missing", "invalid"):
            text = {None: UNAVAILABLE, "missing": MISSING, "invalid": INVALID}[outcome]
            await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NONE)
            return
        _log.info("Answer #%d judged: %s (%s)", row_id, verdict.verdict, outcome)
        await self.refresh(interaction, row_id, SAVED[outcome].format(verdict=judgements.label(verdict.verdict,
                                                                                              verdict.rank)))

    async def with_quote_source(self, guild: int, row_id: int, verdict: judgements.Verdict) -> judgements.Verdict:
        """The judged quote's article and its delivered file name (the eval items' source)."""
        found = await self.bot.log.call(lambda log: judgements.answer(log.db, guild, row_id))
        quote = next((q for q in (found or {}).get("quotes", []) if q["rank"] == verdict.rank), None)
        if quote is None:
            return verdict
        article = next((a for a in getattr(self.bot.engine, "articles", ()) or () if a.id == quote["article_id"]),
                       None)
        source = getattr(article, "source_file", "") or None
        return judgements.Verdict(verdict.verdict, verdict.rank, article_id=quote["article_id"], source=source)

    async def refresh(self, interaction: discord.Interaction, row_id: int, note: str) -> None:
        """Replace the card the button was on with its new state (or send it anew)."""
        made = await self.card(interaction.guild_id, row_id, self.moderator(interaction))
        if made is None:
            await interaction.response.send_message(UNAVAILABLE, ephemeral=True, allowed_mentions=NONE)
            return
        embed, view = made
        if interaction.message is not None:
            await interaction.response.edit_message(content=note, embed=embed, view=view, allowed_mentions=NONE)
        else:
            await interaction.response.send_message(note, embed=embed, view=view, ephemeral=True,
                                                    allowed_mentions=NONE)

    async def keep(self, interaction: discord.Interaction, row_id: int, keep: bool) -> None:
        """Mark the moderator's judgement 'keep for training' (or unmark it)."""
        if not await self.admit(interaction, "judge"):
            return
        guild, moderator = interaction.guild_id, self.moderator(interaction)
        done = await self.bot.log.call(lambda log: judgements.set_keep(log.db, guild, row_id, moderator, keep))
        if not done:
            await interaction.response.send_message(UNAVAILABLE if done is None else JUDGE_FIRST, ephemeral=True,
                                                    allowed_mentions=NONE)
            return
        note = "Kept for training: it stays (without any user id) when the log's retention removes the answer." \
            if keep else "No longer kept for training."
        await self.refresh(interaction, row_id, note)

    async def show_judged(self, interaction: discord.Interaction, params: dict[str, Any]) -> None:
        """/review judged: log the query, then send its first page privately."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        row_id = await self.review().audit(interaction, params)
        guild = interaction.guild_id
        page = await self.bot.log.call(lambda log: judgements.listing(log.db, guild, params))
        if page is None:
            await interaction.followup.send(UNAVAILABLE, ephemeral=True)
            return
        options: dict[str, Any] = {"embed": judged_embed(page, params), "ephemeral": True, "allowed_mentions": NONE}
        view = judged_view(row_id, page)
        if view is not None:
            options["view"] = view
        await interaction.followup.send(**options)

    async def turn_judged_page(self, interaction: discord.Interaction, row_id: int, number: int) -> None:
        """Another page of /review judged, read back from its audit row (this server only)."""
        if not await self.admit(interaction, "page"):
            return
        guild = interaction.guild_id
        row = await self.bot.log.call(lambda log: log.interaction(row_id))
        if row is None or row["command"] != "review" or row["status"] != "ok" or row["guild_id"] != str(guild):
            await interaction.response.send_message(EXPIRED, ephemeral=True, allowed_mentions=NONE)
            return
        params = json.loads(row["argument"])
        page = await self.bot.log.call(lambda log: judgements.listing(log.db, guild, params, page=number))
        if page is None:
            await interaction.response.send_message(UNAVAILABLE, ephemeral=True, allowed_mentions=NONE)
            return
        await interaction.response.edit_message(embed=judged_embed(page, params), view=judged_view(row_id, page),
                                                allowed_mentions=NONE)


async def setup(bot: QuoteBot) -> None:
    """Load the Judgements cog."""
    await bot.add_cog(Judgements(bot))
