"""The Discord client: loads the knowledge engine and the cogs, registers persistent buttons, shuts down cleanly."""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot import server_settings, views
from bot.engine_holder import EngineHolder
from bot.config import Settings
from bot.log import AsyncLog, Who
from bot.log import guild_settings as stored_settings
from bot.recovery import PendingAnswers, answer_waiting, settle_at_start
from bot.sharding import Sharding

_log = logging.getLogger(__name__)

EXTENSIONS = ("bot.cogs.errors", "bot.cogs.ask", "bot.cogs.sources", "bot.cogs.review", "bot.cogs.privacy",
              "bot.cogs.settings", "bot.cogs.find_quotes", "bot.cogs.articles",
              "bot.cogs.mentions", "bot.cogs.judgements")
# Moderation, privacy and administration work in every channel, whatever ALLOWED_CHANNEL_IDS says.
CHANNEL_FREE_COMMANDS = frozenset({"review", "forget-me", "settings", "articles"})
DRAIN_SECONDS = 5.0
ERROR_MESSAGE = "Sorry, something went wrong on my side. It has been logged; please try again."
INTERRUPTED_MESSAGE = "I was restarted before I could answer this; please ask again in a minute."


discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False  # a text-only bot: no voice warnings


def apply_endpoints(settings: Settings) -> None:
    """Point discord.py at DISCORD_API_BASE / DISCORD_GATEWAY_URL when they are set (process-wide)."""
    if settings.discord_api_base:
        discord.http.Route.BASE = settings.discord_api_base
    if settings.discord_gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


def open_engine(settings: Settings, *, progress: bool = False):
    """Load the knowledge engine (blocking: call it in a thread); a failure is a Problem of one sentence."""
    from bot.problems import Problem, engine_problem
    from knowledge import Engine

    try:
        return Engine.open(
            settings.knowledge_dir,
            cache_path=settings.index_path,
            model_name=settings.embedding_model,
            progress=progress,
            ranker_path=ranker_path(settings),
        )
    except Exception as exc:
        _log.debug("Opening the engine failed", exc_info=exc)
        raise Problem(engine_problem(exc, settings)) from exc


def ranker_path(settings: Settings):
    """RANKER_PATH when that file exists (a ranker retrained with the log), else None: the shipped ranker."""
    path = settings.ranker_path
    return path if path is not None and path.exists() else None


def who_of(interaction: discord.Interaction) -> Who:
    """The log's view of who did something where."""
    user = interaction.user
    return Who(interaction.guild_id, interaction.channel_id, user.id, getattr(user, "display_name", "") or user.name)


async def send_private(interaction: discord.Interaction, text: str) -> None:
    """Reply only the user can see, also after a public "thinking" defer (whose placeholder is removed)."""
    none = discord.AllowedMentions.none()
    if not interaction.response.is_done():
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=none)
        return
    try:
        await interaction.delete_original_response()
    except discord.HTTPException:
        _log.debug("No original response to remove before a private reply")
    await interaction.followup.send(text, ephemeral=True, allowed_mentions=none)


class UserCooldown:
    """At most `rate` uses per `per` seconds for each user (rate 0 turns it off)."""

    def __init__(self, rate: int, per: float, clock=time.monotonic) -> None:
        self.rate, self.per, self._clock = rate, per, clock
        self._uses: dict[int, collections.deque[float]] = {}

    def hit(self, user_id: int) -> float:
        """Count one use now; return 0 if allowed, else the seconds until the next use is allowed."""
        if self.rate <= 0 or self.per <= 0:
            return 0.0
        now = self._clock()
        uses = self._uses.setdefault(user_id, collections.deque())
        while uses and now - uses[0] >= self.per:
            uses.popleft()
        if len(uses) >= self.rate:
            return self.per - (now - uses[0])
        uses.append(now)
        if len(self._uses) > 10_000:
            self._uses = {k: v for k, v in self._uses.items() if v and now - v[-1] < self.per}
        return 0.0


class ChannelNotAllowed(app_commands.CheckFailure):
    """The command was used outside ALLOWED_CHANNEL_IDS."""


