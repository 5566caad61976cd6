"""Embeds for /review listings and stats, and the Previous/Next buttons that page them (persistent across restarts)."""

from __future__ import annotations

import re
from typing import Any

import discord
from discord import ui

from bot.formatting import DESCRIPTION_LIMIT, FIELD_VALUE_LIMIT, clip, dlen, escape_text, one_line
from bot.review import FORGOTTEN_USER, Gap, Page, Stats, parse_iso

COLOUR = discord.Colour.dark_teal()
UNAVAILABLE = "Review is unavailable right now; please try again in a little while."
PAGE_ID = "rv:page:{row}:{page}"  # the /review's audit row (which stores its filters) and the page to show
TITLES = {
    "recent": "Recent questions",
    "search": "Questions matching “{text}”",
    "unanswered": "Questions the articles didn't cover",
    "unhelpful": "Answers marked 👎",
}
EMPTY = {
    "recent": "No questions have been asked here yet{scope}.",
    "search": "No question here matches those words{scope}.",
    "unanswered": "Every question here{scope} was answered with quotes. 🎉",
    "unhelpful": "No answer here{scope} has a 👎.",
}
NOUNS = {"recent": "question", "search": "question", "unanswered": "distinct question", "unhelpful": "answer"}
ORDER = {
    "recent": "newest first",
    "search": "newest first",
    "unanswered": "most often asked first",
    "unhelpful": "most 👎 first",
}
STATUS = {
    "error": "⚠️ failed", "interrupted": "⏹ interrupted", "pending": "⏳ pending", "refused": "🚫 refused",
    "rate_limited": "🚫 rate limited", "invalid": "🚫 invalid", "not_found": "❔ not found",
}
BLOCK_GAP = "\n\n"


def stamp(created_at: str | None, style: str = "f") -> str:
    """A Discord timestamp (shown in the reader's own time zone)."""
    if not created_at:
        return "?"
    return f"<t:{int(parse_iso(created_at).timestamp())}:{style}>"


def person(user_id: str | None, user_name: str | None = None) -> str:
    """A member as moderators see them: a mention (and name), or the short anonymous key."""
    if user_id == FORGOTTEN_USER:
        return "someone who used /forget-me"
    if user_id and user_id.isdigit():
        return f"<@{user_id}>" + (f" ({escape_text(one_line(user_name))})" if user_name else "")
    if user_id and user_id.startswith("anon:"):
        return f"`{user_id[:13]}`"
    return escape_text(user_name or user_id or "?")


def place(channel_id: str | None) -> str:
    """A channel mention, or nothing."""
    return f" · <#{channel_id}>" if channel_id and channel_id.isdigit() else ""


def outcome(row: dict[str, Any]) -> str:
    """What the bot did: quotes shown, not covered, or why not."""
    if row["status"] == "ok":
        text = "🤷 not covered" if row["abstained"] == 1 else "✅ " + _plural(row["quote_count"], "quote")
    else:
        text = STATUS.get(row["status"], row["status"])
    if row.get("up") or row.get("down"):
        text += f" · 👍 {row['up']} 👎 {row['down']}"
    if row.get("latency_ms") is not None and row["status"] == "ok":
        text += f" · {_ms(row['latency_ms'])}"
    return text


def _ms(value: float | None) -> str:
    return "—" if value is None else (f"{value:.0f} ms" if value < 1000 else f"{value / 1000:.1f} s")


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"


def quoted(text: str | None, budget: int) -> str:
    """A question as a one-line block quote, escaped and clipped to budget."""
    return "> " + clip(escape_text(one_line(text or "(no question text)")), max(10, budget - 2))


def entry_block(row: dict[str, Any], budget: int) -> str:
    """One logged question: id, time, who, where, outcome, and the question."""
    command = "" if row["command"] == "ask" else f" /{row['command']}"
    head = f"`#{row['id']}`{command} {stamp(row['created_at'])} · {person(row['user_id'], row['user_name'])}"
    head += f"{place(row['channel_id'])} · {outcome(row)}"
    return head + "\n" + quoted(row["question"], budget - dlen(head) - 1)


def gap_block(gap: Gap, budget: int) -> str:
    """One uncovered question: how often, by how many people, when last."""
    head = f"**{gap.times}×** by {_plural(gap.askers, 'person', 'people')} · last {stamp(gap.last_asked, 'R')}"
    head += f" · `#{gap.ids[0]}`"
    return head + "\n" + quoted(gap.question, budget - dlen(head) - 1)


def unhelpful_block(row: dict[str, Any], budget: int) -> str:
    """One 👎 answer with the quotes that were shown."""
    head = entry_block(row, min(budget, 600))
    quotes = row.get("quotes") or []
    if not quotes:
        return head
    share = (budget - dlen(head) - 1) // len(quotes)
    lines = []
    for q in quotes:
        label = f"{q['rank']}. **{escape_text(one_line(q['title'] or q['article_id']))}** `{q['passage_id']}` — "
        snippet = clip(escape_text(one_line(q["text"] or "")), max(10, share - dlen(label) - 3))
        lines.append(f"{label}“{snippet}”")
    return head + "\n" + "\n".join(lines)


