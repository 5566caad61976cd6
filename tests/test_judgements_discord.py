"""Judging answers end to end through the emulator: judge, change, list, count, export, refuse, isolate, forget."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.__main__ import main
from bot.cogs.judgements import NOT_FOUND
from bot.cogs.review import REFUSAL
from bot.config import Settings
from bot.judgements import RIGHTLY_REFUSED, judged_items
from bot.judgements.sentences import MIN_CHARS
from knowledge.models import Article
from tests.bot_fixtures import assert_within_limits, custom_ids, db_rows, wait_private, wait_row
from tests.discord_emulator import MANAGE_GUILD, DiscordEmulator, ErrorLogCollector
from tests.test_privacy_store import file_bytes
from tests.test_review_data import HALFTIME, OIL, PUTIN, SECRET_B, SUPER_BOWL, TAIWAN, StubEngine, fill, server_of

pytestmark = pytest.mark.asyncio(loop_scope="module")
TAIWAN_SENTENCE = "Xi told the visitors that Taiwan was “the first red line” — not to be crossed."
HALFTIME_SENTENCE = "Kendrick Lamar played the halftime show in New Orleans."


class ArticleEngine(StubEngine):
    """The review tests' stub engine, with articles to find pasted sentences in."""

    articles = (
        Article("putin", "Title of putin", "Passage 1 of putin: the leaders met in Beijing. Putin needed reassurance.",
                source_file="putin.txt"),
        Article("xi", "Title of xi", f"Xi spoke at length. {TAIWAN_SENTENCE} Then they ate.", source_file="xi.txt"),
        Article("bowl", "Super Bowl", f"The Eagles won the Super Bowl. {HALFTIME_SENTENCE}", source_file="bowl.txt"),
    )


@contextlib.asynccontextmanager
async def judging_bot(emulator, settings: Settings, also_sync=()):
    """A QuoteBot with the article stub engine, connected to the emulator and synced to the given servers too."""
    from bot.client import QuoteBot
    from tests.discord_emulator import connected_client

    async with connected_client(QuoteBot(settings, engine=ArticleEngine()), emulator) as client:
        for guild in also_sync:
            await client.sync_to_guild(int(guild))
        yield client


@dataclass
class Env:
    """The emulator, the log, the sample's row ids and the servers."""

    emulator: DiscordEmulator
    path: Path
    a: Any
    b: Any
    ids: dict[str, int]
    cards: dict[str, dict]

    async def run(self, command: str, options: dict | None = None, *, user: str = "moderator", guild=None, **kw):
        """A slash command, waited for."""
        rec = await self.emulator.slash(command, options or {}, user=user, guild_id=guild or self.a, **kw)
        await rec.wait_final(10)
        return rec

    async def press(self, message: dict, custom_id: str, *, user: str = "moderator"):
        """A button press, waited for."""
        rec = await self.emulator.press(message, custom_id, user=user)
        await rec.wait_final(10)
        return rec

    async def card(self, name: str, listing: dict) -> dict:
        """Open the judge card of one sample answer from a listing."""
        rec = await self.press(listing, f"jg:open:{self.ids[name]}")
        assert rec.ephemeral and rec.message["embeds"][0]["title"] == f"Judge answer #{self.ids[name]}"
        assert_within_limits(rec.message)
        self.cards[name] = rec.message
        return rec.message

    async def verdict(self, name: str, code: str, *, user: str = "moderator") -> dict:
        """Press a verdict on an open card; return the card as it is now."""
        rec = await self.press(self.cards[name], f"jg:v:{self.ids[name]}:{code}", user=user)
        if rec.callback_type == 7:
            self.cards[name] = rec.message
        return rec.message

    async def paste(self, name: str, sentence: str) -> dict:
        """Press 'None answered' on an open card and submit the sentence."""
        opened = await self.emulator.press(self.cards[name], f"jg:v:{self.ids[name]}:said", user="moderator")
        await opened.wait_response(5)
        assert opened.modal and opened.modal["custom_id"].startswith(f"jg:said:{self.ids[name]}:")
        rec = await self.emulator.submit_modal(opened, {"sentence": sentence})
        await rec.wait_final(10)
        if rec.callback_type == 7:
            self.cards[name] = rec.message
        return rec.message

    def judgements(self) -> list[dict]:
        """Every judgement row, oldest first."""
        return db_rows(self.path, "SELECT * FROM judgements ORDER BY id")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def env(tmp_path_factory) -> Env:
    """Two servers with moderators and members, the review sample log, and one bot connected to both."""
    emulator = DiscordEmulator()
    errors = ErrorLogCollector(emulator, loggers=("discord", "bot"))
    await emulator.start()
    a = emulator.guild
    bob = emulator.add_member(a, "bob")
    b = emulator.add_guild("Other Guild", channels=("lobby", "news"))
    carol = emulator.add_member(b, "carol")
    emulator.add_member(b, "modb", permissions=MANAGE_GUILD)
    path = tmp_path_factory.mktemp("judge") / "interactions.db"
    filled = fill(path, server_of(a, {"alice": a.member("alice").id, "bob": bob.id}), server_of(b, {"carol": carol.id}))
    settings = Settings(discord_guild_id=int(a.id), database_path=path, index_path=path.with_name("index.db"),
                        ask_cooldown_rate=0, log_retention_days=0)
    with errors.installed():
        async with judging_bot(emulator, settings, also_sync=[b.id]):
            yield Env(emulator, path, a, b, filled.ids, {})
        await emulator.stop()
    if errors.records:
        pytest.fail("errors were logged:\n" + "\n".join(errors.describe(r) for r in errors.records))


