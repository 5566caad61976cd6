"""Messages and uploaded files: creating, replacing the 'thinking…' message, editing, deleting."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .payloads import apply_edit, message_payload
from .records import APPLICATION_COMMAND, EPHEMERAL, LOADING, InteractionRecord, StoredFile

if TYPE_CHECKING:
    from .models import EmuChannel
    from .server import DiscordEmulator

# Message flags a bot may set: SUPPRESS_EMBEDS, EPHEMERAL, SUPPRESS_NOTIFICATIONS, IS_COMPONENTS_V2.
SETTABLE_FLAGS = (1 << 2) | EPHEMERAL | (1 << 12) | (1 << 15)


class MessageStore:
    """Every message the bot produced and every file it uploaded."""

    def __init__(self, emulator: "DiscordEmulator") -> None:
        self.emu = emulator
        self.messages: dict[str, dict] = {}
        self.files: dict[str, StoredFile] = {}
        self.channel_messages: dict[str, list[str]] = {}

    def create_message(self, rec: InteractionRecord, body: dict, uploads: list[StoredFile], *, flags: int) -> dict:
        """Create a message produced by an interaction."""
        message = message_payload(
            message_id=self.emu.ids(), channel_id=rec.channel_id, guild_id=rec.guild_id, author=self.emu.bot_user,
            body=body, flags=(flags & SETTABLE_FLAGS) | (flags & LOADING),
            attachments=self.store_files(body, uploads, []),
            message_type=20 if rec.type == APPLICATION_COMMAND and not rec.message_ids else 0,
            webhook_id=self.emu.application_id, application_id=self.emu.application_id,
        )
        self.messages[message["id"]] = message
        rec.message_ids.append(message["id"])
        return message

    def replace_loading(self, rec: InteractionRecord, body: dict, uploads: list[StoredFile]) -> dict:
        """Turn the 'thinking…' message into the answer; it stays ephemeral if the defer was."""
        message = self.messages[rec.original_message_id]
        apply_edit(message, body, self.store_files(body, uploads, []))
        settable = int(body.get("flags") or 0) & SETTABLE_FLAGS & ~EPHEMERAL
        message["flags"] = (message["flags"] & EPHEMERAL) | settable
        message["edited_timestamp"] = None
        return message

    def edit_message(self, message_id: str, body: dict, uploads: list[StoredFile]) -> dict:
        """Apply an edit; attachments not listed in `attachments` are dropped, new uploads appended."""
        message = self.messages[message_id]
        attachments = None
        if "attachments" in body or uploads:
            keep_ids = {str(a.get("id")) for a in body.get("attachments", message["attachments"])}
            kept = [a for a in message["attachments"] if a["id"] in keep_ids]
            attachments = self.store_files(body, uploads, kept)
        return apply_edit(message, body, attachments)

    def delete_message(self, message_id: str) -> None:
        """Delete a message."""
        self.messages.pop(message_id, None)

    def store_files(self, body: dict, uploads: list[StoredFile], kept: list[dict]) -> list[dict]:
        """Store uploaded files; return attachment objects (kept ones first)."""
        described = {str(a.get("id")): a for a in body.get("attachments") or []}
        attachments = list(kept)
        for upload in uploads:
            stored = StoredFile(self.emu.ids(), upload.filename, upload.data, upload.content_type,
                                (described.get(upload.id) or {}).get("description"))
            self.files[stored.id] = stored
            url = f"{self.emu.http_base}/attachments/{stored.id}/{stored.filename}"
            attachments.append({
                "id": stored.id, "filename": stored.filename, "size": len(stored.data), "url": url,
                "proxy_url": url, "content_type": stored.content_type, "description": stored.description,
            })
        return attachments

    def create_channel_message(self, channel: "EmuChannel", body: dict, uploads: list[StoredFile]) -> dict:
        """Create a message the bot posted to a channel."""
        message = message_payload(
            message_id=self.emu.ids(), channel_id=channel.id, guild_id=channel.guild_id, author=self.emu.bot_user,
            body=body, flags=int(body.get("flags") or 0) & SETTABLE_FLAGS & ~EPHEMERAL,
            attachments=self.store_files(body, uploads, []),
        )
        reference = body.get("message_reference")
        if reference:
            message["type"] = 19
            message["message_reference"] = {"type": 0, "channel_id": channel.id, "guild_id": channel.guild_id,
                                            **{k: str(v) if k.endswith("_id") else v for k, v in reference.items()
                                               if k != "fail_if_not_exists"}}
            message["referenced_message"] = self.messages.get(str(reference.get("message_id")))
        self.messages[message["id"]] = message
        self.channel_messages.setdefault(channel.id, []).append(message["id"])
        return message
