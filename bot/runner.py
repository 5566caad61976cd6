"""`python -m bot run` (connect, or the local prompt without a token) and `python -m bot sync` (deliberate sync)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from typing import Any

import discord

from bot.config import Settings, SettingsError, configure_logging, load_settings

_log = logging.getLogger(__name__)

NO_TOKEN_HELP = (
    "No DISCORD_TOKEN is set, so the bot can't connect to Discord. To get one: open "
    "https://discord.com/developers/applications, create a New Application, open its Bot page, press Reset Token "
    "and put the token in .env as DISCORD_TOKEN=... (never commit it). Invite the bot with OAuth2 > URL Generator: "
    "scopes 'bot' and 'applications.commands', bot permissions 'Send Messages', 'Send Messages in Threads', "
    "'Embed Links' and 'Read Message History'; it needs no privileged intents. Set DISCORD_GUILD_ID to your "
    "server's id so the slash commands appear there at once (README has the full steps)."
)
NO_TTY = "No terminal is attached, so the local question prompt can't open; set DISCORD_TOKEN to run the bot."


def add_run_parser(sub: Any) -> None:
    """Register `run`."""
    parser = sub.add_parser("run", help="start the Discord bot (or a local prompt when DISCORD_TOKEN is unset)")
    parser.add_argument("--env-file", default=".env", help="settings file read under the environment (default .env)")
    parser.set_defaults(handler=run_command)


def add_sync_parser(sub: Any) -> None:
    """Register `sync`."""
    parser = sub.add_parser("sync", help="publish the slash commands globally (slow to appear), or to one --guild")
    parser.add_argument("--guild", type=int, metavar="ID", help="sync to this server only (instant)")
    parser.add_argument("--env-file", default=".env", help="settings file read under the environment (default .env)")
    parser.set_defaults(handler=sync_command)


def _settings(args: argparse.Namespace) -> Settings | None:
    """Load settings, printing the one-sentence problem on failure."""
    try:
        settings = load_settings(dotenv_path=getattr(args, "env_file", ".env"))
    except SettingsError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return None
    configure_logging(settings.log_level)
    return settings


def run_command(args: argparse.Namespace) -> int:
    """Connect to Discord with the token, or explain how to get one and open the local prompt."""
    settings = _settings(args)
    if settings is None:
        return 2
    if not settings.has_token:
        return run_locally(settings)
    try:
        return asyncio.run(serve(settings))
    except KeyboardInterrupt:
        return 0


def run_locally(settings: Settings, stdin=None, stdout=None) -> int:
    """Without a token: print how to get one, then the terminal prompt (or exit 1 when there is no terminal)."""
    stdin = stdin or sys.stdin
    print(NO_TOKEN_HELP, file=sys.stderr)
    if not stdin.isatty():
        print(NO_TTY, file=sys.stderr)
        return 1
    from bot import cli
    from bot.client import open_engine
    from bot.config import configure_logging

    configure_logging(settings.log_level, quiet=True)  # the terminal is for answers
    print("\nMeanwhile, ask the articles here (Ctrl-D to quit).\n", file=sys.stderr)
    engine = open_engine(settings, progress=True)
    return cli.interactive(engine, stdin=stdin, stdout=stdout or sys.stdout)


async def serve(settings: Settings, *, engine=None) -> int:
    """Run the bot until SIGTERM/SIGINT, then shut down cleanly; return the exit code."""
    from bot.client import QuoteBot

    bot = QuoteBot(settings, engine=engine)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with bot:
            running = asyncio.create_task(bot.start(settings.discord_token or ""), name="bot")
            stopping = asyncio.create_task(stop.wait(), name="stop-signal")
            await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if running.done():
                return _exit_code(running)
            _log.info("Stop signal received")
            await bot.close()
            await asyncio.wait({running}, timeout=5)
        return 0
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def _exit_code(task: asyncio.Task) -> int:
    """Explain why the bot stopped on its own."""
    error = task.exception()
    if error is None:
        return 0
    if isinstance(error, discord.LoginFailure):
        print("Discord rejected DISCORD_TOKEN; copy it again from the Bot page of your application.", file=sys.stderr)
        return 1
    if isinstance(error, discord.PrivilegedIntentsRequired):
        print("Discord refused the connection over privileged intents; this bot needs none.", file=sys.stderr)
        return 1
    _log.error("The bot stopped", exc_info=error)
    return 1


def sync_command(args: argparse.Namespace) -> int:
    """Publish the commands globally (or to --guild) on purpose, then disconnect."""
    settings = _settings(args)
    if settings is None:
        return 2
    if not settings.has_token:
        print(NO_TOKEN_HELP, file=sys.stderr)
        return 1
    commands = asyncio.run(sync_commands(settings, args.guild))
    where = f"server {args.guild}" if args.guild else "all servers (global commands can take up to an hour to show)"
    print(f"Synced {len(commands)} commands to {where}: {', '.join('/' + c.name for c in commands)}")
    return 0


async def sync_commands(settings: Settings, guild_id: int | None) -> list:
    """Log in without connecting the gateway, sync, log out."""
    from bot.client import QuoteBot

    bot = QuoteBot(settings, serving=False)
    async with bot:
        await bot.login(settings.discord_token or "")
        if guild_id:
            return await bot.sync_to_guild(guild_id)
        return await bot.tree.sync()
