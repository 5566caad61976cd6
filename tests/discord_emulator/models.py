"""State of the emulated Discord: users, guilds, roles, channels, members, and their payloads."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

DISCORD_EPOCH_MS = 1420070400000

# Permission bits (Discord developer docs, "Permissions").
ADMINISTRATOR = 1 << 3
ADD_REACTIONS = 1 << 6
MANAGE_GUILD = 1 << 5
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
USE_APPLICATION_COMMANDS = 1 << 31
SEND_MESSAGES_IN_THREADS = 1 << 38
ALL_PERMISSIONS = (1 << 51) - 1
DEFAULT_EVERYONE_PERMISSIONS = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | ADD_REACTIONS
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_APPLICATION_COMMANDS
    | SEND_MESSAGES_IN_THREADS
)


class SnowflakeFactory:
    """Hand out increasing snowflake-like ids (strings) that encode the current time."""

    def __init__(self) -> None:
        self._last = 0
        self._counter = itertools.count()

    def __call__(self) -> str:
        """Return a new id, always larger than the previous one."""
        now = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last = max(self._last + 1, now | (next(self._counter) & 0xFFF))
        return str(self._last)

    def on_shard(self, shard_id: int, shard_count: int) -> str:
        """Return a new id of a guild that Discord routes to shard_id: (id >> 22) % shard_count == shard_id."""
        value = int(self())
        stamp = value >> 22
        stamp += (shard_id - stamp) % shard_count
        self._last = max(self._last, (stamp << 22) | (value & 0x3FFFFF))
        return str(self._last)


def shard_of(guild_id: str | int, shard_count: int) -> int:
    """The shard Discord sends a guild's events to."""
    return (int(guild_id) >> 22) % shard_count


def iso_now() -> str:
    """Return the current UTC time as Discord formats timestamps."""
    return datetime.now(timezone.utc).isoformat()


def as_permissions(value: int | str | None, default: int = 0) -> int:
    """Turn a permission bitfield given as int or string into an int."""
    return default if value is None else int(value)


@dataclass
class EmuUser:
    """A Discord user (a person or the bot)."""

    id: str
    username: str
    global_name: str | None = None
    bot: bool = False

    def payload(self) -> dict:
        """Return the user object as Discord sends it."""
        data = {
            "id": self.id,
            "username": self.username,
            "global_name": self.global_name,
            "discriminator": "0",
            "avatar": None,
            "public_flags": 0,
            "flags": 0,
        }
        if self.bot:
            data["bot"] = True
        return data


@dataclass
class EmuRole:
    """A guild role with a permission bitfield."""

    id: str
    name: str
    permissions: int = 0
    position: int = 0

    def payload(self) -> dict:
        """Return the role object as Discord sends it."""
        return {
            "id": self.id,
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }


@dataclass
class EmuChannel:
    """A guild channel (text channels by default)."""

    id: str
    guild_id: str
    name: str
    type: int = 0
    position: int = 0
    topic: str | None = None
    parent_id: str | None = None  # threads: the channel they belong to
    owner_id: str | None = None  # threads: who started them

    def payload(self, *, permissions: int | None = None) -> dict:
        """Return the channel object; with `permissions` as sent inside interactions."""
        data = {
            "id": self.id,
            "guild_id": self.guild_id,
            "name": self.name,
            "type": self.type,
            "position": self.position,
            "topic": self.topic,
            "nsfw": False,
            "parent_id": self.parent_id,
            "permission_overwrites": [],
            "rate_limit_per_user": 0,
            "last_message_id": None,
            "flags": 0,
        }
        if self.type in (10, 11, 12):
            data.update(owner_id=self.owner_id, member_count=1, message_count=0, total_message_sent=0,
                        thread_metadata={"archived": False, "auto_archive_duration": 1440, "locked": False,
                                         "archive_timestamp": iso_now()})
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data


