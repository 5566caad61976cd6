"""Retention and forget-me on a real log file: rows, quotes, votes, conversations, FTS and the file's bytes."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot import review
from bot.log import InteractionLog, Who
from tests.test_review_data import Clock, fill, quote, sample_servers, table

A, B = sample_servers()
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)
OLD_WORD = "quokkaphobia"
ALICE_WORD = "wombatology"


def fts_terms(path: Path) -> set[str]:
    """Every term the questions' full-text index still holds."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("CREATE VIRTUAL TABLE temp.terms USING fts5vocab(main, 'interactions_fts', 'row')")
        return {row[0] for row in conn.execute("SELECT term FROM temp.terms")}
    finally:
        conn.close()


def file_bytes(path: Path) -> bytes:
    """The database file and its WAL, as bytes on disk."""
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def aged_log(path: Path) -> tuple[InteractionLog, Clock, dict[str, int]]:
    """A log with one old conversation (a question, a vote, a More page) and one recent question."""
    clock = Clock(NOW - timedelta(days=100))
    log = InteractionLog(path, clock=clock)
    alice, bob = Who(A.guild, A.channels[0], 1001, "Alice"), Who(A.guild, A.channels[0], 1002, "Bob")
    old = log.begin(alice, "ask", question=f"Is {OLD_WORD} in the articles?")
    log.finish(old, status="ok", quotes=[quote("a", 1)], abstained=False)
    log.vote(old, bob, -1)
    more = log.record(bob, "more", status="ok", question=f"Is {OLD_WORD} in the articles?", parent_id=old)
    clock.now = NOW - timedelta(days=1)
    recent = log.record(alice, "ask", status="ok", question="What did Xi say?", abstained=True)
    follow = log.record(bob, "followup", status="ok", question="Anything recent?", parent_id=more, abstained=True)
    return log, clock, {"old": old, "more": more, "recent": recent, "follow": follow}


