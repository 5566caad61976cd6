"""The answer buttons, the follow-up modal and /followup, end to end — including after a restart."""

from __future__ import annotations

from tests.bot_fixtures import IN_SCOPE, assert_within_limits, custom_ids, db_rows, wait_private, wait_row
from tests.discord_emulator import connected_client

FOLLOW_UP = "And what did China get out of it?"


def shown(path, row_id: int) -> list[str]:
    """Passage ids an interaction showed, best first."""
    rows = db_rows(path, "SELECT passage_id FROM interaction_quotes WHERE interaction_id = ? ORDER BY rank", (row_id,))
    return [r["passage_id"] for r in rows]


async def ask(emulator, path, question: str = IN_SCOPE, user: str = "alice"):
    """Ask, wait for the answer; return the record and its log row."""
    rec = await emulator.slash("ask", {"question": question}, user=user)
    await rec.wait_final(10)
    return rec, await wait_row(path, rec.id)


async def test_more_shows_new_quotes_for_anyone_and_never_repeats(quote_bot, emulator, bot_settings) -> None:
    path = bot_settings.database_path
    rec, root = await ask(emulator, path)
    seen = shown(path, root["id"])
    pages = 0
    for presser in ["alice", "moderator", "alice", "moderator", "alice", "moderator", "alice", "moderator"]:
        press = await emulator.press(rec.message, f"qa:more:{root['id']}", user=presser)
        await press.wait_final(10)
        row = await wait_row(path, press.id)
        assert (row["command"], row["parent_id"], row["question"]) == ("more", root["id"], IN_SCOPE)
        new = shown(path, row["id"])
        if not new:
            note = await wait_private(press)
            assert "everything relevant" in note["content"]
            break
        pages += 1
        assert not set(new) & set(seen), "More repeated a quote"
        seen += new
        assert press.message["embeds"][0]["title"].startswith("More quotes: ") and not press.ephemeral
        assert_within_limits(press.message)
        assert f"qa:vote:up:{row['id']}" in custom_ids(press.message)
    assert pages >= 1


async def test_follow_up_button_opens_a_modal_and_continues_the_conversation(quote_bot, emulator, bot_settings) -> None:
    path = bot_settings.database_path
    rec, root = await ask(emulator, path)
    press = await emulator.press(rec.message, f"qa:follow:{root['id']}", user="alice")
    await press.wait_final(5)
    assert press.modal["title"] == "Follow up" and press.modal["custom_id"].startswith(f"qa:followup:{root['id']}:")
    submit = await emulator.submit_modal(press, {"question": FOLLOW_UP})
    await submit.wait_final(10)
    thread = emulator.threads()[0]  # the follow-up continues in a thread on the answer, named after its question
    assert (thread.id, thread.name, thread.parent_id) == (rec.message["id"], IN_SCOPE, rec.channel_id)
    assert submit.ephemeral and f"<#{thread.id}>" in submit.message["content"]
    answer = emulator.channel_messages_of(thread)[-1]
    assert answer["embeds"][0]["title"] == f"↪ {FOLLOW_UP}"
    assert_within_limits(answer)
    row = await wait_row(path, submit.id)
    assert row["channel_id"] == thread.id and row["message_id"] == answer["id"]
    assert (row["command"], row["parent_id"]) == ("followup", root["id"])
    assert row["conversation_id"] == root["conversation_id"]
    assert row["status"] == "ok"


async def test_someone_elses_follow_up_starts_their_own_conversation(quote_bot, emulator, bot_settings) -> None:
    path = bot_settings.database_path
    rec, root = await ask(emulator, path)
    press = await emulator.press(rec.message, f"qa:follow:{root['id']}", user="moderator")
    await press.wait_final(5)
    submit = await emulator.submit_modal(press, {"question": FOLLOW_UP}, user="moderator")
    await submit.wait_final(10)
    row = await wait_row(path, submit.id)
    assert row["parent_id"] == root["id"] and row["conversation_id"] != root["conversation_id"]
    assert row["user_id"] == emulator.guild.member("moderator").id


