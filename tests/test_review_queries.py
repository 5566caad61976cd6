"""Pure review queries over a sample log: scoping by server, listings, paging, search, gaps, 👎, stats, periods."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot import review
from bot.log import InteractionLog, Who
from tests.test_review_data import HALFTIME, SECRET_B, SUPER_BOWL, TAIWAN, fill, quote, sample_servers

A, B = sample_servers()
GA, GB = str(A.guild), str(B.guild)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """The sample log, filled once for this module."""
    return fill(tmp_path_factory.mktemp("queries") / "interactions.db", A, B)


@pytest.fixture
def db(sample):
    conn = sqlite3.connect(sample.path)
    yield conn
    conn.close()


def ids(rows) -> list[int]:
    return [r["id"] for r in rows]


def test_every_query_needs_the_server_it_is_limited_to(db) -> None:
    for guild in (None, "", "abc", True):
        with pytest.raises(ValueError, match="must name the server"):
            review.Filters(guild).where()
        with pytest.raises(ValueError):
            review.listing(db, guild, {"sub": "recent"})
        with pytest.raises(ValueError):
            review.stats(db, guild)
        with pytest.raises(ValueError):
            review.export_rows(db, review.Filters(guild, commands=()))
    assert review.count(db, review.Filters(review.ALL_GUILDS, commands=())) == 11


def test_recent_lists_this_servers_questions_newest_first_with_votes(db, sample) -> None:
    page = review.listing(db, GA, {"sub": "recent", "limit": 20})
    names = ["a_error", "a_oil", "a_halftime", "a_bowl_2", "a_bowl_1", "a_taiwan", "a_putin"]
    assert ids(page.items) == [sample.ids[n] for n in names]  # the More press is not a question
    assert {r["guild_id"] for r in page.items} == {GA}
    taiwan = next(r for r in page.items if r["question"] == TAIWAN)
    assert (taiwan["up"], taiwan["down"], taiwan["user_id"], taiwan["user_name"]) == (0, 2, "1002", "Bob")
    in_b = review.listing(db, GB, {"sub": "recent"}).items
    assert ids(in_b) == [sample.ids[n] for n in ("b_secret", "b_bowl", "b_putin")]


def test_recent_filters_by_person_and_channel_and_honours_the_limit(db, sample) -> None:
    bob = review.listing(db, GA, {"sub": "recent", "user": "1002"})
    assert ids(bob.items) == [sample.ids["a_bowl_2"], sample.ids["a_taiwan"]]
    second_channel = review.listing(db, GA, {"sub": "recent", "channel": str(A.channels[1])})
    assert ids(second_channel.items) == [sample.ids["a_oil"], sample.ids["a_taiwan"]]
    assert review.listing(db, GB, {"sub": "recent", "user": "1002"}).items == []  # bob is not in server B
    limited = review.listing(db, GA, {"sub": "recent", "limit": 3})
    assert (limited.total, len(limited.items), limited.pages) == (3, 3, 1)


def test_pages_are_stable_clamped_and_anchored(tmp_path: Path) -> None:
    log = InteractionLog(tmp_path / "log.db")
    who = Who(A.guild, A.channels[0], 1001, "Alice")
    made = [log.record(who, "ask", status="ok", question=f"question number {n}", abstained=True) for n in range(25)]
    log.record(Who(B.guild, B.channels[0], 2001, "Carol"), "ask", status="ok", question="other server", abstained=True)
    params = {"sub": "recent", "limit": 100}
    first = review.listing(log.db, GA, params, before_id=made[-1])  # rows logged after the command stay out
    assert (first.total, first.pages, first.number, len(first.items)) == (24, 3, 0, 10)
    assert ids(first.items) == made[-2:-12:-1]
    last = review.listing(log.db, GA, params, page=2, before_id=made[-1])
    assert (last.number, ids(last.items)) == (2, made[3::-1])
    assert review.listing(log.db, GA, params, page=99, before_id=made[-1]).number == 2
    log.record(who, "ask", status="ok", question="arrives later", abstained=True)
    assert review.listing(log.db, GA, params, page=1, before_id=made[-1]).items == review.listing(
        log.db, GA, params, page=1, before_id=made[-1]).items
    gaps = review.listing(log.db, GA, {"sub": "unanswered"}, page=1)
    assert (gaps.total, gaps.size, len(gaps.items)) == (26, 12, 12)
    log.close()


def test_search_is_full_text_within_the_server_and_never_breaks_on_odd_input(db, sample) -> None:
    found = review.listing(db, GA, {"sub": "search", "text": "beijing putin"})
    assert ids(found.items) == [sample.ids["a_putin"]]
    bowl = review.listing(db, GA, {"sub": "search", "text": "Bowl"}).items
    assert ids(bowl) == [sample.ids["a_bowl_2"], sample.ids["a_bowl_1"]]
    assert review.listing(db, GA, {"sub": "search", "text": "zanzibar"}).items == []
    assert ids(review.listing(db, GB, {"sub": "search", "text": "zanzibar"}).items) == [sample.ids["b_secret"]]
    for odd in ('"', "NEAR(", "putin OR", "*", "AND", "-bowl", "^x", "); DROP TABLE interactions; --", "   "):
        review.listing(db, GA, {"sub": "search", "text": odd})  # no sqlite3.OperationalError
    assert review.listing(db, GA, {"sub": "search", "text": "?!"}).items == []


def test_unanswered_groups_rewordings_most_frequent_first(db, sample) -> None:
    gaps = review.listing(db, GA, {"sub": "unanswered"}).items
    assert [(g.question, g.times, g.askers) for g in gaps] == [("who won the super bowl", 2, 2), (HALFTIME, 1, 1)]
    assert gaps[0].ids == (sample.ids["a_bowl_2"], sample.ids["a_bowl_1"])
    assert [(g.question, g.times) for g in review.listing(db, GB, {"sub": "unanswered"}).items] == [(SUPER_BOWL, 1)]
    later = review.iso(datetime.now(timezone.utc) + timedelta(days=1))
    assert review.listing(db, GA, {"sub": "unanswered", "since": later}).items == []


def test_unhelpful_shows_the_quotes_most_thumbs_down_first(db, sample) -> None:
    items = review.listing(db, GA, {"sub": "unhelpful"}).items
    assert [(r["id"], r["down"], r["up"]) for r in items] == [
        (sample.ids["a_taiwan"], 2, 0), (sample.ids["a_oil"], 1, 1)]
    assert [q["passage_id"] for q in items[0]["quotes"]] == ["xi#4", "xi#5"]
    assert items[0]["quotes"][0]["text"].startswith("Passage 4 of xi")
    in_b = review.listing(db, GB, {"sub": "unhelpful"}).items
    assert [r["question"] for r in in_b] == [SECRET_B, "Why did Putin go to Beijing?"]


def test_stats_count_one_server(db) -> None:
    a = review.stats(db, GA)
    assert (a.questions, a.answered, a.abstained, a.failed, a.turned_away) == (7, 3, 3, 1, 0)
    assert (a.askers, a.follow_ups, a.more_pages, a.up, a.down) == (2, 1, 1, 2, 3)
    assert (a.median_ms, a.p95_ms, a.answer_rate) == (375, 1200, 0.5)  # 300 320 350 | 400 800 1200
    assert a.channels == ((str(A.channels[0]), 5), (str(A.channels[1]), 2))
    b = review.stats(db, GB)
    assert (b.questions, b.answered, b.abstained, b.up, b.down, b.askers) == (3, 2, 1, 0, 2, 1)
    assert b.channels == ((str(B.channels[0]), 3),)
    future = review.stats(db, GA, since=review.iso(datetime.now(timezone.utc) + timedelta(hours=1)))
    assert (future.questions, future.median_ms, future.answer_rate, future.channels) == (0, None, None, ())


def test_stats_count_refused_review_attempts(tmp_path: Path) -> None:
    log = InteractionLog(tmp_path / "log.db")
    log.record(Who(A.guild, A.channels[0], 1001, "Alice"), "review", status="refused", argument='{"sub": "recent"}')
    log.record(Who(B.guild, B.channels[0], 2001, "Carol"), "review", status="refused", argument='{"sub": "recent"}')
    assert review.stats(log.db, GA).refused_reviews == 1
    log.close()


def test_percentile_is_nearest_rank() -> None:
    assert review.queries.percentile([], 95) is None
    assert review.queries.percentile([5], 95) == 5
    assert review.queries.percentile(list(range(1, 101)), 95) == 95
    assert review.queries.percentile(list(range(1, 101)), 50) == 50


def test_periods_read_dates_and_relative_times() -> None:
    now = datetime(2025, 3, 10, 15, 30, tzinfo=timezone.utc)
    assert review.parse_when("7d", now=now) == now - timedelta(days=7)
    assert review.parse_when("12h", now=now) == now - timedelta(hours=12)
    assert review.parse_when("2W", now=now) == now - timedelta(weeks=2)
    assert review.parse_when("2025-03-01", now=now) == datetime(2025, 3, 1, tzinfo=timezone.utc)
    assert review.parse_when("2025-03-01", now=now, end=True) == datetime(2025, 3, 2, tzinfo=timezone.utc)
    assert review.parse_when("all") is None and review.parse_when(None) is None
    assert review.window("2025-03-01", "2025-03-01", now=now) == (
        "2025-03-01T00:00:00.000Z", "2025-03-02T00:00:00.000Z")
    with pytest.raises(review.PeriodError, match="YYYY-MM-DD"):
        review.parse_when("last tuesday")
    with pytest.raises(review.PeriodError, match="before the end"):
        review.window("2025-03-05", "2025-03-01", now=now)


def test_exports_hold_exactly_the_servers_rows_with_their_quotes(db, sample) -> None:
    records = review.export_rows(db, review.Filters(GA, commands=()))
    expected = [dict(zip([c[0] for c in cur.description], r)) for cur in [db.execute(
        "SELECT * FROM interactions WHERE guild_id = ? ORDER BY created_at, id", (GA,))] for r in cur.fetchall()]
    assert [r["id"] for r in records] == [e["id"] for e in expected] and len(records) == 8
    for record, row in zip(records, expected):
        assert list(record) == list(review.EXPORT_COLUMNS)
        assert {k: record[k] for k in record if k in row} == {k: row[k] for k in record if k in row}
    putin = records[0]
    assert [q["passage_id"] for q in putin["quotes"]] == ["putin#1", "putin#2", "xi#3"] and putin["thumbs_up"] == 1
    assert set(putin["quotes"][0]) == {"rank", "article_id", "passage_id", "score", "title"}


def test_csv_cells_cannot_become_spreadsheet_formulas() -> None:
    rows = [{"id": 1, "question": '=HYPERLINK("http://evil")', "quotes": [{"rank": 1}], "reason": None,
             "user_name": "@bob"}]
    text = review.to_csv(rows)
    header, line = text.splitlines()
    assert header == ",".join(review.EXPORT_COLUMNS)
    assert "'=HYPERLINK" in line and "'@bob" in line and '"[{""rank"": 1}]"' in line


def test_user_keys_match_what_the_log_stores(tmp_path: Path) -> None:
    log = InteractionLog(tmp_path / "anon.db", anonymize_key="k" * 32)
    assert review.user_key(1234, "k" * 32) == log.user_key(1234) != "1234"
    assert review.user_key(1234, None) == "1234"
    log.close()


def test_unhelpful_entries_carry_quotes_even_for_more_pages(tmp_path: Path) -> None:
    log = InteractionLog(tmp_path / "log.db")
    who = Who(A.guild, A.channels[0], 1001, "Alice")
    root = log.record(who, "ask", status="ok", question="q", quotes=[quote("a", 1)], abstained=False)
    more = log.record(who, "more", status="ok", question="q", parent_id=root, quotes=[quote("a", 2)], abstained=False)
    log.vote(more, who, -1)
    assert review.listing(log.db, GA, {"sub": "unhelpful"}).items == []  # More pages are not questions
    rows = review.export_rows(log.db, review.Filters(GA, unhelpful=True, commands=()))
    assert [(r["id"], r["quotes"][0]["passage_id"]) for r in rows] == [(more, "a#2")]
    log.close()


def test_the_docs_describe_every_export_column() -> None:
    docs = (Path(__file__).resolve().parents[1] / "docs" / "review.md").read_text()
    rows = [line for line in docs.splitlines() if line.startswith("| `") and "` | " in line]
    documented = {line.split("`")[1]: line.split(" | ", 1)[1].rstrip(" |") for line in rows}
    assert {k: documented.get(k) for k in review.EXPORT_COLUMNS} == review.EXPORT_COLUMNS
