"""Privacy end to end through the Discord emulator: retention at start-up, /forget-me, and anonymised logs."""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime, time, timedelta, timezone

from bot import review
from bot.config import Settings
from bot.log import InteractionLog, Who
from bot.log.pending import PendingAnswer, PendingStore, pending_path
from tests.bot_fixtures import db_rows, wait_private, wait_row
from tests.test_privacy_store import file_bytes, fts_terms
from tests.test_review_data import Clock, review_bot

OLD_WORD, KEPT_WORD, HER_WORD = "quokkaphobia", "pangolins", "axolotls"


def settings_for(emulator, tmp_path, **overrides) -> Settings:
    """Settings for a bot on tmp_path in the emulator's first server."""
    base = {"discord_guild_id": int(emulator.guild.id), "database_path": tmp_path / "interactions.db",
            "index_path": tmp_path / "index.db", "ask_cooldown_rate": 0, "log_retention_days": 0}
    return Settings(**(base | overrides))


async def ask(emulator, path, question: str, user: str, guild=None):
    """Ask through /ask and return the record and its log row."""
    rec = await emulator.slash("ask", {"question": question}, user=user, guild_id=guild)
    await rec.wait_final(10)
    return rec, await wait_row(path, rec.id)


async def press(emulator, message: dict, custom_id: str, user: str) -> None:
    """Press a button and wait for the bot's answer."""
    rec = await emulator.press(message, custom_id, user=user)
    await rec.wait_final(10)


async def test_retention_purges_old_rows_at_start_up_and_schedules_a_daily_run(emulator, bot_errors, tmp_path) -> None:
    path = tmp_path / "interactions.db"
    now = datetime.now(timezone.utc)
    clock = Clock(now - timedelta(days=45))
    log = InteractionLog(path, clock=clock)
    who = Who(int(emulator.guild.id), int(emulator.guild.channel().id), 42, "Old Timer")
    old = log.record(who, "ask", status="ok", question=f"Do the articles mention {OLD_WORD}?", abstained=True)
    clock.now = now - timedelta(days=5)
    kept = log.record(who, "ask", status="ok", question=f"Do the articles mention {KEPT_WORD}?", abstained=True)
    log.close()
    async with review_bot(emulator, settings_for(emulator, tmp_path, log_retention_days=30)) as bot:
        assert [r["id"] for r in db_rows(path, "SELECT id FROM interactions")] == [kept]
        assert not db_rows(path, "SELECT * FROM conversations WHERE last_interaction_id = ?", (old,))
        assert OLD_WORD not in fts_terms(path) and KEPT_WORD.rstrip("s") in " ".join(fts_terms(path))
        assert OLD_WORD.encode() not in file_bytes(path)
        daily = bot.get_cog("Privacy").daily_purge
        assert daily.is_running() and daily.next_iteration.timetz() == time(4, 17, tzinfo=timezone.utc)
        rec = await emulator.slash("review search", {"text": OLD_WORD}, user="moderator")
        await rec.wait_final(5)
        assert "No question here matches" in rec.message["embeds"][0]["description"]


async def test_retention_zero_keeps_everything(emulator, bot_errors, tmp_path) -> None:
    log = InteractionLog(tmp_path / "interactions.db", clock=lambda: datetime(2001, 1, 1, tzinfo=timezone.utc))
    log.record(Who(1, 2, 3, "Ancient"), "ask", status="ok", question="From long ago", abstained=True)
    log.close()
    async with review_bot(emulator, settings_for(emulator, tmp_path)) as bot:
        assert len(db_rows(tmp_path / "interactions.db", "SELECT * FROM interactions")) == 1
        assert not bot.get_cog("Privacy").daily_purge.is_running()


