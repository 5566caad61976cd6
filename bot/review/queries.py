"""Moderator queries over the interaction log; each is limited to one server unless the caller passes ALL_GUILDS."""

from __future__ import annotations

import math
import re
import sqlite3
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

QUESTION_COMMANDS = ("ask", "followup", "find-quotes", "mention")
TURNED_AWAY = ("refused", "rate_limited", "invalid")
FAILED = ("error", "interrupted")
PAGE_SIZES = {"recent": 10, "search": 10, "unanswered": 12, "unhelpful": 3}
KINDS = tuple(PAGE_SIZES)
RECENT_DEFAULT, RECENT_MAX = 20, 100
BUSIEST_CHANNELS = 5


class AllGuilds:
    """Marker for an explicit read of every server's rows (the operator's CLI, never Discord)."""

    def __repr__(self) -> str:
        return "ALL_GUILDS"


ALL_GUILDS = AllGuilds()


def connection(db: Any) -> sqlite3.Connection:
    """The sqlite3 connection behind a sqlite_utils.Database (or the connection itself)."""
    return getattr(db, "conn", db)


def fetch(db: Any, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
    """Run a query and return its rows as dicts, whatever the connection's row factory."""
    cursor = connection(db).execute(sql, list(params))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def guild_clause(guild: Any, column: str = "i.guild_id") -> tuple[str, list[Any]]:
    """SQL limiting rows to one server; refuses a missing guild so no query can leak across servers by accident."""
    if isinstance(guild, AllGuilds):
        return "1 = 1", []
    if guild is None or isinstance(guild, bool) or not str(guild).isdigit():
        raise ValueError(f"a review query must name the server it is limited to, got {guild!r}")
    return f"{column} = ?", [str(guild)]


def fts_query(text: str) -> str:
    """The words of text as an FTS5 query that matches rows holding all of them (operators are never passed through)."""
    return " ".join(f'"{word}"' for word in re.findall(r"\w+", text.lower())[:20])


def normalise(question: str) -> str:
    """Key for grouping rewordings that differ only in case, punctuation or spacing."""
    return " ".join(re.sub(r"[^\w\s]", " ", question.casefold()).split())


@dataclass(frozen=True)
class Filters:
    """Which log rows to read: a server (required), and optional person, channel, time range and kind."""

    guild: Any
    user: str | None = None  # the stored user key (raw id, or anon:… when anonymised)
    user_name: str | None = None
    channel: str | None = None
    since: str | None = None  # log timestamps, [since, until)
    until: str | None = None
    before_id: int | None = None  # only rows older than this one (stable pages)
    search: str | None = None
    unanswered: bool = False
    unhelpful: bool = False
    commands: tuple[str, ...] = QUESTION_COMMANDS  # empty: every command

    def where(self) -> tuple[str, list[Any]]:
        """The WHERE clause (over alias i) and its parameters."""
        clause, params = guild_clause(self.guild)
        parts = [clause]

        def add(sql: str, *values: Any) -> None:
            parts.append(sql)
            params.extend(values)

        if self.commands:
            add(f"i.command IN ({', '.join('?' * len(self.commands))})", *self.commands)
        if self.user:
            add("i.user_id = ?", self.user)
        if self.user_name:
            add("i.user_name = ? COLLATE NOCASE", self.user_name)
        if self.channel:
            add("i.channel_id = ?", str(self.channel))
        if self.since:
            add("i.created_at >= ?", self.since)
        if self.until:
            add("i.created_at < ?", self.until)
        if self.before_id is not None:
            add("i.id < ?", int(self.before_id))
        if self.unanswered:
            add("i.status = 'ok' AND i.abstained = 1")
        if self.unhelpful:
            add("EXISTS (SELECT 1 FROM feedback f WHERE f.interaction_id = i.id AND f.vote = -1)")
        if self.search is not None:
            query = fts_query(self.search)
            if query:
                add("i.id IN (SELECT rowid FROM interactions_fts WHERE interactions_fts MATCH ?)", query)
            else:
                add("0")
        return " AND ".join(parts), params


ENTRY_COLUMNS = """i.id, i.created_at, i.guild_id, i.channel_id, i.user_id, i.user_name, i.command, i.question,
    i.argument, i.status, i.abstained, i.reason, i.quote_count, i.latency_ms, i.error, i.conversation_id,
    i.parent_id, i.message_id,
    (SELECT COUNT(*) FROM feedback f WHERE f.interaction_id = i.id AND f.vote = 1) AS up,
    (SELECT COUNT(*) FROM feedback f WHERE f.interaction_id = i.id AND f.vote = -1) AS down"""
NEWEST_FIRST = "i.created_at DESC, i.id DESC"
OLDEST_FIRST = "i.created_at, i.id"
WORST_FIRST = "down DESC, i.created_at DESC, i.id DESC"


def find(
    db: Any, filters: Filters, *, limit: int | None = None, offset: int = 0, order: str = NEWEST_FIRST
) -> list[dict]:
    """Interaction rows matching filters, with their 👍/👎 counts."""
    where, params = filters.where()
    sql = f"SELECT {ENTRY_COLUMNS} FROM interactions i WHERE {where} ORDER BY {order}"
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params += [int(limit), int(offset)]
    return fetch(db, sql, params)


def count(db: Any, filters: Filters) -> int:
    """How many rows match filters."""
    where, params = filters.where()
    return int(connection(db).execute(f"SELECT COUNT(*) FROM interactions i WHERE {where}", params).fetchone()[0])


def quotes_for(db: Any, ids: Sequence[int]) -> dict[int, list[dict]]:
    """The quotes each interaction showed, best first, keyed by interaction id."""
    found: dict[int, list[dict]] = {int(i): [] for i in ids}
    if not found:
        return found
    marks = ", ".join("?" * len(found))
    for row in fetch(
        db,
        f"""SELECT interaction_id, rank, article_id, passage_id, score, title, text FROM interaction_quotes
            WHERE interaction_id IN ({marks}) ORDER BY interaction_id, rank""",
        list(found),
    ):
        found[row.pop("interaction_id")].append(row)
    return found


@dataclass(frozen=True)
class Gap:
    """One question the articles did not cover, with its rewordings counted together."""

    question: str  # the latest wording
    times: int
    askers: int
    first_asked: str
    last_asked: str
    ids: tuple[int, ...]  # newest first


def unanswered(db: Any, filters: Filters) -> list[Gap]:
    """Abstentions grouped by question, most frequent first (ties: most recent first)."""
    groups: dict[str, list[dict]] = {}
    for row in find(db, replace(filters, unanswered=True), order=NEWEST_FIRST):
        if row["question"]:
            groups.setdefault(normalise(row["question"]), []).append(row)
    gaps = [
        Gap(
            question=rows[0]["question"],
            times=len(rows),
            askers=len({r["user_id"] for r in rows}),
            first_asked=rows[-1]["created_at"],
            last_asked=rows[0]["created_at"],
            ids=tuple(r["id"] for r in rows),
        )
        for rows in groups.values()
    ]
    gaps.sort(key=lambda g: (g.last_asked, g.ids[0]), reverse=True)
    gaps.sort(key=lambda g: g.times, reverse=True)  # stable: equal counts stay most recent first
    return gaps


@dataclass(frozen=True)
class Page:
    """One page of a listing: its items, which page it is, and how many there are in all."""

    kind: str
    items: list
    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        """Number of pages (at least one, even when empty)."""
        return max(1, math.ceil(self.total / self.size))

    @property
    def offset(self) -> int:
        """Position of the page's first item in the whole listing."""
        return self.number * self.size


def listing_filters(guild: Any, params: dict[str, Any], *, before_id: int | None = None) -> Filters:
    """Filters for a stored /review listing (params as kept in its audit row)."""
    kind = params.get("sub")
    if kind not in KINDS:
        raise ValueError(f"not a listing: {kind!r}")
    return Filters(
        guild,
        user=params.get("user"),
        channel=params.get("channel"),
        since=params.get("since"),
        until=params.get("until"),
        before_id=before_id,
        search=params.get("text", "") if kind == "search" else None,
        unanswered=kind == "unanswered",
        unhelpful=kind == "unhelpful",
    )


def listing(db: Any, guild: Any, params: dict[str, Any], *, page: int = 0, before_id: int | None = None) -> Page:
    """One page of recent / search / unanswered / unhelpful for one server."""
    kind = params.get("sub")
    filters = listing_filters(guild, params, before_id=before_id)
    size = PAGE_SIZES[kind]
    if kind == "unanswered":
        gaps = unanswered(db, filters)
        number = _clamp(page, len(gaps), size)
        return Page(kind, gaps[number * size:(number + 1) * size], number, size, len(gaps))
    total = count(db, filters)
    if kind == "recent":
        total = min(total, int(params.get("limit") or RECENT_DEFAULT), RECENT_MAX)
    number = _clamp(page, total, size)
    wanted = min(size, total - number * size)
    order = WORST_FIRST if kind == "unhelpful" else NEWEST_FIRST
    items = find(db, filters, limit=wanted, offset=number * size, order=order) if wanted > 0 else []
    if kind == "unhelpful":
        quotes = quotes_for(db, [row["id"] for row in items])
        items = [row | {"quotes": quotes[row["id"]]} for row in items]
    return Page(kind, items, number, size, total)


def _clamp(page: int, total: int, size: int) -> int:
    return max(0, min(int(page), max(0, math.ceil(total / size) - 1)))


@dataclass(frozen=True)
class Stats:
    """How the bot did in one server over a period."""

    since: str | None
    until: str | None
    questions: int
    answered: int
    abstained: int
    failed: int
    turned_away: int
    askers: int
    follow_ups: int
    more_pages: int
    up: int
    down: int
    median_ms: int | None
    p95_ms: int | None
    channels: tuple[tuple[str | None, int], ...]
    refused_reviews: int

    @property
    def answer_rate(self) -> float | None:
        """Share of handled questions answered with quotes (the rest: the articles didn't cover them)."""
        handled = self.answered + self.abstained
        return self.answered / handled if handled else None


def percentile(values: Sequence[float], percent: float) -> float | None:
    """Nearest-rank percentile of sorted values (None when empty)."""
    if not values:
        return None
    return values[max(0, math.ceil(percent / 100 * len(values)) - 1)]


def stats(db: Any, guild: Any, *, since: str | None = None, until: str | None = None) -> Stats:
    """Questions, answer rate, votes, latency, busiest channels and refused /review attempts in one server."""
    questions = Filters(guild, since=since, until=until)
    where, params = questions.where()
    totals = fetch(
        db,
        f"""SELECT COUNT(*) AS questions,
                COALESCE(SUM(i.status = 'ok' AND i.abstained = 0), 0) AS answered,
                COALESCE(SUM(i.status = 'ok' AND i.abstained = 1), 0) AS abstained,
                COALESCE(SUM(i.status IN {FAILED}), 0) AS failed,
                COALESCE(SUM(i.status IN {TURNED_AWAY}), 0) AS turned_away,
                COUNT(DISTINCT i.user_id) AS askers,
                COALESCE(SUM(i.command = 'followup'), 0) AS follow_ups
            FROM interactions i WHERE {where} AND i.status != 'pending'""",
        params,
    )[0]
    latencies = [
        row[0]
        for row in connection(db).execute(
            f"SELECT i.latency_ms FROM interactions i WHERE {where} AND i.status = 'ok' AND i.latency_ms IS NOT NULL "
            "ORDER BY i.latency_ms",
            params,
        )
    ]
    channels = connection(db).execute(
        f"""SELECT i.channel_id, COUNT(*) AS n FROM interactions i WHERE {where} AND i.status != 'pending'
            GROUP BY i.channel_id ORDER BY n DESC, i.channel_id LIMIT {BUSIEST_CHANNELS}""",
        params,
    ).fetchall()
    every_where, every_params = replace(questions, commands=()).where()
    up, down = connection(db).execute(
        f"""SELECT COALESCE(SUM(f.vote = 1), 0), COALESCE(SUM(f.vote = -1), 0)
            FROM feedback f JOIN interactions i ON i.id = f.interaction_id WHERE {every_where}""",
        every_params,
    ).fetchone()
    more_where, more_params = replace(questions, commands=("more",)).where()
    review_where, review_params = replace(questions, commands=("review",)).where()
    return Stats(
        since=since,
        until=until,
        **{k: int(v) for k, v in totals.items()},
        more_pages=_scalar(
            db, f"SELECT COUNT(*) FROM interactions i WHERE {more_where} AND i.status = 'ok'", more_params
        ),
        up=int(up),
        down=int(down),
        median_ms=None if not latencies else round(statistics.median(latencies)),
        p95_ms=percentile(latencies, 95),
        channels=tuple((c, int(n)) for c, n in channels),
        refused_reviews=_scalar(
            db, f"SELECT COUNT(*) FROM interactions i WHERE {review_where} AND i.status = 'refused'", review_params
        ),
    )


def _scalar(db: Any, sql: str, params: list[Any]) -> int:
    return int(connection(db).execute(sql, params).fetchone()[0])
