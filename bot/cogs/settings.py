"""/settings show | set | reset: this server's own values over the .env defaults, for members with Manage Server."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import Choice
from discord.ext import commands

from bot import server_settings
from bot.client import who_of
from bot.cogs.privacy import quiet_payloads
from bot.server_settings import KEYS, ServerSettingError

if TYPE_CHECKING:
    from bot.client import QuoteBot

_log = logging.getLogger(__name__)

NONE = discord.AllowedMentions.none()
REFUSAL = "Sorry — /settings is only for members with Manage Server."
UNAVAILABLE = "I can't reach the settings database right now, so nothing changed. Please try again in a minute."
KEY_CHOICES = [Choice(name=f"{k.name}: {k.meaning}"[:100], value=k.name) for k in KEYS.values()]
ALL = "all"


def show_embed(rows: list[tuple[str, str, str]], guild_name: str) -> discord.Embed:
    """The settings of a server, each with where its value comes from."""
    embed = discord.Embed(title=f"Settings for {guild_name}"[:256], colour=discord.Colour.blurple())
    for name, value, source in rows:
        embed.add_field(name=name, value=f"{value[:900]}\n*from {source}*", inline=False)
    embed.set_footer(text="Change with /settings set, go back to the default with /settings reset.")
    return embed


@app_commands.default_permissions(manage_guild=True)
@app_commands.guild_only()
class ServerSettings(commands.GroupCog, group_name="settings",
                     group_description="This server's settings (Manage Server only)."):
    """Per-server settings: channels, moderator roles, quotes, cooldown, visibility, retention, anonymity."""

    def __init__(self, bot: QuoteBot) -> None:
        self.bot = bot

    async def admit(self, interaction: discord.Interaction, sub: str) -> bool:
        """Let members with Manage Server through; refuse (privately, logged) anyone else."""
        if interaction.guild_id is not None and interaction.permissions.manage_guild:
            return True
        _log.info("/settings %s refused for a member without Manage Server", sub)
        await interaction.response.send_message(REFUSAL, ephemeral=True, allowed_mentions=NONE)
        await self.bot.log_record(interaction, "settings", "refused", argument=json.dumps({"sub": sub}),
                                  reason="no Manage Server")
        return False

    @app_commands.command(name="show", description="This server's settings and where each value comes from.")
    async def show(self, interaction: discord.Interaction) -> None:
        """Show every key, its value and its source (this server or the default)."""
        if not await self.admit(interaction, "show"):
            return
        overrides = self.bot.server_overrides.get(interaction.guild_id or 0, {})
        rows = server_settings.describe(self.bot.settings, overrides)
        name = interaction.guild.name if interaction.guild else "this server"
        await interaction.response.send_message(embed=show_embed(rows, name), ephemeral=True, allowed_mentions=NONE)
        await self.bot.log_record(interaction, "settings", "ok", argument=json.dumps({"sub": "show"}))

    @app_commands.command(name="set", description="Give this server its own value for a setting.")
    @app_commands.describe(key="Which setting", value="The new value, e.g. #general #help, 3, 60, private, true")
    @app_commands.choices(key=KEY_CHOICES)
    async def set_value(
        self, interaction: discord.Interaction, key: str, value: app_commands.Range[str, 1, 1000]
    ) -> None:
        """Validate and store one value; say what changed."""
        if not await self.admit(interaction, "set"):
            return
        try:
            parsed = server_settings.parse(key, value, anonymize_key_set=bool(self.bot.settings.anonymize_key))
            self.check_exists(interaction, key, parsed)
        except ServerSettingError as exc:
            await interaction.response.send_message(str(exc), ephemeral=True, allowed_mentions=NONE)
            await self.bot.log_record(interaction, "settings", "invalid", reason=str(exc),
                                      argument=json.dumps({"sub": "set", "key": key}))
            return
        await self.change(interaction, key, server_settings.encode(key, parsed))

    @app_commands.command(name="reset", description="Go back to the default (.env) value for a setting, or all.")
    @app_commands.describe(key="Which setting (or all of them)")
    @app_commands.choices(key=[*KEY_CHOICES[:24], Choice(name="all settings", value=ALL)])
    async def reset_value(self, interaction: discord.Interaction, key: str) -> None:
        """Remove this server's own value(s)."""
        if not await self.admit(interaction, "reset"):
            return
        names = list(self.bot.server_overrides.get(interaction.guild_id or 0, {})) if key == ALL else [key]
        await self.change(interaction, names, None)

    def check_exists(self, interaction: discord.Interaction, key: str, value: object) -> None:
        """Refuse channels or roles that are not this server's."""
        guild = interaction.guild
        if guild is None or KEYS[key].kind not in ("channels", "roles"):
            return
        known = [c.id for c in guild.channels] if KEYS[key].kind == "channels" else [r.id for r in guild.roles]
        missing = server_settings.unknown_ids(value, known)
        if missing:
            what = "channel" if KEYS[key].kind == "channels" else "role"
            raise ServerSettingError(f"{key} must name this server's {what}s, but {missing[0]} is not one of them.")

    async def change(self, interaction: discord.Interaction, keys: str | list[str], value: str | None) -> None:
        """Store the change(s), log each (who, old, new) and confirm privately."""
        guild_id = interaction.guild_id
        assert guild_id is not None
        who = who_of(interaction)
        lines = []
        for key in [keys] if isinstance(keys, str) else keys:
            before = self.bot.config(guild_id)
            try:
                old = await self.bot.change_server_setting(guild_id, key, value, who)
            except RuntimeError:
                await interaction.response.send_message(UNAVAILABLE, ephemeral=True, allowed_mentions=NONE)
                return
            after = self.bot.config(guild_id)
            argument = {"sub": "set" if value is not None else "reset", "key": key, "old": old, "new": value}
            await self.bot.log_record(interaction, "settings", "ok", argument=json.dumps(argument))
            _log.info("/settings: server %s changed %s", guild_id, key)
            if key == "anonymize_users" and after.anonymize_users:
                quiet_payloads()  # discord.py's DEBUG payload dumps would name members
            privacy = self.bot.get_cog("Privacy")
            if key == "log_retention_days" and privacy is not None and not privacy.daily_purge.is_running():
                privacy.daily_purge.start()
            shown = server_settings.render(key, getattr(after, key))
            was = server_settings.render(key, getattr(before, key))
            source = "this server's value" if value is not None else "the default"
            lines.append(f"**{key}** is now {shown} ({source}; was {was}).")
        text = "\n".join(lines) or "This server had no settings of its own; everything already uses the defaults."
        await interaction.response.send_message(text[:2000], ephemeral=True, allowed_mentions=NONE)


async def setup(bot: QuoteBot) -> None:
    """Load the ServerSettings cog."""
    await bot.add_cog(ServerSettings(bot))
