"""The judge card and buttons stay within Discord's limits, whatever the answer looks like (no network)."""

from __future__ import annotations

import discord

from bot import formatting
from bot.judgements import QUOTE, SAID, SHOULD_REFUSE
from bot.judgements._views import (
    DYNAMIC_ITEMS,
    card_embed,
    card_view,
    code,
    decode,
    judge_buttons,
    judged_embed,
    judged_field,
    judged_pager,
)
from bot.judgements._store import PAGE_SIZE, Tally
from bot.review import Gap, Page
from bot.review_views import pager

BIG = 9_999_999_999_999_999_999  # the largest row id a custom_id template accepts (19 digits)


def answer(quotes: int, abstained: bool = False) -> dict:
    text = ("word " * 200).strip() + "."
    return {
        "id": BIG, "created_at": "2026-01-01T00:00:00.000Z", "question": "q? " * 400, "previous": "p " * 600,
        "abstained": int(abstained),
        "quotes": [{"rank": n, "article_id": "a" * 60, "passage_id": "a#1", "title": "T" * 300, "text": text,
                    "highlight_start": 5, "highlight_end": 900} for n in range(1, quotes + 1)],
    }


def components(view: discord.ui.View) -> list[dict]:
    return view.to_components()


def test_verdict_codes_round_trip() -> None:
    for verdict, rank in ((QUOTE, 1), (QUOTE, 5), (SAID, None), (SHOULD_REFUSE, None)):
        assert decode(code(verdict, rank)) == (verdict, rank)


def test_the_card_of_a_five_quote_answer_fits_one_message() -> None:
    judgement = {"moderator_id": "123", "verdict": SAID, "quote_rank": None, "sentence": "s " * 900,
                 "keep_for_training": 1}
    embed = card_embed(answer(5), [judgement] * 30)
    assert formatting.limit_problems(None, [embed]) == []
    rows = components(card_view(answer(5), judgement))
    assert [len(r["components"]) for r in rows] == [5, 2, 1] and len(rows) <= 5
    ids = [c["custom_id"] for r in rows for c in r["components"]]
    assert all(len(i) <= 100 for i in ids) and len(set(ids)) == len(ids)
    assert all(len(c["label"]) <= 80 for r in rows for c in r["components"])
    refused = components(card_view(answer(0, abstained=True), None))
    assert [c["label"] for r in refused for c in r["components"]] == [
        "None answered: the articles do say it", "Rightly refused", "Keep for training"]


def test_judge_buttons_join_a_listing_page_without_breaking_its_paging() -> None:
    gaps = [Gap(f"question {n}", 1, 1, "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z", (BIG - n,))
            for n in range(12)]
    page = Page("unanswered", gaps, 1, 12, 40)
    rows = components(judge_buttons(pager(BIG, page), page))
    assert len(rows) == 4 and [len(r["components"]) for r in rows] == [2, 5, 5, 2]
    assert rows[0]["components"][0]["custom_id"].startswith("rv:page:")
    assert judge_buttons(None, Page("recent", [], 0, 10, 0)) is None


def test_judged_listing_and_stats_field() -> None:
    item = {"interaction_id": None, "updated_at": "2026-01-01T00:00:00.000Z", "moderator_id": None,
            "verdict": QUOTE, "quote_rank": 2, "sentence": None, "keep_for_training": 1, "question": "x " * 2000}
    page = Page("judged", [item] * PAGE_SIZE, 0, PAGE_SIZE, 20)
    embed = judged_embed(page, {"user": "123", "verdict": "correct"})
    assert formatting.limit_problems(None, [embed]) == [] and "(answer purged)" in embed.description
    assert [c["custom_id"] for r in components(judged_pager(7, page)) for c in r["components"]] == [
        "jg:page:7:0", "jg:page:7:1"]
    assert judged_field(Tally(4, 5, 3)) == ("Judged", "**4** answers · **75%** correct\n(5 judgements)")
    assert judged_field(None)[1].startswith("none yet")
    assert len(DYNAMIC_ITEMS) == 4


def test_the_judged_listing_offers_to_judge_again_what_is_still_logged() -> None:
    from bot.judgements._views import judged_view

    items = [{"interaction_id": n} for n in (5, 5, 6, None)]
    ids = [c["custom_id"] for r in components(judged_view(None, Page("judged", items, 0, PAGE_SIZE, 4)))
           for c in r["components"]]
    assert ids == ["jg:open:5", "jg:open:6"]
    assert judged_view(None, Page("judged", [{"interaction_id": None}], 0, PAGE_SIZE, 1)) is None
