"""Conversations that live in Discord threads and message replies: find the answer turn a message continues."""

from __future__ import annotations

from typing import Any

from bot.log.store import TURN_COMMANDS

_TURNS = ", ".join(f"'{c}'" for c in TURN_COMMANDS)


def _one(db: Any, sql: str, params: list[Any]) -> dict[str, Any] | None:
    rows = list(db.query(sql, params))
    return rows[0] if rows else None


def answer_by_message(db: Any, guild_id: int | None, message_id: int) -> dict[str, Any] | None:
    """The logged answer (a question turn or a More page) that a Discord message showed."""
    return _one(db, f"""SELECT * FROM interactions WHERE message_id = ? AND guild_id IS ?
                       AND command IN ({_TURNS}, 'more') ORDER BY id DESC LIMIT 1""",
                [str(message_id), None if guild_id is None else str(guild_id)])


def thread_turn(db: Any, guild_id: int | None, thread_id: int) -> dict[str, Any] | None:
    """The latest answered turn of a thread started from a bot answer (the thread has the answer's message id)."""
    guild = None if guild_id is None else str(guild_id)
    start = answer_by_message(db, guild_id, thread_id)
    if start is None:
        return None
    latest = _one(db, f"""SELECT * FROM interactions WHERE guild_id IS ? AND channel_id = ? AND command IN ({_TURNS})
                         AND status = 'ok' AND question IS NOT NULL ORDER BY id DESC LIMIT 1""",
                  [guild, str(thread_id)])
    return latest or start
