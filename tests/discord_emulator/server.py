"""DiscordEmulator: a loopback Discord (REST + gateway) that a real discord.py client can log in to."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any, Awaitable, Iterable

from aiohttp import web

from .community import CommunityMixin
from .gateway import Gateway
from .limits import find_component, iter_components
from .messages import MessageStore
from .models import (
    ADMINISTRATOR,
    DEFAULT_EVERYONE_PERMISSIONS,
    MANAGE_GUILD,
    EmuChannel,
    EmuGuild,
    EmuMember,
    EmuUser,
    SnowflakeFactory,
    as_permissions,
    shard_of,
)
from .payloads import (
    CommandNotPermitted,
    CommandNotSynced,
    InvalidInvocation,
    build_options,
    interaction_payload,
    modal_submit_components,
    nest_options,
    resolve_command_path,
)
from .records import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    MESSAGE_COMPONENT,
    MODAL,
    MODAL_SUBMIT,
    InteractionRecord,
    RestCall,
    now,
)
from .rest import API, RestApi

UserRef = EmuMember | EmuUser | int | str | None
GuildRef = EmuGuild | int | str | None
ChannelRef = EmuChannel | int | str | None
# Permissions the bot's own role gets in every guild.
BOT_PERMISSIONS = DEFAULT_EVERYONE_PERMISSIONS


class EmulatorFailure(AssertionError):
    """Something outside the emulator reported a failure (an ERROR log, a dead client task)."""


class DiscordEmulator(CommunityMixin):
    """Emulate the parts of Discord a slash-command bot uses, on 127.0.0.1 and a free port."""

    def __init__(self, *, ack_deadline: float = 3.0, bot_name: str = "Article Bot", default_guild: bool = True,
                 shard_count: int = 1) -> None:
        """Create the bot user and application and, unless told not to, a default guild."""
        self.ids = SnowflakeFactory()
        self.shard_count = shard_count  # what GET /gateway/bot recommends; IDENTIFY with a shard beyond it: 4010
        self.ack_deadline = ack_deadline
        self.token_lifetime = 15 * 60.0  # seconds an interaction token works for webhooks
        self.application_id = self.ids()
        self.bot_user = EmuUser(self.application_id, bot_name.lower().replace(" ", "-"), bot_name, bot=True)
        self.app_owner = EmuUser(self.ids(), "app-owner")
        self.team_members: list[EmuUser] | None = None  # set to make the application team-owned
        self.users: dict[str, EmuUser] = {u.id: u for u in (self.bot_user, self.app_owner)}
        self.user_messages: list[str] = []
        self.guilds: dict[str, EmuGuild] = {}
        self.commands: dict[str | None, list[dict]] = {}
        self.interactions: dict[str, InteractionRecord] = {}
        self.store = MessageStore(self)
        self.messages = self.store.messages
        self.files = self.store.files
        self.channel_messages = self.store.channel_messages
        self.calls: list[RestCall] = []
        self.failures: list[BaseException] = []
        self._failed = asyncio.Event()
        self.gateway = Gateway(self)
        self.rest = RestApi(self)
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.port: int | None = None
        if default_guild:
            guild = self.add_guild("Test Guild", channels=("general", "random"))
            self.add_member(guild, "alice")
            self.add_member(guild, "moderator", permissions=MANAGE_GUILD)

    # Lifecycle and addresses.
    async def start(self) -> "DiscordEmulator":
        """Start serving on 127.0.0.1 at a free port."""
        self._loop = asyncio.get_running_loop()
        app = web.Application(middlewares=[self.rest.middleware], client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self.gateway.handle)
        self.rest.add_routes(app.router)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        """Close every gateway session and stop serving."""
        await self.gateway.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> "DiscordEmulator":
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    @property
    def http_base(self) -> str:
        """Return the server root, e.g. http://127.0.0.1:PORT."""
        if self.port is None:
            raise RuntimeError("the emulator is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        """Return the REST base for discord.http.Route.BASE / DISCORD_API_BASE."""
        return self.http_base + API

    @property
    def gateway_url(self) -> str:
        """Return the websocket URL for DiscordWebSocket.DEFAULT_GATEWAY / DISCORD_GATEWAY_URL."""
        return self.http_base.replace("http://", "ws://") + "/gateway"

    def application_payload(self) -> dict:
        """Return the application object (GET /oauth2/applications/@me)."""
        return {
            "id": self.application_id,
            "name": self.bot_user.global_name,
            "description": "",
            "icon": None,
            "bot_public": False,
            "bot_require_code_grant": False,
            "owner": self.app_owner.payload(),
            "team": self._team_payload(),
            "verify_key": "0" * 64,
            "flags": 0,
            "summary": "",
            "bot": self.bot_user.payload(),
        }

    def _team_payload(self) -> dict | None:
        """The application's team, when team_members is set (the first member owns it)."""
        if not self.team_members:
            return None
        team_id = str(int(self.application_id) + 1)
        members = [{"user": u.payload(), "team_id": team_id, "membership_state": 2, "permissions": ["*"],
                    "role": "admin"} for u in self.team_members]
        return {"id": team_id, "name": "Team", "icon": None, "owner_user_id": self.team_members[0].id,
                "members": members}

    @property
    def bot_mention(self) -> str:
        """How a member mentions the bot in a message."""
        return f"<@{self.bot_user.id}>"

    # Configuring users and guilds.
    @property
    def guild(self) -> EmuGuild:
        """Return the first guild (the default one)."""
        return next(iter(self.guilds.values()))

    def add_user(self, username: str, *, global_name: str | None = None) -> EmuUser:
        """Return the user with this username, creating it if needed."""
        for user in self.users.values():
            if user.username == username:
                return user
        user = EmuUser(self.ids(), username, global_name or username.title())
        self.users[user.id] = user
        return user

    def add_guild(self, name: str, *, channels: Iterable[str] = ("general",), owner: str = "guild-owner",
                  shard: int | None = None) -> EmuGuild:
        """Create a guild with channels, an owner and the bot as members (before connecting); shard= routes it there."""
        owner_user = self.add_user(owner)
        guild_id = self.ids() if shard is None else self.ids.on_shard(shard, self.shard_count)
        guild = EmuGuild(self.ids, guild_id, name, owner_user)
        self.guilds[guild.id] = guild
        for channel in channels:
            guild.add_channel(channel)
        guild.add_member(owner_user)
        guild.add_member(self.bot_user, roles=[guild.add_role(self.bot_user.global_name, BOT_PERMISSIONS)])
        return guild

    def add_member(
        self,
        guild: GuildRef,
        username: str,
        *,
        permissions: int | str | None = None,
        roles: Iterable[Any] = (),
        nick: str | None = None,
    ) -> EmuMember:
        """Add a member; `permissions` (bitfield) becomes a role of its own on top of @everyone's defaults."""
        guild = self.find_guild(guild)
        role_list = [guild.role(r) for r in roles]
        if permissions is not None:
            role_list.append(guild.add_role(f"{username} permissions", as_permissions(permissions)))
        member = guild.add_member(self.add_user(username), roles=role_list, nick=nick)
        if guild.default_member is None:
            guild.default_member = member
        return member

    def find_guild(self, guild: GuildRef = None) -> EmuGuild:
        """Find a guild by object, id or name; None gives the default guild."""
        if guild is None:
            return self.guild
        if isinstance(guild, EmuGuild):
            return guild
        for candidate in self.guilds.values():
            if str(guild) in (candidate.id, candidate.name):
                return candidate
        raise LookupError(f"no guild {guild!r}")

    def find_channel(self, channel_id: str) -> EmuChannel | None:
        """Find a channel in any guild by id."""
        return next((g.channels[channel_id] for g in self.guilds.values() if channel_id in g.channels), None)

    def _member(self, guild: EmuGuild, user: UserRef) -> EmuMember:
        """Resolve the acting member; None is the guild's default member."""
        if user is None:
            if guild.default_member is None:
                raise LookupError(f"guild {guild.name!r} has no members added with add_member(); pass user=")
            return guild.default_member
        return guild.member(user)

    # Commands.
    def register_commands(self, guild_id: str | None, commands: list[dict]) -> list[dict]:
        """Store a bulk overwrite of commands, keeping ids stable by (name, type) as Discord does."""
        previous = {(c["name"], c.get("type", 1)): c for c in self.commands.get(guild_id, [])}
        stored = []
        for command in commands:
            old = previous.get((command["name"], command.get("type", 1)))
            entry = {
                "type": 1,
                "description": "",  # Discord answers "" for context-menu commands
                "default_member_permissions": None,
                "nsfw": False,
                "options": [],
                **command,
                "id": old["id"] if old else self.ids(),
                "application_id": self.application_id,
                "version": self.ids(),
            }
            if guild_id is not None:
                entry["guild_id"] = guild_id
            stored.append(entry)
        self.commands[guild_id] = stored
        return stored

    def find_command(self, name: str, guild: EmuGuild) -> dict:
        """Find a synced chat-input command visible in `guild` (guild commands first, then global)."""
        for scope in (guild.id, None):
            for command in self.commands.get(scope, []):
                if command["name"] == name and command.get("type", 1) == 1:
                    return command
        known = {scope: [c["name"] for c in cmds] for scope, cmds in self.commands.items()}
        raise CommandNotSynced(f"/{name} was never synced for guild {guild.id} or globally; registered: {known}")

    def interaction_by_token(self, token: str) -> InteractionRecord | None:
        """Find an interaction by its token."""
        return next((r for r in self.interactions.values() if r.token == token), None)

    # Sending interactions to the bot.
    async def slash(
        self,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        guild_id: GuildRef = None,
        channel_id: ChannelRef = None,
        user: UserRef = None,
        locale: str = "en-US",
        ignore_default_permissions: bool = False,
    ) -> InteractionRecord:
        """Invoke a synced slash command, e.g. slash("review recent", {"limit": 5}); return its record."""
        guild = self.find_guild(guild_id)
        member = self._member(guild, user)
        root, *path = name.split()
        command = self.find_command(root, guild)
        self._check_default_permissions(command, member, ignore_default_permissions)
        specs, path = resolve_command_path(command, path)
        leaf, resolved = build_options(specs, dict(options or {}), guild)
        data = {"id": command["id"], "name": root, "type": 1, "options": nest_options(command, path, leaf)}
        if resolved:
            data["resolved"] = resolved
        if command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        return await self._dispatch(APPLICATION_COMMAND, guild, guild.channel(channel_id), member, data, locale=locale)

    async def autocomplete(
        self,
        name: str,
        focused_option: str,
        value: str,
        other_options: dict[str, Any] | None = None,
        *,
        guild_id: GuildRef = None,
        channel_id: ChannelRef = None,
        user: UserRef = None,
        timeout: float = 5.0,
    ) -> list[dict]:
        """Send an autocomplete request (type 4) and return the choices the bot answered with."""
        guild = self.find_guild(guild_id)
        member = self._member(guild, user)
        root, *path = name.split()
        command = self.find_command(root, guild)
        specs, path = resolve_command_path(command, path)
        values = dict(other_options or {}) | {focused_option: value}
        leaf, resolved = build_options(specs, values, guild, focused=focused_option)
        data = {"id": command["id"], "name": root, "type": 1, "options": nest_options(command, path, leaf)}
        if resolved:
            data["resolved"] = resolved
        if command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        rec = await self._dispatch(AUTOCOMPLETE, guild, guild.channel(channel_id), member, data)
        await rec.wait_response(timeout)
        if rec.choices is None:
            raise AssertionError(f"autocomplete was not answered with choices: {rec.errors or rec.callback_type}")
        return rec.choices

    async def press(
        self,
        message: dict | str | int,
        custom_id: str,
        *,
        user: UserRef = None,
        values: list[str] | None = None,
    ) -> InteractionRecord:
        """Click a button (or pick select `values`) on a message the bot sent; return the record."""
        message_id = str(message["id"] if isinstance(message, dict) else message)
        current = self.messages.get(message_id)
        if current is None:
            raise LookupError(f"message {message_id} does not exist (deleted or never sent)")
        component = find_component(current["components"], custom_id)
        if component is None:
            ids = [c.get("custom_id") for c in iter_components(current["components"]) if c.get("custom_id")]
            raise InvalidInvocation(f"message {message_id} has no component {custom_id!r}; it has {ids}")
        if component.get("disabled"):
            raise InvalidInvocation(f"component {custom_id!r} is disabled")
        data: dict = {"custom_id": custom_id, "component_type": component["type"], "id": component.get("id", 0)}
        if component["type"] != 2:
            data["values"] = list(values or [])
        channel = self.find_channel(current["channel_id"])
        guild = self.guilds[channel.guild_id]
        await self.sync_client()
        return await self._dispatch(MESSAGE_COMPONENT, guild, channel, self._member(guild, user), data,
                                    message=current, source_message_id=message_id)

    async def submit_modal(
        self,
        source: InteractionRecord | str,
        values: dict[str, Any],
        *,
        user: UserRef = None,
    ) -> InteractionRecord:
        """Submit a modal the bot opened (from its record or its custom_id) with {input custom_id: value}."""
        rec = source if isinstance(source, InteractionRecord) else self._modal_record(source)
        if rec.modal is None:
            raise InvalidInvocation(f"{rec} did not open a modal (callback type {rec.callback_type})")
        modal = rec.modal
        data = {"custom_id": modal["custom_id"], "components": modal_submit_components(modal, values)}
        guild = self.guilds[rec.guild_id]
        channel = guild.channels[rec.channel_id]
        member = self._member(guild, user if user is not None else rec.user_id)
        message = self.messages.get(rec.source_message_id or "")
        await self.sync_client()
        return await self._dispatch(MODAL_SUBMIT, guild, channel, member, data,
                                    message=message, source_message_id=rec.source_message_id)

    def _modal_record(self, custom_id: str) -> InteractionRecord:
        """Return the latest interaction that opened the modal `custom_id`."""
        for rec in reversed(list(self.interactions.values())):
            if rec.callback_type == MODAL and (rec.callback_data or {}).get("custom_id") == custom_id:
                return rec
        raise LookupError(f"no modal {custom_id!r} was opened")

    def _check_default_permissions(self, command: dict, member: EmuMember, ignore: bool) -> None:
        """Hide the command like Discord does when the member lacks default_member_permissions."""
        required = command.get("default_member_permissions")
        if required is None or ignore:
            return
        needed = int(required) or ADMINISTRATOR  # "0" means administrators only
        if not member.has_permissions(needed):
            raise CommandNotPermitted(
                f"{member.user.username} lacks permissions {required} needed for /{command['name']}")

    async def _dispatch(
        self,
        type: int,
        guild: EmuGuild,
        channel: EmuChannel,
        member: EmuMember,
        data: dict,
        *,
        message: dict | None = None,
        source_message_id: str | None = None,
        locale: str = "en-US",
    ) -> InteractionRecord:
        """Send INTERACTION_CREATE to the bot and return the record that tracks its answer."""
        if not any(s.handles_guild(guild.id) for s in self.gateway.active + self.gateway.waiting):
            raise RuntimeError("no bot is connected to the gateway (use connected_client or wait_for_client)")
        interaction_id = self.ids()
        token = "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(48)
        bot_member = guild.members[self.bot_user.id]
        payload = interaction_payload(
            interaction_id=interaction_id, token=token, type=type, application_id=self.application_id,
            guild=guild, channel=channel, member=member, app_permissions=bot_member.permissions,
            data=data, message=message, locale=locale,
        )
        rec = InteractionRecord(
            emulator=self, id=interaction_id, token=token, type=type, payload=payload, dispatched_at=now(),
            guild_id=guild.id, channel_id=channel.id, user_id=member.id, source_message_id=source_message_id,
        )
        self.interactions[interaction_id] = rec
        rec.shards = [s.shard for s in await self.gateway.deliver("INTERACTION_CREATE", payload, guild.id)]
        return rec

    async def dispatch(self, event: str, data: dict, guild_id: str | None = None) -> int:
        """Send any gateway event to the bot; return how many sessions received it."""
        return await self.gateway.dispatch(event, data, guild_id)

    # Waiting and failure reporting.
    async def wait_for_client(self, timeout: float = 10.0) -> None:
        """Wait until a bot has identified and received its guilds (for a bot run as a subprocess)."""
        await self.gateway.wait_for_session(timeout)

    async def wait_for_shards(self, shard_ids: Iterable[int], timeout: float = 10.0) -> None:
        """Wait until sessions for all these shards have identified and received their guilds."""
        await self.gateway.wait_for_shards(set(shard_ids), timeout)

    def shard_of(self, guild: GuildRef = None) -> int:
        """The shard this guild's events go to: (guild_id >> 22) % shard_count."""
        return shard_of(self.find_guild(guild).id, self.shard_count)

    async def sync_client(self, timeout: float = 5.0) -> None:
        """Let the bot finish processing earlier responses: two heartbeat round trips over the gateway."""
        for _ in range(2):
            await self.wait_for(self.gateway.round_trip(timeout), timeout, "a heartbeat round trip with the bot")

    def report_failure(self, exc: BaseException) -> None:
        """Make every current and future wait fail with `exc` (ERROR logs, dead client tasks); thread-safe."""
        self.failures.append(exc)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if self._loop is not None and running is not self._loop:
            self._loop.call_soon_threadsafe(self._failed.set)
        else:
            self._failed.set()

    def clear_failures(self) -> None:
        """Forget reported failures (after a test has checked an expected error)."""
        self.failures.clear()
        self._failed.clear()

    async def wait_event(self, event: asyncio.Event, timeout: float, what: str) -> None:
        """Wait for `event`, failing fast on reported failures and with a clear message on timeout."""
        await self.wait_for(event.wait(), timeout, what)

    async def wait_for(self, awaitable: Awaitable, timeout: float, what: str) -> Any:
        """Await `awaitable` with a timeout, racing reported failures."""
        task = asyncio.ensure_future(awaitable)
        failed = asyncio.ensure_future(self._failed.wait())
        try:
            done, _ = await asyncio.wait({task, failed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            failed.cancel()
        if task in done:
            return task.result()
        task.cancel()
        if self.failures:
            raise EmulatorFailure(f"while waiting for {what}: {self.failures[0]}") from self.failures[0]
        recent = "\n  ".join(repr(c) for c in self.calls[-8:])
        raise TimeoutError(f"timed out after {timeout}s waiting for {what}; last REST calls:\n  {recent}")

    # Inspection helpers for tests.
    @property
    def identify_payloads(self) -> list[dict]:
        """Return every IDENTIFY the bot sent (token, intents, shard...)."""
        return self.gateway.identify_payloads

    def calls_to(self, method: str, path_contains: str = "") -> list[RestCall]:
        """Return recorded REST calls with this method whose path contains `path_contains`."""
        return [c for c in self.calls if c.method == method.upper() and path_contains in c.path]

    def channel_history(self, channel: ChannelRef, guild_id: GuildRef = None) -> list[dict]:
        """Return the messages the bot posted to a channel (not interaction responses)."""
        channel = self.find_guild(guild_id).channel(channel)
        return [self.messages[m] for m in self.channel_messages.get(channel.id, []) if m in self.messages]
