"""A sample interaction log for the review tests, written through the bot's own InteractionLog (and checked here)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any


from bot.config import Settings
from bot.log import InteractionLog, Who
from knowledge.models import Answer, Quote

PUTIN = "Why did Putin go to Beijing?"
TAIWAN = "What did Xi say about Taiwan?"
OIL = "How much oil does Russia sell to China?"
SUPER_BOWL = "Who won the Super Bowl?"
HALFTIME = "And who played the halftime show?"
SECRET_B = "What about zanzibar-only-in-server-b?"


@dataclass
class Server:
    """One server of the sample: its id, two channels and its members' Discord ids by name."""

    guild: int
    channels: tuple[int, int]
    users: dict[str, int]


@dataclass
class Filled:
    """Row ids of the sample, by name, and where it lives."""

    path: Path
    ids: dict[str, int] = field(default_factory=dict)
    start: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


class Clock:
    """A settable clock so rows get chosen times."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def quote(article: str, n: int, score: float = 0.8) -> Quote:
    """A quote as the engine would return it."""
    text = f"Passage {n} of {article}: the leaders met in Beijing and talked about oil, Taiwan and trade."
    return Quote(passage_id=f"{article}#{n}", article_id=article, title=f"Title of {article}", outlet="Outlet",
                 author="", date="2025-01-01", url="", text=text, start=0, end=len(text), highlight=(0, 10),
                 score=score)


def sample_servers() -> tuple[Server, Server]:
    """Two servers with made-up ids (for tests that don't go through the emulator)."""
    a = Server(111111111111111111, (111000000000000001, 111000000000000002), {"alice": 1001, "bob": 1002})
    b = Server(222222222222222222, (222000000000000001, 222000000000000002), {"carol": 2001})
    return a, b


def fill(
    path: Path, a: Server, b: Server, *, start: datetime | None = None, anonymize_key: str | None = None
) -> Filled:
    """Write the sample: answers, abstentions (two wordings of one), votes, a More page, an error, one per minute."""
    start = start or datetime.now(timezone.utc) - timedelta(days=2)
    clock = Clock(start)
    log = InteractionLog(path, anonymize_key=anonymize_key, clock=clock)
    filled = Filled(path, start=start)

    def who(server: Server, name: str, channel: int = 0) -> Who:
        return Who(server.guild, server.channels[channel], server.users[name], name.title())

    def row(name: str, server: Server, user: str, command: str, question: str | None, *, channel: int = 0,
            quotes: tuple = (), latency: int = 500, status: str = "ok", parent: str | None = None) -> int:
        clock.now += timedelta(minutes=1)
        parent_id = filled.ids[parent] if parent else None
        row_id = log.begin(who(server, user, channel), command, question=question, parent_id=parent_id)
        log.finish(row_id, status=status, quotes=quotes, abstained=None if status != "ok" else not quotes,
                   latency_ms=latency, error="boom" if status == "error" else None,
                   reason=NOT_COVERED if status == "ok" and not quotes else None)
        filled.ids[name] = row_id
        return row_id

    row("a_putin", a, "alice", "ask", PUTIN, quotes=(quote("putin", 1), quote("putin", 2), quote("xi", 3)), latency=400)
    row("a_taiwan", a, "bob", "ask", TAIWAN, channel=1, quotes=(quote("xi", 4), quote("xi", 5)), latency=800)
    row("a_bowl_1", a, "alice", "ask", SUPER_BOWL, latency=300)
    row("a_bowl_2", a, "bob", "ask", "who won the super bowl", latency=350)
    row("a_halftime", a, "alice", "followup", HALFTIME, parent="a_bowl_1", latency=320)
    row("a_more", a, "bob", "more", PUTIN, parent="a_putin", quotes=(quote("putin", 6),), latency=200)
    row("a_oil", a, "alice", "ask", OIL, channel=1, quotes=(quote("oil", 7),), latency=1200)
    row("a_error", a, "alice", "ask", "Does this crash?", status="error", latency=50)
    row("b_putin", b, "carol", "ask", PUTIN, quotes=(quote("putin", 1),), latency=600)
    row("b_bowl", b, "carol", "ask", SUPER_BOWL, latency=310)
    row("b_secret", b, "carol", "ask", SECRET_B, quotes=(quote("putin", 9),), latency=700)
    clock.now += timedelta(minutes=1)
    log.vote(filled.ids["a_putin"], who(a, "bob"), 1)
    log.vote(filled.ids["a_taiwan"], who(a, "alice", 1), -1)
    log.vote(filled.ids["a_taiwan"], who(a, "bob", 1), -1)
    log.vote(filled.ids["a_oil"], who(a, "bob", 1), -1)
    log.vote(filled.ids["a_oil"], who(a, "alice", 1), 1)
    log.vote(filled.ids["b_putin"], who(b, "carol"), -1)
    log.vote(filled.ids["b_secret"], who(b, "carol"), -1)
    log.close()
    return filled


NOT_COVERED = "The articles never mention the Super Bowl."


class StubEngine:
    """Answers questions naming Putin with quotes and abstains on the rest (review tests need no model)."""

    articles: tuple = ()

    def passages_for(self, article_id: str) -> tuple:
        """No passages."""
        return ()

    def ask(self, question: str, previous=(), exclude=(), limit: int = 3) -> Answer:
        """A deterministic answer."""
        if "putin" not in question.lower():
            return Answer(question, abstained=True, reason="no passage is relevant enough")
        quotes = tuple(q for q in (quote("putin", 1), quote("putin", 2)) if q.passage_id not in exclude)[:limit]
        return Answer(question, quotes=quotes, abstained=not quotes, reason="" if quotes else "nothing more")


@contextlib.asynccontextmanager
async def review_bot(emulator, settings: Settings, *, also_sync: Iterable[str] = ()) -> AsyncIterator:
    """A QuoteBot (with a stub engine) connected to the emulator and synced to the given servers too."""
    from bot.client import QuoteBot
    from tests.discord_emulator import connected_client

    async with connected_client(QuoteBot(settings, engine=StubEngine()), emulator) as client:
        for guild in also_sync:
            await client.sync_to_guild(int(guild))
        yield client


def server_of(guild, users: dict[str, int | str]) -> Server:
    """A sample Server for an emulator guild (its first two channels) and some of its members."""
    channels = [int(c) for c in list(guild.channels)[:2]]
    return Server(int(guild.id), (channels[0], channels[-1]), {name: int(uid) for name, uid in users.items()})


def table(path: Path, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
    """Rows of a query, read with a fresh connection."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def test_the_sample_has_both_servers_and_the_votes_the_other_tests_assume(tmp_path: Path) -> None:
    a, b = sample_servers()
    filled = fill(tmp_path / "interactions.db", a, b)
    counts = table(filled.path, "SELECT guild_id, COUNT(*) n FROM interactions GROUP BY 1")
    per_guild = {r["guild_id"]: r["n"] for r in counts}
    assert per_guild == {str(a.guild): 8, str(b.guild): 3}
    downs = table(filled.path, "SELECT interaction_id, COUNT(*) n FROM feedback WHERE vote = -1 GROUP BY 1 ORDER BY 1")
    assert [(d["interaction_id"], d["n"]) for d in downs] == [
        (filled.ids["a_taiwan"], 2), (filled.ids["a_oil"], 1), (filled.ids["b_putin"], 1), (filled.ids["b_secret"], 1)]