@dataclass
class EmuMember:
    """A user's membership in one guild."""

    user: EmuUser
    guild: "EmuGuild"
    role_ids: list[str] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=iso_now)

    @property
    def id(self) -> str:
        """Return the user id."""
        return self.user.id

    @property
    def permissions(self) -> int:
        """Return the member's guild-wide permissions, computed the way Discord does."""
        return self.guild.permissions_of(self)

    def has_permissions(self, required: int) -> bool:
        """Return whether the member holds every bit of `required` (administrators hold all)."""
        perms = self.permissions
        return bool(perms & ADMINISTRATOR) or perms & required == required

    def payload(self, *, with_permissions: bool = False, with_user: bool = True) -> dict:
        """Return the guild member object; with `permissions` as sent inside interactions."""
        data = {
            "roles": list(self.role_ids),
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.payload()
        if with_permissions:
            data["permissions"] = str(self.permissions)
        return data


class EmuGuild:
    """A guild with its roles, channels and members."""

    def __init__(self, ids: SnowflakeFactory, guild_id: str, name: str, owner: EmuUser) -> None:
        self._ids = ids
        self.id = guild_id
        self.name = name
        self.owner_id = owner.id
        self.everyone = EmuRole(id=guild_id, name="@everyone", permissions=DEFAULT_EVERYONE_PERMISSIONS)
        self.roles: dict[str, EmuRole] = {self.everyone.id: self.everyone}
        self.channels: dict[str, EmuChannel] = {}
        self.members: dict[str, EmuMember] = {}
        self.default_member: EmuMember | None = None

    def add_role(self, name: str, permissions: int | str = 0) -> EmuRole:
        """Create a role with the given permission bitfield."""
        role = EmuRole(id=self._ids(), name=name, permissions=int(permissions), position=len(self.roles))
        self.roles[role.id] = role
        return role

    def add_channel(self, name: str, *, type: int = 0, topic: str | None = None) -> EmuChannel:
        """Create a channel (text by default)."""
        channel = EmuChannel(
            id=self._ids(), guild_id=self.id, name=name, type=type, position=len(self.channels), topic=topic
        )
        self.channels[channel.id] = channel
        return channel

    def add_member(self, user: EmuUser, *, roles: list[EmuRole | str] = (), nick: str | None = None) -> EmuMember:
        """Make `user` a member of this guild with the given roles."""
        role_ids = [r.id if isinstance(r, EmuRole) else str(r) for r in roles]
        unknown = [r for r in role_ids if r not in self.roles]
        if unknown:
            raise ValueError(f"unknown role ids {unknown} in guild {self.name}")
        member = EmuMember(user=user, guild=self, role_ids=role_ids, nick=nick)
        self.members[user.id] = member
        return member

    def permissions_of(self, member: EmuMember) -> int:
        """Return a member's guild-wide permissions: owner and administrators hold all."""
        if member.id == self.owner_id:
            return ALL_PERMISSIONS
        perms = self.everyone.permissions
        for role_id in member.role_ids:
            perms |= self.roles[role_id].permissions
        return ALL_PERMISSIONS if perms & ADMINISTRATOR else perms

    def member(self, who: "EmuMember | EmuUser | int | str") -> EmuMember:
        """Find a member by object, id or username (or nick)."""
        if isinstance(who, EmuMember):
            who = who.user
        if isinstance(who, EmuUser):
            who = who.id
        key = str(who)
        if key in self.members:
            return self.members[key]
        for member in self.members.values():
            if key in (member.user.username, member.nick, member.user.global_name):
                return member
        raise LookupError(f"no member {who!r} in guild {self.name!r}; members: {self.member_names()}")

    def member_names(self) -> list[str]:
        """Return the usernames of all members."""
        return [m.user.username for m in self.members.values()]

    def channel(self, which: "EmuChannel | int | str | None" = None) -> EmuChannel:
        """Find a channel by object, id or name; None gives the first channel."""
        if which is None:
            return next(iter(self.channels.values()))
        if isinstance(which, EmuChannel):
            return which
        key = str(which).lstrip("#")
        if key in self.channels:
            return self.channels[key]
        for channel in self.channels.values():
            if channel.name == key:
                return channel
        raise LookupError(f"no channel {which!r} in guild {self.name!r}")

    def role(self, which: "EmuRole | int | str") -> EmuRole:
        """Find a role by object, id or name."""
        if isinstance(which, EmuRole):
            return which
        key = str(which)
        if key in self.roles:
            return self.roles[key]
        for role in self.roles.values():
            if role.name == key:
                return role
        raise LookupError(f"no role {which!r} in guild {self.name!r}")

    def create_payload(self) -> dict:
        """Return the GUILD_CREATE payload; `member_count` equals the members listed (no chunking)."""
        return {
            "id": self.id,
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": self.owner_id,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [r.payload() for r in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "joined_at": iso_now(),
            "large": False,
            "unavailable": False,
            "member_count": len(self.members),
            "voice_states": [],
            "members": [m.payload() for m in self.members.values()],
            "channels": [c.payload() for c in self.channels.values() if c.parent_id is None],
            "threads": [c.payload() for c in self.channels.values() if c.parent_id is not None],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }
