"""`python -m bot run` (connect, or the local prompt without a token) and `python -m bot sync` (deliberate sync)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from typing import Any

import discord

from bot.config import Settings, SettingsError, configure_logging, is_network_error, load_settings
from bot.problems import (
    DEFAULT_API_BASE,
    DEFAULT_GATEWAY,
    Problem,
    check_engine_paths,
    connection_problem,
    first_line,
    timeout_problem,
)

_log = logging.getLogger(__name__)

NO_TOKEN_HELP = """No DISCORD_TOKEN is set, so the bot can't connect to Discord. To connect it:
  1. Open https://discord.com/developers/applications and create a New Application.
  2. On its Bot page press Reset Token; put the token in .env as DISCORD_TOKEN=... (never commit .env).
  3. OAuth2 > URL Generator: scopes 'bot' and 'applications.commands'; permissions 'Send Messages',
     'Send Messages in Threads', 'Create Public Threads', 'Embed Links', 'Read Message History'.
     Open the URL to invite the bot. It needs no privileged intents.
  4. Put your server's id in DISCORD_GUILD_ID so the slash commands appear there at once.
  5. make run. (README has the full steps.)"""
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
    check_engine_paths(settings, log=True)
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
    print("\nMeanwhile, ask the articles here (Ctrl-D or Ctrl-C to quit).\n", file=sys.stderr)
    try:
        engine = open_engine(settings, progress=True)
    except KeyboardInterrupt:
        print(cli.GOODBYE, file=sys.stderr)
        return 0
    return cli.local_prompt(engine, settings, stdin=stdin, stdout=stdout or sys.stdout)


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
            return await _run_until_stopped(bot, settings, stop)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


async def _run_until_stopped(bot, settings: Settings, stop: asyncio.Event) -> int:
    """Start the bot; stop on a signal, on its own end, or when the login or first connection hangs."""
    running = asyncio.create_task(bot.start(settings.discord_token or ""), name="bot")
    stopping = asyncio.create_task(stop.wait(), name="stop-signal")
    watching = asyncio.create_task(watch_start(bot, settings), name="start-watch")
    pending, code = {running, stopping, watching}, 0
    try:
        while True:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            if running in done:
                return _exit_code(running, bot, settings)
            if stopping in done:
                _log.info("Stop signal received")
                break
            if problem := watching.result():
                print(problem, file=sys.stderr)
                code = 1
                break
    finally:
        for task in (stopping, watching):
            task.cancel()
    await bot.close()
    await _finish(running)
    return code


async def _finish(task: asyncio.Task, timeout: float = 5) -> None:
    """Let the bot's task end after close() (cancel it if it won't); its error is already explained."""
    await asyncio.wait({task}, timeout=timeout)
    if not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=1)
    if task.done() and not task.cancelled() and task.exception() is not None:
        _log.debug("The bot's task ended with", exc_info=task.exception())


def api_base(settings: Settings) -> str:
    """The REST address the bot uses."""
    return settings.discord_api_base or DEFAULT_API_BASE


def gateway_url(settings: Settings) -> str:
    """The gateway address the bot uses."""
    return settings.discord_gateway_url or DEFAULT_GATEWAY


async def watch_start(bot, settings: Settings) -> str | None:
    """Give the login, then the first gateway connection, DISCORD_CONNECT_TIMEOUT each; a sentence if one hangs."""
    seconds = settings.discord_connect_timeout
    try:
        await asyncio.wait_for(bot.logged_in.wait(), seconds)
    except asyncio.TimeoutError:
        return timeout_problem(api_base(settings), "DISCORD_API_BASE", seconds, "login")
    await bot.set_up.wait()  # loading the engine takes as long as it takes
    try:
        await asyncio.wait_for(bot.gateway_ready.wait(), seconds)
    except asyncio.TimeoutError:
        return timeout_problem(gateway_url(settings), "DISCORD_GATEWAY_URL", seconds, "gateway connection")
    return None


def stop_reason(error: BaseException, logged_in: bool, settings: Settings) -> str:
    """One sentence for why the bot stopped on its own."""
    if isinstance(error, Problem):
        return str(error)
    if isinstance(error, discord.LoginFailure):
        return "Discord rejected DISCORD_TOKEN; copy it again from the Bot page of your application."
    if isinstance(error, discord.PrivilegedIntentsRequired):
        return "Discord refused the connection over privileged intents; this bot needs none."
    if isinstance(error, discord.HTTPException):
        step = "a request" if logged_in else "the login"
        return (f"Discord at {api_base(settings)} answered {step} with HTTP {error.status} "
                f"({first_line(error)}); check DISCORD_API_BASE and the bot's permissions.")
    if is_network_error(error):
        if logged_in:
            return connection_problem(error, gateway_url(settings), "DISCORD_GATEWAY_URL")
        return connection_problem(error, api_base(settings), "DISCORD_API_BASE")
    return f"The bot stopped: {type(error).__name__}: {first_line(error)} (LOG_LEVEL=DEBUG shows the details)."


def _exit_code(task: asyncio.Task, bot, settings: Settings) -> int:
    """Explain in one sentence why the bot stopped on its own (the traceback only at DEBUG)."""
    error = task.exception()
    if error is None:
        return 0
    _log.debug("The bot stopped", exc_info=error)
    print(stop_reason(error, bot.logged_in.is_set(), settings), file=sys.stderr)
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
    """Log in without connecting the gateway (within DISCORD_CONNECT_TIMEOUT), sync, log out."""
    from bot.client import QuoteBot

    bot = QuoteBot(settings, serving=False)
    async with bot:
        try:
            await asyncio.wait_for(bot.login(settings.discord_token or ""), settings.discord_connect_timeout)
            if guild_id:
                return await bot.sync_to_guild(guild_id)
            return await bot.tree.sync()
        except asyncio.TimeoutError:
            seconds = settings.discord_connect_timeout
            raise Problem(timeout_problem(api_base(settings), "DISCORD_API_BASE", seconds, "login")) from None
        except Exception as error:
            _log.debug("Sync failed", exc_info=error)
            raise Problem(stop_reason(error, bot.logged_in.is_set(), settings)) from error