async def test_votes_count_once_per_person_and_can_change(quote_bot, emulator, bot_settings) -> None:
    path = bot_settings.database_path
    rec, root = await ask(emulator, path)
    steps = [
        ("alice", "up", "Thanks for the 👍!"),
        ("alice", "up", "You already gave this 👍 — one vote per person."),
        ("moderator", "down", "Thanks — noted 👎."),
        ("alice", "down", "Changed your vote to 👎."),
    ]
    for user, direction, expected in steps:
        press = await emulator.press(rec.message, f"qa:vote:{direction}:{root['id']}", user=user)
        await press.wait_final(5)
        assert press.ephemeral and press.message["content"].startswith(expected)
    votes = db_rows(path, "SELECT user_id, vote, guild_id FROM feedback WHERE interaction_id = ?", (root["id"],))
    alice, moderator = emulator.guild.member("alice").id, emulator.guild.member("moderator").id
    assert sorted((v["user_id"], v["vote"]) for v in votes) == sorted([(alice, -1), (moderator, -1)])
    assert {v["guild_id"] for v in votes} == {emulator.guild.id}


async def test_followup_command_continues_the_latest_conversation_here(quote_bot, emulator, bot_settings) -> None:
    path = bot_settings.database_path
    _, root = await ask(emulator, path)
    rec = await emulator.slash("followup", {"question": FOLLOW_UP}, user="alice")
    await rec.wait_final(10)
    assert rec.message["embeds"][0]["title"] == f"↪ {FOLLOW_UP}"
    row = await wait_row(path, rec.id)
    assert (row["command"], row["parent_id"]) == ("followup", root["id"])
    assert row["conversation_id"] == root["conversation_id"]
    again = await emulator.slash("followup", {"question": "Why does that matter?"}, user="alice")
    await again.wait_final(10)
    assert (await wait_row(path, again.id))["parent_id"] == row["id"]
    elsewhere = await emulator.slash("followup", {"question": FOLLOW_UP}, user="alice", channel_id="random")
    await elsewhere.wait_final(10)
    assert (await wait_row(path, elsewhere.id))["parent_id"] is None
    assert "answered this on its own" in elsewhere.message["embeds"][0]["footer"]["text"]


async def test_an_idle_conversation_is_not_continued(quote_bot, emulator, bot_settings) -> None:
    path = bot_settings.database_path
    await ask(emulator, path)
    long_ago = "UPDATE conversations SET last_active_at = '2000-01-01T00:00:00Z'"
    await quote_bot.log.call(lambda log: log.db.execute(long_ago))
    rec = await emulator.slash("followup", {"question": FOLLOW_UP}, user="alice")
    await rec.wait_final(10)
    row = await wait_row(path, rec.id)
    assert row["parent_id"] is None
    assert "over 30 minutes ago" in rec.message["embeds"][0]["footer"]["text"]


async def test_buttons_of_an_old_answer_work_after_a_restart(emulator, make_bot, bot_settings, bot_errors) -> None:
    path = bot_settings.database_path
    async with connected_client(make_bot(), emulator):
        rec, root = await ask(emulator, path)
    assert db_rows(path, "SELECT status FROM interactions WHERE id = ?", (root["id"],))[0]["status"] == "ok"
    async with connected_client(make_bot(), emulator):
        more = await emulator.press(rec.message, f"qa:more:{root['id']}", user="moderator")
        await more.wait_final(10)
        assert more.message["embeds"][0]["title"].startswith("More quotes: ")
        assert not set(shown(path, (await wait_row(path, more.id))["id"])) & set(shown(path, root["id"]))
        vote = await emulator.press(rec.message, f"qa:vote:up:{root['id']}", user="alice")
        await vote.wait_final(5)
        assert vote.message["content"] == "Thanks for the 👍!"
        follow = await emulator.press(rec.message, f"qa:follow:{root['id']}", user="alice")
        await follow.wait_final(5)
        submit = await emulator.submit_modal(follow, {"question": FOLLOW_UP})
        await submit.wait_final(10)
        assert (await wait_row(path, submit.id))["parent_id"] == root["id"]
        followup = await emulator.slash("followup", {"question": "Why?"}, user="alice")
        await followup.wait_final(10)
        assert (await wait_row(path, followup.id))["conversation_id"] == root["conversation_id"]


async def test_a_failing_button_gets_a_private_apology_and_an_error_row(
    quote_bot, emulator, bot_settings, bot_errors, monkeypatch
) -> None:
    path = bot_settings.database_path
    rec, root = await ask(emulator, path)

    async def broken_vote(*args, **kwargs):
        raise KeyError("vote table on fire")

    monkeypatch.setattr(quote_bot.get_cog("Ask"), "vote", broken_vote)
    bot_errors.emulator = None
    press = await emulator.press(rec.message, f"qa:vote:up:{root['id']}", user="alice")
    await press.wait_final(5)
    assert press.ephemeral and "something went wrong" in press.message["content"]
    row = await wait_row(path, press.id)
    assert (row["command"], row["status"]) == ("vote", "error") and "vote table on fire" in row["error"]
    assert len(bot_errors.take()) == 1
