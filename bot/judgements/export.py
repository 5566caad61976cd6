"""Judgements as evaluation items, in the format of ../shared/eval/dev.jsonl (no Discord here)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bot.judgements._store import QUOTE, RIGHTLY_REFUSED, SAID, SHOULD_REFUSE

OUT_OF_SCOPE = (RIGHTLY_REFUSED, SHOULD_REFUSE)


def quote_span(quote: dict[str, Any]) -> str:
    """The quote's bold (answering) sentence when the log kept where it is, else the whole quoted text."""
    text = quote.get("text") or ""
    highlight = quote.get("highlight")
    if highlight and highlight[0] is not None and 0 <= highlight[0] < highlight[1] <= len(text):
        span = text[highlight[0]:highlight[1]].strip()
        if span:
            return span
    return text.strip()


def item(row: dict[str, Any]) -> dict[str, Any] | None:
    """One judgement row as an eval item, or None when it can't make one (e.g. the judged quote is missing)."""
    question = (row.get("question") or "").strip()
    if not question:
        return None
    base: dict[str, Any] = {"id": f"j{row['id']}", "question": question}
    verdict = row["verdict"]
    if verdict in OUT_OF_SCOPE:
        return base | {"answer_contains": [], "source": None, "kind": "out_of_scope"}
    if verdict == QUOTE:
        quotes = row["quotes"] if isinstance(row["quotes"], list) else json.loads(row["quotes"] or "[]")
        quote = next((q for q in quotes if q.get("rank") == row["quote_rank"]), None)
        span = quote_span(quote) if quote else ""
    elif verdict == SAID:
        span = (row.get("sentence") or "").strip()
    else:
        return None
    if not span:
        return None
    previous = (row.get("previous") or "").strip()
    result = base | {"answer_contains": [span], "source": row.get("source") or None,
                     "kind": "followup" if previous else "fact"}
    if previous:
        result["previous"] = previous
    return result


def latest_per_answer(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One judgement per answer: the latest (moderators may disagree; the last word counts), in answer order."""
    latest: dict[Any, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: (r["updated_at"], r["id"])):
        latest[row["interaction_id"] if row["interaction_id"] is not None else f"kept-{row['id']}"] = row
    return sorted(latest.values(), key=lambda r: (r.get("asked_at") or "", r["id"]))


def items_from_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Judgement rows → eval items (one per judged answer)."""
    return [made for row in latest_per_answer(rows) if (made := item(row)) is not None]


def read_rows(db_path: Path | str, guild_id: int | str | None = None) -> list[dict[str, Any]]:
    """Every judgement (of one server when guild_id is given), read-only; [] when the log has none yet."""
    path = Path(db_path)
    if not path.exists():
        raise FileNotFoundError(f"no interaction log at {path}")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'judgements'").fetchone():
            return []
        if guild_id is None:
            rows = conn.execute("SELECT * FROM judgements")
        else:
            rows = conn.execute("SELECT * FROM judgements WHERE guild_id = ?", (str(guild_id),))
        return [dict(r) for r in rows]
    finally:
        conn.close()


def judged_items(db_path: Path | str, guild_id: int | str | None = None) -> list[dict]:
    """The log's judged questions as eval items ({id, question, answer_contains, source, kind, previous?})."""
    return items_from_rows(read_rows(db_path, guild_id))


def to_jsonl(items: Iterable[dict[str, Any]]) -> str:
    """One JSON object a line, as in dev.jsonl."""
    return "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items)
