"""Who added which article file from Discord: kept in the log database for /articles list."""

from __future__ import annotations

from typing import Any

from bot.log.store import iso, utc_now


def record(db: Any, file_name: str, article_id: str, user: str, user_name: str | None) -> None:
    """Remember that a user added a file (replacing an older record of the same name)."""
    with db.conn:
        db.conn.execute(
            """INSERT OR REPLACE INTO article_uploads (file_name, article_id, added_by, added_by_name, added_at)
               VALUES (?, ?, ?, ?, ?)""",
            (file_name, article_id, user, user_name, iso(utc_now())),
        )


def forget(db: Any, article_id: str) -> None:
    """Drop the record of a removed article."""
    with db.conn:
        db.conn.execute("DELETE FROM article_uploads WHERE article_id = ?", (article_id,))


def added_by(db: Any) -> dict[str, dict[str, Any]]:
    """{article id: {added_by, added_by_name, added_at}} for every article added from Discord."""
    cursor = db.conn.execute("SELECT article_id, added_by, added_by_name, added_at FROM article_uploads")
    return {row[0]: {"added_by": row[1], "added_by_name": row[2], "added_at": row[3]} for row in cursor.fetchall()}
