"""Moderator review over the interaction log: queries, exports, privacy; each limited to one server; no Discord."""

from bot.review.export import EXPORT_COLUMNS, export_rows, render, to_csv, to_jsonl
from bot.review.periods import PeriodError, iso, parse_iso, parse_when, utc_now, window
from bot.review.privacy import (
    FORGOTTEN_USER,
    Forgotten,
    Purged,
    forget_lookup,
    forget_user,
    purge_older_than,
    user_key,
)
from bot.review.queries import (
    ALL_GUILDS,
    KINDS,
    PAGE_SIZES,
    QUESTION_COMMANDS,
    Filters,
    Gap,
    Page,
    Stats,
    count,
    find,
    listing,
    quotes_for,
    stats,
    unanswered,
)

__all__ = [
    "ALL_GUILDS", "EXPORT_COLUMNS", "FORGOTTEN_USER", "KINDS", "PAGE_SIZES", "QUESTION_COMMANDS",
    "Filters", "Forgotten", "Gap", "Page", "PeriodError", "Purged", "Stats",
    "count", "export_rows", "find", "forget_lookup", "forget_user", "iso", "listing", "parse_iso", "parse_when",
    "purge_older_than", "quotes_for", "render", "stats", "to_csv", "to_jsonl", "unanswered", "user_key", "utc_now",
    "window",
]
