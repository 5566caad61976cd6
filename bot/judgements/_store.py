"""Moderators' judgements of answers: store, change, list, count, and forget them (SQLite, no Discord)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from bot.review.periods import iso, utc_now
from bot.review.queries import QUESTION_COMMANDS, Page, connection, fetch, guild_clause

QUOTE, SAID, RIGHTLY_REFUSED, SHOULD_REFUSE = "quote", "said", "rightly_refused", "should_refuse"
VERDICTS = (QUOTE, SAID, RIGHTLY_REFUSED, SHOULD_REFUSE)
CORRECT = (QUOTE, RIGHTLY_REFUSED)  # the bot got it right
LABELS = {
    QUOTE: "Quote {rank} answered",
    SAID: "None answered: the articles do say it",
    RIGHTLY_REFUSED: "Rightly refused",
    SHOULD_REFUSE: "Should have refused",
}
FORGOTTEN_USER = "forgotten"  # as bot.review.FORGOTTEN_USER: a moderator who used /forget-me
MAX_QUOTES = 5
PAGE_SIZE = 8


def label(verdict: str, rank: int | None = None) -> str:
    """A verdict in words, e.g. 'Quote 2 answered'."""
    return LABELS.get(verdict, verdict).format(rank=rank or "?")


def _one(db: Any, sql: str, params: list[Any]) -> dict[str, Any] | None:
    rows = fetch(db, sql, params)
    return rows[0] if rows else None


def previous_turn(db: Any, row: dict[str, Any]) -> dict[str, Any] | None:
    """The earlier question a follow-up continued (skipping More pages), or None."""
    parent_id, seen = row.get("parent_id"), {row["id"]}
    while parent_id is not None and parent_id not in seen:
        seen.add(parent_id)
        parent = _one(db, "SELECT id, command, question, user_id, parent_id FROM interactions WHERE id = ?",
                      [parent_id])
        if parent is None:
            return None
        if parent["command"] in QUESTION_COMMANDS and parent["question"]:
            return parent
        parent_id = parent["parent_id"]
    return None


def answer(db: Any, guild: Any, row_id: int) -> dict[str, Any] | None:
    """A judgeable answer of this server: its row, the quotes shown (with bold offsets) and the earlier question."""
    clause, params = guild_clause(guild)
    row = _one(
        db,
        f"""SELECT i.id, i.guild_id, i.user_id, i.command, i.question, i.parent_id, i.status, i.abstained,
                   i.quote_count, i.created_at FROM interactions i
            WHERE i.id = ? AND {clause} AND i.command IN ({", ".join("?" * len(QUESTION_COMMANDS))})
            AND i.status = 'ok' AND i.question IS NOT NULL""",
        [int(row_id), *params, *QUESTION_COMMANDS],
    )
    if row is None:
        return None
    row["quotes"] = fetch(
        db,
        """SELECT rank, article_id, passage_id, title, text, highlight_start, highlight_end FROM interaction_quotes
           WHERE interaction_id = ? ORDER BY rank""",
        [row["id"]],
    )
    earlier = previous_turn(db, row) if row["parent_id"] is not None else None  # a follow-up, or a reply mention
    row["previous"] = earlier["question"] if earlier else None
    row["previous_asker_id"] = earlier["user_id"] if earlier else None
    return row


def allowed(row: dict[str, Any]) -> list[tuple[str, int | None]]:
    """The verdicts that make sense for an answer: quotes and 'should have refused', or 'rightly refused'."""
    choices: list[tuple[str, int | None]] = []
    if row["abstained"]:
        return [(SAID, None), (RIGHTLY_REFUSED, None)]
    choices += [(QUOTE, q["rank"]) for q in row["quotes"][:MAX_QUOTES]]
    return choices + [(SAID, None), (SHOULD_REFUSE, None)]


def quote_snapshot(quotes: list[dict[str, Any]]) -> str:
    """The quotes shown, as the judgement keeps them (they outlive the log's rows when kept for training)."""
    return json.dumps(
        [{"rank": q["rank"], "article_id": q["article_id"], "passage_id": q["passage_id"], "title": q["title"],
          "text": q["text"], "highlight": [q["highlight_start"], q["highlight_end"]]
          if q.get("highlight_start") is not None else None} for q in quotes],
        ensure_ascii=False, separators=(",", ":"),
    )


@dataclass(frozen=True)
class Verdict:
    """What a moderator said about an answer."""

    verdict: str
    rank: int | None = None
    sentence: str | None = None  # the article's sentence (verdict SAID)
    article_id: str | None = None
    source: str | None = None  # the article's delivered file name


def judge(db: Any, guild: Any, row_id: int, moderator: str, verdict: Verdict, *, now: str | None = None) -> str:
    """Store (or replace) one moderator's judgement of an answer: 'new', 'changed', 'same', 'missing' or 'invalid'."""
    conn = connection(db)
    row = answer(db, guild, row_id)
    if row is None:
        return "missing"
    if (verdict.verdict, verdict.rank) not in allowed(row) or (verdict.verdict == SAID and not verdict.sentence):
        return "invalid"
    old = _one(db, "SELECT verdict, quote_rank, sentence FROM judgements WHERE interaction_id = ? AND moderator_id = ?",
               [row["id"], moderator])
    if old is not None and (old["verdict"], old["quote_rank"], old["sentence"]) == (
            verdict.verdict, verdict.rank, verdict.sentence):
        return "same"
    stamp = now or iso(utc_now())
    conn.execute(
        """INSERT INTO judgements (interaction_id, guild_id, moderator_id, asker_id, previous_asker_id, question,
               previous, abstained, quotes, verdict, quote_rank, sentence, article_id, source, asked_at, created_at,
               updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (interaction_id, moderator_id) DO UPDATE SET verdict = excluded.verdict,
               quote_rank = excluded.quote_rank, sentence = excluded.sentence, article_id = excluded.article_id,
               source = excluded.source, quotes = excluded.quotes, updated_at = excluded.updated_at""",
        (row["id"], row["guild_id"], moderator, row["user_id"], row["previous_asker_id"], row["question"],
         row["previous"], int(bool(row["abstained"])), quote_snapshot(row["quotes"]), verdict.verdict, verdict.rank,
         verdict.sentence, verdict.article_id, verdict.source, row["created_at"], stamp, stamp),
    )
    return "new" if old is None else "changed"


def set_keep(db: Any, guild: Any, row_id: int, moderator: str, keep: bool) -> bool:
    """Mark (or unmark) a moderator's judgement 'keep for training'; False when they haven't judged the answer."""
    clause, params = guild_clause(guild, "guild_id")
    cursor = connection(db).execute(
        f"UPDATE judgements SET keep_for_training = ? WHERE interaction_id = ? AND moderator_id = ? AND {clause}",
        [int(keep), int(row_id), moderator, *params],
    )
    return cursor.rowcount > 0


def of_answer(db: Any, guild: Any, row_id: int) -> list[dict[str, Any]]:
    """Every moderator's judgement of one answer, latest first."""
    clause, params = guild_clause(guild, "guild_id")
    return fetch(db, f"SELECT * FROM judgements WHERE interaction_id = ? AND {clause} "
                     "ORDER BY updated_at DESC, id DESC",
                 [int(row_id), *params])


def _filters(guild: Any, params: dict[str, Any]) -> tuple[str, list[Any]]:
    clause, values = guild_clause(guild, "guild_id")
    parts = [clause]
    if params.get("user") == FORGOTTEN_USER:
        parts.append("0")  # a look-up of a moderator who has since used /forget-me shows nothing
    elif params.get("user"):
        parts.append("moderator_id = ?")
        values.append(params["user"])
    verdict = params.get("verdict")
    if verdict == "correct":
        parts.append(f"verdict IN {CORRECT}")
    elif verdict == "wrong":
        parts.append(f"verdict NOT IN {CORRECT}")
    elif verdict in VERDICTS:
        parts.append("verdict = ?")
        values.append(verdict)
    if params.get("until"):
        parts.append("created_at <= ?")
        values.append(params["until"])
    return " AND ".join(parts), values


def listing(db: Any, guild: Any, params: dict[str, Any], *, page: int = 0) -> Page:
    """One page of a server's judgements (filters: moderator, verdict), latest first."""
    where, values = _filters(guild, params)
    total = int(connection(db).execute(f"SELECT COUNT(*) FROM judgements WHERE {where}", values).fetchone()[0])
    pages = max(1, -(-total // PAGE_SIZE))
    number = max(0, min(int(page), pages - 1))
    items = fetch(db, f"SELECT * FROM judgements WHERE {where} ORDER BY updated_at DESC, id DESC LIMIT ? OFFSET ?",
                  [*values, PAGE_SIZE, number * PAGE_SIZE])
    return Page("judged", items, number, PAGE_SIZE, total)


@dataclass(frozen=True)
class Tally:
    """How many answers of a server were judged, and how many of those the bot got right."""

    answers: int
    judgements: int
    correct: int  # answers whose latest judgement says the bot was right

    @property
    def share_correct(self) -> float | None:
        """Correct answers ÷ judged answers."""
        return self.correct / self.answers if self.answers else None


def tally(db: Any, guild: Any, *, since: str | None = None) -> Tally:
    """Judged answers and the share correct (each answer counted once, by its latest judgement)."""
    clause, values = guild_clause(guild, "guild_id")
    if since:
        clause += " AND updated_at >= ?"
        values.append(since)
    rows = fetch(db, f"SELECT id, interaction_id, verdict FROM judgements WHERE {clause} ORDER BY updated_at, id",
                 values)
    latest = {r["interaction_id"] if r["interaction_id"] is not None else -r["id"]: r["verdict"] for r in rows}
    return Tally(len(latest), len(rows), sum(v in CORRECT for v in latest.values()))


def forget(conn: sqlite3.Connection, scope: str, scope_params: list[Any], user: str) -> tuple[int, int]:
    """For forget-me: delete judgements of the member's questions (kept or not) and unname them as a moderator."""
    # A judgement keeps a copy of the question and of the earlier question of a follow-up: both go when either
    # asker asks to be forgotten. Their own verdicts as a moderator stay, naming FORGOTTEN_USER.
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'judgements'").fetchone():
        return 0, 0
    deleted = conn.execute(
        f"DELETE FROM judgements WHERE {scope} AND (asker_id = ? OR previous_asker_id = ?)",
        [*scope_params, user, user],
    ).rowcount
    unnamed = conn.execute(
        f"UPDATE OR REPLACE judgements SET moderator_id = ? WHERE {scope} AND moderator_id = ?",
        [FORGOTTEN_USER, *scope_params, user],
    ).rowcount
    return deleted, unnamed


def purge(conn: sqlite3.Connection, doomed: str) -> tuple[int, int]:
    """For retention: drop judgements of the doomed interactions unless kept; kept ones lose every user id."""
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'judgements'").fetchone():
        return 0, 0
    deleted = conn.execute(
        f"DELETE FROM judgements WHERE keep_for_training = 0 AND interaction_id IN ({doomed})"
    ).rowcount
    kept = conn.execute(
        f"""UPDATE judgements SET interaction_id = NULL, moderator_id = NULL, asker_id = NULL,
            previous_asker_id = NULL WHERE interaction_id IN ({doomed})"""
    ).rowcount
    return deleted, kept
