"""Privacy over the log: keyed user hashes, the retention purge and forget-me (deletions leave no trace in FTS)."""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.judgements import _store as judgements
from bot.review.periods import iso, utc_now
from bot.review.queries import connection, guild_clause

FTS_TABLE = "interactions_fts"
FORGOTTEN_USER = "forgotten"  # the user_id of the row that records a forget-me, which names nobody


def user_key(user_id: int | str, key: str | None) -> str:
    """The id the log stores for a user: the raw id, or (with a key) the keyed hash InteractionLog.user_key makes."""
    if not key:
        return str(user_id)
    return "anon:" + hmac.new(key.encode(), str(user_id).encode(), hashlib.sha256).hexdigest()[:24]


@contextmanager
def _deleting(db: Any) -> Iterator[sqlite3.Connection]:
    """One write transaction that zeroes deleted content and, if anything changed, compacts FTS and empties the WAL."""
    conn = connection(db)
    conn.execute("PRAGMA secure_delete = ON")
    outer = conn.in_transaction
    if not outer:
        conn.execute("BEGIN IMMEDIATE")
    changes = conn.total_changes
    try:
        yield conn
        changed = conn.total_changes > changes
        if changed and conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (FTS_TABLE,)).fetchone():
            conn.execute(f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}) VALUES ('optimize')")  # drops deleted terms
    except BaseException:
        if not outer and conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    if not outer:
        conn.execute("COMMIT")
        if changed:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # old page images leave the WAL file


def _drop_interactions(conn: sqlite3.Connection, id_query: str, params: list[Any]) -> int:
    """Delete the interactions id_query selects, with their quotes and votes, and unlink rows that pointed at them."""
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS doomed (id INTEGER PRIMARY KEY)")
    conn.execute("DELETE FROM doomed")
    conn.execute(f"INSERT INTO doomed (id) {id_query}", params)
    judgements.purge(conn, "SELECT id FROM doomed")  # kept-for-training ones stay, without any user id
    conn.execute("DELETE FROM interaction_quotes WHERE interaction_id IN (SELECT id FROM doomed)")
    conn.execute("DELETE FROM feedback WHERE interaction_id IN (SELECT id FROM doomed)")
    conn.execute("UPDATE interactions SET parent_id = NULL WHERE parent_id IN (SELECT id FROM doomed)")
    conn.execute(
        "UPDATE conversations SET last_interaction_id = NULL WHERE last_interaction_id IN (SELECT id FROM doomed)"
    )
    removed = conn.execute("DELETE FROM interactions WHERE id IN (SELECT id FROM doomed)").rowcount
    conn.execute("DELETE FROM doomed")
    return removed


def _drop_conversations(conn: sqlite3.Connection, where: str, params: list[Any]) -> int:
    """Delete conversations and unlink the rows that belonged to them."""
    ids = [row[0] for row in conn.execute(f"SELECT id FROM conversations WHERE {where}", params)]
    if not ids:
        return 0
    marks = ", ".join("?" * len(ids))
    conn.execute(f"UPDATE interactions SET conversation_id = NULL WHERE conversation_id IN ({marks})", ids)
    return conn.execute(f"DELETE FROM conversations WHERE id IN ({marks})", ids).rowcount


@dataclass(frozen=True)
class Purged:
    """What a retention purge removed."""

    cutoff: str
    interactions: int
    conversations: int


def purge_older_than(db: Any, days: int, *, now: datetime | None = None) -> Purged:
    """Delete every row (all servers) older than days: interactions, their quotes and votes, idle conversations."""
    if days <= 0:
        raise ValueError("retention must be at least one day (0 means keep forever: don't call purge)")
    cutoff = iso((now or utc_now()) - timedelta(days=days))
    with _deleting(db) as conn:
        interactions = _drop_interactions(conn, "SELECT id FROM interactions WHERE created_at < ?", [cutoff])
        conversations = _drop_conversations(conn, "last_active_at < ?", [cutoff])
    return Purged(cutoff, interactions, conversations)


