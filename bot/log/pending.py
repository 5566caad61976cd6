"""Tokens of acknowledged questions not yet answered, in a small SQLite file of their own (never in the log)."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from knowledge.models import Turn

TOKEN_LIFETIME_SECONDS = 15 * 60  # Discord keeps an interaction token valid this long
SAFETY_SECONDS = 30  # give up this long before the token expires: an answer takes a moment to compute

SCHEMA = """CREATE TABLE IF NOT EXISTS pending (
    interaction_id TEXT PRIMARY KEY,
    application_id TEXT NOT NULL,
    token TEXT NOT NULL,
    created_at REAL NOT NULL,
    row_id INTEGER,
    guild_id TEXT,
    kind TEXT NOT NULL,
    question TEXT NOT NULL,
    previous TEXT NOT NULL DEFAULT '[]',
    exclude TEXT NOT NULL DEFAULT '[]',
    asked_by TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    delivered_message_id TEXT,
    channel_id TEXT,
    user_id TEXT
)"""


def pending_path(database_path: Path | str, shard_label: str = "") -> Path:
    """The token store beside the log: data/interactions.pending.db (with SHARD_IDS: .pending.shard-0-1.db)."""
    path = Path(database_path)
    return path.with_name(f"{path.stem}.pending{'.' + shard_label if shard_label else ''}.db")


@dataclass(frozen=True)
class PendingAnswer:
    """What it takes to answer an acknowledged question later: its token and the question's context."""

    interaction_id: int
    application_id: int
    token: str = field(repr=False)
    created_at: float
    kind: str
    question: str  # "" until known (a More press knows it only after reading the log)
    row_id: int | None = None
    guild_id: int | None = None
    previous: tuple[Turn, ...] = ()
    exclude: tuple[str, ...] = ()
    asked_by: str = ""
    note: str = ""
    delivered_message_id: int | None = None
    channel_id: int | None = None
    user_id: int | None = None


def plan(entry: PendingAnswer, now: float) -> str:
    """What a restart does with an entry: 'delivered' (log it), 'answer' (token still valid) or 'expired'."""
    if entry.delivered_message_id is not None:
        return "delivered"
    if now - entry.created_at < TOKEN_LIFETIME_SECONDS - SAFETY_SECONDS:
        return "answer"
    return "expired"


def _row(entry: PendingAnswer) -> tuple:
    previous = json.dumps([[t.question, list(t.passage_ids)] for t in entry.previous])
    return (str(entry.interaction_id), str(entry.application_id), entry.token, entry.created_at, entry.row_id,
            None if entry.guild_id is None else str(entry.guild_id), entry.kind, entry.question, previous,
            json.dumps(list(entry.exclude)), entry.asked_by, entry.note,
            None if entry.channel_id is None else str(entry.channel_id),
            None if entry.user_id is None else str(entry.user_id))


def _entry(row: sqlite3.Row) -> PendingAnswer:
    previous = tuple(Turn(question=q, passage_ids=tuple(p)) for q, p in json.loads(row["previous"]))
    return PendingAnswer(
        interaction_id=int(row["interaction_id"]), application_id=int(row["application_id"]), token=row["token"],
        created_at=row["created_at"], kind=row["kind"], question=row["question"], row_id=row["row_id"],
        guild_id=None if row["guild_id"] is None else int(row["guild_id"]), previous=previous,
        exclude=tuple(json.loads(row["exclude"])), asked_by=row["asked_by"], note=row["note"],
        delivered_message_id=None if row["delivered_message_id"] is None else int(row["delivered_message_id"]),
        channel_id=None if row["channel_id"] is None else int(row["channel_id"]),
        user_id=None if row["user_id"] is None else int(row["user_id"]),
    )


class PendingStore:
    """The token store: add when a question is acknowledged, delete once its answer is out (thread-safe)."""

    def __init__(self, path: Path | str, *, clock=time.time) -> None:
        self.path = Path(path)
        self.clock = clock
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)  # only the bot's user may read the tokens
        os.close(fd)
        self._conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False,
                                     timeout=0.5)  # written on the event loop: never wait long
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode = WAL")  # survives the process being killed, not only closed
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.execute("PRAGMA secure_delete = ON")  # a deleted token leaves no copy in free pages
        self._conn.execute(SCHEMA)

    def add(self, entry: PendingAnswer) -> None:
        """Remember an acknowledged question."""
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO pending (interaction_id, application_id, token, created_at, row_id, guild_id, "
                "kind, question, previous, exclude, asked_by, note, channel_id, user_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", _row(entry))

    def update(self, interaction_id: int, *, row_id: int | None, question: str, previous: Sequence[Turn] = (),
               exclude: Sequence[str] = (), note: str = "") -> None:
        """Add what became known after the acknowledgement: the log row and the conversation."""
        entry = PendingAnswer(0, 0, "", 0.0, "", question, row_id, None, tuple(previous), tuple(exclude), "", note)
        row = _row(entry)
        with self._lock:
            self._conn.execute("UPDATE pending SET row_id = ?, question = ?, previous = ?, exclude = ?, note = ? "
                               "WHERE interaction_id = ?", (row[4], row[7], row[8], row[9], row[11],
                                                            str(interaction_id)))

    def delivered(self, interaction_id: int, message_id: int | None) -> None:
        """Note that the answer reached the member (before its log row is finished)."""
        with self._lock:
            self._conn.execute("UPDATE pending SET delivered_message_id = ? WHERE interaction_id = ?",
                               (str(message_id or 0), str(interaction_id)))

    def remove(self, interaction_id: int) -> None:
        """Forget a question once it is answered (or given up)."""
        with self._lock:
            self._conn.execute("DELETE FROM pending WHERE interaction_id = ?", (str(interaction_id),))

    def forget(self, guild_id: int | None, user_id: int) -> int:
        """Delete a member's waiting questions in one server (forget-me); return how many."""
        with self._lock:
            cursor = self._conn.execute("DELETE FROM pending WHERE user_id = ? AND guild_id IS ?",
                                        (str(user_id), None if guild_id is None else str(guild_id)))
            return cursor.rowcount

    def entries(self) -> list[PendingAnswer]:
        """Every question still waiting, oldest first."""
        with self._lock:
            rows = self._conn.execute("SELECT * FROM pending ORDER BY created_at").fetchall()
        return [_entry(r) for r in rows]

    def count(self) -> int:
        """How many questions are waiting."""
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM pending").fetchone()[0]

    def close(self) -> None:
        """Checkpoint and close."""
        with self._lock:
            try:
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                self._conn.close()