async def test_forget_me_deletes_the_callers_rows_in_that_server_and_logs_only_a_count(
    emulator, bot_errors, tmp_path
) -> None:
    a = emulator.guild
    b = emulator.add_guild("Other Guild")
    emulator.add_member(a, "bob")
    emulator.add_member(b, "alice")
    path = tmp_path / "interactions.db"
    async with review_bot(emulator, settings_for(emulator, tmp_path), also_sync=[b.id]):
        mine, mine_row = await ask(emulator, path, f"Why did Putin go to Beijing? {HER_WORD}", "alice")
        bobs, bobs_row = await ask(emulator, path, "Why did Putin meet Xi?", "bob")
        await press(emulator, mine.message, f"qa:vote:up:{mine_row['id']}", "bob")
        await press(emulator, bobs.message, f"qa:vote:down:{bobs_row['id']}", "alice")
        await press(emulator, mine.message, f"qa:more:{mine_row['id']}", "bob")
        await ask(emulator, path, f"Who won the Super Bowl? {HER_WORD}", "alice")
        _, elsewhere = await ask(emulator, path, f"Putin in server B? {HER_WORD}", "alice", guild=b)
        alice = a.member("alice").id
        waiting = PendingStore(pending_path(path))  # questions acknowledged but not yet answered (a crash, say)
        for n, (user, guild) in enumerate([(alice, a.id), (alice, b.id), (a.member("bob").id, a.id)], 1):
            waiting.add(PendingAnswer(interaction_id=n, application_id=1, token=f"t{n}", created_at=datetime.now(timezone.utc).timestamp(),
                                      kind="ask", question=HER_WORD, guild_id=guild, user_id=user))

        rec = await emulator.slash("forget-me", user="alice")
        await rec.wait_response(3)
        assert rec.callback_type == 5 and rec.ephemeral
        reply = (await wait_private(rec))["content"]
        total = int(re.search(r"deleted ([0-9]+) records?", reply)[1])
        assert total == 2 + 1 + 1 + 2 and "2 questions and other commands" in reply and "2 conversations" in reply
        assert "1 vote of yours, 1 vote others gave your answers" in reply  # bob's 👍 went with her answer
        assert "your question from 1 More page of other members" in reply

        for table in ("interactions", "feedback", "conversations"):
            assert not db_rows(path, f"SELECT * FROM {table} WHERE user_id = ? AND guild_id = ?", (alice, a.id)), table
        assert not db_rows(path, "SELECT * FROM feedback WHERE interaction_id = ?", (mine_row["id"],))
        assert not db_rows(path, "SELECT * FROM interaction_quotes WHERE interaction_id = ?", (mine_row["id"],))
        left = db_rows(path, "SELECT id FROM interactions WHERE user_id = ?", (alice,))
        assert [r["id"] for r in left] == [elsewhere["id"]]
        conn = sqlite3.connect(path)
        hits = [r[0] for r in conn.execute("SELECT rowid FROM interactions_fts WHERE interactions_fts MATCH ?",
                                           (HER_WORD,))]
        conn.close()
        assert hits == [elsewhere["id"]]  # only server B's copy is still searchable
        more = db_rows(path, "SELECT * FROM interactions WHERE command = 'more'")
        assert [(m["question"], m["parent_id"]) for m in more] == [(None, None)]  # bob's More page kept, her words not
        record = db_rows(path, "SELECT * FROM interactions WHERE command = 'forget-me'")
        assert [(r["user_id"], r["user_name"], r["channel_id"], r["argument"], r["discord_interaction_id"])
                for r in record] == [(review.FORGOTTEN_USER, None, None, str(total), None)]
        assert db_rows(path, "SELECT * FROM feedback WHERE interaction_id = ?", (bobs_row["id"],)) == []

        left_waiting = [(e.user_id, e.guild_id) for e in waiting.entries()]
        assert left_waiting == [(int(alice), int(b.id)), (int(a.member("bob").id), int(a.id))]  # hers in server A: gone
        waiting.close()

        again = await emulator.slash("forget-me", user="alice")
        assert "holds nothing about you" in (await wait_private(again))["content"]


async def test_anonymised_mode_stores_no_raw_ids_and_review_still_groups_by_person(
    emulator, bot_errors, tmp_path
) -> None:
    a = emulator.guild
    emulator.add_member(a, "bob")
    path = tmp_path / "interactions.db"
    settings = settings_for(emulator, tmp_path, anonymize_users=True, anonymize_key="k3y-" * 8)
    async with review_bot(emulator, settings):
        rec, row = await ask(emulator, path, "Why did Putin go to Beijing?", "alice")
        await ask(emulator, path, "Who won the Super Bowl?", "alice")
        await ask(emulator, path, "Who won the Super Bowl??", "bob")
        await press(emulator, rec.message, f"qa:vote:down:{row['id']}", "bob")
        listing = await emulator.slash("review recent", {"user": "alice"}, user="moderator")
        await listing.wait_final(5)
        description = listing.message["embeds"][0]["description"]
        key = review.user_key(a.member("alice").id, settings.anonymize_key)
        assert description.count(f"`{key[:13]}`") == 3  # the filter line and her two questions
        assert "Super Bowl??" not in description and "<@" not in description
        gaps = await emulator.slash("review unanswered", {}, user="moderator")
        await gaps.wait_final(5)
        assert "\n\n**2×** by 2 people" in gaps.message["embeds"][0]["description"]
        forget = await emulator.slash("forget-me", user="alice")
        reply = (await wait_private(forget))["content"]
        assert "deleted 5 records" in reply  # 2 questions, bob's vote on her answer, 2 conversations
        assert "your id from 1 moderator look-up" in reply

    dump = "\n".join(sqlite3.connect(path).iterdump())
    members = [m for m in a.members.values() if m.user.username in ("alice", "bob", "moderator")]
    for member in members:
        assert member.id not in dump and member.user.global_name not in dump, member.user.username
    assert db_rows(path, "SELECT COUNT(*) AS n FROM interactions WHERE user_id LIKE 'anon:%'")[0]["n"] >= 3
