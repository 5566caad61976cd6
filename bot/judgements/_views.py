"""Judge buttons (they survive restarts: each custom_id names the logged answer), the judge card, and its embeds."""

from __future__ import annotations

import re
from typing import Any

import discord
from discord import app_commands, ui

from bot.formatting import DESCRIPTION_LIMIT, FIELD_VALUE_LIMIT, clip, dlen, escape_text, one_line
from bot.judgements._store import (
    CORRECT,
    MAX_QUOTES,
    QUOTE,
    RIGHTLY_REFUSED,
    SAID,
    SHOULD_REFUSE,
    Tally,
    allowed,
    label,
)
from bot.review import QUESTION_COMMANDS, Page
from bot.review_views import COLOUR, person, quoted, stamp

UNAVAILABLE = "Judging is unavailable right now; please try again in a little while."
CODES = {RIGHTLY_REFUSED: "right", SHOULD_REFUSE: "wrong", SAID: "said"}
VERDICT_OF_CODE = {code: verdict for verdict, code in CODES.items()}
EMOJI = {QUOTE: "✅", SAID: "📝", RIGHTLY_REFUSED: "✅", SHOULD_REFUSE: "❌"}
LISTED_KINDS = ("recent", "search", "unanswered", "unhelpful")
JUDGE_ROWS = (1, 2, 3)  # the listing's own Previous/Next stay on row 0
CONTEXT_CHARS = 90


def code(verdict: str, rank: int | None = None) -> str:
    """The short form a button id carries: q1…q5, said, right, wrong."""
    return f"q{rank}" if verdict == QUOTE else CODES[verdict]


def decode(text: str) -> tuple[str, int | None]:
    """Inverse of code()."""
    return (QUOTE, int(text[1:])) if text.startswith("q") else (VERDICT_OF_CODE[text], None)


def _cog(interaction: discord.Interaction) -> Any:
    return interaction.client.get_cog("Judgements")  # type: ignore[union-attr]


async def _delegate(interaction: discord.Interaction, method: str, *args: Any) -> None:
    cog = _cog(interaction)
    if cog is None:
        await interaction.response.send_message(UNAVAILABLE, ephemeral=True,
                                                allowed_mentions=discord.AllowedMentions.none())
        return
    await getattr(cog, method)(interaction, *args)


