"""Numbered schema migrations for the interaction log, applied in order on open."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

import sqlite_utils

MIGRATIONS_TABLE = "_migrations"


def _run_script(db: sqlite_utils.Database, script: str) -> None:
    """Execute ;-separated DDL statement by statement (executescript would commit the open transaction)."""
    for statement in script.split(";"):
        if statement.strip():
            db.conn.execute(statement)


def m001_create_tables(db: sqlite_utils.Database) -> None:
    """Create conversations, interactions, the quotes each showed, and feedback."""
    _run_script(
        db,
        """
        CREATE TABLE conversations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            guild_id TEXT,
            channel_id TEXT,
            user_id TEXT NOT NULL,
            started_at TEXT NOT NULL,
            last_active_at TEXT NOT NULL,
            last_interaction_id INTEGER REFERENCES interactions(id) ON DELETE SET NULL,
            turns INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE interactions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            created_at TEXT NOT NULL,
            guild_id TEXT,
            channel_id TEXT,
            user_id TEXT NOT NULL,
            user_name TEXT,
            command TEXT NOT NULL,
            question TEXT,
            argument TEXT,
            conversation_id INTEGER REFERENCES conversations(id) ON DELETE SET NULL,
            parent_id INTEGER REFERENCES interactions(id) ON DELETE SET NULL,
            status TEXT NOT NULL DEFAULT 'pending',
            abstained INTEGER,
            reason TEXT,
            quote_count INTEGER NOT NULL DEFAULT 0,
            latency_ms INTEGER,
            error TEXT,
            discord_interaction_id TEXT,
            message_id TEXT
        );
        CREATE TABLE interaction_quotes (
            interaction_id INTEGER NOT NULL REFERENCES interactions(id) ON DELETE CASCADE,
            rank INTEGER NOT NULL,
            article_id TEXT NOT NULL,
            passage_id TEXT NOT NULL,
            score REAL,
            title TEXT,
            text TEXT,
            PRIMARY KEY (interaction_id, rank)
        );
        CREATE TABLE feedback (
            interaction_id INTEGER NOT NULL REFERENCES interactions(id) ON DELETE CASCADE,
            user_id TEXT NOT NULL,
            user_name TEXT,
            guild_id TEXT,
            vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (interaction_id, user_id)
        );
        CREATE INDEX idx_interactions_guild_time ON interactions (guild_id, created_at);
        CREATE INDEX idx_interactions_guild_user_time ON interactions (guild_id, user_id, created_at);
        CREATE INDEX idx_interactions_guild_abstained ON interactions (guild_id, abstained, created_at);
        CREATE INDEX idx_interactions_status ON interactions (status);
        CREATE INDEX idx_interactions_parent ON interactions (parent_id);
        CREATE INDEX idx_interactions_time ON interactions (created_at);
        CREATE INDEX idx_quotes_passage ON interaction_quotes (passage_id);
        CREATE INDEX idx_feedback_guild_vote ON feedback (guild_id, vote);
        CREATE INDEX idx_feedback_user ON feedback (guild_id, user_id);
        CREATE INDEX idx_conversations_lookup ON conversations (guild_id, channel_id, user_id, last_active_at);
        """
    )


def m002_questions_fts(db: sqlite_utils.Database) -> None:
    """Full-text search over questions, kept in sync (also on delete) by triggers."""
    db["interactions"].enable_fts(["question"], create_triggers=True, tokenize="porter", replace=True)


def m010_zero_free_space(db: sqlite_utils.Database) -> None:
    """Rewrite the file once (VACUUM), so free space left before secure_delete was on holds no deleted text."""
    # VACUUM can't run inside a transaction: commit migrate()'s (empty) one and open a new one for its bookkeeping.
    db.conn.execute("COMMIT")
    db.conn.execute("VACUUM")
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the old page images leave the WAL file too
    db.conn.execute("BEGIN IMMEDIATE")


def m020_guild_settings(db: sqlite_utils.Database) -> None:
    """Per-server settings (one row per server and key) and the history of every change."""
    _run_script(
        db,
        """
        CREATE TABLE guild_settings (
            guild_id TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            updated_by TEXT NOT NULL,
            PRIMARY KEY (guild_id, key)
        );
        CREATE TABLE guild_setting_changes (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            guild_id TEXT NOT NULL,
            key TEXT NOT NULL,
            old_value TEXT,
            new_value TEXT,
            changed_by TEXT NOT NULL,
            changed_by_name TEXT,
            changed_at TEXT NOT NULL
        );
        CREATE INDEX idx_guild_setting_changes ON guild_setting_changes (guild_id, changed_at)
        """
    )


def m021_article_uploads(db: sqlite_utils.Database) -> None:
    """Who added which article file from Discord (for /articles list)."""
    _run_script(
        db,
        """
        CREATE TABLE article_uploads (
            file_name TEXT PRIMARY KEY,
            article_id TEXT NOT NULL,
            added_by TEXT NOT NULL,
            added_by_name TEXT,
            added_at TEXT NOT NULL
        )
        """
    )


def m030_judgements(db: sqlite_utils.Database) -> None:
    """Moderators' judgements of answers (one per answer and moderator), and where each quote's bold sentence is."""
    _run_script(
        db,
        """
        ALTER TABLE interaction_quotes ADD COLUMN highlight_start INTEGER;
        ALTER TABLE interaction_quotes ADD COLUMN highlight_end INTEGER;
        CREATE TABLE judgements (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            interaction_id INTEGER REFERENCES interactions(id) ON DELETE SET NULL,
            guild_id TEXT NOT NULL,
            moderator_id TEXT,
            asker_id TEXT,
            previous_asker_id TEXT,
            question TEXT NOT NULL,
            previous TEXT,
            abstained INTEGER NOT NULL DEFAULT 0,
            quotes TEXT NOT NULL DEFAULT '[]',
            verdict TEXT NOT NULL CHECK (verdict IN ('quote', 'said', 'rightly_refused', 'should_refuse')),
            quote_rank INTEGER,
            sentence TEXT,
            article_id TEXT,
            source TEXT,
            keep_for_training INTEGER NOT NULL DEFAULT 0,
            asked_at TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (interaction_id, moderator_id)
        );
        CREATE INDEX idx_judgements_guild ON judgements (guild_id, updated_at);
        CREATE INDEX idx_judgements_asker ON judgements (guild_id, asker_id);
        CREATE INDEX idx_judgements_previous_asker ON judgements (guild_id, previous_asker_id);
        CREATE INDEX idx_judgements_moderator ON judgements (guild_id, moderator_id)
        """
    )


def m040_answered_after_restart(db: sqlite_utils.Database) -> None:
    """Mark the answers that reached the member only after the bot restarted (1), by editing the original reply."""
    db.conn.execute("ALTER TABLE interactions ADD COLUMN answered_after_restart INTEGER NOT NULL DEFAULT 0")


MIGRATIONS: tuple[Callable[[sqlite_utils.Database], None], ...] = (
    m001_create_tables,
    m002_questions_fts,
    m010_zero_free_space,
    m020_guild_settings,
    m021_article_uploads,
    m030_judgements,
    m040_answered_after_restart,
)


def applied(db: sqlite_utils.Database) -> set[str]:
    """Names of migrations already applied."""
    if MIGRATIONS_TABLE not in db.table_names():
        return set()
    return {row["name"] for row in db[MIGRATIONS_TABLE].rows}


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply every pending migration, each in its own transaction; return the names applied now."""
    # The connection is in autocommit mode (isolation_level=None), so BEGIN/COMMIT here are the real ones.
    db.conn.execute(f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    done = applied(db)
    ran = []
    for migration in MIGRATIONS:
        if migration.__name__ in done:
            continue
        db.conn.execute("BEGIN IMMEDIATE")
        if db.conn.execute(f"SELECT 1 FROM {MIGRATIONS_TABLE} WHERE name = ?", (migration.__name__,)).fetchone():
            db.conn.execute("ROLLBACK")  # another process sharing the log applied it meanwhile
            continue
        try:
            migration(db)
            now = datetime.now(timezone.utc).isoformat(timespec="seconds")
            db.conn.execute(
                f"INSERT OR IGNORE INTO {MIGRATIONS_TABLE} (name, applied_at) VALUES (?, ?)", (migration.__name__, now)
            )
        except BaseException:
            if db.conn.in_transaction:
                db.conn.execute("ROLLBACK")
            raise
        if db.conn.in_transaction:  # sqlite-utils helpers may commit on their own; such migrations are idempotent
            db.conn.execute("COMMIT")
        ran.append(migration.__name__)
    return ran
