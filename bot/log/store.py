"""The interaction log: a SQLite database (sqlite-utils, WAL) used from a single thread."""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import sqlite_utils

from bot.log.migrations import migrate
from knowledge.models import Quote, Turn

TURN_COMMANDS = ("ask", "followup", "find-quotes", "mention")
FINAL_STATUSES = ("ok", "error", "interrupted", "refused", "rate_limited", "invalid", "not_found")


def utc_now() -> datetime:
    """The current time in UTC."""
    return datetime.now(timezone.utc)


def iso(moment: datetime) -> str:
    """'2024-05-17T09:30:00.123Z': sortable, SQLite-readable UTC text."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    """Inverse of iso()."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Who:
    """Where an interaction happened and who made it (raw Discord ids)."""

    guild_id: int | None
    channel_id: int | None
    user_id: int
    user_name: str = ""


def _highlight(quote: Quote) -> tuple[int | None, int | None]:
    """The bold sentence's offsets inside the quote's text, or (None, None)."""
    start, end = quote.highlight if quote.highlight and len(quote.highlight) == 2 else (None, None)
    return (start, end) if isinstance(start, int) and isinstance(end, int) and 0 <= start < end else (None, None)


def _enable_wal(db: sqlite_utils.Database, seconds: float) -> None:
    """Switch to WAL, retrying for up to `seconds` while another process is switching the same new file."""
    # SQLite answers "locked" at once to the second switch (its busy handler is not used for it).
    deadline = time.monotonic() + seconds
    while True:
        try:
            db.enable_wal()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _text_id(value: int | None) -> str | None:
    return None if value is None else str(value)


