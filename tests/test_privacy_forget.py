"""/forget-me leaves nothing that identifies the member: the reply, and a byte-level scan of the log after it."""

from __future__ import annotations

import json

import pytest

from bot import review
from bot.cogs.privacy import NOTHING, UNAVAILABLE, reply_text
from tests.bot_fixtures import db_rows, wait_private
from tests.test_privacy_discord import ask, press, settings_for
from tests.test_privacy_store import file_bytes, fts_terms
from tests.test_review_data import review_bot


def test_the_reply_counts_every_kind_of_row_and_says_what_changed_in_other_members_rows() -> None:
    text = reply_text(review.Forgotten(interactions=3, votes=1, votes_on_theirs=2, conversations=1, kept_pending=0,
                                       lookups=2, copies=1))
    assert text.startswith("Done: I deleted 7 records about you from this server's log: 3 questions and other "
                           "commands, 1 vote of yours, 2 votes others gave your answers (a vote goes with its answer), "
                           "1 conversation.")
    also = "I also removed your id from 2 moderator look-ups and your question from 1 More page of other members."
    assert also in text
    assert "run /forget-me again" not in text
    only_lookup = reply_text(review.Forgotten(0, 0, 0, 0, 0, lookups=1))
    assert "deleted 0 records" in only_lookup and "your id from 1 moderator look-up." in only_lookup
    assert "run /forget-me again" in reply_text(review.Forgotten(0, 0, 0, 0, kept_pending=1))
    assert reply_text(review.Forgotten(0, 0, 0, 0, 0)) == NOTHING and reply_text(None) == UNAVAILABLE


HER_WORDS = ("quetzalcoatlus", "okapiology", "tardigrades")  # one in each of her questions, and in a search
HER_QUESTIONS = (f"Why did Putin go to Beijing, {HER_WORDS[0]}?", f"Who won the Super Bowl, {HER_WORDS[1]}?",
                 f"What did Putin say about {HER_WORDS[2]}?")
HIS_QUESTION = "Why did Putin meet Xi in Beijing?"


def traces(member_id: str, key: str | None) -> list[bytes]:
    """What must not be left about her: her id, her keyed hash, her questions and their distinctive words."""
    found = [member_id.encode(), *(q.encode() for q in HER_QUESTIONS), *(w.encode() for w in HER_WORDS)]
    return found + ([review.user_key(member_id, key).encode()] if key else [])


async def export_text(emulator) -> str:
    """A moderator's /review export of the last 30 days, as text."""
    rec = await emulator.slash("review export", {"start": "30d", "format": "jsonl"}, user="moderator")
    await rec.wait_final(10)
    [attachment] = rec.files
    return attachment.text()


async def judge_and_keep(emulator, *row_ids: int) -> None:
    """A moderator judges answers from /review recent ('Quote 1 answered') and keeps them for training."""
    listing = await emulator.slash("review recent", {"limit": 100}, user="moderator")
    await listing.wait_final(5)
    for row_id in row_ids:
        card = await emulator.press(listing.message, f"jg:open:{row_id}", user="moderator")
        await card.wait_final(5)
        judged = await emulator.press(card.message, f"jg:v:{row_id}:q1", user="moderator")
        await judged.wait_final(5)
        kept = await emulator.press(judged.message, f"jg:keep:{row_id}:1", user="moderator")
        await kept.wait_final(5)


@pytest.mark.parametrize("anonymised", [False, True], ids=["ids", "anonymised"])
async def test_after_forget_me_the_log_file_holds_no_trace_of_her(emulator, bot_errors, tmp_path, anonymised) -> None:
    a = emulator.guild
    emulator.add_member(a, "bob")
    path = tmp_path / "interactions.db"
    key = "forget-me-test-key-" * 3 if anonymised else None
    settings = settings_for(emulator, tmp_path, anonymize_users=anonymised, anonymize_key=key)
    her = a.member("alice").id
    async with review_bot(emulator, settings):
        hers, her_row = await ask(emulator, path, HER_QUESTIONS[0], "alice")
        await ask(emulator, path, HER_QUESTIONS[1], "alice")
        await ask(emulator, path, HER_QUESTIONS[2], "alice")
        his, his_row = await ask(emulator, path, HIS_QUESTION, "bob")
        await press(emulator, his.message, f"qa:vote:down:{his_row['id']}", "alice")
        await press(emulator, hers.message, f"qa:vote:up:{her_row['id']}", "bob")
        await press(emulator, hers.message, f"qa:more:{her_row['id']}", "alice")
        await press(emulator, hers.message, f"qa:more:{her_row['id']}", "bob")
        for command, options in (("review recent", {"user": "alice", "limit": 100}),
                                 ("review search", {"text": f"{HER_WORDS[2]} putin", "user": "alice"})):
            listing = await emulator.slash(command, options, user="moderator")
            await listing.wait_final(5)
            assert HER_WORDS[2] in listing.message["embeds"][0]["description"]
        await judge_and_keep(emulator, her_row["id"], his_row["id"])
        moderators = {r["moderator_id"] for r in db_rows(path, "SELECT moderator_id FROM judgements")}
        assert moderators == {review.user_key(a.member("moderator").id, key)}  # hashed when anonymising
        before, stored = await export_text(emulator), file_bytes(path)
        present = [t for t in traces(her, key) if not (anonymised and t == her.encode())]
        assert all(t.decode() in before and t in stored for t in present)  # so the scans below can fail
        assert (her.encode() in stored) is not anonymised

        forget = await emulator.slash("forget-me", user="alice")
        reply = (await wait_private(forget))["content"]
        assert "deleted 9 records" in reply  # 3 questions and her More, her 👎, bob's 👍 on hers, 3 conversations
        assert "your id from 2 moderator look-ups and your question from 1 More page" in reply
        assert "1 moderator judgement of your questions" in reply  # even though it was kept for training
        assert [r["question"] for r in db_rows(path, "SELECT question FROM judgements")] == [HIS_QUESTION]
        after = await export_text(emulator)
        assert HIS_QUESTION in after and not [t for t in traces(her, key) if t.decode() in after]
        assert not [t for t in traces(her, key) if t in file_bytes(path)]  # the live file and its WAL

    assert not [t for t in traces(her, key) if t in file_bytes(path)]
    assert HIS_QUESTION.encode() in file_bytes(path)
    assert not {t for t in fts_terms(path) if any(w.startswith(t[:6]) for w in HER_WORDS)}
    lookups = db_rows(path, "SELECT argument FROM interactions WHERE command = 'review' AND argument LIKE '%user%'")
    named = [json.loads(r["argument"])["user"] for r in lookups]
    assert sorted(u for u in named if u) == [review.FORGOTTEN_USER] * 2  # the look-ups that named her