async def test_every_listing_has_a_judge_button_per_answer_within_discord_limits(env: Env) -> None:
    recent = (await env.run("review recent", {"limit": 20})).message
    judge_ids = [c for c in custom_ids(recent) if c.startswith("jg:")]
    questions = ("a_putin", "a_taiwan", "a_bowl_1", "a_bowl_2", "a_halftime", "a_oil")  # not More, not the error
    assert sorted(judge_ids) == sorted(f"jg:open:{env.ids[n]}" for n in questions)
    assert len(recent["components"]) <= 5 and all(len(r["components"]) <= 5 for r in recent["components"])
    unhelpful = (await env.run("review unhelpful", {"period": "all"})).message
    assert custom_ids(unhelpful) == [f"jg:open:{env.ids[n]}" for n in ("a_taiwan", "a_oil")]
    unanswered = (await env.run("review unanswered", {"period": "all"})).message
    assert set(custom_ids(unanswered)) == {f"jg:open:{env.ids[n]}" for n in ("a_bowl_2", "a_halftime")}
    env.cards["listing"] = recent


async def test_a_moderator_judges_five_answers_and_changes_one(env: Env) -> None:
    listing = env.cards["listing"]
    card = await env.card("a_putin", listing)
    putin = env.ids["a_putin"]
    assert custom_ids(card) == [f"jg:v:{putin}:q1", f"jg:v:{putin}:q2", f"jg:v:{putin}:q3", f"jg:v:{putin}:said",
                                f"jg:v:{putin}:wrong", f"jg:keep:{putin}:1"]
    assert card["components"][2]["components"][0]["disabled"] is True  # nothing to keep yet
    assert PUTIN in card["embeds"][0]["description"] and "`putin#2`" in card["embeds"][0]["description"]
    card = await env.verdict("a_putin", "q2")
    assert card["content"] == "Saved: Quote 2 answered."
    assert "Quote 2 answered" in card["embeds"][0]["fields"][0]["value"]
    card = await env.verdict("a_putin", "q1")
    assert card["content"] == "Changed to: Quote 1 answered."

    await env.card("a_taiwan", listing)
    refused = await env.paste("a_taiwan", "Xi said Taiwan is a red line.")  # not in any article, word for word
    assert refused["content"] == NOT_FOUND.format(min=MIN_CHARS) and refused["flags"] & 64
    card = await env.paste("a_taiwan", 'xi told the visitors that taiwan was "the first red line" - not to be crossed')
    assert card["content"] == "Saved: None answered: the articles do say it."

    bowl = await env.card("a_bowl_1", listing)  # refused: only the verdicts that fit
    assert custom_ids(bowl) == [f"jg:v:{env.ids['a_bowl_1']}:said", f"jg:v:{env.ids['a_bowl_1']}:right",
                                f"jg:keep:{env.ids['a_bowl_1']}:1"]
    await env.verdict("a_bowl_1", "right")
    await env.card("a_oil", listing)
    await env.verdict("a_oil", "wrong")
    await env.card("a_halftime", listing)
    await env.paste("a_halftime", f"**{HALFTIME_SENTENCE.upper()}**")
    kept = await env.press(env.cards["a_halftime"], f"jg:keep:{env.ids['a_halftime']}:1")
    assert kept.message["content"].startswith("Kept for training")
    assert f"jg:keep:{env.ids['a_halftime']}:0" in custom_ids(kept.message)

    rows = {r["interaction_id"]: r for r in env.judgements()}
    assert len(rows) == 5 and {r["moderator_id"] for r in rows.values()} == {env.a.member("moderator").id}
    assert (rows[putin]["verdict"], rows[putin]["quote_rank"], rows[putin]["source"]) == ("quote", 1, "putin.txt")
    taiwan = rows[env.ids["a_taiwan"]]
    assert (taiwan["verdict"], taiwan["sentence"], taiwan["source"]) == ("said", TAIWAN_SENTENCE.rstrip("."), "xi.txt")
    half = rows[env.ids["a_halftime"]]
    assert (half["sentence"], half["previous"], half["keep_for_training"]) == (HALFTIME_SENTENCE, SUPER_BOWL, 1)
    assert rows[env.ids["a_oil"]]["verdict"] == "should_refuse"
    assert rows[env.ids["a_bowl_1"]]["verdict"] == RIGHTLY_REFUSED