def test_retention_purges_old_rows_everywhere_and_keeps_recent_ones(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    log, _, made = aged_log(path)
    assert OLD_WORD in fts_terms(path)
    result = review.purge_older_than(log.db, 30, now=NOW)
    assert (result.interactions, result.conversations) == (2, 1)
    assert result.cutoff == "2025-05-02T12:00:00.000Z"
    remaining = table(path, "SELECT id, parent_id, conversation_id FROM interactions ORDER BY id")
    assert [r["id"] for r in remaining] == [made["recent"], made["follow"]]
    assert remaining[1]["parent_id"] is None  # it pointed at the purged More page
    assert table(path, "SELECT * FROM interaction_quotes") == [] and table(path, "SELECT * FROM feedback") == []
    assert len(table(path, "SELECT * FROM conversations")) == 2
    assert list(log.db["interactions"].search(OLD_WORD)) == []
    assert OLD_WORD not in fts_terms(path)
    log.close()
    assert OLD_WORD.encode() not in file_bytes(path)


def test_retention_needs_a_positive_number_of_days(tmp_path: Path) -> None:
    log = InteractionLog(tmp_path / "log.db")
    with pytest.raises(ValueError, match="keep forever"):
        review.purge_older_than(log.db, 0)
    log.close()


def test_forget_me_removes_one_persons_rows_in_one_server_only(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    filled = fill(path, A, B)
    log = InteractionLog(path)
    alice_b = Who(B.guild, B.channels[0], 1001, "Alice")  # alice is in server B too
    in_b = log.record(alice_b, "ask", status="ok", question=f"{ALICE_WORD} in server B?", abstained=True)
    alice_a = Who(A.guild, A.channels[0], 1001, "Alice")
    log.record(alice_a, "ask", status="ok", question=f"{ALICE_WORD}?", abstained=True)
    assert any(t.startswith("wombat") for t in fts_terms(path))

    result = review.forget_user(log.db, A.guild, "1001", now=NOW)
    assert (result.interactions, result.votes, result.conversations, result.kept_pending) == (6, 2, 5, 0)
    assert (result.votes_on_theirs, result.copies, result.total) == (2, 1, 6 + 2 + 2 + 5)  # bob's 👍 and 👎 on hers
    a_rows = table(path, "SELECT * FROM interactions WHERE guild_id = ?", (str(A.guild),))
    assert not [r for r in a_rows if r["user_id"] == "1001"]
    assert not table(path, "SELECT * FROM feedback WHERE user_id = '1001' AND guild_id = ?", (str(A.guild),))
    assert not table(path, "SELECT * FROM conversations WHERE user_id = '1001' AND guild_id = ?", (str(A.guild),))
    gone = [filled.ids[n] for n in ("a_putin", "a_bowl_1", "a_halftime", "a_oil", "a_error")]
    marks = ",".join("?" * len(gone))
    assert not table(path, f"SELECT * FROM interaction_quotes WHERE interaction_id IN ({marks})", tuple(gone))
    assert not table(path, f"SELECT * FROM feedback WHERE interaction_id IN ({marks})", tuple(gone))
    bobs_more = table(path, "SELECT * FROM interactions WHERE id = ?", (filled.ids["a_more"],))[0]
    assert bobs_more["question"] is None and bobs_more["parent_id"] is None  # her question is not kept in his row
    assert [r["id"] for r in table(path, "SELECT id FROM interactions WHERE user_id = '1001'")] == [in_b]
    assert [h["id"] for h in log.db["interactions"].search(ALICE_WORD)] == [in_b]
    assert list(log.db["interactions"].search("oil")) == []
    record = table(path, "SELECT * FROM interactions WHERE command = 'forget-me'")
    assert [(r["user_id"], r["user_name"], r["channel_id"], r["argument"], r["guild_id"]) for r in record] == [
        (review.FORGOTTEN_USER, None, None, str(result.total), str(A.guild))]
    assert len(table(path, "SELECT * FROM interactions WHERE guild_id = ?", (str(B.guild),))) == 4  # untouched
    log.close()
    assert b"How much oil" not in file_bytes(path)


def test_forget_me_keeps_answers_still_being_written_and_says_so(tmp_path: Path) -> None:
    log = InteractionLog(tmp_path / "log.db")
    who = Who(A.guild, A.channels[0], 1001, "Alice")
    pending = log.begin(who, "ask", question="in flight")
    result = review.forget_user(log.db, A.guild, "1001")
    assert (result.interactions, result.kept_pending) == (0, 1)
    log.finish(pending, status="ok", quotes=[quote("a", 1)], abstained=False)  # still works afterwards
    assert review.forget_user(log.db, A.guild, "1001", record=False).interactions == 1
    log.close()


def test_anonymised_logs_hold_no_raw_ids_or_names_yet_group_by_person(tmp_path: Path) -> None:
    path = tmp_path / "anon.db"
    key = "a-long-random-secret-key"
    filled = fill(path, A, B, anonymize_key=key)
    dump = "\n".join(sqlite3.connect(path).iterdump())
    for raw in ("1001", "1002", "2001", "Alice", "Bob", "Carol"):
        assert f"'{raw}'" not in dump, raw
    alice = review.user_key(1001, key)
    conn = sqlite3.connect(path)
    assert [r["id"] for r in review.listing(conn, A.guild, {"sub": "recent", "user": alice}).items] == [
        filled.ids[n] for n in ("a_error", "a_oil", "a_halftime", "a_bowl_1", "a_putin")]
    assert review.stats(conn, A.guild).askers == 2
    assert review.listing(conn, A.guild, {"sub": "unanswered"}).items[0].askers == 2
    assert review.forget_user(conn, A.guild, alice).interactions == 5
    conn.close()


def test_the_log_zeroes_what_it_deletes_or_rewrites_from_the_start(tmp_path: Path) -> None:
    log = InteractionLog(tmp_path / "log.db")
    assert log.db.conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
    log.close()


def test_an_older_file_is_vacuumed_once_so_text_deleted_without_secure_delete_goes(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    log = InteractionLog(path)
    row = log.record(Who(A.guild, A.channels[0], 1001, "Alice"), "ask", status="ok", reason=f"no {OLD_WORD} here")
    log.close()
    old = sqlite3.connect(path)  # as an older version (or a build with secure_delete off by default) deleted
    old.execute("PRAGMA secure_delete = OFF")
    old.execute("DELETE FROM interactions WHERE id = ?", (row,))
    old.execute("DELETE FROM _migrations WHERE name = 'm010_zero_free_space'")
    old.commit()
    old.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    old.close()
    assert OLD_WORD.encode() in file_bytes(path)  # the deleted row's bytes are still in the file

    again = InteractionLog(path)
    assert again.migrations_applied == ["m010_zero_free_space"]
    assert OLD_WORD.encode() not in file_bytes(path)
    again.close()


def lookup(user: str | None, **more: object) -> str:
    """A /review's argument as the cog stores it."""
    return json.dumps({"sub": "recent", "limit": 100, "user": user, "channel": None} | more, separators=(",", ":"))


def test_a_lookup_of_a_forgotten_member_names_nobody_and_a_search_of_their_questions_loses_its_words() -> None:
    assert json.loads(review.forget_lookup(lookup("1001"), "1001")) == {
        "sub": "recent", "limit": 100, "user": review.FORGOTTEN_USER, "channel": None}
    search = review.forget_lookup(lookup("anon:0123456789abcdef01234567", sub="search", text="wombat"),
                                  "anon:0123456789abcdef01234567")
    assert json.loads(search)["text"] == "" and "wombat" not in search and "anon:" not in search
    for other in (lookup("10011"), lookup(None), lookup("1002"), '{"sub":"stats"}', "[1001]", "not json", None):
        assert review.forget_lookup(other, "1001") is None, other


def test_forget_me_takes_the_member_out_of_moderators_lookups_in_that_server_only(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    log = InteractionLog(path)
    moderator_a, moderator_b = Who(A.guild, A.channels[0], 9001, "Mod"), Who(B.guild, B.channels[0], 9002, "Mod B")
    of_alice = log.record(moderator_a, "review", status="ok", argument=lookup("1001"))
    searched = log.record(moderator_a, "review", status="ok",
                          argument=lookup("1001", sub="search", text=f"{ALICE_WORD} beijing"))
    of_bob = log.record(moderator_a, "review", status="ok", argument=lookup("1002"))
    in_b = log.record(moderator_b, "review", status="ok", argument=lookup("1001"))

    result = review.forget_user(log.db, A.guild, "1001", now=NOW)
    assert (result.lookups, result.total) == (2, 0)
    arguments = {r["id"]: json.loads(r["argument"]) for r in table(path, "SELECT id, argument FROM interactions")}
    assert arguments[of_alice]["user"] == arguments[searched]["user"] == review.FORGOTTEN_USER
    assert arguments[searched]["text"] == ""
    assert arguments[of_bob]["user"] == "1002" and arguments[in_b]["user"] == "1001"
    assert review.listing(log.db, A.guild, arguments[searched], before_id=searched).items == []
    log.close()
    assert ALICE_WORD.encode() not in file_bytes(path)