BLOCKS = {"recent": entry_block, "search": entry_block, "unanswered": gap_block, "unhelpful": unhelpful_block}


def scope_text(params: dict[str, Any]) -> str:
    """The filters of a listing in words, e.g. ' by @x in #y since …'."""
    parts = []
    if params.get("user"):
        parts.append(f" by {person(params['user'])}")
    if params.get("channel"):
        parts.append(f" in <#{params['channel']}>")
    if params.get("since"):
        parts.append(f" since {stamp(params['since'], 'D')}")
    return "".join(parts)


def listing_embed(page: Page, params: dict[str, Any]) -> discord.Embed:
    """A page of a listing as one embed within Discord's limits."""
    title = TITLES[page.kind].format(text=clip(escape_text(one_line(params.get("text", ""))), 150))
    embed = discord.Embed(title=clip(title, 256), colour=COLOUR)
    scope = scope_text(params)
    if not page.items:
        embed.description = EMPTY[page.kind].format(scope=scope)
        return embed
    intro = f"Showing {NOUNS[page.kind]}s{scope}:" if scope else ""
    budget = (DESCRIPTION_LIMIT - dlen(intro) - 2 - len(BLOCK_GAP) * len(page.items)) // len(page.items)
    blocks = [BLOCKS[page.kind](item, budget) for item in page.items]
    embed.description = clip(BLOCK_GAP.join(([intro] if intro else []) + blocks), DESCRIPTION_LIMIT)
    first = page.offset + 1
    embed.set_footer(
        text=f"Page {page.number + 1} of {page.pages} · {first}–{first + len(page.items) - 1} of {page.total} "
        f"{NOUNS[page.kind]}{'s' * (page.total != 1)} · {ORDER[page.kind]} · only you can see this"
    )
    return embed


def stats_embed(stats: Stats, period: str) -> discord.Embed:
    """Numbers for one server over a period."""
    embed = discord.Embed(title=clip(f"How the bot did here — {period}", 256), colour=COLOUR)
    rate = "—" if stats.answer_rate is None else f"{stats.answer_rate:.0%}"
    channels = "\n".join(f"<#{c}> — {n}" if c and c.isdigit() else f"(no channel) — {n}" for c, n in stats.channels)
    fields = [
        ("Questions", f"**{stats.questions}** from {_plural(stats.askers, 'person', 'people')}\n"
                      f"{_plural(stats.follow_ups, 'follow-up')} · {_plural(stats.more_pages, 'More page')}"),
        ("Answer rate", f"**{rate}** answered with quotes\n{stats.answered} answered · {stats.abstained} not covered"),
        ("Feedback", f"👍 **{stats.up}** · 👎 **{stats.down}**"),
        ("Latency", f"median **{_ms(stats.median_ms)}**\np95 **{_ms(stats.p95_ms)}**"),
        ("Problems", f"{stats.failed} failed · {stats.turned_away} turned away\n"
                     f"{_plural(stats.refused_reviews, 'refused /review attempt')}"),
        ("Busiest channels", channels or "—"),
    ]
    for name, value in fields:
        embed.add_field(name=name, value=clip(value, FIELD_VALUE_LIMIT), inline=True)
    embed.set_footer(text="Answer rate = answered ÷ (answered + not covered). Use /review unanswered to see the gaps.")
    return embed


def _review_cog(interaction: discord.Interaction) -> Any:
    return interaction.client.get_cog("Review")  # type: ignore[union-attr]


class PageButton(ui.DynamicItem[ui.Button], template=r"rv:page:(?P<row>[0-9]{1,19}):(?P<page>[0-9]{1,6})"):
    """Previous / Next on a /review listing; works after a restart because the id names the logged query."""

    def __init__(self, row_id: int, page: int, *, label: str = "Next ▶", disabled: bool = False) -> None:
        button = ui.Button(label=label, style=discord.ButtonStyle.secondary, disabled=disabled,
                           custom_id=PAGE_ID.format(row=row_id, page=page))
        super().__init__(button)
        self.row_id, self.page = row_id, page

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: ui.Item, match: re.Match[str]) -> PageButton:
        """Rebuild the button from its custom_id."""
        return cls(int(match["row"]), int(match["page"]), label=getattr(item, "label", None) or "Page")

    async def callback(self, interaction: discord.Interaction) -> None:
        """Show the page this button points at."""
        cog = _review_cog(interaction)
        if cog is None:
            await interaction.response.send_message(UNAVAILABLE, ephemeral=True)
            return
        await cog.turn_page(interaction, self.row_id, self.page)


def pager(row_id: int | None, page: Page) -> ui.View | None:
    """Previous/Next buttons for a listing with more than one page (None when there is nothing to page)."""
    if row_id is None or page.pages <= 1:
        return None
    view = ui.View(timeout=None)
    view.add_item(PageButton(row_id, max(0, page.number - 1), label="◀ Previous", disabled=page.number == 0))
    view.add_item(PageButton(row_id, page.number + 1, label="Next ▶", disabled=page.number + 1 >= page.pages))
    return view
