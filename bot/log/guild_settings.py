"""Per-server settings in the log database: read them all, change one (recording who, when, old and new)."""

from __future__ import annotations

from typing import Any

from bot.log.store import iso, utc_now


def load_all(db: Any) -> dict[int, dict[str, str]]:
    """Every server's stored settings: {guild id: {key: stored text}}."""
    result: dict[int, dict[str, str]] = {}
    for row in db.execute("SELECT guild_id, key, value FROM guild_settings").fetchall():
        result.setdefault(int(row[0]), {})[row[1]] = row[2]
    return result


def change(
    db: Any, guild_id: int, key: str, value: str | None, *, user: str, user_name: str | None = None, now: str = ""
) -> str | None:
    """Set (or with value None, remove) one server's key; record the change; return the old stored text."""
    conn = db.conn
    now = now or iso(utc_now())
    conn.execute("BEGIN IMMEDIATE")
    try:
        old = conn.execute(
            "SELECT value FROM guild_settings WHERE guild_id = ? AND key = ?", (str(guild_id), key)
        ).fetchone()
        old_value = old[0] if old else None
        if value is None:
            conn.execute("DELETE FROM guild_settings WHERE guild_id = ? AND key = ?", (str(guild_id), key))
        else:
            conn.execute(
                """INSERT INTO guild_settings (guild_id, key, value, updated_at, updated_by) VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (guild_id, key) DO UPDATE SET value = excluded.value,
                   updated_at = excluded.updated_at, updated_by = excluded.updated_by""",
                (str(guild_id), key, value, now, user),
            )
        if old_value != value:
            conn.execute(
                """INSERT INTO guild_setting_changes (guild_id, key, old_value, new_value, changed_by,
                   changed_by_name, changed_at) VALUES (?, ?, ?, ?, ?, ?, ?)""",
                (str(guild_id), key, old_value, value, user, user_name, now),
            )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return old_value


def history(db: Any, guild_id: int, limit: int = 20) -> list[dict[str, Any]]:
    """A server's latest setting changes, newest first."""
    cursor = db.execute(
        "SELECT * FROM guild_setting_changes WHERE guild_id = ? ORDER BY id DESC LIMIT ?", (str(guild_id), limit)
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]
