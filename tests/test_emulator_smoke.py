"""Smoke tests: a real discord.py bot (no project code) against the Discord emulator."""

from __future__ import annotations

import asyncio
import io

import discord
import pytest
import pytest_asyncio
from discord import app_commands
from discord.ext import commands

from tests.discord_emulator import (
    CommandNotPermitted,
    CommandNotSynced,
    DiscordEmulator,
    EmulatorFailure,
    ErrorLogCollector,
    connected_client,
)
from tests.discord_emulator.limits import FormErrors, check_message, check_modal

FRUITS = ["apple", "apricot", "banana", "blueberry", "cherry"]


class PingView(discord.ui.View):
    """A persistent view: no timeout and a fixed custom_id."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="More", custom_id="ping:more", style=discord.ButtonStyle.primary)
    async def more(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        """Answer privately."""
        await interaction.response.send_message("more", ephemeral=True)

    @discord.ui.button(label="Done", custom_id="ping:done")
    async def done(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        """Update the message in place and drop the buttons."""
        await interaction.response.edit_message(content="closed", view=None)


class FeedbackModal(discord.ui.Modal, title="Feedback"):
    """A one-input modal."""

    text = discord.ui.TextInput(label="Your feedback", custom_id="feedback:text", max_length=200)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Thank the user, quoting the input."""
        await interaction.response.send_message(f"Thanks: {self.text.value}", ephemeral=True)


class SmokeBot(commands.Bot):
    """A bot with the features the project's bot uses; `results` collects what handlers saw."""

    def __init__(self, guild_id: str) -> None:
        super().__init__(command_prefix=commands.when_mentioned, intents=discord.Intents.default())
        self.guild = discord.Object(int(guild_id))
        self.results: asyncio.Queue = asyncio.Queue()
        add_commands(self)

    async def setup_hook(self) -> None:
        """Register the persistent view and sync commands to the test guild."""
        self.add_view(PingView())
        self.tree.copy_global_to(guild=self.guild)
        await self.tree.sync(guild=self.guild)

    async def result(self, timeout: float = 5.0):
        """Return the next value a handler reported."""
        return await asyncio.wait_for(self.results.get(), timeout)