async def test_review_judged_and_stats_show_the_judgements(env: Env) -> None:
    judged = (await env.run("review judged")).message
    description = judged["embeds"][0]["description"]
    assert all(q in description for q in (PUTIN, TAIWAN, SUPER_BOWL, OIL, HALFTIME))
    assert "Quote 1 answered" in description and "Quote 2" not in description
    assert "📌 kept for training" in description
    assert judged["embeds"][0]["footer"]["text"].startswith("Page 1 of 1 · 1–5 of 5 judgements")
    names = ("a_putin", "a_taiwan", "a_bowl_1", "a_oil", "a_halftime")
    assert sorted(custom_ids(judged)) == sorted(f"jg:open:{env.ids[n]}" for n in names)  # to change a verdict
    assert_within_limits(judged)
    right = (await env.run("review judged", {"verdict": "correct"})).message["embeds"][0]["description"]
    assert PUTIN in right and SUPER_BOWL in right and OIL not in right and TAIWAN not in right
    mine = await env.run("review judged", {"moderator": "moderator", "verdict": "should_refuse"})
    assert OIL in mine.message["embeds"][0]["description"] and PUTIN not in mine.message["embeds"][0]["description"]
    none = await env.run("review judged", {"moderator": "guild-owner"})
    assert "No judgements here" in none.message["embeds"][0]["description"]
    stats = (await env.run("review stats", {"period": "all"})).message["embeds"][0]
    fields = {f["name"]: f["value"] for f in stats["fields"]}
    assert fields["Judged"].startswith("**5** answers · **40%** correct")


async def test_the_export_file_has_one_eval_item_per_judged_answer(env: Env, tmp_path_factory) -> None:
    out = tmp_path_factory.mktemp("export") / "judged.jsonl"
    assert main(["judgements", "export", "--db", str(env.path), "--guild", env.a.id, "--output", str(out)]) == 0
    items = {i["question"]: i for i in map(json.loads, out.read_text().splitlines())}
    assert set(items) == {PUTIN, TAIWAN, SUPER_BOWL, OIL, HALFTIME}
    assert items[PUTIN] | {"id": ""} == {"id": "", "question": PUTIN, "answer_contains": ["Passage 1"],
                                         "source": "putin.txt", "kind": "fact"}
    assert items[TAIWAN]["answer_contains"] == [TAIWAN_SENTENCE.rstrip(".")] and items[TAIWAN]["source"] == "xi.txt"
    assert items[HALFTIME] | {"id": ""} == {"id": "", "question": HALFTIME, "answer_contains": [HALFTIME_SENTENCE],
                                            "source": "bowl.txt", "kind": "followup", "previous": SUPER_BOWL}
    for refusal in (SUPER_BOWL, OIL):
        assert items[refusal]["kind"] == "out_of_scope" and items[refusal]["answer_contains"] == []


async def test_a_member_sees_no_judge_buttons_and_is_refused_by_every_one(env: Env) -> None:
    answer = await env.run("ask", {"question": "Why did Putin go to Beijing again?"}, user="bob")
    assert not [c for c in custom_ids(answer.message) if c.startswith("jg:")]
    before = env.judgements()
    putin = env.ids["a_putin"]
    for message, custom_id in ((env.cards["listing"], f"jg:open:{putin}"), (env.cards["a_putin"], f"jg:v:{putin}:q3"),
                               (env.cards["a_putin"], f"jg:v:{putin}:said"),
                               (env.cards["a_halftime"], f"jg:keep:{env.ids['a_halftime']}:0")):
        rec = await env.emulator.press(message, custom_id, user="bob")
        reply = await wait_private(rec)
        assert reply["content"] == REFUSAL and not reply["embeds"] and not reply["components"] and rec.modal is None
        assert (await wait_row(env.path, rec.id))["status"] == "refused"
    assert env.judgements() == before
    refused = await env.run("review judged", user="bob", ignore_default_permissions=True)
    assert refused.message["content"] == REFUSAL and not refused.message["embeds"]


