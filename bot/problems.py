"""Start-up failures as one sentence each: unusable paths, an unknown model, an unreachable Discord."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
from pathlib import Path
from typing import Any

from bot.config import Settings

CONFIGURATION_EXIT = 2
FAILURE_EXIT = 1
DEFAULT_API_BASE = "https://discord.com/api/v10"
DEFAULT_GATEWAY = "wss://gateway.discord.gg"


class Problem(Exception):
    """A failure explained in one sentence; the command prints it and exits with `code`."""

    def __init__(self, sentence: str, code: int = FAILURE_EXIT) -> None:
        super().__init__(sentence)
        self.code = code


def first_line(error: BaseException) -> str:
    """An exception's message as one short line."""
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__).rstrip(".")[:300]


def _reason(error: OSError) -> str:
    return error.strerror or first_line(error)


def writable_file_problem(key: str, path: Path) -> str | None:
    """Why the SQLite file at path can't be created or written, naming the setting; None when it can."""
    folder = path.parent
    try:
        if folder.exists() and not folder.is_dir():
            return f"{key} is {path}, but {folder} is a file, not a folder."
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"{key} is {path}, but its folder {folder} can't be created ({_reason(exc)})."
    if path.is_dir():
        return f"{key} is {path}, which is a folder; give the path of a database file."
    try:
        with open(path, "ab"):
            pass
    except OSError as exc:
        return f"{key} is {path}, but that file can't be written ({_reason(exc)})."
    return None


def readable_folder_problem(key: str, path: Path) -> str | None:
    """Why the folder at path can't be listed, naming the setting; None when it can."""
    try:
        next(iter(os.scandir(path)), None)
    except OSError as exc:
        return f"{key} is {path}, but that folder can't be read ({_reason(exc)})."
    return None


def model_problem(name: str | None) -> str | None:
    """Why EMBEDDING_MODEL can't be found (without loading it); None when it can."""
    from knowledge.embeddings import (ADAPTED_SUFFIX, DEFAULT_MODEL, PACKAGED_MODELS, SHIPPED_DATA, ModelUnavailable,
                                      adaptation_file, file_id, model_path)

    wanted = name or DEFAULT_MODEL
    try:
        model_path(wanted.removesuffix(ADAPTED_SUFFIX))
        if wanted.endswith(ADAPTED_SUFFIX):
            file_id(SHIPPED_DATA / adaptation_file(wanted.removesuffix(ADAPTED_SUFFIX)), wanted.removesuffix(ADAPTED_SUFFIX))
    except ModelUnavailable as exc:
        if name and name.removesuffix(ADAPTED_SUFFIX) not in PACKAGED_MODELS:
            bundled = ", ".join(PACKAGED_MODELS)
            return (f"EMBEDDING_MODEL is {name!r}, which is neither a bundled model ({bundled}; add {ADAPTED_SUFFIX} "
                    "for the one fine-tuned on the articles) nor a model folder.")
        return f"EMBEDDING_MODEL can't be loaded: {first_line(exc)}."
    return None


def check_engine_paths(settings: Settings, *, log: bool = False) -> None:
    """Raise Problem when KNOWLEDGE_DIR, INDEX_PATH, EMBEDDING_MODEL (or, with log, DATABASE_PATH) can't be used."""
    checks = [
        lambda: readable_folder_problem("KNOWLEDGE_DIR", settings.knowledge_dir),
        lambda: writable_file_problem("INDEX_PATH", settings.index_path),
        lambda: model_problem(settings.embedding_model),
    ]
    if log:
        checks.append(lambda: writable_file_problem("DATABASE_PATH", settings.database_path))
    for check in checks:
        if problem := check():
            raise Problem(f"Configuration error: {problem}", CONFIGURATION_EXIT)


def engine_problem(error: BaseException, settings: Settings) -> str:
    """One sentence for a failure while opening the engine (the checks above catch most before)."""
    from knowledge.embeddings import ModelUnavailable

    if isinstance(error, ModelUnavailable):
        return f"EMBEDDING_MODEL can't be loaded: {first_line(error)}."
    if isinstance(error, sqlite3.Error):
        return f"INDEX_PATH {settings.index_path} can't be used as the embedding cache ({first_line(error)})."
    model = settings.embedding_model or "the bundled model"
    return f"The articles could not be indexed with {model}: {type(error).__name__}: {first_line(error)}."


def _underlying(error: BaseException) -> BaseException:
    """The connection error behind an error discord.py raised while handling it."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, (OSError, asyncio.TimeoutError)):
            return seen
        seen = seen.__cause__ or seen.__context__
    return error


def connection_problem(error: BaseException, where: str, key: str) -> str:
    """One sentence for a failure to reach Discord at `where` (DISCORD_API_BASE or DISCORD_GATEWAY_URL as key)."""
    cause = _underlying(error)
    host = _host(where)
    if _is_dns_failure(cause):
        return (f"Could not reach Discord at {where}: the name {host} could not be resolved; check the machine's "
                f"internet connection and DNS, or {key}.")
    if isinstance(cause, asyncio.TimeoutError):
        return (f"Discord at {where} did not answer in time; check the internet connection, a proxy or firewall, "
                f"or {key}.")
    reason = _os_reason(cause) if isinstance(cause, OSError) else first_line(cause)
    return (f"Could not reach Discord at {where} ({reason.lower()}); check the internet connection, "
            f"a proxy or firewall, or {key}.")


def timeout_problem(where: str, key: str, seconds: float, step: str) -> str:
    """One sentence for a Discord endpoint that accepted the connection but did not answer."""
    return (f"Discord at {where} did not answer the {step} within {seconds:g} s; check the internet connection, "
            f"a proxy or firewall, or {key} (DISCORD_CONNECT_TIMEOUT sets the wait).")


def _os_reason(error: OSError) -> str:
    """'Connection refused' rather than aiohttp's 'Connect call failed (…)'."""
    if isinstance(error.errno, int) and error.errno > 0:
        return os.strerror(error.errno)
    return _reason(error)


def _host(url: str) -> str:
    rest = url.split("://", 1)[-1]
    return rest.split("/", 1)[0].rsplit("@", 1)[-1].split(":", 1)[0] or url


def _is_dns_failure(error: Any) -> bool:
    """Name resolution failed (aiohttp wraps socket.gaierror)."""
    inner = getattr(error, "os_error", None)
    return isinstance(error, socket.gaierror) or isinstance(inner, socket.gaierror) or \
        type(error).__name__ == "ClientConnectorDNSError"