def add_commands(bot: SmokeBot) -> None:
    """Define the slash commands on the bot's tree."""
    tree = bot.tree

    @tree.command(description="Ping with an embed and a button")
    async def ping(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        embed = discord.Embed(title="Pong", description="@everyone <@1> stays inert")
        await interaction.followup.send(embed=embed, view=PingView(), allowed_mentions=discord.AllowedMentions.none())

    @tree.command(description="Open a feedback form")
    async def feedback(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(FeedbackModal())

    @tree.command(description="Search fruit")
    @app_commands.describe(query="What to look for")
    async def search(interaction: discord.Interaction, query: str) -> None:
        await interaction.response.send_message(f"found {query}")

    @search.autocomplete("query")
    async def search_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=f, value=f) for f in FRUITS if f.startswith(current)]

    review = app_commands.Group(name="review", description="Moderator tools")
    settings = app_commands.Group(name="settings", description="Review settings", parent=review)

    @review.command(description="Recent questions")
    async def recent(interaction: discord.Interaction, limit: int = 5, mine: bool = False) -> None:
        await interaction.response.send_message(f"recent limit={limit} mine={mine}", ephemeral=True)

    @settings.command(description="Show settings")
    async def show(interaction: discord.Interaction, channel: discord.TextChannel, user: discord.Member) -> None:
        await interaction.response.send_message(f"show #{channel.name} @{user.name}")

    tree.add_command(review)

    @tree.command(description="Moderators only")
    @app_commands.default_permissions(manage_guild=True)
    async def admin(interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"admin ok {interaction.permissions.manage_guild}")

    @tree.command(description="Defer, then edit the original response")
    async def edit(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.edit_original_response(content="edited answer")

    @tree.command(description="Crash")
    async def crash(interaction: discord.Interaction) -> None:
        raise RuntimeError("boom")

    @tree.command(description="Send a file")
    async def export(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True, ephemeral=True)
        await interaction.followup.send("here", file=discord.File(io.BytesIO(b"id,question\n1,why\n"), "log.csv"))

    @tree.command(description="Too long a reply")
    async def long(interaction: discord.Interaction) -> None:
        try:
            await interaction.response.send_message("x" * 2001)
        except discord.HTTPException as exc:
            await bot.results.put(exc)
            await interaction.response.send_message("x" * 2000)

    @tree.command(description="Too slow a reply")
    async def slow(interaction: discord.Interaction) -> None:
        await asyncio.sleep(interaction.client.slow_delay)
        try:
            await interaction.response.send_message("late")
        except discord.HTTPException as exc:
            await bot.results.put(exc)

    @tree.command(description="Answer twice")
    async def twice(interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        interaction.response._response_type = None  # get past discord.py's own guard
        try:
            await interaction.response.send_message("again")
        except discord.HTTPException as exc:
            await bot.results.put(exc)
        await interaction.followup.send("done")


@pytest_asyncio.fixture
async def bot(emulator: DiscordEmulator):
    """A SmokeBot connected to the emulator."""
    client = SmokeBot(emulator.guild.id)
    async with connected_client(client, emulator):
        yield client


async def test_login_syncs_guild_commands_and_receives_guild(bot: SmokeBot, emulator: DiscordEmulator) -> None:
    puts = emulator.calls_to("PUT", f"/applications/{emulator.application_id}/guilds/{emulator.guild.id}/commands")
    assert len(puts) == 1 and puts[0].status == 200
    assert {c["name"] for c in puts[0].json} >= {"ping", "feedback", "search", "review", "admin"}
    order = [c.path for c in emulator.calls[:3]]
    assert order[:2] == ["/users/@me", "/oauth2/applications/@me"]
    guild = bot.get_guild(int(emulator.guild.id))
    assert guild is not None and guild.member_count == 4  # no members intent: only the bot is cached
    assert guild.me is not None and guild.get_channel(int(emulator.guild.channel("general").id)) is not None
    with pytest.raises(CommandNotSynced):
        await emulator.slash("nope")


async def test_ping_defers_then_follow_up_replaces_loading_message(bot: SmokeBot, emulator: DiscordEmulator) -> None:
    rec = await emulator.slash("ping")
    await rec.wait_response(3)
    assert rec.callback_type == 5 and rec.acknowledged_after < 3
    await rec.wait_final(5)
    assert not rec.loading and len(rec.messages) == 1
    message = rec.message
    assert message["id"] == rec.original_message_id
    assert message["embeds"][0]["title"] == "Pong"
    assert message["allowed_mentions"] == {"parse": []}
    assert message["components"][0]["components"][0]["custom_id"] == "ping:more"
    assert not rec.ephemeral

    press = await emulator.press(message, "ping:more")
    await press.wait_final(5)
    assert press.callback_type == 4 and press.ephemeral
    assert press.message["content"] == "more"
    assert press.payload["message"]["id"] == message["id"]


async def test_modal_opens_and_submits(bot: SmokeBot, emulator: DiscordEmulator) -> None:
    rec = await emulator.slash("feedback")
    await rec.wait_final(5)
    assert rec.modal["title"] == "Feedback"
    submit = await emulator.submit_modal(rec, {"feedback:text": "great quotes"})
    await submit.wait_final(5)
    assert submit.message["content"] == "Thanks: great quotes" and submit.ephemeral


async def test_autocomplete_returns_choices(bot: SmokeBot, emulator: DiscordEmulator) -> None:
    choices = await emulator.autocomplete("search", "query", "ap")
    assert [c["value"] for c in choices] == ["apple", "apricot"]


async def test_subcommands_groups_and_typed_options(bot: SmokeBot, emulator: DiscordEmulator) -> None:
    rec = await emulator.slash("review recent", {"limit": 3, "mine": True})
    await rec.wait_final(5)
    assert rec.message["content"] == "recent limit=3 mine=True" and rec.ephemeral
    rec = await emulator.slash("review settings show", {"channel": "random", "user": "moderator"})
    await rec.wait_final(5)
    assert rec.message["content"] == "show #random @moderator"


async def test_default_member_permissions_are_enforced(bot: SmokeBot, emulator: DiscordEmulator) -> None:
    with pytest.raises(CommandNotPermitted):
        await emulator.slash("admin", user="alice")
    rec = await emulator.slash("admin", user="moderator")
    await rec.wait_final(5)
    assert rec.message["content"] == "admin ok True"


async def test_follow_up_file_is_kept(bot: SmokeBot, emulator: DiscordEmulator) -> None:
    rec = await emulator.slash("export")
    await rec.wait_final(5)
    assert rec.ephemeral and rec.message["content"] == "here"
    assert [(f.filename, f.text()) for f in rec.files] == [("log.csv", "id,question\n1,why\n")]


async def test_over_long_content_is_rejected(bot: SmokeBot, emulator: DiscordEmulator) -> None:
    rec = await emulator.slash("long")
    exc = await bot.result()
    assert isinstance(exc, discord.HTTPException) and exc.status == 400 and exc.code == 50035
    assert "content" in exc.text
    await rec.wait_final(5)
    assert len(rec.message["content"]) == 2000


async def test_late_callback_is_unknown_interaction(bot: SmokeBot, emulator: DiscordEmulator) -> None:
    bot.slow_delay = emulator.ack_deadline + 0.2
    rec = await emulator.slash("slow")
    exc = await bot.result(timeout=emulator.ack_deadline + 3)
    assert isinstance(exc, discord.NotFound) and exc.code == 10062
    assert rec.callback_type is None and rec.errors[0]["code"] == 10062


async def test_second_callback_is_already_acknowledged(bot: SmokeBot, emulator: DiscordEmulator) -> None:
    rec = await emulator.slash("twice")
    exc = await bot.result()
    assert isinstance(exc, discord.HTTPException) and exc.code == 40060
    await rec.wait_final(5)
    assert rec.message["content"] == "done"


async def test_button_updates_message_in_place(bot: SmokeBot, emulator: DiscordEmulator) -> None:
    rec = await emulator.slash("ping")
    await rec.wait_final(5)
    press = await emulator.press(rec.message, "ping:done")
    await press.wait_final(5)
    assert press.callback_type == 7 and press.message["id"] == rec.message["id"]
    assert rec.message["content"] == "closed" and rec.message["components"] == []


async def test_edit_original_replaces_loading_message(bot: SmokeBot, emulator: DiscordEmulator) -> None:
    rec = await emulator.slash("edit")
    await rec.wait_final(5)
    assert [m["content"] for m in rec.messages] == ["edited answer"] and not rec.loading
    assert emulator.calls_to("PATCH", "/messages/@original")


async def test_command_error_fails_the_wait_fast(
    bot: SmokeBot, emulator: DiscordEmulator, discord_errors: ErrorLogCollector
) -> None:
    rec = await emulator.slash("crash")
    with pytest.raises(EmulatorFailure, match="boom"):
        await rec.wait_final(10)
    assert [r.levelname for r in discord_errors.take()] == ["ERROR"]


async def test_dead_client_task_is_reported(emulator: DiscordEmulator) -> None:
    with pytest.raises(RuntimeError, match="client task failed"):
        async with connected_client(SmokeBot(emulator.guild.id), emulator):
            await emulator.dispatch("INTERACTION_CREATE", {"type": 2}, emulator.guild.id)  # no id: KeyError
            with pytest.raises(EmulatorFailure, match="KeyError"):
                await emulator.wait_for(asyncio.sleep(10), 5, "the client to die")


async def test_commands_are_scoped_per_guild(emulator: DiscordEmulator) -> None:
    other = emulator.add_guild("Other Guild", channels=("lobby",))
    bob = emulator.add_member(other, "bob")
    async with connected_client(SmokeBot(emulator.guild.id), emulator) as client:
        assert client.get_guild(int(other.id)) is not None
        with pytest.raises(CommandNotSynced):
            await emulator.slash("ping", guild_id=other, user=bob)
        rec = await emulator.slash("review recent", guild_id=emulator.guild)
        await rec.wait_final(5)
        assert rec.guild_id == emulator.guild.id


def _button(label: str = "ok", custom_id: str = "b") -> dict:
    """Return a button component payload."""
    return {"type": 2, "style": 1, "label": label, "custom_id": custom_id}


def _embed(**overrides) -> dict:
    """Return a small valid embed payload, with overrides."""
    return {"title": "t", "description": "d"} | overrides


def _text_input(custom_id: str = "q") -> dict:
    """Return a modal row holding one text input."""
    return {"type": 1, "components": [{"type": 4, "custom_id": custom_id, "label": "Q", "style": 1}]}


def _field(name: str = "n", value: str = "v") -> dict:
    """Return an embed field."""
    return {"name": name, "value": value}


LIMIT_CASES = {
    "content 2001": ({"content": "x" * 2001}, "content"),
    "11 embeds": ({"embeds": [_embed()] * 11}, "embeds"),
    "title 257": ({"embeds": [_embed(title="x" * 257)]}, "embeds.0.title"),
    "description 4097": ({"embeds": [_embed(description="x" * 4097)]}, "embeds.0.description"),
    "26 fields": ({"embeds": [_embed(fields=[_field()] * 26)]}, "embeds.0.fields"),
    "field name 257": ({"embeds": [_embed(fields=[_field(name="x" * 257)])]}, "embeds.0.fields.0.name"),
    "field value 1025": ({"embeds": [_embed(fields=[_field(value="x" * 1025)])]}, "embeds.0.fields.0.value"),
    "footer 2049": ({"embeds": [_embed(footer={"text": "x" * 2049})]}, "embeds.0.footer.text"),
    "author 257": ({"embeds": [_embed(author={"name": "x" * 257})]}, "embeds.0.author.name"),
    "embeds total 6001": ({"embeds": [_embed(description="x" * 3000)] * 2 + [_embed()]}, "embeds"),
    "6 rows": ({"components": [{"type": 1, "components": [_button(custom_id=f"b{i}")]} for i in range(6)]},
               "components"),
    "6 buttons in a row": ({"components": [{"type": 1, "components": [_button(custom_id=f"b{i}") for i in range(6)]}]},
                           "components.0.components"),
    "label 81": ({"components": [{"type": 1, "components": [_button(label="x" * 81)]}]},
                 "components.0.components.0.label"),
    "empty custom_id": ({"components": [{"type": 1, "components": [_button(custom_id="")]}]},
                        "components.0.components.0.custom_id"),
    "custom_id 101": ({"components": [{"type": 1, "components": [_button(custom_id="x" * 101)]}]},
                      "components.0.components.0.custom_id"),
}


@pytest.mark.parametrize("payload, path", LIMIT_CASES.values(), ids=LIMIT_CASES.keys())
def test_message_limits(payload: dict, path: str) -> None:
    errors = FormErrors()
    check_message(payload, errors, creating=True)
    node = errors.body()["errors"]
    for key in path.split("."):
        node = node[key]
    assert node["_errors"], errors.body()


def test_message_at_the_limits_is_accepted() -> None:
    payload = {
        "content": "x" * 2000,
        "embeds": [_embed(title="x" * 256, description="x" * 1000, fields=[_field("n" * 10, "v" * 100)] * 25,
                          footer={"text": "f" * 100}, author={"name": "a" * 100})]
        + [_embed()] * 9,
        "components": [{"type": 1, "components": [_button("x" * 80, f"{r}-{i}" + "x" * 90) for i in range(5)]}
                       for r in range(5)],
    }
    errors = FormErrors()
    check_message(payload, errors, creating=True)
    assert not errors, errors.body()


def test_empty_message_is_rejected_with_50006() -> None:
    errors = FormErrors()
    check_message({"content": ""}, errors, creating=True)
    assert errors.body()["code"] == 50006


@pytest.mark.parametrize("modal, ok", [
    ({"custom_id": "m", "title": "x" * 45, "components": [_text_input(f"q{i}") for i in range(5)]}, True),
    ({"custom_id": "m", "title": "x" * 46, "components": [_text_input()]}, False),
    ({"custom_id": "m", "title": "t", "components": []}, False),
    ({"custom_id": "m", "title": "t", "components": [_text_input(f"q{i}") for i in range(6)]}, False),
])
def test_modal_limits(modal: dict, ok: bool) -> None:
    errors = FormErrors()
    check_modal(modal, errors)
    assert (not errors) is ok, errors.body()