class InteractionLog:
    """Read and write the interaction log; one instance per thread (sqlite3 enforces it)."""

    def __init__(
        self,
        path: Path | str,
        *,
        anonymize_key: str | None = None,
        busy_timeout: float = 5.0,
        clock: Callable[[], datetime] = utc_now,
        anonymize_default: bool | None = None,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._key = anonymize_key.encode() if anonymize_key else None
        self._clock = clock
        self._anonymize_default = self._key is not None if anonymize_default is None else anonymize_default
        self.guild_anonymize: dict[str, bool] = {}  # per-server overrides (set through /settings)
        conn = sqlite3.connect(str(self.path), timeout=busy_timeout, isolation_level=None)
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA secure_delete = ON")  # deleted or rewritten content is zeroed, not left in free space
            self.db = sqlite_utils.Database(conn)
            _enable_wal(self.db, busy_timeout)
            conn.execute("PRAGMA synchronous = FULL")
            self.migrations_applied = migrate(self.db)
        except BaseException:
            conn.close()
            raise

    def close(self) -> None:
        """Checkpoint the WAL into the main file and close the connection."""
        try:
            self.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            self.db.conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def anonymizes(self, guild_id: int | str | None = None) -> bool:
        """Whether rows of this server store a keyed hash instead of user ids and names."""
        wanted = self.guild_anonymize.get(_text_id(guild_id), self._anonymize_default)  # type: ignore[arg-type]
        return self._key is not None and wanted

    def user_key(self, user_id: int | str, guild_id: int | str | None = None) -> str:
        """The id stored for a user: the raw id, or a keyed hash in anonymised mode."""
        if self._key is None or not self.anonymizes(guild_id):
            return str(user_id)
        return "anon:" + hmac.new(self._key, str(user_id).encode(), hashlib.sha256).hexdigest()[:24]

    def _user_name(self, name: str, guild_id: int | str | None = None) -> str | None:
        return None if self.anonymizes(guild_id) else (name or None)

    def _now(self) -> str:
        return iso(self._clock())

    @staticmethod
    def _exists(conn: sqlite3.Connection, row_id: int) -> bool:
        return conn.execute("SELECT 1 FROM interactions WHERE id = ?", (row_id,)).fetchone() is not None

    def begin(
        self,
        who: Who,
        command: str,
        *,
        question: str | None = None,
        argument: str | None = None,
        parent_id: int | None = None,
        discord_interaction_id: int | None = None,
    ) -> int:
        """Insert a pending interaction row (and place it in a conversation); return its id."""
        with self._tx() as conn:
            now = self._now()
            user = self.user_key(who.user_id, who.guild_id)
            if parent_id is not None and not self._exists(conn, parent_id):
                parent_id = None
            conversation_id = self._conversation_for(conn, who, user, command, parent_id, now)
            cursor = conn.execute(
                """INSERT INTO interactions (created_at, guild_id, channel_id, user_id, user_name, command, question,
                   argument, conversation_id, parent_id, status, discord_interaction_id)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)""",
                (now, _text_id(who.guild_id), _text_id(who.channel_id), user,
                 self._user_name(who.user_name, who.guild_id), command, question, argument, conversation_id,
                 parent_id, _text_id(discord_interaction_id)),
            )
            row_id = int(cursor.lastrowid)
            if command in TURN_COMMANDS and conversation_id is not None:
                conn.execute(
                    """UPDATE conversations SET last_interaction_id = ?, last_active_at = ?, turns = turns + 1
                       WHERE id = ?""",
                    (row_id, now, conversation_id),
                )
            return row_id

    def _conversation_for(
        self, conn: sqlite3.Connection, who: Who, user: str, command: str, parent_id: int | None, now: str
    ) -> int | None:
        """Conversation of a new row: a fresh one for /ask or someone else's thread, else the parent's."""
        parent = None
        if parent_id is not None:
            parent = conn.execute(
                """SELECT c.id, c.user_id FROM interactions i JOIN conversations c ON c.id = i.conversation_id
                   WHERE i.id = ?""",
                (parent_id,),
            ).fetchone()
        if command not in TURN_COMMANDS:
            return parent[0] if parent else None
        if command in ("followup", "mention") and parent and parent[1] == user:
            return parent[0]
        cursor = conn.execute(
            """INSERT INTO conversations (guild_id, channel_id, user_id, started_at, last_active_at)
               VALUES (?, ?, ?, ?, ?)""",
            (_text_id(who.guild_id), _text_id(who.channel_id), user, now, now),
        )
        return int(cursor.lastrowid)

    def finish(
        self,
        row_id: int,
        *,
        status: str,
        quotes: Sequence[Quote] = (),
        abstained: bool | None = None,
        reason: str | None = None,
        latency_ms: int | None = None,
        error: str | None = None,
        message_id: int | None = None,
        after_restart: bool = False,
    ) -> None:
        """Complete a pending row with its outcome and the quotes it showed."""
        if status not in FINAL_STATUSES:
            raise ValueError(f"unknown status {status!r}")
        with self._tx() as conn:
            conn.execute(
                """UPDATE interactions SET status = ?, abstained = ?, reason = ?, quote_count = ?, latency_ms = ?,
                   error = ?, message_id = COALESCE(?, message_id),
                   answered_after_restart = CASE WHEN ? THEN 1 ELSE answered_after_restart END WHERE id = ?""",
                (status, None if abstained is None else int(abstained), reason or None, len(quotes), latency_ms,
                 error, _text_id(message_id), int(after_restart), row_id),
            )
            conn.executemany(
                """INSERT OR REPLACE INTO interaction_quotes (interaction_id, rank, article_id, passage_id, score, title,
                   text, highlight_start, highlight_end) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [(row_id, rank, q.article_id, q.passage_id, float(q.score), q.title, q.text, *_highlight(q))
                 for rank, q in enumerate(quotes, start=1)],
            )

    def finish_if_pending(self, row_id: int, *, status: str, reason: str | None = None,
                          message_id: int | None = None) -> bool:
        """Complete a row only if nothing has completed it yet; return whether it did."""
        row = self.interaction(row_id)
        if row is None or row["status"] != "pending":
            return False
        self.finish(row_id, status=status, reason=reason, message_id=message_id)
        return True

    def record(self, who: Who, command: str, *, status: str, **details: Any) -> int:
        """Insert a finished row in one go (quick commands, refusals, errors)."""
        begin_keys = {"question", "argument", "parent_id", "discord_interaction_id"}
        row_id = self.begin(who, command, **{k: v for k, v in details.items() if k in begin_keys})
        self.finish(row_id, status=status, **{k: v for k, v in details.items() if k not in begin_keys})
        return row_id

    def interaction(self, row_id: int) -> dict[str, Any] | None:
        """One interaction row as a dict, or None."""
        rows = list(self.db.query("SELECT * FROM interactions WHERE id = ?", [row_id]))
        return rows[0] if rows else None

    def quotes(self, row_id: int) -> list[dict[str, Any]]:
        """The quotes an interaction showed, best first."""
        return list(self.db.query("SELECT * FROM interaction_quotes WHERE interaction_id = ? ORDER BY rank", [row_id]))

    def shown_passages(self, root_id: int) -> list[str]:
        """Passage ids shown for a question: its answer plus every More page after it."""
        return [
            row["passage_id"]
            for row in self.db.query(
                """SELECT q.passage_id FROM interaction_quotes q JOIN interactions i ON i.id = q.interaction_id
                   WHERE i.id = ? OR (i.parent_id = ? AND i.command = 'more') ORDER BY i.id, q.rank""",
                [root_id, root_id],
            )
        ]

    def turns(self, row_id: int | None, max_turns: int = 5) -> list[Turn]:
        """The conversation up to and including row_id (question turns only), oldest first."""
        chain: list[Turn] = []
        seen: set[int] = set()
        while row_id is not None and row_id not in seen and len(chain) < max_turns:
            seen.add(row_id)
            row = self.interaction(row_id)
            if row is None:
                break
            if row["command"] in TURN_COMMANDS and row["question"]:
                chain.append(Turn(question=row["question"], passage_ids=tuple(self.shown_passages(row_id))))
            row_id = row["parent_id"]
        return chain[::-1]

    def latest_conversation(self, who: Who) -> dict[str, Any] | None:
        """The caller's most recently active conversation in this channel, whatever its age."""
        rows = list(
            self.db.query(
                """SELECT * FROM conversations WHERE guild_id IS ? AND channel_id IS ? AND user_id = ?
                   AND last_interaction_id IS NOT NULL ORDER BY last_active_at DESC, id DESC LIMIT 1""",
                [_text_id(who.guild_id), _text_id(who.channel_id), self.user_key(who.user_id, who.guild_id)],
            )
        )
        return rows[0] if rows else None

    def is_idle(self, conversation: dict[str, Any], idle: timedelta) -> bool:
        """Whether a conversation has been quiet for longer than idle."""
        return self._clock() - parse_iso(conversation["last_active_at"]) > idle

    def vote(self, row_id: int, who: Who, vote: int) -> str:
        """Record one person's 👍 (+1) or 👎 (-1) on an answer: 'new', 'changed', 'same' or 'missing'."""
        if vote not in (-1, 1):
            raise ValueError("vote must be 1 or -1")
        user = self.user_key(who.user_id, who.guild_id)
        with self._tx() as conn:
            if not self._exists(conn, row_id):
                return "missing"
            old = conn.execute(
                "SELECT vote FROM feedback WHERE interaction_id = ? AND user_id = ?", (row_id, user)
            ).fetchone()
            if old is not None and old[0] == vote:
                return "same"
            now = self._now()
            conn.execute(
                """INSERT INTO feedback (interaction_id, user_id, user_name, guild_id, vote, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (interaction_id, user_id) DO UPDATE SET vote = excluded.vote,
                   updated_at = excluded.updated_at, user_name = excluded.user_name""",
                (row_id, user, self._user_name(who.user_name, who.guild_id), _text_id(who.guild_id), vote, now, now),
            )
            return "new" if old is None else "changed"

    def votes(self, row_id: int) -> dict[str, int]:
        """Count of 👍 and 👎 on an interaction."""
        up, down = self.db.execute(
            "SELECT COALESCE(SUM(vote = 1), 0), COALESCE(SUM(vote = -1), 0) FROM feedback WHERE interaction_id = ?",
            [row_id],
        ).fetchone()
        return {"up": int(up), "down": int(down)}

    def set_message(self, row_id: int, message_id: int) -> None:
        """Remember which Discord message showed an interaction's answer."""
        with self._tx() as conn:
            conn.execute("UPDATE interactions SET message_id = ? WHERE id = ?", (str(message_id), row_id))

    def interrupt_pending(self, row_ids: Sequence[int] | None = None, *, keep: Sequence[int] = (),
                          shards: tuple[tuple[int, ...], int] | None = None) -> int:
        """Mark pending rows (all but keep, or the given ones; with shards=(ids, count) only theirs) interrupted."""
        # A process restarting leaves the rows another process sharing the log is still answering; rows without a
        # server belong to shard 0, where Discord sends such events.
        with self._tx() as conn:
            if row_ids is None:
                where, params = "", [int(k) for k in keep]
                if shards is not None:
                    ids, count = shards
                    where = (f" AND ((CAST(COALESCE(guild_id, 0) AS INTEGER) >> 22) % {int(count)}) "
                             f"IN ({','.join(str(int(i)) for i in ids)})")
                cursor = conn.execute(
                    "UPDATE interactions SET status = 'interrupted', error = 'the bot stopped before answering' "
                    f"WHERE status = 'pending' AND id NOT IN ({','.join('?' * len(keep))}){where}",
                    params,
                )
            else:
                marks = ",".join("?" * len(row_ids))
                cursor = conn.execute(
                    f"UPDATE interactions SET status = 'interrupted', error = 'the bot stopped before answering' "
                    f"WHERE status = 'pending' AND id IN ({marks})",
                    list(row_ids),
                )
            return cursor.rowcount
