"""Settings read once from the environment and `.env` into one typed, frozen object."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

PACKAGED_ARTICLES = Path(__file__).resolve().parents[1] / "knowledge" / "articles"
_SNOWFLAKE = re.compile(r"[0-9]{1,20}")


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the key in one sentence."""


@dataclass(frozen=True)
class Settings:
    """Everything the bot can be configured with (see `.env.example`)."""

    discord_token: str | None = field(default=None, repr=False)
    discord_guild_id: int | None = None
    database_path: Path = Path("data/interactions.db")
    index_path: Path = Path("data/index.db")
    knowledge_dir: Path = PACKAGED_ARTICLES
    embedding_model: str | None = None
    answer_quotes: int = 3
    ask_cooldown_rate: int = 5
    ask_cooldown_seconds: float = 60.0
    allowed_channel_ids: frozenset[int] = frozenset()
    conversation_idle_minutes: float = 30.0
    discord_api_base: str | None = None
    discord_gateway_url: str | None = None
    log_level: str = "INFO"
    moderator_role_ids: frozenset[int] = frozenset()
    log_retention_days: int = 90
    anonymize_users: bool = False
    anonymize_key: str | None = field(default=None, repr=False)
    answers_private: bool = False
    owner_ids: frozenset[int] = frozenset()

    @property
    def has_token(self) -> bool:
        """Whether a Discord token is configured."""
        return bool(self.discord_token)


def _text(key: str, raw: str) -> str:
    return raw


def _token(key: str, raw: str) -> str:
    if any(ch.isspace() for ch in raw):
        raise SettingsError(f"{key} must be the bot token exactly as copied, without spaces or a 'Bot ' prefix.")
    return raw


def _snowflake(key: str, raw: str) -> int:
    if not _SNOWFLAKE.fullmatch(raw) or int(raw) == 0:
        raise SettingsError(f"{key} must be a Discord id (a number like 123456789012345678), got {raw!r}.")
    return int(raw)


def _snowflakes(key: str, raw: str) -> frozenset[int]:
    parts = [p.strip() for p in raw.replace(";", ",").split(",") if p.strip()]
    for part in parts:
        if not _SNOWFLAKE.fullmatch(part):
            raise SettingsError(f"{key} must be a comma-separated list of Discord ids, but {part!r} is not one.")
    return frozenset(int(p) for p in parts)


def _path(key: str, raw: str) -> Path:
    return Path(raw).expanduser()


def _directory(key: str, raw: str) -> Path:
    path = Path(raw).expanduser()
    if not path.is_dir():
        raise SettingsError(f"{key} must be an existing directory of articles, but {str(path)!r} is not one.")
    return path


def _number(low: float, high: float, *, integer: bool) -> Callable[[str, str], Any]:
    kind = "a whole number" if integer else "a number"

    def parse(key: str, raw: str) -> Any:
        try:
            value = int(raw) if integer else float(raw)
        except ValueError:
            raise SettingsError(f"{key} must be {kind} between {low:g} and {high:g}, got {raw!r}.") from None
        if not low <= value <= high:
            raise SettingsError(f"{key} must be {kind} between {low:g} and {high:g}, got {raw!r}.")
        return value

    return parse


def _boolean(key: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{key} must be true or false, got {raw!r}.")


def _url(*schemes: str) -> Callable[[str, str], str]:
    def parse(key: str, raw: str) -> str:
        scheme, sep, rest = raw.partition("://")
        if not sep or scheme.lower() not in schemes or not rest:
            wanted = " or ".join(f"{s}://" for s in schemes)
            raise SettingsError(f"{key} must be a URL starting with {wanted}, got {raw!r}.")
        return raw.rstrip("/")

    return parse


def _log_level(key: str, raw: str) -> str:
    level = raw.strip().upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise SettingsError(f"{key} must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got {raw!r}.")
    return level


_PARSERS: dict[str, Callable[[str, str], Any]] = {
    "discord_token": _token,
    "discord_guild_id": _snowflake,
    "database_path": _path,
    "index_path": _path,
    "knowledge_dir": _directory,
    "embedding_model": _text,
    "answer_quotes": _number(1, 5, integer=True),
    "ask_cooldown_rate": _number(0, 1000, integer=True),
    "ask_cooldown_seconds": _number(0, 86400, integer=False),
    "allowed_channel_ids": _snowflakes,
    "conversation_idle_minutes": _number(1, 10080, integer=False),
    "discord_api_base": _url("http", "https"),
    "discord_gateway_url": _url("ws", "wss"),
    "log_level": _log_level,
    "moderator_role_ids": _snowflakes,
    "log_retention_days": _number(0, 36500, integer=True),
    "anonymize_users": _boolean,
    "anonymize_key": _text,
    "answers_private": _boolean,
    "owner_ids": _snowflakes,
}


def read_environment(
    environ: Mapping[str, str] | None = None, dotenv_path: str | Path | None = ".env"
) -> dict[str, str]:
    """Merge `.env` under the real environment (real variables win)."""
    merged: dict[str, str] = {}
    if dotenv_path is not None and Path(dotenv_path).is_file():
        merged.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    merged.update(os.environ if environ is None else environ)
    return merged


def load_settings(environ: Mapping[str, str] | None = None, dotenv_path: str | Path | None = ".env") -> Settings:
    """Read and validate every setting; raise SettingsError naming the first bad key."""
    source = read_environment(environ, dotenv_path)
    values: dict[str, Any] = {}
    for spec in fields(Settings):
        raw = source.get(spec.name.upper(), "").strip()
        if raw:
            values[spec.name] = _PARSERS[spec.name](spec.name.upper(), raw)
    settings = Settings(**values)
    if settings.anonymize_users and not settings.anonymize_key:
        raise SettingsError("ANONYMIZE_KEY must be set (a long random string) when ANONYMIZE_USERS is true.")
    return settings


CHATTY_LIBRARIES = ("bm25s", "sentence_transformers", "transformers", "huggingface_hub", "urllib3", "filelock")


def configure_logging(level: str, *, quiet: bool = False) -> None:
    """Send log records to stderr at the configured level (libraries' chatter only at DEBUG)."""
    import discord.utils

    number = getattr(logging, level, logging.INFO)
    discord.utils.setup_logging(level=max(number, logging.WARNING) if quiet else number, root=True)
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.DEBUG if number <= logging.DEBUG else logging.WARNING)