async def test_each_server_sees_only_its_own_judgements(env: Env, tmp_path_factory) -> None:
    listing = (await env.run("review recent", user="modb", guild=env.b)).message
    secret = env.ids["b_secret"]
    card = (await env.press(listing, f"jg:open:{secret}", user="modb")).message
    await env.press(card, f"jg:v:{secret}:q1", user="modb")
    b_view = json.dumps((await env.run("review judged", user="modb", guild=env.b)).message)
    a_view = json.dumps((await env.run("review judged")).message)
    assert SECRET_B in b_view and not [q for q in (TAIWAN, OIL, HALFTIME, SUPER_BOWL) if q in b_view]
    assert SECRET_B not in a_view
    out = tmp_path_factory.mktemp("export_b") / "b.jsonl"
    assert main(["judgements", "export", "--db", str(env.path), "--guild", env.b.id, "--output", str(out)]) == 0
    assert [json.loads(line)["question"] for line in out.read_text().splitlines()] == [SECRET_B]


async def test_forget_me_removes_her_questions_from_the_judgements_and_the_export(env: Env, tmp_path_factory) -> None:
    alice = env.a.member("alice").id
    forget = await env.run("forget-me", user="alice")
    reply = (await wait_private(forget))["content"]
    assert "4 moderator judgements of your questions" in reply  # putin, bowl, oil and halftime were hers
    left = [r for r in env.judgements() if r["guild_id"] == env.a.id]
    assert [r["question"] for r in left] == [TAIWAN]
    assert alice not in json.dumps(env.judgements())
    out = tmp_path_factory.mktemp("export_after") / "a.jsonl"
    assert main(["judgements", "export", "--db", str(env.path), "--guild", env.a.id, "--output", str(out)]) == 0
    assert [json.loads(line)["question"] for line in out.read_text().splitlines()] == [TAIWAN]
    assert not [t for t in (HALFTIME.encode(), OIL.encode(), HALFTIME_SENTENCE.encode()) if t in file_bytes(env.path)]


async def test_buttons_survive_a_restart_and_retention_keeps_only_what_was_kept_for_training(tmp_path) -> None:
    emulator = DiscordEmulator()
    await emulator.start()
    a = emulator.guild
    bob = emulator.add_member(a, "bob")
    other = emulator.add_guild("Other Guild")
    carol = emulator.add_member(other, "carol")
    path = tmp_path / "interactions.db"
    filled = fill(path, server_of(a, {"alice": a.member("alice").id, "bob": bob.id}),
                  server_of(other, {"carol": carol.id}), start=datetime.now(timezone.utc) - timedelta(days=3))
    settings = Settings(discord_guild_id=int(a.id), database_path=path, index_path=tmp_path / "index.db",
                        ask_cooldown_rate=0, log_retention_days=0)
    taiwan, bowl = filled.ids["a_taiwan"], filled.ids["a_bowl_1"]
    async with judging_bot(emulator, settings):
        listing = await emulator.slash("review recent", {}, user="moderator")
        await listing.wait_final(10)
        opened = await emulator.press(listing.message, f"jg:open:{taiwan}", user="moderator")
        await opened.wait_final(10)

    async with judging_bot(emulator, settings):  # a new process: only the custom_ids are left
        pressed = await emulator.press(opened.message, f"jg:v:{taiwan}:q2", user="moderator")
        await pressed.wait_final(10)
        assert pressed.message["content"] == "Saved: Quote 2 answered."
        opened_bowl = await emulator.press(listing.message, f"jg:open:{bowl}", user="moderator")
        await opened_bowl.wait_final(10)
        judged = await emulator.press(opened_bowl.message, f"jg:v:{bowl}:right", user="moderator")
        await judged.wait_final(10)
        kept = await emulator.press(judged.message, f"jg:keep:{bowl}:1", user="moderator")
        await kept.wait_final(10)
    assert [(r["interaction_id"], r["keep_for_training"]) for r in db_rows(path, "SELECT * FROM judgements")] == [
        (taiwan, 0), (bowl, 1)]

    async with judging_bot(emulator, replace(settings, log_retention_days=2)):  # purges everything at start-up
        assert not db_rows(path, "SELECT * FROM interactions WHERE command = 'ask'")
        [left] = db_rows(path, "SELECT * FROM judgements")
        assert (left["question"], left["verdict"], left["keep_for_training"]) == (SUPER_BOWL, RIGHTLY_REFUSED, 1)
        assert left["interaction_id"] is left["moderator_id"] is left["asker_id"] is None
        gone = await emulator.press(opened.message, f"jg:v:{taiwan}:q1", user="moderator")
        assert "no longer in this server's log" in (await wait_private(gone))["content"]
        listed = await emulator.slash("review judged", {}, user="moderator")
        await listed.wait_final(10)
        description = listed.message["embeds"][0]["description"]
        assert SUPER_BOWL in description and "(answer purged)" in description and TAIWAN not in description
    assert [i["question"] for i in judged_items(path, a.id)] == [SUPER_BOWL]
    await emulator.stop()
