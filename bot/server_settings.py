"""Per-server settings: the keys, parsing a moderator's text, stored text, and the effective values (no discord)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from bot.config import Settings

_ID = re.compile(r"<(?:#|@&)?([0-9]{15,20})>|([0-9]{15,20})")
ALL_WORDS = {"", "all", "any", "none", "everywhere", "-"}
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}


class ServerSettingError(ValueError):
    """A value a moderator typed is not valid; the message names the key in one sentence."""


@dataclass(frozen=True)
class Key:
    """One per-server setting: its name in Discord, what it means, its kind and its .env default."""

    name: str
    meaning: str
    kind: str  # channels | roles | int | number | visibility | bool
    env: str
    low: float = 0
    high: float = 0


KEYS: dict[str, Key] = {k.name: k for k in (
    Key("answer_channels", "channels I answer in (threads count as their parent)", "channels", "ALLOWED_CHANNEL_IDS"),
    Key("moderator_roles", "roles that may use /review, besides Manage Server", "roles", "MODERATOR_ROLE_IDS"),
    Key("quotes_per_answer", "quotes per answer", "int", "ANSWER_QUOTES", 1, 5),
    Key("cooldown_rate", "questions per member per cooldown window (0 = off)", "int", "ASK_COOLDOWN_RATE", 0, 1000),
    Key("cooldown_seconds", "length of the cooldown window in seconds", "number", "ASK_COOLDOWN_SECONDS", 0, 86400),
    Key("answer_visibility", "whether answers are public or private by default", "visibility", "ANSWERS_PRIVATE"),
    Key("log_retention_days", "days the log keeps rows (0 = forever)", "int", "LOG_RETENTION_DAYS", 0, 36500),
    Key("anonymize_users", "store a keyed hash instead of user ids and names", "bool", "ANONYMIZE_USERS"),
)}


@dataclass(frozen=True)
class ServerConfig:
    """The values in force in one server: its own where it set them, the .env defaults elsewhere."""

    answer_channels: frozenset[int]
    moderator_roles: frozenset[int]
    quotes_per_answer: int
    cooldown_rate: int
    cooldown_seconds: float
    answer_visibility: str
    log_retention_days: int
    anonymize_users: bool

    @property
    def private(self) -> bool:
        """Whether answers are private (ephemeral) by default."""
        return self.answer_visibility == "private"


def defaults(settings: Settings) -> dict[str, Any]:
    """The .env values, as per-server keys."""
    return {
        "answer_channels": settings.allowed_channel_ids,
        "moderator_roles": settings.moderator_role_ids,
        "quotes_per_answer": settings.answer_quotes,
        "cooldown_rate": settings.ask_cooldown_rate,
        "cooldown_seconds": settings.ask_cooldown_seconds,
        "answer_visibility": "private" if settings.answers_private else "public",
        "log_retention_days": settings.log_retention_days,
        "anonymize_users": settings.anonymize_users,
    }


def _ids(key: Key, raw: str) -> frozenset[int]:
    text = raw.strip()
    if text.lower() in ALL_WORDS:
        return frozenset()
    what = "channel" if key.kind == "channels" else "role"
    ids = []
    for part in (p.strip() for p in re.split(r"[,;\s]+", text) if p.strip()):
        match = _ID.fullmatch(part)
        if not match:
            raise ServerSettingError(
                f"{key.name} must be {what}s (mentions or ids, comma-separated) or 'all', but {part!r} is not one.")
        ids.append(int(match.group(1) or match.group(2)))
    return frozenset(ids)


def parse(name: str, raw: str, *, anonymize_key_set: bool = True) -> Any:
    """Turn what a moderator typed into a value; raise ServerSettingError naming the key."""
    key = KEYS.get(name)
    if key is None:
        raise ServerSettingError(f"{name!r} is not a setting; choose one of {', '.join(KEYS)}.")
    text = raw.strip()
    if key.kind in ("channels", "roles"):
        return _ids(key, text)
    if key.kind in ("int", "number"):
        kind = "a whole number" if key.kind == "int" else "a number"
        try:
            value: Any = int(text) if key.kind == "int" else float(text)
        except ValueError:
            value = None
        if value is None or not key.low <= value <= key.high or value != value:
            raise ServerSettingError(f"{key.name} must be {kind} between {key.low:g} and {key.high:g}, got {raw!r}.")
        return value
    if key.kind == "visibility":
        if text.lower() not in ("public", "private"):
            raise ServerSettingError(f"{key.name} must be public or private, got {raw!r}.")
        return text.lower()
    lowered = text.lower()
    if lowered not in TRUE_WORDS | FALSE_WORDS:
        raise ServerSettingError(f"{key.name} must be true or false, got {raw!r}.")
    value = lowered in TRUE_WORDS
    if value and not anonymize_key_set:
        raise ServerSettingError(f"{key.name} can't be turned on: the bot's operator must first set ANONYMIZE_KEY.")
    return value


def encode(name: str, value: Any) -> str:
    """The text stored for a value."""
    if isinstance(value, frozenset):
        return ",".join(str(i) for i in sorted(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def decode(name: str, text: str) -> Any:
    """The value of stored text (the inverse of encode)."""
    return parse(name, text) if KEYS[name].kind not in ("channels", "roles") else frozenset(
        int(p) for p in text.split(",") if p)


def render(name: str, value: Any) -> str:
    """A value as shown in Discord (mentions for channels and roles)."""
    kind = KEYS[name].kind
    if kind == "channels":
        return ", ".join(f"<#{i}>" for i in sorted(value)) if value else "all channels"
    if kind == "roles":
        return ", ".join(f"<@&{i}>" for i in sorted(value)) if value else "none (Manage Server only)"
    if kind == "bool":
        return "on" if value else "off"
    if kind == "number":
        return f"{value:g}"
    return str(value)


def effective(settings: Settings, overrides: Mapping[str, str] | None = None) -> ServerConfig:
    """The values in force for a server with these stored overrides."""
    values = defaults(settings)
    for name, text in (overrides or {}).items():
        if name in KEYS:
            try:
                values[name] = decode(name, text)
            except ServerSettingError:
                continue  # a value stored by an older version that no longer parses: the default applies
    return ServerConfig(**{f.name: values[f.name] for f in fields(ServerConfig)})


def describe(settings: Settings, overrides: Mapping[str, str] | None = None) -> list[tuple[str, str, str]]:
    """(key, value as shown, where it comes from) for every key."""
    config = effective(settings, overrides)
    overrides = overrides or {}
    rows = []
    for name, key in KEYS.items():
        source = "this server" if name in overrides else f"default ({key.env} in .env)"
        rows.append((name, render(name, getattr(config, name)), source))
    return rows


def unknown_ids(value: Any, known: Iterable[int]) -> list[int]:
    """Ids in a channels/roles value that this server does not have."""
    if not isinstance(value, frozenset):
        return []
    known = set(known)
    return sorted(i for i in value if i not in known)
