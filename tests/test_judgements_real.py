"""Judging a real answer of the real engine through the emulator: the exported span is the bold sentence shown."""

from __future__ import annotations

from bot.formatting import escape_text, one_line
from bot.judgements import judged_items
from knowledge.text import contains
from tests.bot_fixtures import IN_SCOPE, OUT_OF_SCOPE, wait_row


async def test_judged_real_answers_export_the_bold_sentence_and_the_article_file(quote_bot, emulator, engine,
                                                                                 bot_settings) -> None:
    path = bot_settings.database_path
    asked = {}
    for question in (IN_SCOPE, OUT_OF_SCOPE):
        rec = await emulator.slash("ask", {"question": question}, user="alice")
        await rec.wait_final(15)
        asked[question] = (await wait_row(path, rec.id))["id"]
    listing = await emulator.slash("review recent", {}, user="moderator")
    await listing.wait_final(10)
    for question, code in ((IN_SCOPE, "q1"), (OUT_OF_SCOPE, "right")):
        row_id = asked[question]
        card = await emulator.press(listing.message, f"jg:open:{row_id}", user="moderator")
        await card.wait_final(10)
        judged = await emulator.press(card.message, f"jg:v:{row_id}:{code}", user="moderator")
        await judged.wait_final(10)
        assert judged.message["content"].startswith("Saved:"), judged.message

    first = engine.ask(IN_SCOPE).quotes[0]
    bold = first.text[first.highlight[0]:first.highlight[1]].strip()
    article = next(a for a in engine.articles if a.id == first.article_id)
    items = {i["question"]: i for i in judged_items(path, emulator.guild.id)}
    assert items[IN_SCOPE]["answer_contains"] == [bold] and contains(article.body, bold)
    assert items[IN_SCOPE]["source"] == article.source_file and article.source_file.endswith(".txt")
    assert items[IN_SCOPE]["kind"] == "fact"
    shown = "**" + escape_text(one_line(bold))[:40]
    assert any(shown in description for description in card_text(emulator, asked[IN_SCOPE]))  # bold on the card
    assert items[OUT_OF_SCOPE] | {"id": ""} == {"id": "", "question": OUT_OF_SCOPE, "answer_contains": [],
                                               "source": None, "kind": "out_of_scope"}


def card_text(emulator, row_id: int) -> list[str]:
    """The descriptions of every judge card of an answer the emulator holds."""
    return [e.get("description", "") for m in emulator.messages.values() for e in m.get("embeds", [])
            if e.get("title") == f"Judge answer #{row_id}"]