class OpenButton(ui.DynamicItem[ui.Button], template=r"jg:open:(?P<row>[0-9]{1,19})"):
    """'Judge #id' under a /review listing: opens the judge card of that answer."""

    def __init__(self, row_id: int, *, row: int | None = None) -> None:
        super().__init__(ui.Button(label=f"Judge #{row_id}", emoji="⚖️", style=discord.ButtonStyle.secondary,
                                   custom_id=f"jg:open:{row_id}"), row=row)
        self.row_id = row_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: ui.Item, match: re.Match[str]) -> OpenButton:
        """Rebuild the button from its custom_id."""
        return cls(int(match["row"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Show the judge card."""
        await _delegate(interaction, "open_card", self.row_id)


class VerdictButton(ui.DynamicItem[ui.Button],
                    template=r"jg:v:(?P<row>[0-9]{1,19}):(?P<verdict>q[1-5]|said|right|wrong)"):
    """One verdict on one answer; pressing another one replaces the moderator's judgement."""

    def __init__(self, row_id: int, verdict: str, rank: int | None = None, *, chosen: bool = False,
                 row: int | None = None) -> None:
        style = discord.ButtonStyle.success if chosen else (
            discord.ButtonStyle.primary if verdict == SAID else discord.ButtonStyle.secondary)
        super().__init__(ui.Button(label=label(verdict, rank), style=style,
                                   custom_id=f"jg:v:{row_id}:{code(verdict, rank)}"), row=row)
        self.row_id, self.verdict, self.rank = row_id, verdict, rank

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item, match: re.Match[str]
    ) -> VerdictButton:
        """Rebuild the button from its custom_id."""
        return cls(int(match["row"]), *decode(match["verdict"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Record the verdict (the sentence verdict first asks for the sentence)."""
        await _delegate(interaction, "give_verdict", self.row_id, self.verdict, self.rank)


class KeepButton(ui.DynamicItem[ui.Button], template=r"jg:keep:(?P<row>[0-9]{1,19}):(?P<keep>[01])"):
    """Keep (or stop keeping) the moderator's judgement for training after the log's retention removes the answer."""

    def __init__(self, row_id: int, keep: bool, *, disabled: bool = False, row: int | None = None) -> None:
        text = "Keep for training" if keep else "Stop keeping for training"
        super().__init__(ui.Button(label=text, emoji="📌", style=discord.ButtonStyle.secondary, disabled=disabled,
                                   custom_id=f"jg:keep:{row_id}:{int(keep)}"), row=row)
        self.row_id, self.keep = row_id, keep

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: ui.Item, match: re.Match[str]) -> KeepButton:
        """Rebuild the button from its custom_id."""
        return cls(int(match["row"]), match["keep"] == "1")

    async def callback(self, interaction: discord.Interaction) -> None:
        """Set the flag."""
        await _delegate(interaction, "keep", self.row_id, self.keep)


class JudgedPageButton(ui.DynamicItem[ui.Button], template=r"jg:page:(?P<row>[0-9]{1,19}):(?P<page>[0-9]{1,6})"):
    """Previous / Next on /review judged (the id names the logged /review, which stores its filters)."""

    def __init__(self, row_id: int, page: int, *, label: str = "Next ▶", disabled: bool = False) -> None:
        super().__init__(ui.Button(label=label, style=discord.ButtonStyle.secondary, disabled=disabled,
                                   custom_id=f"jg:page:{row_id}:{page}"))
        self.row_id, self.page = row_id, page

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item, match: re.Match[str]
    ) -> JudgedPageButton:
        """Rebuild the button from its custom_id."""
        return cls(int(match["row"]), int(match["page"]), label=getattr(item, "label", None) or "Page")

    async def callback(self, interaction: discord.Interaction) -> None:
        """Show that page."""
        await _delegate(interaction, "turn_judged_page", self.row_id, self.page)


class SentenceModal(ui.Modal, title="Which sentence answers it?"):
    """Paste the article's sentence that answers the question; it must be in an article, word for word."""

    sentence: ui.TextInput = ui.TextInput(
        label="The sentence, copied from the article",
        custom_id="sentence",
        style=discord.TextStyle.paragraph,
        placeholder="Paste it exactly as the article has it.",
        min_length=1,
        max_length=1000,
    )

    def __init__(self, row_id: int, nonce: int) -> None:
        super().__init__(custom_id=f"jg:said:{row_id}:{nonce}", timeout=900)
        self.row_id = row_id

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Check the sentence and record the verdict."""
        await _delegate(interaction, "sentence_given", self.row_id, self.sentence.value)


DYNAMIC_ITEMS = (OpenButton, VerdictButton, KeepButton, JudgedPageButton)


def judgeable(page: Page) -> list[int]:
    """Row ids on a /review listing page that can be judged (answered or refused questions)."""
    if page.kind not in LISTED_KINDS:
        return []
    if page.kind == "unanswered":
        return [gap.ids[0] for gap in page.items]
    return [row["id"] for row in page.items
            if row["command"] in QUESTION_COMMANDS and row["status"] == "ok" and row["question"]]


def judge_buttons(view: ui.View | None, page: Page) -> ui.View | None:
    """Add a 'Judge #id' button per answer on the page (≤ 15, rows 1–3) to a listing's view."""
    ids = judgeable(page)[:5 * len(JUDGE_ROWS)]
    if not ids:
        return view
    view = view or ui.View(timeout=None)
    for n, row_id in enumerate(ids):
        view.add_item(OpenButton(row_id, row=JUDGE_ROWS[n // 5]))
    return view


def quote_line(quote: dict[str, Any], budget: int) -> str:
    """One shown quote: its rank and title, then its bold sentence with a little context."""
    text = quote.get("text") or ""
    start, end = quote.get("highlight_start"), quote.get("highlight_end")
    if start is None or not (0 <= start < end <= len(text)):
        start, end = 0, min(len(text), 300)
    before, bold, after = one_line(text[:start]), one_line(text[start:end]), one_line(text[end:])
    before = ("…" + before[-CONTEXT_CHARS:]) if len(before) > CONTEXT_CHARS else before
    after = (after[:CONTEXT_CHARS] + "…") if len(after) > CONTEXT_CHARS else after
    head = f"**{quote['rank']}.** {escape_text(one_line(quote.get('title') or quote['article_id']))} " \
           f"`{quote['passage_id']}`"
    room = max(20, budget - dlen(head) - dlen(before) - dlen(after) - 12)
    body = f"{escape_text(before)} **{clip(escape_text(bold), room)}** {escape_text(after)}".strip()
    return head + "\n> " + clip(body, max(20, budget - dlen(head) - 3))


def verdict_text(judgement: dict[str, Any]) -> str:
    """A judgement in one line: emoji and verdict, the pasted sentence, kept for training."""
    text = f"{EMOJI.get(judgement['verdict'], '')} {label(judgement['verdict'], judgement['quote_rank'])}"
    if judgement.get("sentence"):
        text += f": “{clip(escape_text(one_line(judgement['sentence'])), 200)}”"
    if judgement.get("keep_for_training"):
        text += " · 📌 kept for training"
    return text


def card_embed(answer: dict[str, Any], judgements: list[dict[str, Any]]) -> discord.Embed:
    """The answer being judged: the question (and the earlier one), what the bot showed, the judgements so far."""
    embed = discord.Embed(title=f"Judge answer #{answer['id']}", colour=COLOUR)
    head = f"Asked {stamp(answer['created_at'])}\n" + quoted(answer["question"], 700)
    if answer.get("previous"):
        head += "\nFollowing up on:\n" + quoted(answer["previous"], 500)
    quotes = answer["quotes"][:MAX_QUOTES]
    if answer["abstained"] or not quotes:
        body = "🤷 The bot said the articles don't cover this."
    else:
        share = (DESCRIPTION_LIMIT - dlen(head) - 60) // len(quotes) - 2
        body = "The bot showed:\n" + "\n".join(quote_line(q, share) for q in quotes)
    embed.description = clip(head + "\n\n" + body, DESCRIPTION_LIMIT)
    lines = [f"{person(j['moderator_id'])}: {verdict_text(j)}" for j in judgements]
    embed.add_field(name="Judgements", value=clip("\n".join(lines) or "None yet.", FIELD_VALUE_LIMIT), inline=False)
    embed.set_footer(text="Pressing another verdict replaces yours. Judgements feed `python -m bot judgements export`. "
                          "Only you can see this.")
    return embed


def card_view(answer: dict[str, Any], mine: dict[str, Any] | None) -> ui.View:
    """Verdict buttons for the answer (only those that make sense), and 'keep for training'."""
    view = ui.View(timeout=None)
    chosen = (mine["verdict"], mine["quote_rank"]) if mine else None
    for verdict, rank in allowed(answer):
        view.add_item(VerdictButton(answer["id"], verdict, rank, chosen=chosen == (verdict, rank),
                                    row=0 if verdict == QUOTE else 1))
    kept = bool(mine and mine["keep_for_training"])
    view.add_item(KeepButton(answer["id"], not kept, disabled=mine is None, row=2))
    return view


def judged_block(judgement: dict[str, Any], budget: int) -> str:
    """One judgement in /review judged."""
    answer = f"`#{judgement['interaction_id']}`" if judgement["interaction_id"] is not None else "(answer purged)"
    who = person(judgement["moderator_id"]) if judgement["moderator_id"] else "(kept without ids)"
    head = f"{answer} {stamp(judgement['updated_at'])} · {who} · {verdict_text(judgement)}"
    head = clip(head, budget // 2)
    return head + "\n" + quoted(judgement["question"], budget - dlen(head) - 1)


def judged_embed(page: Page, params: dict[str, Any]) -> discord.Embed:
    """A page of /review judged."""
    embed = discord.Embed(title="Judged answers", colour=COLOUR)
    scope = ""
    if params.get("user"):
        scope += f" by {person(params['user'])}"
    if params.get("verdict"):
        scope += f" · {VERDICT_NAMES.get(params['verdict'], params['verdict'])}"
    if not page.items:
        embed.description = f"No judgements here{scope} yet. Use the ⚖️ Judge buttons under /review recent."
        return embed
    intro = f"Judgements{scope}:" if scope else ""
    budget = (DESCRIPTION_LIMIT - dlen(intro) - 4 - 2 * len(page.items)) // len(page.items)
    blocks = ([intro] if intro else []) + [judged_block(j, budget) for j in page.items]
    embed.description = clip("\n\n".join(blocks), DESCRIPTION_LIMIT)
    first = page.offset + 1
    embed.set_footer(text=f"Page {page.number + 1} of {page.pages} · {first}–{first + len(page.items) - 1} of "
                          f"{page.total} judgement{'s' * (page.total != 1)} · latest first · only you can see this")
    return embed


VERDICT_NAMES = {
    "correct": "the bot was right", "wrong": "the bot was wrong", QUOTE: "a quote answered",
    SAID: "none answered (the articles say it)", RIGHTLY_REFUSED: "rightly refused",
    SHOULD_REFUSE: "should have refused",
}


VERDICT_CHOICES = [
    app_commands.Choice(name="the bot was right (a quote answered, or rightly refused)", value="correct"),
    app_commands.Choice(name="the bot was wrong", value="wrong"),
    app_commands.Choice(name="a quote answered", value=QUOTE),
    app_commands.Choice(name="none answered: the articles do say it", value=SAID),
    app_commands.Choice(name="rightly refused", value=RIGHTLY_REFUSED),
    app_commands.Choice(name="should have refused", value=SHOULD_REFUSE),
]


def judged_pager(row_id: int | None, page: Page) -> ui.View | None:
    """Previous/Next for /review judged (None when there is one page)."""
    if row_id is None or page.pages <= 1:
        return None
    view = ui.View(timeout=None)
    view.add_item(JudgedPageButton(row_id, max(0, page.number - 1), label="◀ Previous", disabled=page.number == 0))
    view.add_item(JudgedPageButton(row_id, page.number + 1, disabled=page.number + 1 >= page.pages))
    return view


def judged_view(row_id: int | None, page: Page) -> ui.View | None:
    """/review judged's Previous/Next plus a 'Judge #id' button per judgement whose answer is still logged."""
    view = judged_pager(row_id, page)
    ids = list(dict.fromkeys(j["interaction_id"] for j in page.items if j["interaction_id"] is not None))
    if not ids:
        return view
    view = view or ui.View(timeout=None)
    for n, answer_id in enumerate(ids[:5 * len(JUDGE_ROWS)]):
        view.add_item(OpenButton(answer_id, row=JUDGE_ROWS[n // 5]))
    return view


def judged_field(tally: Tally | None) -> tuple[str, str]:
    """The 'Judged' field of /review stats."""
    if tally is None or not tally.answers:
        return "Judged", "none yet (⚖️ Judge under /review recent)"
    share = f"{tally.share_correct:.0%}"
    return "Judged", f"**{tally.answers}** answers · **{share}** correct\n({tally.judgements} judgements)"


__all__ = ["CORRECT", "DYNAMIC_ITEMS", "SentenceModal", "card_embed", "card_view", "judge_buttons", "judged_embed",
           "judged_field", "judged_pager", "judged_view", "VERDICT_CHOICES"]
