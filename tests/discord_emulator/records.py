"""What the emulator records: REST calls, uploaded files, and one record per interaction."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import DiscordEmulator

EPHEMERAL = 1 << 6
LOADING = 1 << 7

# Interaction types.
APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 2, 3, 4, 5

# Interaction callback types (Discord developer docs, "Interaction Response Object").
CHANNEL_MESSAGE = 4
DEFERRED_CHANNEL_MESSAGE = 5
DEFERRED_UPDATE_MESSAGE = 6
UPDATE_MESSAGE = 7
AUTOCOMPLETE_RESULT = 8
MODAL = 9


@dataclass
class StoredFile:
    """A file uploaded as a message attachment."""

    id: str
    filename: str
    data: bytes
    content_type: str | None = None
    description: str | None = None

    def text(self, encoding: str = "utf-8") -> str:
        """Return the file content decoded as text."""
        return self.data.decode(encoding)


@dataclass
class RestCall:
    """One REST request the bot made, and the emulator's answer."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[StoredFile]
    time: float
    status: int = 0
    response: Any = None

    def __repr__(self) -> str:
        return f"<RestCall {self.method} {self.path} -> {self.status}>"


@dataclass
class InteractionRecord:
    """One interaction sent to the bot and everything the bot did in answer to it."""

    emulator: "DiscordEmulator"
    id: str
    token: str
    type: int
    payload: dict
    dispatched_at: float
    guild_id: str | None
    channel_id: str | None
    user_id: str
    source_message_id: str | None = None
    callback_type: int | None = None
    callback_data: dict | None = None
    acknowledged_after: float | None = None
    original_message_id: str | None = None
    message_ids: list[str] = field(default_factory=list)
    deleted_message_ids: list[str] = field(default_factory=list)
    callback_attempts: list[RestCall] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    shards: list[tuple[int, int]] = field(default_factory=list)  # the (shard, count) of each session that received it
    _responded: asyncio.Event = field(default_factory=asyncio.Event)
    _final: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def name(self) -> str | None:
        """Return the command name (application commands) or custom_id (components, modals)."""
        data = self.payload.get("data") or {}
        return data.get("name") or data.get("custom_id")

    @property
    def acknowledged(self) -> bool:
        """Return whether a callback was accepted."""
        return self.callback_type is not None

    @property
    def messages(self) -> list[dict]:
        """Return the current state of every message this interaction produced, oldest first."""
        store = self.emulator.messages
        return [store[mid] for mid in self.message_ids if mid in store]

    @property
    def message(self) -> dict | None:
        """Return the latest message this interaction produced (the answer shown), if any."""
        messages = self.messages
        return messages[-1] if messages else None

    @property
    def loading(self) -> bool:
        """Return whether a 'thinking…' message is still shown."""
        original = self.emulator.messages.get(self.original_message_id or "")
        return bool(original and original["flags"] & LOADING)

    @property
    def ephemeral(self) -> bool:
        """Return whether the response (first message, or the defer) is visible to the user only."""
        if self.messages:
            return bool(self.messages[0]["flags"] & EPHEMERAL)
        data = self.callback_data or {}
        return bool(int(data.get("flags") or 0) & EPHEMERAL)

    @property
    def modal(self) -> dict | None:
        """Return the modal the bot opened (callback type 9): custom_id, title, components."""
        return self.callback_data if self.callback_type == MODAL else None

    @property
    def choices(self) -> list[dict] | None:
        """Return the autocomplete choices the bot sent (callback type 8)."""
        if self.callback_type != AUTOCOMPLETE_RESULT:
            return None
        return list((self.callback_data or {}).get("choices") or [])

    @property
    def files(self) -> list[StoredFile]:
        """Return every file attached to this interaction's messages, with its bytes."""
        return [self.emulator.files[a["id"]] for m in self.messages for a in m.get("attachments", [])
                if a["id"] in self.emulator.files]

    @property
    def rest_calls(self) -> list[RestCall]:
        """Return the REST calls that used this interaction's token."""
        return [c for c in self.emulator.calls if self.token in c.path]

    async def wait_response(self, timeout: float = 5.0) -> "InteractionRecord":
        """Wait for the bot's first callback (accepted or rejected)."""
        await self.emulator.wait_event(self._responded, timeout, f"a callback for {self}")
        return self

    async def wait_final(self, timeout: float = 10.0) -> "InteractionRecord":
        """Wait until the user sees a final answer: a message, an update, a modal or choices."""
        await self.emulator.wait_event(self._final, timeout, f"the final response to {self}")
        return self

    def __repr__(self) -> str:
        return f"<InteractionRecord id={self.id} type={self.type} name={self.name!r} callback={self.callback_type}>"

    # Book-keeping used by the REST handlers.
    def _note_callback(self, call: RestCall, accepted_type: int | None, data: dict | None) -> None:
        """Record a callback attempt; if accepted, store its type and data."""
        self.callback_attempts.append(call)
        if accepted_type is not None and self.callback_type is None:
            self.callback_type = accepted_type
            self.callback_data = data
            self.acknowledged_after = call.time - self.dispatched_at
        self._responded.set()

    def _note_final(self) -> None:
        """Mark the answer as complete."""
        self._final.set()


def now() -> float:
    """Return the monotonic clock used for all emulator timings."""
    return time.monotonic()
