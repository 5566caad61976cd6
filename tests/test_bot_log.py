"""The interaction log: migrations, rows, conversations, votes, FTS, anonymisation, and failing databases."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.client import UserCooldown
from bot.log import MIGRATIONS, AsyncLog, InteractionLog, Who
from knowledge.models import Quote, Turn

ALICE = Who(guild_id=1, channel_id=10, user_id=100, user_name="Alice")
BOB = Who(guild_id=1, channel_id=10, user_id=200, user_name="Bob")


def quote(passage_id: str, score: float = 1.0) -> Quote:
    article = passage_id.split("#")[0]
    return Quote(passage_id=passage_id, article_id=article, title="T", outlet="O", author="", date="", url="",
                 text=f"text of {passage_id}", start=0, end=10, highlight=(0, 4), score=score)


class Clock:
    """A settable clock for idle-expiry tests."""

    def __init__(self) -> None:
        self.now = datetime(2025, 1, 1, 12, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def log(tmp_path: Path, clock: Clock):
    store = InteractionLog(tmp_path / "log.db", clock=clock)
    yield store
    store.close()


def test_migrations_apply_once_and_are_recorded(tmp_path: Path) -> None:
    first = InteractionLog(tmp_path / "log.db")
    names = ["m001_create_tables", "m002_questions_fts", "m010_zero_free_space"]
    assert first.migrations_applied == [m.__name__ for m in MIGRATIONS]
    assert first.migrations_applied[:3] == names
    assert "m030_judgements" in first.migrations_applied
    first.close()
    again = InteractionLog(tmp_path / "log.db")
    assert again.migrations_applied == []
    assert [r["name"] for r in again.db["_migrations"].rows] == [m.__name__ for m in MIGRATIONS]
    tables = {"interactions", "interaction_quotes", "feedback", "conversations", "interactions_fts"}
    assert tables <= set(again.db.table_names())
    assert again.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    again.close()


def test_an_answer_is_one_row_with_its_quotes_and_is_searchable(log: InteractionLog) -> None:
    row = log.begin(ALICE, "ask", question="Why did Putin visit Beijing?", discord_interaction_id=555)
    assert log.interaction(row)["status"] == "pending"
    quotes = [quote("a#1", 0.9), quote("b#2", 0.5)]
    log.finish(row, status="ok", quotes=quotes, abstained=False, latency_ms=42, message_id=777)
    saved = log.interaction(row)
    assert saved["guild_id"] == "1" and saved["channel_id"] == "10" and saved["user_id"] == "100"
    assert saved["user_name"] == "Alice" and saved["command"] == "ask" and saved["status"] == "ok"
    assert (saved["abstained"], saved["quote_count"], saved["latency_ms"], saved["message_id"]) == (0, 2, 42, "777")
    assert saved["created_at"] == "2025-01-01T12:00:00.000Z"
    assert [(q["rank"], q["passage_id"], q["score"]) for q in log.quotes(row)] == [(1, "a#1", 0.9), (2, "b#2", 0.5)]
    hits = list(log.db["interactions"].search("beijing"))
    assert [h["id"] for h in hits] == [row]
    log.db.execute("DELETE FROM interactions WHERE id = ?", [row])
    assert list(log.db["interactions"].search("beijing")) == []
    assert log.quotes(row) == []  # cascaded


def test_follow_ups_chain_turns_and_more_pages_are_excluded_next_time(log: InteractionLog) -> None:
    first = log.begin(ALICE, "ask", question="Q1")
    log.finish(first, status="ok", quotes=[quote("a#1"), quote("a#2")])
    more = log.begin(BOB, "more", question="Q1", parent_id=first)
    log.finish(more, status="ok", quotes=[quote("a#3")])
    assert log.shown_passages(first) == ["a#1", "a#2", "a#3"]
    second = log.begin(ALICE, "followup", question="Q2", parent_id=first)
    log.finish(second, status="ok", quotes=[quote("b#1")])
    assert log.turns(second) == [Turn("Q1", ("a#1", "a#2", "a#3")), Turn("Q2", ("b#1",))]
    assert log.interaction(second)["conversation_id"] == log.interaction(first)["conversation_id"]
    assert log.interaction(more)["conversation_id"] == log.interaction(first)["conversation_id"]
    conversation = log.latest_conversation(ALICE)
    assert conversation["last_interaction_id"] == second and conversation["turns"] == 2
    assert log.latest_conversation(BOB) is None  # More doesn't start a conversation for Bob


def test_someone_elses_follow_up_branches_into_their_own_conversation(log: InteractionLog) -> None:
    first = log.begin(ALICE, "ask", question="Q1")
    branch = log.begin(BOB, "followup", question="Bob's", parent_id=first)
    assert log.interaction(branch)["conversation_id"] != log.interaction(first)["conversation_id"]
    assert [t.question for t in log.turns(branch)] == ["Q1", "Bob's"]
    assert log.latest_conversation(BOB)["last_interaction_id"] == branch
    assert log.latest_conversation(ALICE)["last_interaction_id"] == first


def test_conversations_are_per_channel_and_go_idle(log: InteractionLog, clock: Clock) -> None:
    log.begin(ALICE, "ask", question="Q1")
    elsewhere = Who(1, 11, 100, "Alice")
    assert log.latest_conversation(elsewhere) is None
    conversation = log.latest_conversation(ALICE)
    assert not log.is_idle(conversation, timedelta(minutes=30))
    clock.now += timedelta(minutes=31)
    assert log.is_idle(conversation, timedelta(minutes=30))


def test_one_vote_per_person_and_a_revote_changes_it(log: InteractionLog) -> None:
    row = log.begin(ALICE, "ask", question="Q")
    assert log.vote(row, ALICE, 1) == "new"
    assert log.vote(row, ALICE, 1) == "same"
    assert log.vote(row, BOB, 1) == "new"
    assert log.votes(row) == {"up": 2, "down": 0}
    assert log.vote(row, ALICE, -1) == "changed"
    assert log.votes(row) == {"up": 1, "down": 1}
    assert log.vote(9999, ALICE, 1) == "missing"
    assert log.db["feedback"].count == 2


def test_pending_rows_can_be_marked_interrupted(log: InteractionLog) -> None:
    a = log.begin(ALICE, "ask", question="A")
    b = log.begin(ALICE, "ask", question="B")
    assert log.interrupt_pending([a]) == 1
    assert log.interaction(a)["status"] == "interrupted" and log.interaction(b)["status"] == "pending"
    assert log.interrupt_pending() == 1
    with pytest.raises(ValueError):
        log.finish(a, status="bogus")


def test_anonymised_mode_stores_no_raw_ids_but_still_groups_people(tmp_path: Path) -> None:
    store = InteractionLog(tmp_path / "anon.db", anonymize_key="key")
    row = store.begin(ALICE, "ask", question="Q")
    store.vote(row, ALICE, 1)
    saved = store.interaction(row)
    assert saved["user_id"].startswith("anon:") and "100" not in saved["user_id"] and saved["user_name"] is None
    assert store.latest_conversation(ALICE)["user_id"] == saved["user_id"]
    dump = "\n".join(store.db.conn.iterdump())
    assert "Alice" not in dump and "'100'" not in dump
    store.close()


def test_committed_rows_survive_closing_and_reopening(tmp_path: Path) -> None:
    async def scenario() -> int:
        log = AsyncLog(tmp_path / "log.db")
        assert await log.open()
        row = await log.call(lambda s: s.record(ALICE, "ask", status="ok", question="kept?"))
        await log.close()
        assert await log.call(lambda s: s.interaction(row), default="closed") == "closed"
        return row

    row = asyncio.run(scenario())
    reopened = InteractionLog(tmp_path / "log.db")
    assert reopened.interaction(row)["question"] == "kept?"
    reopened.close()


async def test_a_locked_database_is_reported_once_and_never_raises(tmp_path: Path, capsys) -> None:
    log = AsyncLog(tmp_path / "log.db", busy_timeout=0.1)
    assert await log.open()
    blocker = sqlite3.connect(tmp_path / "log.db", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        assert await log.call(lambda s: s.begin(ALICE, "ask", question="Q"), default="fallback") == "fallback"
        assert await log.call(lambda s: s.begin(ALICE, "ask", question="Q"), default="fallback") == "fallback"
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    err = capsys.readouterr().err
    assert err.count("interaction log: cannot write") == 1 and "locked" in err
    log.retry_after_seconds = 0
    row = await log.call(lambda s: s.begin(ALICE, "ask", question="Q"))
    assert isinstance(row, int)
    await log.close()


async def test_an_unopenable_database_gives_defaults(tmp_path: Path, capsys) -> None:
    log = AsyncLog(tmp_path)  # a directory, not a database file
    assert not await log.open()
    assert await log.call(lambda s: s.turns(1), default=[]) == []
    assert "interaction log: cannot write" in capsys.readouterr().err
    await log.close()


def test_user_cooldown_allows_rate_per_window() -> None:
    now = [0.0]
    cooldown = UserCooldown(2, 10.0, clock=lambda: now[0])
    assert cooldown.hit(1) == 0 and cooldown.hit(1) == 0
    assert cooldown.hit(1) == pytest.approx(10.0)
    assert cooldown.hit(2) == 0
    now[0] = 10.0
    assert cooldown.hit(1) == 0
    assert UserCooldown(0, 10.0).hit(1) == 0
