"""Paging a /review listing with its buttons: stable pages, moderators only, still working after a restart."""

from __future__ import annotations

import re
from dataclasses import replace

from bot.cogs.review import EXPIRED, REFUSAL
from bot.config import Settings
from bot.log import InteractionLog, Who
from tests.bot_fixtures import assert_within_limits, custom_ids, db_rows, wait_private, wait_row
from tests.test_review_data import fill, review_bot, server_of

ROW_MARK = re.compile(r"`#([0-9]+)`")


def page_ids(message: dict) -> list[str]:
    """The paging buttons' ids (the ⚖️ Judge buttons under the rows are tested in test_judgements_discord.py)."""
    return [c for c in custom_ids(message) if c.startswith("rv:page:")]


def shown_ids(message: dict) -> list[int]:
    """Row ids listed on a page, in order."""
    return [int(i) for i in ROW_MARK.findall(message["embeds"][0]["description"])]


async def test_listing_pages_survive_a_restart_and_stay_stable(emulator, bot_errors, tmp_path) -> None:
    a = emulator.guild
    other = emulator.add_guild("Other Guild")
    bob = emulator.add_member(a, "bob")
    carol = emulator.add_member(other, "carol")
    path = tmp_path / "interactions.db"
    fill(path, server_of(a, {"alice": a.member("alice").id, "bob": bob.id}), server_of(other, {"carol": carol.id}))
    log = InteractionLog(path)
    alice = Who(int(a.id), int(a.channel().id), int(a.member("alice").id), "Alice")
    for n in range(25):
        log.record(alice, "ask", status="ok", question=f"Filler question {n} about trade", abstained=True)
    log.close()
    settings = Settings(discord_guild_id=int(a.id), database_path=path, index_path=tmp_path / "index.db",
                        ask_cooldown_rate=0, log_retention_days=0)

    async with review_bot(emulator, settings):
        rec = await emulator.slash("review recent", {"limit": 30}, user="moderator")
        await rec.wait_final(10)
        audit = (await wait_row(path, rec.id))["id"]
        assert page_ids(rec.message) == [f"rv:page:{audit}:0", f"rv:page:{audit}:1"]
        assert rec.message["components"][0]["components"][0]["disabled"] is True
        first = shown_ids(rec.message)
        assert [c for c in custom_ids(rec.message) if c.startswith("jg:")] == [f"jg:open:{i}" for i in first]
        assert len(first) == 10 and "Page 1 of 3 · 1–10 of 30 questions" in rec.message["embeds"][0]["footer"]["text"]

        press = await emulator.press(rec.message, f"rv:page:{audit}:1", user="moderator")
        await press.wait_final(5)
        assert press.callback_type == 7 and press.message["id"] == rec.message["id"]
        assert_within_limits(press.message)
        second = shown_ids(press.message)
        assert "Page 2 of 3 · 11–20 of 30" in press.message["embeds"][0]["footer"]["text"]
        assert page_ids(press.message) == [f"rv:page:{audit}:0", f"rv:page:{audit}:2"]

        before = dict(rec.message)
        refused = await emulator.press(rec.message, f"rv:page:{audit}:2", user="bob")
        assert (await wait_private(refused))["content"] == REFUSAL
        assert emulator.messages[rec.message["id"]]["embeds"] == before["embeds"]  # the listing did not move

    log = InteractionLog(path)  # a question arriving later does not shift the pages
    log.record(alice, "ask", status="ok", question="Arrives after the listing", abstained=True)
    log.close()

    async with review_bot(emulator, replace(settings)):  # a new process: only the custom_id is left
        press = await emulator.press(rec.message, f"rv:page:{audit}:2", user="moderator")
        await press.wait_final(5)
        third = shown_ids(press.message)
        assert "Page 3 of 3 · 21–30 of 30" in press.message["embeds"][0]["footer"]["text"]
        assert press.message["components"][0]["components"][1]["disabled"] is True
        expected = db_rows(path, "SELECT id FROM interactions WHERE guild_id = ? AND command IN ('ask', 'followup') "
                                 "AND id < ? ORDER BY created_at DESC, id DESC LIMIT 30", (a.id, audit))
        assert first + second + third == [r["id"] for r in expected]

        back = await emulator.press(press.message, f"rv:page:{audit}:1", user="moderator")
        await back.wait_final(5)
        assert shown_ids(back.message) == second

        forget = await emulator.slash("forget-me", user="moderator")  # removes the moderator's own audit row too
        await forget.wait_final(5)
        gone = await emulator.press(back.message, f"rv:page:{audit}:2", user="moderator")
        assert (await wait_private(gone))["content"] == EXPIRED
