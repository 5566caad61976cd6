"""/review: what was asked and answered in this server — for its moderators only (Manage Server or a moderator role)."""

from __future__ import annotations

import io
import json
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.app_commands import Choice
from discord.ext import commands

from bot import review
from bot.client import who_of
from bot.judgements import tally
from bot.judgements._views import VERDICT_CHOICES, judge_buttons, judged_field
from bot.review.queries import RECENT_DEFAULT, RECENT_MAX, fts_query
from bot.review_views import PageButton, listing_embed, pager, stats_embed

if TYPE_CHECKING:
    from bot.client import QuoteBot

_log = logging.getLogger(__name__)

REFUSAL = "Sorry — /review is only for this server's moderators."
UNAVAILABLE = "I can't read the interaction log right now; please try again in a minute."
EXPIRED = "This listing is no longer available (its log entry was removed). Please run the /review command again."
NO_WORDS = "Please give some words to search for, e.g. `/review search text: beijing`."
TOO_BIG = ("That export would be {size:.1f} MB, more than the {limit:.0f} MB Discord accepts here. Please choose a "
           "shorter date range, or run `python -m bot logs --guild {guild} --format csv` on the bot's machine.")
PERIODS = [
    Choice(name="last 24 hours", value="1d"),
    Choice(name="last 7 days", value="7d"),
    Choice(name="last 30 days", value="30d"),
    Choice(name="last 90 days", value="90d"),
    Choice(name="last 365 days", value="365d"),
    Choice(name="all time", value="all"),
]
PERIOD_NAMES = {c.value: c.name for c in PERIODS}
FORMATS = [Choice(name="CSV (spreadsheets)", value="csv"), Choice(name="JSON Lines", value="jsonl")]
NONE = discord.AllowedMentions.none()
Channel = app_commands.AppCommandChannel | app_commands.AppCommandThread


