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
from dotenv.parser import parse_stream

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
    ranker_path: Path = Path("data/ranker.json")
    knowledge_dir: Path = PACKAGED_ARTICLES
    embedding_model: str | None = None
    answer_quotes: int = 3
    ask_cooldown_rate: int = 5
    ask_cooldown_seconds: float = 60.0
    allowed_channel_ids: frozenset[int] = frozenset()
    conversation_idle_minutes: float = 30.0
    discord_api_base: str | None = None
    discord_gateway_url: str | None = None
    discord_connect_timeout: float = 30.0
    log_level: str = "INFO"
    moderator_role_ids: frozenset[int] = frozenset()
    log_retention_days: int = 90
    anonymize_users: bool = False
    anonymize_key: str | None = field(default=None, repr=False)
    answers_private: bool = False
    owner_ids: frozenset[int] = frozenset()
    shard_count: int | None = None
    shard_ids: tuple[int, ...] | None = None

    @property
    def has_token(self) -> bool:
        """Whether a Discord token is configured."""
        return bool(self.discord_token)

    @property
    def shard_label(self) -> str:
        """This process's shards in file names ("shard-0-1"), or "" unless SHARD_IDS picks some."""
        return "" if self.shard_ids is None else "shard-" + "-".join(map(str, self.shard_ids))


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


def _shard_ids(key: str, raw: str) -> tuple[int, ...]:
    parts = [p.strip() for p in raw.replace(";", ",").split(",") if p.strip()]
    if not parts or not all(p.isdigit() for p in parts):
        raise SettingsError(f"{key} must be a comma-separated list of shard numbers like 0,1, got {raw!r}.")
    return tuple(sorted({int(p) for p in parts}))


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
    "ranker_path": _path,
    "knowledge_dir": _directory,
    "embedding_model": _text,
    "answer_quotes": _number(1, 5, integer=True),
    "ask_cooldown_rate": _number(0, 1000, integer=True),
    "ask_cooldown_seconds": _number(0, 86400, integer=False),
    "allowed_channel_ids": _snowflakes,
    "conversation_idle_minutes": _number(1, 10080, integer=False),
    "discord_api_base": _url("http", "https"),
    "discord_gateway_url": _url("ws", "wss"),
    "discord_connect_timeout": _number(1, 600, integer=False),
    "log_level": _log_level,
    "moderator_role_ids": _snowflakes,
    "log_retention_days": _number(0, 36500, integer=True),
    "anonymize_users": _boolean,
    "anonymize_key": _text,
    "answers_private": _boolean,
    "owner_ids": _snowflakes,
    "shard_count": _number(1, 100000, integer=True),
    "shard_ids": _shard_ids,
}


_DOTENV_KEY = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")


def check_dotenv(path: str | Path) -> None:
    """Raise SettingsError naming the file and line of the first line python-dotenv can't parse (never its value)."""
    with open(path, encoding="utf-8") as handle:
        for binding in parse_stream(handle):
            if binding.error:
                key = _DOTENV_KEY.match(binding.original.string)
                what = f" ({key.group(1)})" if key else ""
                raise SettingsError(
                    f"{path} line {binding.original.line}{what} can't be parsed; write it as KEY=value, "
                    "closing any quote you open."
                )


def read_environment(
    environ: Mapping[str, str] | None = None, dotenv_path: str | Path | None = ".env"
) -> dict[str, str]:
    """Merge `.env` under the real environment (real variables win); a line that can't be parsed is an error."""
    merged: dict[str, str] = {}
    if dotenv_path is not None and Path(dotenv_path).is_file():
        check_dotenv(dotenv_path)
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
    if settings.shard_ids is not None and settings.shard_count is None:
        raise SettingsError("SHARD_COUNT must be set (the total over every process) when SHARD_IDS is.")
    if settings.shard_ids is not None and settings.shard_ids[-1] >= settings.shard_count:  # type: ignore[operator]
        raise SettingsError(f"SHARD_IDS must be numbers from 0 to {settings.shard_count - 1} (SHARD_COUNT - 1), "
                            f"got {settings.shard_ids[-1]}.")
    return settings


CHATTY_LIBRARIES = ("bm25s", "sentence_transformers", "transformers", "huggingface_hub", "urllib3", "filelock")
TERSE_FORMAT = "{levelname_lower}: {message}"
PLAIN_FORMAT = "[{asctime}] [{levelname:<8}] {name}: {message}"


class _TerseFormatter(logging.Formatter):
    """'warning: message' for the terminal commands, where log lines are rare and read by a person."""

    def format(self, record: logging.LogRecord) -> str:
        record.levelname_lower = record.levelname.lower()
        return super().format(record)


class _BriefNetworkErrors(logging.Filter):
    """Below DEBUG, a network error's traceback (discord.py logs one per reconnect) becomes one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and is_network_error(error):
            detail = (str(error).strip().splitlines() or [""])[0]
            record.msg, record.args = f"{record.getMessage()} ({type(error).__name__}: {detail})", None
            record.exc_info, record.exc_text = None, None
        return True


def is_network_error(error: BaseException) -> bool:
    """Whether error is a connection failure (or one raised while handling it), not a bug."""
    import aiohttp
    import discord

    kinds = (OSError, TimeoutError, aiohttp.ClientError, discord.ConnectionClosed, discord.GatewayNotFound)
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, kinds):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def log_formatter(stream: Any, *, terse: bool = False) -> logging.Formatter | None:
    """Plain text unless stream is a terminal (None: discord.py's colours, which in Docker go to files too)."""
    if terse:
        return _TerseFormatter(TERSE_FORMAT, style="{")
    if hasattr(stream, "isatty") and stream.isatty():
        return None
    return logging.Formatter(PLAIN_FORMAT, "%Y-%m-%d %H:%M:%S", style="{")


def configure_logging(level: str, *, quiet: bool = False) -> None:
    """Log to stderr at level (libraries at DEBUG only); quiet: just 'warning: …' lines; replaces its old handler."""
    import sys

    import discord.utils

    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_quote_bot", False)]:
        root.removeHandler(old)
    number = getattr(logging, level, logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    handler._quote_bot = True  # type: ignore[attr-defined]
    if number > logging.DEBUG:
        handler.addFilter(_BriefNetworkErrors())
    discord.utils.setup_logging(
        handler=handler, formatter=log_formatter(sys.stderr, terse=quiet) or discord.utils.MISSING,
        level=max(number, logging.WARNING) if quiet else number, root=True,
    )
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.DEBUG if number <= logging.DEBUG else logging.WARNING)
