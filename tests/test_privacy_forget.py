"""/forget-me leaves nothing that identifies the member: the reply, and a byte-level scan of the log after it."""

from __future__ import annotations

from bot import review
from bot.cogs.privacy import NOTHING, UNAVAILABLE, reply_text


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