@app_commands.default_permissions(manage_guild=True)
@app_commands.guild_only()
class Review(commands.GroupCog, group_name="review", group_description="Moderators: what was asked and answered here."):
    """Moderators' view of this server's log: listings, search, gaps, 👎 answers, stats and exports."""

    def __init__(self, bot: QuoteBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        """Register the paging buttons so old listings still page after a restart."""
        self.bot.add_dynamic_items(PageButton)

    async def cog_unload(self) -> None:
        """Unregister the paging buttons."""
        self.bot.remove_dynamic_items(PageButton)

    def is_moderator(self, interaction: discord.Interaction) -> bool:
        """Manage Server (administrators and the owner have it) or one of MODERATOR_ROLE_IDS."""
        if interaction.guild_id is None:
            return False
        if interaction.permissions.manage_guild:
            return True
        roles = {role.id for role in getattr(interaction.user, "roles", ())}
        return bool(roles & self.bot.config(interaction.guild_id).moderator_roles)

    async def admit(self, interaction: discord.Interaction, sub: str) -> bool:
        """Let moderators through; tell anyone else only that they can't, and log the attempt."""
        if self.is_moderator(interaction):
            return True
        _log.info("/review %s refused for a member without Manage Server or a moderator role", sub)
        await interaction.response.send_message(REFUSAL, ephemeral=True, allowed_mentions=NONE)
        who = who_of(interaction)
        await self.bot.log.call(
            lambda log: log.record(who, "review", status="refused", argument=json.dumps({"sub": sub}),
                                   reason="not a moderator", discord_interaction_id=interaction.id)
        )
        return False

    async def audit(self, interaction: discord.Interaction, params: dict[str, Any]) -> int | None:
        """Log who ran which /review with which filters; the row's id also anchors the listing's pages."""
        who = who_of(interaction)
        argument = json.dumps(params, separators=(",", ":"))
        return await self.bot.log.call(
            lambda log: log.record(who, "review", status="ok", argument=argument, discord_interaction_id=interaction.id)
        )

    def key_of(self, user: discord.abc.User | None, guild_id: int | None = None) -> str | None:
        """The id the log stores for a member (a keyed hash when ANONYMIZE_USERS is on)."""
        if user is None:
            return None
        return review.user_key(user.id, self.bot.anonymize_key_for(guild_id))

    @app_commands.command(name="recent", description="The latest questions asked in this server.")
    @app_commands.describe(limit="How many (1–100, default 20)", user="Only this member's questions",
                           channel="Only questions asked in this channel")
    async def recent(
        self,
        interaction: discord.Interaction,
        limit: app_commands.Range[int, 1, RECENT_MAX] = RECENT_DEFAULT,
        user: discord.User | None = None,
        channel: Channel | None = None,
    ) -> None:
        """List the latest questions, optionally one member's or one channel's."""
        if await self.admit(interaction, "recent"):
            params = {"sub": "recent", "limit": limit, "user": self.key_of(user, interaction.guild_id),
                      "channel": str(channel.id) if channel else None}
            await self.show(interaction, params)

    @app_commands.command(name="search", description="Find questions by their words (full-text search).")
    @app_commands.describe(text="Words to look for in questions", user="Only this member's questions")
    async def search(
        self, interaction: discord.Interaction, text: app_commands.Range[str, 1, 100], user: discord.User | None = None
    ) -> None:
        """Full-text search over this server's questions."""
        if not await self.admit(interaction, "search"):
            return
        if not fts_query(text):
            await interaction.response.send_message(NO_WORDS, ephemeral=True, allowed_mentions=NONE)
            return
        user_key = self.key_of(user, interaction.guild_id)
        await self.show(interaction, {"sub": "search", "text": " ".join(text.split()), "user": user_key})

    @app_commands.command(name="unanswered", description="Questions the articles didn't cover, most frequent first.")
    @app_commands.describe(period="How far back to look")
    @app_commands.choices(period=PERIODS)
    async def unanswered(self, interaction: discord.Interaction, period: str = "30d") -> None:
        """The coverage gaps: abstentions grouped by question."""
        if await self.admit(interaction, "unanswered"):
            await self.show(interaction, {"sub": "unanswered", "since": review.window(period, None)[0]})

    @app_commands.command(name="unhelpful", description="Answers people marked 👎, with the quotes they were shown.")
    @app_commands.describe(period="How far back to look")
    @app_commands.choices(period=PERIODS)
    async def unhelpful(self, interaction: discord.Interaction, period: str = "30d") -> None:
        """Answers with at least one 👎, most 👎 first."""
        if await self.admit(interaction, "unhelpful"):
            await self.show(interaction, {"sub": "unhelpful", "since": review.window(period, None)[0]})

    async def show(self, interaction: discord.Interaction, params: dict[str, Any]) -> None:
        """Log the query, then send its first page (privately) with paging buttons."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        row_id = await self.audit(interaction, params)
        guild = interaction.guild_id
        page = await self.bot.log.call(lambda log: review.listing(log.db, guild, params, before_id=row_id))
        if page is None:
            await interaction.followup.send(UNAVAILABLE, ephemeral=True)
            return
        options: dict[str, Any] = {"embed": listing_embed(page, params), "ephemeral": True, "allowed_mentions": NONE}
        view = judge_buttons(pager(row_id, page), page)
        if view is not None:
            options["view"] = view
        await interaction.followup.send(**options)

    async def turn_page(self, interaction: discord.Interaction, row_id: int, number: int) -> None:
        """Show another page of a listing (the query is read back from its audit row, in this server only)."""
        if not await self.admit(interaction, "page"):
            return
        guild = interaction.guild_id
        row = await self.bot.log.call(lambda log: log.interaction(row_id))
        if row is None or row["command"] != "review" or row["status"] != "ok" or row["guild_id"] != str(guild):
            await interaction.response.send_message(EXPIRED, ephemeral=True)
            return
        params = json.loads(row["argument"])
        page = await self.bot.log.call(lambda log: review.listing(log.db, guild, params, page=number, before_id=row_id))
        if page is None:
            await interaction.response.send_message(UNAVAILABLE, ephemeral=True)
            return
        await interaction.response.edit_message(embed=listing_embed(page, params),
                                                view=judge_buttons(pager(row_id, page), page), allowed_mentions=NONE)

    @app_commands.command(name="judged", description="Answers moderators judged here, latest first.")
    @app_commands.describe(moderator="Only this moderator's judgements", verdict="Only this verdict")
    @app_commands.choices(verdict=VERDICT_CHOICES)
    async def judged(
        self, interaction: discord.Interaction, moderator: discord.User | None = None, verdict: str | None = None
    ) -> None:
        """List this server's judgements (see docs/review.md, 'Teaching the bot')."""
        if not await self.admit(interaction, "judged"):
            return
        cog = self.bot.get_cog("Judgements")
        if cog is None:
            await interaction.response.send_message(UNAVAILABLE, ephemeral=True, allowed_mentions=NONE)
            return
        await cog.show_judged(interaction, {"sub": "judged", "verdict": verdict,
                                              "user": self.key_of(moderator, interaction.guild_id)})

    @app_commands.command(name="stats", description="Questions, answer rate, 👍/👎, latency and busiest channels.")
    @app_commands.describe(period="How far back to look")
    @app_commands.choices(period=PERIODS)
    async def stats(self, interaction: discord.Interaction, period: str = "30d") -> None:
        """Numbers for this server over a period."""
        if not await self.admit(interaction, "stats"):
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        since = review.window(period, None)[0]
        await self.audit(interaction, {"sub": "stats", "since": since})
        guild = interaction.guild_id
        result = await self.bot.log.call(lambda log: review.stats(log.db, guild, since=since))
        if result is None:
            await interaction.followup.send(UNAVAILABLE, ephemeral=True)
            return
        embed = stats_embed(result, PERIOD_NAMES.get(period, period))
        judged = await self.bot.log.call(lambda log: tally(log.db, guild, since=since))
        embed.insert_field_at(3, name=judged_field(judged)[0], value=judged_field(judged)[1], inline=True)
        await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=NONE)

    @app_commands.command(name="export", description="Download this server's log for a date range (CSV or JSON Lines).")
    @app_commands.describe(start="From: YYYY-MM-DD, or e.g. 30d for 30 days ago (default 30d)",
                           end="To, inclusive: YYYY-MM-DD (default: now)", format="File format (default CSV)")
    @app_commands.choices(format=FORMATS)
    async def export(
        self,
        interaction: discord.Interaction,
        start: app_commands.Range[str, 1, 40] = "30d",
        end: app_commands.Range[str, 1, 40] | None = None,
        format: str = "csv",
    ) -> None:
        """Every row of this server's log in the range as a file attachment; columns in docs/review.md."""
        if not await self.admit(interaction, "export"):
            return
        try:
            since, until = review.window(start, end)
        except review.PeriodError as exc:
            await interaction.response.send_message(str(exc), ephemeral=True, allowed_mentions=NONE)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        row_id = await self.audit(interaction, {"sub": "export", "since": since, "until": until, "format": format})
        filters = review.Filters(interaction.guild_id, since=since, until=until, before_id=row_id, commands=())
        records = await self.bot.log.call(lambda log: review.export_rows(log.db, filters))
        if records is None:
            await interaction.followup.send(UNAVAILABLE, ephemeral=True)
            return
        data = review.render(records, format).encode("utf-8-sig" if format == "csv" else "utf-8")
        limit = interaction.filesize_limit or 8 * 1024 * 1024
        if len(data) > limit:
            text = TOO_BIG.format(size=len(data) / 1e6, limit=limit / 1e6, guild=interaction.guild_id)
            await interaction.followup.send(text, ephemeral=True, allowed_mentions=NONE)
            return
        name = f"review-{interaction.guild_id}-{_day(since, 'start')}-{_day(until, 'now', inclusive=True)}.{format}"
        text = (f"{len(records)} row{'s' * (len(records) != 1)} from {_day(since, 'the start')} to "
                f"{_day(until, 'now', inclusive=True)} (UTC). The columns are explained in docs/review.md.")
        await interaction.followup.send(text, file=discord.File(io.BytesIO(data), filename=name), ephemeral=True,
                                        allowed_mentions=NONE)


def _day(moment: str | None, default: str, *, inclusive: bool = False) -> str:
    """The date part of a range end; an exclusive midnight end shows as the day before when inclusive."""
    if moment is None:
        return default
    when = review.parse_iso(moment)
    if inclusive and when.time() == when.min.time():
        when = when - timedelta(days=1)
    return when.date().isoformat()


async def setup(bot: QuoteBot) -> None:
    """Load the Review cog."""
    await bot.add_cog(Review(bot))
