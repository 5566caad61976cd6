"""A loopback Discord API (REST + gateway) for end-to-end tests of a discord.py bot."""

from .limits import FormErrors
from .models import ADMINISTRATOR, MANAGE_GUILD, EmuChannel, EmuGuild, EmuMember, EmuRole, EmuUser
from .payloads import CommandNotPermitted, CommandNotSynced, InvalidInvocation
from .records import EPHEMERAL, LOADING, InteractionRecord, RestCall, StoredFile
from .server import DiscordEmulator, EmulatorFailure

_FIXTURE_NAMES = ("ErrorLogCollector", "connected_client", "redirect_discord")


def __getattr__(name: str):
    """Import the pytest helpers lazily, so importing the package does not import pytest."""
    if name in _FIXTURE_NAMES:
        from . import fixtures

        return getattr(fixtures, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ADMINISTRATOR",
    "EPHEMERAL",
    "LOADING",
    "MANAGE_GUILD",
    "CommandNotPermitted",
    "CommandNotSynced",
    "DiscordEmulator",
    "EmuChannel",
    "EmuGuild",
    "EmuMember",
    "EmuRole",
    "EmuUser",
    "EmulatorFailure",
    "ErrorLogCollector",
    "FormErrors",
    "InteractionRecord",
    "InvalidInvocation",
    "RestCall",
    "StoredFile",
    "connected_client",
    "redirect_discord",
]