@dataclass(frozen=True)
class Forgotten:
    """What forget-me removed (and what it changed in other people's rows) for one person in one server."""

    interactions: int
    votes: int  # their own votes
    votes_on_theirs: int  # other members' votes on their answers, removed with the answers
    conversations: int
    kept_pending: int  # answers still being written; run forget-me again after they finish
    lookups: int = 0  # moderators' /review rows that named them, now naming FORGOTTEN_USER
    copies: int = 0  # other members' More pages whose copy of their question was blanked
    judgements: int = 0  # moderators' judgements of their questions, deleted (even those kept for training)

    @property
    def total(self) -> int:
        """Every row removed."""
        return self.interactions + self.votes + self.votes_on_theirs + self.conversations


def forget_lookup(argument: str | None, user: str) -> str | None:
    """A /review's stored filters with the member it looked up replaced by FORGOTTEN_USER; None if it named nobody."""
    # A search limited to the member's questions also loses its words: they describe what that member asked.
    try:
        params = json.loads(argument or "")
    except ValueError:
        return None
    if not isinstance(params, dict) or params.get("user") != user:
        return None
    params["user"] = FORGOTTEN_USER
    if "text" in params:
        params["text"] = ""
    return json.dumps(params, separators=(",", ":"))


def _forget_lookups(conn: sqlite3.Connection, scope: str, scope_params: list[Any], user: str) -> int:
    """Rewrite the /review rows (in scope) whose filters named user; return how many."""
    rows = conn.execute(
        f"SELECT id, argument FROM interactions WHERE {scope} AND command = 'review' AND instr(argument, ?) > 0",
        [*scope_params, user],
    ).fetchall()
    changed = [(new, row_id) for row_id, argument in rows if (new := forget_lookup(argument, user)) is not None]
    conn.executemany("UPDATE interactions SET argument = ? WHERE id = ?", changed)
    return len(changed)


def forget_user(
    db: Any, guild: Any, user: str, *, now: datetime | None = None, record: bool = True
) -> Forgotten:
    """Delete one person's rows in one server (every command, their votes, conversations); log only the count."""
    # Other people's More pages repeat the person's question: that copy (and the reason it gave) is blanked, and
    # moderators' look-ups of the person name FORGOTTEN_USER instead. The row record=True adds names nobody
    # (user_id 'forgotten', no channel) and holds only how many rows were removed.
    scope, scope_params = guild_clause(guild, "guild_id")
    mine = f"SELECT id FROM interactions WHERE {scope} AND user_id = ? AND status != 'pending'"
    params = [*scope_params, user]
    with _deleting(db) as conn:
        pending = conn.execute(
            f"SELECT COUNT(*) FROM interactions WHERE {scope} AND user_id = ? AND status = 'pending'", params
        ).fetchone()[0]
        copies = conn.execute(
            f"UPDATE interactions SET question = NULL, reason = NULL WHERE command = 'more' AND user_id != ? "
            f"AND parent_id IN ({mine})",
            [user, *params],
        ).rowcount
        votes = conn.execute(
            f"""DELETE FROM feedback WHERE user_id = ? AND ({scope} OR interaction_id IN
                (SELECT id FROM interactions WHERE {scope}))""",
            [user, *scope_params, *scope_params],
        ).rowcount
        judged, _ = judgements.forget(conn, scope, scope_params, user)
        votes_on_theirs = conn.execute(f"DELETE FROM feedback WHERE interaction_id IN ({mine})", params).rowcount
        interactions = _drop_interactions(conn, mine, params)
        conversations = _drop_conversations(conn, f"{scope} AND user_id = ?", params)
        lookups = _forget_lookups(conn, scope, scope_params, user)
        result = Forgotten(interactions, votes, votes_on_theirs, conversations, int(pending), lookups, copies,
                           judged)
        if record:
            conn.execute(
                """INSERT INTO interactions (created_at, guild_id, user_id, command, argument, status)
                   VALUES (?, ?, ?, 'forget-me', ?, 'ok')""",
                (iso(now or utc_now()), scope_params[0] if scope_params else None, FORGOTTEN_USER, str(result.total)),
            )
    return result
