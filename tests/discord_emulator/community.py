"""Members' own messages (MESSAGE_CREATE with mentions and replies), message commands, attachments and threads."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Iterable

from .models import EmuChannel, EmuUser
from .payloads import InvalidInvocation, message_payload
from .records import APPLICATION_COMMAND, InteractionRecord, StoredFile

if TYPE_CHECKING:
    from .server import ChannelRef, GuildRef, UserRef

MESSAGE_COMMAND = 3
PUBLIC_THREAD = 11
_USER_MENTION = re.compile(r"<@!?([0-9]{15,21})>")


class CommunityMixin:
    """What members do outside slash commands; mixed into DiscordEmulator."""

    user_messages: list[str]

    def upload(self, filename: str, data: bytes | str, content_type: str | None = "text/plain") -> dict:
        """Store a file as Discord does for an upload; return its attachment object (for options and messages)."""
        raw = data.encode() if isinstance(data, str) else data
        stored = StoredFile(self.ids(), filename, raw, content_type)  # type: ignore[attr-defined]
        self.files[stored.id] = stored  # type: ignore[attr-defined]
        url = f"{self.http_base}/attachments/{stored.id}/{filename}"  # type: ignore[attr-defined]
        return {"id": stored.id, "filename": filename, "size": len(raw), "url": url, "proxy_url": url,
                "content_type": content_type}

    async def post_message(
        self,
        content: str = "",
        *,
        channel_id: ChannelRef = None,
        guild_id: GuildRef = None,
        user: UserRef = None,
        attachments: Iterable[dict] = (),
        embeds: Iterable[dict] = (),
        reply_to: dict | None = None,
        author: EmuUser | None = None,
        dispatch: bool = True,
    ) -> dict:
        """A member (or `author`, e.g. another bot) posts a message; MESSAGE_CREATE goes to the bot unless told not."""
        emu: Any = self
        guild = emu.find_guild(guild_id)
        channel = guild.channel(channel_id)
        member = guild.members.get(author.id) if author else emu._member(guild, user)
        sender = author or member.user
        message = message_payload(message_id=emu.ids(), channel_id=channel.id, guild_id=guild.id, author=sender,
                                  body={"content": content, "embeds": list(embeds)}, attachments=list(attachments))
        message.pop("allowed_mentions", None)
        mentioned = [emu.users[i] for i in _USER_MENTION.findall(content) if i in emu.users]
        message["mentions"] = [u.payload() for u in mentioned]
        message["mention_everyone"] = "@everyone" in content or "@here" in content
        if reply_to is not None:
            message["type"] = 19
            message["message_reference"] = {"type": 0, "message_id": reply_to["id"], "channel_id": reply_to["channel_id"],
                                            "guild_id": guild.id}
            message["referenced_message"] = reply_to
            if reply_to["author"]["id"] not in {u.id for u in mentioned}:
                message["mentions"].append(reply_to["author"])  # a reply mentions its author (when pinging)
        emu.messages[message["id"]] = message
        self.user_messages.append(message["id"])
        if dispatch:
            event = dict(message)
            if member is not None:
                event["member"] = member.payload()
            await emu.dispatch("MESSAGE_CREATE", event, guild.id)
        return message

    async def message_command(self, name: str, message: dict, *, user: UserRef = None) -> InteractionRecord:
        """Run a message context-menu command (Apps → name) on a message; return its record."""
        emu: Any = self
        channel = emu.find_channel(message["channel_id"])
        guild = emu.guilds[channel.guild_id]
        command = next((c for scope in (guild.id, None) for c in emu.commands.get(scope, [])
                        if c["name"] == name and c.get("type") == MESSAGE_COMMAND), None)
        if command is None:
            raise InvalidInvocation(f"no message command {name!r} was synced")
        data = {"id": command["id"], "name": name, "type": MESSAGE_COMMAND, "target_id": message["id"],
                "resolved": {"messages": {message["id"]: message}}}
        if command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        return await emu._dispatch(APPLICATION_COMMAND, guild, channel, emu._member(guild, user), data)

    def start_thread(self, channel: EmuChannel, name: str, message_id: str | None, owner_id: str) -> EmuChannel:
        """Create a public thread (on a message: with the message's id, as Discord does)."""
        emu: Any = self
        guild = emu.guilds[channel.guild_id]
        thread = EmuChannel(id=message_id or emu.ids(), guild_id=guild.id, name=name, type=PUBLIC_THREAD,
                            parent_id=channel.id, owner_id=owner_id)
        guild.channels[thread.id] = thread
        if message_id and message_id in emu.messages:
            emu.messages[message_id]["thread"] = thread.payload()
        return thread

    def threads(self, guild_id: GuildRef = None) -> list[EmuChannel]:
        """The threads created in a guild."""
        emu: Any = self
        return [c for c in emu.find_guild(guild_id).channels.values() if c.type == PUBLIC_THREAD]

    def channel_messages_of(self, channel: EmuChannel) -> list[dict]:
        """Every message the bot posted in a channel or thread, oldest first."""
        emu: Any = self
        return [emu.messages[m] for m in emu.channel_messages.get(channel.id, []) if m in emu.messages]
