"""Log rows as export records, and their CSV, JSON Lines, JSON and plain-table renderings."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Sequence
from typing import Any

from bot.review.queries import OLDEST_FIRST, Filters, find, quotes_for

EXPORT_COLUMNS: dict[str, str] = {
    "id": "Row id in the log (also in the answer buttons' ids).",
    "created_at": "When it happened: UTC, ISO 8601 with milliseconds, e.g. 2025-01-31T09:30:00.000Z.",
    "guild_id": "The server.",
    "channel_id": "The channel or thread it was used in.",
    "user_id": "Who: the Discord user id, or anon: and 24 hex digits (a keyed hash) when ANONYMIZE_USERS is on.",
    "user_name": "Their display name at the time (empty when anonymised).",
    "command": "ask, followup, more (the More quotes button), sources, source, review, forget-me; "
               "local and local-more: the terminal prompt's questions and its 'more'.",
    "question": "The question as asked (for more: the question whose next quotes were shown).",
    "argument": "Other input: the article for /source, the filters of a /review, the row count of a forget-me.",
    "status": "ok, error, interrupted, refused, rate_limited, invalid, not_found, or pending (still running).",
    "abstained": "1: the articles did not cover it (no quote shown); 0: answered with quotes; empty: not a question.",
    "reason": "Why it abstained or was turned away.",
    "quote_count": "How many quotes were shown.",
    "latency_ms": "Milliseconds from the command to the answer.",
    "error": "What went wrong (status error or interrupted).",
    "conversation_id": "The conversation (a question and its follow-ups) it belongs to.",
    "parent_id": "The row it continues: the answer a follow-up or More page came from.",
    "message_id": "The Discord message that showed the answer.",
    "thumbs_up": "👍 votes on this answer (one per person).",
    "thumbs_down": "👎 votes on this answer (one per person).",
    "quotes": "The quotes shown, best first: a JSON list of {rank, article_id, passage_id, score, title}.",
}
QUOTE_KEYS = ("rank", "article_id", "passage_id", "score", "title")
TABLE_COLUMNS = ("id", "created_at", "guild_id", "user", "command", "status", "👎", "question", "reason")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def export_rows(db: Any, filters: Filters, *, limit: int | None = None) -> list[dict[str, Any]]:
    """Rows matching filters as export records (EXPORT_COLUMNS, oldest first)."""
    rows = find(db, filters, limit=limit, order=OLDEST_FIRST)
    quotes = quotes_for(db, [row["id"] for row in rows])
    records = []
    for row in rows:
        record = {name: row.get(name) for name in EXPORT_COLUMNS}
        record["thumbs_up"], record["thumbs_down"] = row["up"], row["down"]
        record["quotes"] = [{k: q[k] for k in QUOTE_KEYS} for q in quotes[row["id"]]]
        records.append(record)
    return records


def csv_cell(value: Any) -> Any:
    """A CSV cell: lists as JSON, None empty, and text that a spreadsheet would run as a formula prefixed with '."""
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_csv(records: Sequence[dict[str, Any]]) -> str:
    """CSV with a header row of EXPORT_COLUMNS."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(EXPORT_COLUMNS), lineterminator="\r\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: csv_cell(record.get(k)) for k in EXPORT_COLUMNS})
    return out.getvalue()


def to_jsonl(records: Sequence[dict[str, Any]]) -> str:
    """One JSON object per line, keys in EXPORT_COLUMNS order."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def to_json(records: Sequence[dict[str, Any]]) -> str:
    """A JSON array of the records."""
    return json.dumps(list(records), ensure_ascii=False, indent=2) + "\n"


def render(records: Sequence[dict[str, Any]], fmt: str) -> str:
    """Records in one of the formats csv, jsonl, json, table."""
    writers = {"csv": to_csv, "jsonl": to_jsonl, "json": to_json, "table": to_table}
    if fmt not in writers:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(writers)}")
    return writers[fmt](records)


def to_table(records: Sequence[dict[str, Any]], width: int = 60) -> str:
    """A fixed-width text table of the main columns with the 👎 count and the refusal reason, long text cut."""
    lines = [
        {
            "id": str(r["id"]),
            "created_at": (r["created_at"] or "")[:19].replace("T", " "),
            "guild_id": r["guild_id"] or "",
            "user": r["user_name"] or r["user_id"] or "",
            "command": r["command"],
            "status": r["status"] + (" (not covered)" if r["abstained"] == 1 else ""),
            "👎": str(r["thumbs_down"] or ""),
            "question": _cut(" ".join((r["question"] or "").split()), width),
            "reason": _cut(" ".join((r["reason"] or "").split()), width),
        }
        for r in records
    ]
    widths = {c: max([cells(c)] + [cells(line[c]) for line in lines]) for c in TABLE_COLUMNS}

    def row(values: dict[str, str]) -> str:
        return "  ".join(values[c] + " " * (widths[c] - cells(values[c])) for c in TABLE_COLUMNS).rstrip()

    header = row({c: c for c in TABLE_COLUMNS})
    rule = "  ".join("-" * widths[c] for c in TABLE_COLUMNS)
    body = [row(line) for line in lines]
    return "\n".join([header, rule, *body, f"({len(lines)} row{'s' if len(lines) != 1 else ''})"]) + "\n"


def cells(text: str) -> int:
    """Terminal columns text takes (wide characters such as 👎 take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
