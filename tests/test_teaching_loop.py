"""Moderators teach the bot, end to end: judge five real answers -> export -> train -> reload -> better answers."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.judgements import judged_items
from knowledge.embeddings import ADAPTED_SUFFIX, SMALL_MODEL
from knowledge.text import contains
from tests.bot_fixtures import OUT_OF_SCOPE, wait_row
from tests.discord_emulator import connected_client

# The loop is the same for every model; this test runs it on the small one (MiniLM fine-tunes four models in
# minutes, the shipped mpnet in half an hour), with the ranker that was fitted for it.
SMALL = SMALL_MODEL + ADAPTED_SUFFIX
MINILM_RANKER = Path(__file__).parent / "data" / "minilm-ranker.json"

# Questions nobody labelled before, which that ranker gets wrong, and what a moderator says of them.
LAB = "which research lab did putin tour while in china?"
LAB_SENTENCE = "Putin’s visit to a cutting-edge Chinese"  # quote 3 of the shipped ranker holds it
SHIP = "what does moscow ship to beijing mostly?"
# Quote 2 of the small ranker before judging, below its floor.
SHIP_SENTENCE = "China is now Russia's first trading partner and the chief buyer of the hydrocarbons Europe will"
BORDER = "how long is the frontier the two countries share?"
BORDER_SENTENCE = ("But siding with the West against its nuclear neighbour in the north, with over 4000km of shared "
                   "borders, is even worse for Beijing – at a time when the US is building a lattice of alliances "
                   "to its south.")
HOBBY = "what hobby do xi and putin share?"


async def ask(emulator, question: str) -> dict:
    """Ask as a member and return the final answer message."""
    rec = await emulator.slash("ask", {"question": question}, user="alice")
    await rec.wait_final(30)
    return rec


def quote_texts(message: dict) -> list[str]:
    """The quote blocks of an answer message, best first (quotes are block quotes separated by blank lines)."""
    description = message["embeds"][0].get("description") or ""
    return [block.replace("\n> ", " ").removeprefix("> ") for block in description.split("\n\n")]


@pytest.mark.timeout(2400)  # training fine-tunes four models
async def test_judged_answers_retrain_the_ranker_and_the_bot_swaps_to_it(
        emulator, bot_settings, tmp_path, bot_errors) -> None:
    from bot.client import QuoteBot
    from knowledge import Engine

    index = tmp_path / "index.db"
    ranker = tmp_path / "ranker.json"
    engine = await asyncio.to_thread(Engine.open, cache_path=index, model_name=SMALL, ranker_path=MINILM_RANKER)
    bot = QuoteBot(replace(bot_settings, index_path=index, ranker_path=ranker, embedding_model=SMALL), engine=engine)
    emulator.add_member(emulator.guild, "app-owner")
    log = bot.settings.database_path
    async with connected_client(bot, emulator):
        before = {}
        for question in (LAB, SHIP, BORDER, HOBBY, OUT_OF_SCOPE):
            rec = await ask(emulator, question)
            before[question] = (rec, (await wait_row(log, rec.id))["id"])
        # Before judging, the ship sentence is at best a later quote (an answer's budget may bring it in below the
        # floor) and the border sentence is not quoted at all; after retraining both lead their answers.
        assert not contains(quote_texts(before[SHIP][0].message)[0], SHIP_SENTENCE)
        assert not any(contains(t, "4000km") for t in quote_texts(before[BORDER][0].message))

        listing = await emulator.slash("review recent", {}, user="moderator")
        await listing.wait_final(10)

        async def judge(question: str, code: str, sentence: str | None = None) -> None:
            row_id = before[question][1]
            card = await emulator.press(listing.message, f"jg:open:{row_id}", user="moderator")
            await card.wait_final(10)
            pressed = await emulator.press(card.message, f"jg:v:{row_id}:{code}", user="moderator")
            if sentence is None:
                await pressed.wait_final(10)
                assert "Saved" in json.dumps(pressed.message), pressed.message
                return
            await pressed.wait_response(5)
            done = await emulator.submit_modal(pressed, {"sentence": sentence})
            await done.wait_final(10)
            assert "Saved" in json.dumps(done.message), json.dumps(done.message)[:1500]

        rank = next(n for n, t in enumerate(engine.ask(LAB).quotes, 1) if contains(t.text, LAB_SENTENCE))
        await judge(LAB, f"q{rank}")
        await judge(SHIP, "said", SHIP_SENTENCE)
        await judge(BORDER, "said", BORDER_SENTENCE)
        await judge(HOBBY, "wrong")
        await judge(OUT_OF_SCOPE, "right")

        exported = tmp_path / "judged.jsonl"
        code = await asyncio.to_thread(main, ["judgements", "export", "--db", str(log), "--output", str(exported)])
        assert code == 0
        items = [json.loads(line) for line in exported.read_text().splitlines()]
        assert {i["question"] for i in items} == {LAB, SHIP, BORDER, HOBBY, OUT_OF_SCOPE}
        assert len(judged_items(log)) == 5

        code = await asyncio.to_thread(main, ["train", "--with-log", str(log), "--output", str(ranker),
                                              "--index", str(index), "--folds", "3", "--model", SMALL])
        assert code == 0 and ranker.exists()  # train refuses when the shipped sets' hit@3 drops by > 0.01

        reload = await emulator.slash("articles reload", {}, user="app-owner")
        await reload.wait_final(120)
        assert "Ranker: switched to one trained on" in reload.message["content"], reload.message
        assert bot.engine is not engine and len(bot.engine.memory) == len(engine.memory) + 5

        after = {q: (await ask(emulator, q)).message for q in (LAB, SHIP, BORDER, HOBBY)}
        assert contains(quote_texts(after[LAB])[0], LAB_SENTENCE)
        assert contains(quote_texts(after[SHIP])[0], SHIP_SENTENCE)
        assert contains(quote_texts(after[BORDER])[0], "4000km of shared borders")
        assert "judged before" in json.dumps(after[HOBBY])