class QuoteTree(app_commands.CommandTree):
    """Command tree that enforces the channel allow-list for every command."""

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Refuse commands outside the allowed channels (autocomplete suggestions are harmless)."""
        if interaction.type is discord.InteractionType.autocomplete:
            return True
        command = interaction.command.qualified_name.split()[0] if interaction.command else ""
        if command in CHANNEL_FREE_COMMANDS:
            return True
        if isinstance(self.client, QuoteBot) and not self.client.channel_allowed(interaction):
            raise ChannelNotAllowed("This channel is not in ALLOWED_CHANNEL_IDS.")
        return True


@dataclass
class Flight:
    """One answer being worked on: its interaction, and its log row once known."""

    interaction: discord.Interaction | None = None
    row_id: int | None = None


class QuoteBot(Sharding, commands.AutoShardedBot):
    """The article quote bot: as many shards as Discord recommends, or SHARD_COUNT / SHARD_IDS."""

    drain_seconds = DRAIN_SECONDS  # how long shutdown waits for answers in flight

    def __init__(self, settings: Settings, *, engine=None, serving: bool = True) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        intents.guild_messages = True  # messages that mention the bot arrive with their text; message_content stays off
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=QuoteTree,
            shard_count=settings.shard_count,
            shard_ids=None if settings.shard_ids is None else list(settings.shard_ids),
        )
        self.settings = settings
        self.engines = EngineHolder(engine)  # swapped atomically by /articles
        self.serving = serving  # False: only log in to sync commands (no engine, no log, no start-up sync)
        self.log = AsyncLog(settings.database_path, anonymize_key=settings.anonymize_key,
                            anonymize_default=settings.anonymize_users)
        # tokens of acknowledged questions, beside the log (one file per process when SHARD_IDS splits the shards)
        self.pending = PendingAnswers(settings.database_path, settings.shard_label)
        self.recovery: asyncio.Task | None = None  # answers questions acknowledged before a restart
        self.cooldown = UserCooldown(settings.ask_cooldown_rate, settings.ask_cooldown_seconds)
        self.server_overrides: dict[int, dict[str, str]] = {}  # /settings values, read from the log at start-up
        self._server_cooldowns: dict[int, UserCooldown] = {}
        self.closing = False
        self.synced: list[app_commands.AppCommand] = []
        self._flights: dict[asyncio.Task, Flight] = {}
        self.logged_in = asyncio.Event()  # Discord accepted the token (setup_hook began)
        self.set_up = asyncio.Event()  # setup_hook ended: the gateway connection comes next
        self.gateway_ready = asyncio.Event()  # the first READY arrived
        self.add_listener(self._first_connect, "on_connect")
        apply_endpoints(settings)

    def __repr__(self) -> str:
        return f"<QuoteBot guild={self.settings.discord_guild_id} db={str(self.settings.database_path)!r}>"

    async def setup_hook(self) -> None:
        """Open the log, load the engine off the loop, load cogs, register buttons, sync to the dev guild."""
        self.logged_in.set()
        waiting = []
        if self.serving:
            await self.log.open()
            await asyncio.to_thread(self.pending.open)
            waiting = await settle_at_start(self)
            await self.load_server_settings()
        if self.engine is None and self.serving:
            _log.info("Loading the knowledge engine from %s", self.settings.knowledge_dir)
            self.engine = await asyncio.to_thread(open_engine, self.settings)
        for extension in EXTENSIONS:
            try:
                await self.load_extension(extension)
            except Exception:
                _log.exception("Failed to load extension %s", extension)
        self.add_dynamic_items(*views.DYNAMIC_ITEMS)
        if self.serving and self.settings.discord_guild_id:
            self.synced = await self.sync_to_guild(self.settings.discord_guild_id)
            _log.info("Synced %d commands to guild %s", len(self.synced), self.settings.discord_guild_id)
        if waiting:
            self.recovery = asyncio.create_task(answer_waiting(self, waiting), name="answer-after-restart")
        self.set_up.set()

    async def _first_connect(self) -> None:
        """Note the first READY (the start-up watch in bot.runner waits for it)."""
        self.gateway_ready.set()

    async def sync_to_guild(self, guild_id: int) -> list[app_commands.AppCommand]:
        """Copy the global commands to one guild and sync them there (instant, unlike a global sync)."""
        guild = discord.Object(id=guild_id)
        self.tree.copy_global_to(guild=guild)
        return await self.tree.sync(guild=guild)

    async def on_message(self, message: discord.Message) -> None:
        """No text commands: a mention is a question, answered by the Mentions cog."""

    async def on_ready(self) -> None:
        """Say who we are once connected."""
        _log.info("Connected as %s (%s) to %d guild(s) on shard(s) %s of %s", self.user, getattr(self.user, "id", "?"),
                  len(self.guilds), ",".join(map(str, sorted(self.shards))), self.shard_count)

    @property
    def engine(self) -> Any:
        """The engine answering questions now (take it once per question: a re-index may swap it)."""
        return self.engines.current

    @engine.setter
    def engine(self, engine: Any) -> None:
        self.engines.swap(engine)

    async def is_bot_owner(self, user: discord.abc.User) -> bool:
        """The application's owner or team (admins and developers), or one of OWNER_IDS."""
        if user.id in self.settings.owner_ids:
            return True
        try:
            return await self.is_owner(user)
        except discord.HTTPException as exc:
            _log.warning("Could not read the application's owners: %s", exc)
            return False

    def config(self, guild_id: int | None) -> server_settings.ServerConfig:
        """The settings in force in a server: its /settings values over the .env defaults."""
        overrides = self.server_overrides.get(guild_id, {}) if guild_id is not None else {}
        return server_settings.effective(self.settings, overrides)

    async def load_server_settings(self) -> None:
        """Read every server's /settings values from the log (at start-up)."""
        loaded = await self.log.call(lambda log: stored_settings.load_all(log.db), default=None)
        if loaded is not None:
            self.server_overrides = loaded
            await self._apply_anonymize()
            wanting = [g for g in loaded if self.config(g).anonymize_users]
            if wanting and not self.settings.anonymize_key:
                _log.warning("%d server(s) chose anonymised logging but ANONYMIZE_KEY is not set: their rows keep "
                             "plain user ids until it is", len(wanting))

    async def change_server_setting(self, guild_id: int, key: str, value: str | None, who: Who) -> str | None:
        """Store (or with None, remove) one server's value; record the change; return the old stored text."""
        def write(log):
            return stored_settings.change(log.db, guild_id, key, value, user=log.user_key(who.user_id, guild_id),
                                          user_name=log._user_name(who.user_name, guild_id))
        old = await self.log.call(write, default=KeyError)
        if old is KeyError:
            raise RuntimeError("the settings database is unavailable")
        overrides = self.server_overrides.setdefault(guild_id, {})
        if value is None:
            overrides.pop(key, None)
        else:
            overrides[key] = value
        self._server_cooldowns.pop(guild_id, None)
        await self._apply_anonymize()
        return old  # type: ignore[return-value]

    async def _apply_anonymize(self) -> None:
        """Tell the log which servers turned anonymised logging on or off."""
        chosen = {str(g): self.config(g).anonymize_users for g, o in self.server_overrides.items()
                  if "anonymize_users" in o}
        await self.log.call(lambda log: setattr(log, "guild_anonymize", chosen))

    def cooldown_for(self, guild_id: int | None) -> UserCooldown:
        """The question cooldown of a server (its own rate and window, or the .env one)."""
        config = self.config(guild_id)
        if guild_id is None or (config.cooldown_rate, config.cooldown_seconds) == (
                self.settings.ask_cooldown_rate, self.settings.ask_cooldown_seconds):
            return self.cooldown
        cooldown = self._server_cooldowns.get(guild_id)
        if cooldown is None:
            cooldown = self._server_cooldowns[guild_id] = UserCooldown(config.cooldown_rate, config.cooldown_seconds)
        return cooldown

    def anonymize_key_for(self, guild_id: int | None) -> str | None:
        """The key user ids are hashed with in a server's rows, or None when that server logs plain ids."""
        key = self.settings.anonymize_key
        return key if key and self.config(guild_id).anonymize_users else None

    def retention_days(self) -> dict[int, int]:
        """The servers that chose their own log retention, and their days."""
        return {g: self.config(g).log_retention_days for g, o in self.server_overrides.items()
                if "log_retention_days" in o}

    def allowed_channels(self, guild_id: int | None) -> frozenset[int]:
        """The channels a server answers in (empty: all)."""
        return self.config(guild_id).answer_channels

    def channel_allowed(self, interaction: discord.Interaction) -> bool:
        """Whether the channel (or the thread's parent) is allowed; an empty list allows all."""
        return self.channel_id_allowed(interaction.guild_id, interaction.channel_id, interaction.channel)

    def channel_id_allowed(self, guild_id: int | None, channel_id: int | None, channel: Any = None) -> bool:
        """Whether a channel (or a thread whose parent is allowed) may be answered in."""
        allowed = self.allowed_channels(guild_id)
        if not allowed:
            return True
        parent = getattr(channel, "parent_id", None)
        return channel_id in allowed or (parent is not None and parent in allowed)

    def scrub(self, text: str) -> str:
        """Remove the token from any text headed for a log or a user."""
        token = self.settings.discord_token
        return text.replace(token, "[token]") if token else text

    async def log_begin(self, interaction: discord.Interaction, command: str, **details: Any) -> int | None:
        """Start the log row of an interaction; None when the log is unavailable."""
        who = who_of(interaction)
        details["discord_interaction_id"] = interaction.id
        return await self.log.call(lambda log: log.begin(who, command, **details))

    async def log_record(self, interaction: discord.Interaction, command: str, status: str, **details: Any) -> None:
        """Write the finished log row of a quick interaction (a listing, a refusal, an error)."""
        who = who_of(interaction)
        await self.log.call(
            lambda log: log.record(who, command, status=status, discord_interaction_id=interaction.id, **details)
        )

    async def report_error(
        self,
        interaction: discord.Interaction,
        command: str,
        error: BaseException,
        *,
        row_id: int | None = None,
        question: str | None = None,
        latency_ms: int | None = None,
    ) -> None:
        """Tell the user briefly and privately; put the details in the log and the interaction's row."""
        _log.error("/%s failed (interaction %s)", command, interaction.id, exc_info=error)
        try:
            await send_private(interaction, ERROR_MESSAGE)
        except discord.HTTPException as exc:
            _log.warning("Could not tell the user about the error: %s", exc)
        text = self.scrub(f"{type(error).__name__}: {error}")[:500]
        if row_id is None:
            await self.log_record(interaction, command, "error", question=question, error=text)
        else:
            await self.log.call(lambda log: log.finish(row_id, status="error", error=text, latency_ms=latency_ms))

    @contextmanager
    def flight(self, interaction: discord.Interaction) -> Iterator[Flight]:
        """Track the current task as an in-flight answer so shutdown can wait for it."""
        task = asyncio.current_task()
        record = Flight(interaction)
        if task is not None:
            self._flights[task] = record
        try:
            yield record
        finally:
            if task is not None:
                self._flights.pop(task, None)

    @property
    def in_flight(self) -> int:
        """How many answers are being worked on."""
        return len(self._flights)

    async def drain(self, timeout: float | None = None) -> int:
        """Let in-flight answers finish for up to timeout; log the rest as interrupted; return how many."""
        timeout = self.drain_seconds if timeout is None else timeout
        tasks = [t for t in self._flights if t is not asyncio.current_task()]
        if not tasks:
            return 0
        _log.info("Waiting up to %.0f s for %d answer(s) in flight", timeout, len(tasks))
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        flights = [self._flights[t] for t in pending if t in self._flights]
        for task in pending:
            task.cancel()
        if not pending:
            return 0
        _log.warning("%d answer(s) interrupted by shutdown", len(pending))
        rows = [f.row_id for f in flights if f.row_id is not None]
        if rows:
            await self.log.call(lambda log: log.interrupt_pending(rows), default=0)
        for flight in flights:
            if flight.interaction is not None:
                await self.pending.release(flight.interaction.id)
        notices = [f.interaction.edit_original_response(content=INTERRUPTED_MESSAGE) for f in flights if f.interaction]
        try:
            await asyncio.wait_for(asyncio.gather(*notices, return_exceptions=True), timeout=2)
        except asyncio.TimeoutError:
            _log.warning("Could not tell every interrupted user in time")
        return len(pending)

    async def close(self) -> None:
        """Stop taking questions, finish or interrupt answers in flight, close the gateway, flush the log."""
        if not self.closing:
            self.closing = True
            _log.info("Shutting down")
            await self.drain()
            if self.recovery is not None and not self.recovery.done():
                await asyncio.wait([self.recovery], timeout=self.drain_seconds)
        await super().close()
        await self.log.close()
        await asyncio.to_thread(self.pending.close)
