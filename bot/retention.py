"""The retention purge with per-server retention days (/settings log_retention_days) over the .env default."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from bot.review.periods import iso, utc_now
from bot.review.privacy import Purged, _deleting, _drop_conversations, _drop_interactions


def purge_by_server(
    db: Any, default_days: int, per_server: Mapping[int, int], *, now: datetime | None = None
) -> Purged:
    """Delete rows older than each server's retention (0 keeps forever); servers without their own use the default."""
    moment = now or utc_now()
    interactions = conversations = 0
    own = sorted(str(g) for g in per_server)
    marks = ", ".join("?" * len(own))
    cutoff = iso(moment - timedelta(days=default_days)) if default_days > 0 else ""
    with _deleting(db) as conn:
        if default_days > 0:
            where = "created_at < ?" + (f" AND (guild_id IS NULL OR guild_id NOT IN ({marks}))" if own else "")
            interactions += _drop_interactions(conn, f"SELECT id FROM interactions WHERE {where}", [cutoff, *own])
            where = "last_active_at < ?" + (f" AND (guild_id IS NULL OR guild_id NOT IN ({marks}))" if own else "")
            conversations += _drop_conversations(conn, where, [cutoff, *own])
        for guild, days in per_server.items():
            if days <= 0:
                continue
            limit = iso(moment - timedelta(days=days))
            interactions += _drop_interactions(
                conn, "SELECT id FROM interactions WHERE guild_id = ? AND created_at < ?", [str(guild), limit])
            conversations += _drop_conversations(conn, "guild_id = ? AND last_active_at < ?", [str(guild), limit])
    return Purged(cutoff, interactions, conversations)
