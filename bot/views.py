"""Answer buttons that survive restarts (the custom_id carries the logged answer's id) and the follow-up modal."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import discord
from discord import ui

from bot.formatting import MAX_QUESTION_CHARS

UNAVAILABLE = "Answers are unavailable right now; please try again in a little while."


def _answers(interaction: discord.Interaction) -> Any:
    """The Ask cog, which does the actual work behind every button."""
    return interaction.client.get_cog("Ask")  # type: ignore[union-attr]


async def _handle(interaction: discord.Interaction, command: str, work: Callable[[Any], Awaitable[None]]) -> None:
    """Run work(ask_cog); report any failure like a command error (discord.py would only log it)."""
    answers = _answers(interaction)
    if answers is None:
        if not interaction.response.is_done():
            none = discord.AllowedMentions.none()
            await interaction.response.send_message(UNAVAILABLE, ephemeral=True, allowed_mentions=none)
        return
    try:
        await work(answers)
    except Exception as exc:
        await answers.report_error(interaction, command, exc)


class MoreButton(ui.DynamicItem[ui.Button], template=r"qa:more:(?P<row>[0-9]{1,19})"):
    """Show the next best quotes for the answer's question, never repeating one."""

    def __init__(self, row_id: int) -> None:
        button = ui.Button(
            label="More quotes", emoji="📚", style=discord.ButtonStyle.secondary, custom_id=f"qa:more:{row_id}"
        )
        super().__init__(button)
        self.row_id = row_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: ui.Item, match: re.Match[str]) -> MoreButton:
        """Rebuild the button from its custom_id."""
        return cls(int(match["row"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Answer with the next quotes."""
        await _handle(interaction, "more", lambda answers: answers.more(interaction, self.row_id))


class FollowUpButton(ui.DynamicItem[ui.Button], template=r"qa:follow:(?P<row>[0-9]{1,19})"):
    """Open a modal for a follow-up question that continues from this answer."""

    def __init__(self, row_id: int) -> None:
        button = ui.Button(
            label="Follow up", emoji="↪️", style=discord.ButtonStyle.primary, custom_id=f"qa:follow:{row_id}"
        )
        super().__init__(button)
        self.row_id = row_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item, match: re.Match[str]
    ) -> FollowUpButton:
        """Rebuild the button from its custom_id."""
        return cls(int(match["row"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Show the follow-up modal."""
        modal = FollowUpModal(self.row_id, interaction.id)
        await _handle(interaction, "followup", lambda answers: interaction.response.send_modal(modal))


class VoteButton(ui.DynamicItem[ui.Button], template=r"qa:vote:(?P<vote>up|down):(?P<row>[0-9]{1,19})"):
    """👍 or 👎 on an answer: one vote per person, pressing again changes it."""

    def __init__(self, row_id: int, up: bool) -> None:
        direction = "up" if up else "down"
        custom_id = f"qa:vote:{direction}:{row_id}"
        button = ui.Button(emoji="👍" if up else "👎", style=discord.ButtonStyle.secondary, custom_id=custom_id)
        super().__init__(button)
        self.row_id, self.up = row_id, up

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: ui.Item, match: re.Match[str]) -> VoteButton:
        """Rebuild the button from its custom_id."""
        return cls(int(match["row"]), match["vote"] == "up")

    async def callback(self, interaction: discord.Interaction) -> None:
        """Record the vote and thank the voter privately."""
        await _handle(interaction, "vote", lambda answers: answers.vote(interaction, self.row_id, 1 if self.up else -1))


class FollowUpModal(ui.Modal, title="Follow up"):
    """Ask a follow-up question; the answer uses the conversation so far."""

    question: ui.TextInput = ui.TextInput(
        label="Your follow-up question",
        custom_id="question",
        style=discord.TextStyle.paragraph,
        placeholder="e.g. And what did Xi get out of it?",
        min_length=1,
        max_length=MAX_QUESTION_CHARS,
    )

    def __init__(self, row_id: int, nonce: int) -> None:
        super().__init__(custom_id=f"qa:followup:{row_id}:{nonce}", timeout=900)
        self.row_id = row_id

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Answer the follow-up as the next turn after the answer whose button opened this."""
        question = self.question.value
        await _handle(interaction, "followup", lambda answers: answers.follow_up(interaction, question, self.row_id))


DYNAMIC_ITEMS = (MoreButton, FollowUpButton, VoteButton)


def answer_view(row_id: int | None, *, more: bool = True) -> discord.ui.View | None:
    """Buttons under an answer (More, Follow up, 👍, 👎), or None when the answer isn't logged."""
    if row_id is None:
        return None
    view = ui.View(timeout=None)
    if more:
        view.add_item(MoreButton(row_id))
    view.add_item(FollowUpButton(row_id))
    view.add_item(VoteButton(row_id, up=True))
    view.add_item(VoteButton(row_id, up=False))
    return view
