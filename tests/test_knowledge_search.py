"""Search with the real model: verbatim quotes, abstention, follow-ups, more, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge.models import Turn


def test_quotes_are_verbatim_with_highlight_and_source(engine):
    answer = engine.ask("What currencies do Russia and China use for their trade?")
    assert not answer.abstained and 1 <= len(answer.quotes) <= 3
    for quote in answer.quotes:
        article = engine.article(quote.article_id)
        assert article.body[quote.start : quote.end] == quote.text
        assert len(quote.text) <= 1024
        a, b = quote.highlight
        assert 0 <= a < b <= len(quote.text)
        passage = engine.passage(quote.passage_id)
        assert passage.start <= quote.start and quote.end <= passage.end
        assert quote.title == article.title
    assert len({q.passage_id for q in answer.quotes}) == len(answer.quotes)
    assert "yuan" in answer.quotes[0].text.lower()


@pytest.mark.parametrize("question", [
    "asdkjh qwpoeiru zmxncb",
    "How do I bake sourdough bread at home?",
    "What did Zelensky say about the summit?",
    "Who won the 2022 football World Cup final?",
])
def test_abstains_on_questions_the_articles_do_not_cover(engine, question):
    answer = engine.ask(question)
    assert answer.abstained and answer.quotes == () and answer.reason


@pytest.mark.parametrize("question", ["", "   ", "???", "\u200b\u200b"])
def test_empty_questions_abstain_with_a_reason(engine, question):
    answer = engine.ask(question)
    assert answer.abstained and "empty" in answer.reason


def test_huge_and_odd_questions_do_not_crash(engine):
    assert "too long" in engine.ask("why " * 2000).reason
    odd = engine.ask("@everyone 🤔 what do Russia and China trade in — yuan? \u202e\x00")
    assert not odd.abstained


def test_questions_are_not_kept_in_the_fold_memo(engine):
    from knowledge.text import fold_article_text

    engine.ask("what did Russia sell to China?")  # the memo holds what a first answer folds from the articles
    before = fold_article_text.cache_info().currsize
    for n in range(5):
        engine.ask(f"{n} " + "".join(chr(0x400 + (n * 37 + i) % 600) for i in range(900)) + " what about oil?")
    assert fold_article_text.cache_info().currsize == before


def test_follow_up_uses_the_conversation(engine):
    first = "What did Xi supposedly tell Trump about Putin and the invasion of Ukraine?"
    alone = engine.ask("did he ever say that to biden too?")
    followed = engine.ask("did he ever say that to biden too?", previous=[Turn(first)])
    assert not followed.abstained
    assert "Joe Biden" in followed.quotes[0].text
    assert alone.abstained or "Joe Biden" not in alone.quotes[0].text or followed.confidence >= alone.confidence


def test_more_returns_new_passages_until_exhausted(engine):
    question = "How dependent is Russia on China?"
    shown: set[str] = set()
    rounds = 0
    while rounds < 20:
        answer = engine.ask(question, exclude=shown)
        if answer.abstained:
            assert "that's all the articles have" in answer.reason.lower()
            break
        ids = set(answer.passage_ids)
        assert not ids & shown
        shown |= ids
        rounds += 1
    assert rounds >= 2


def test_latency_is_recorded(engine):
    answer = engine.ask("Who is Kurt Campbell?")
    assert answer.timings_ms["total"] > 0


@pytest.mark.parametrize("question", [
    "What was the value of Russia-China trade?",
    "How did Sino-Russian trade change?",
    "What came out of the Trump-Xi summit?",
    "Is Russia Now A Vassal Of China?",
])
def test_hyphenated_and_title_cased_names_are_checked_word_by_word(engine, question):
    answer = engine.ask(question)
    assert not answer.reason.startswith("The articles never mention"), answer.reason


def test_a_refusal_for_an_unknown_name_is_true(engine):
    answer = engine.ask("What did Boris Johnson say about the summit?")
    assert answer.abstained and answer.reason == "The articles never mention Boris Johnson."
    bodies = " ".join(a.body for a in engine.articles).lower()
    assert "johnson" not in bodies


def test_a_low_confidence_refusal_says_so_and_names_nothing(engine):
    answer = engine.ask("How do I bake sourdough bread at home?")
    assert answer.abstained and answer.reason == "Nothing in the articles answers this closely enough."
    assert answer.confidence < engine.ranker.answer_threshold


def test_the_marked_sentence_holds_the_answer(engine):
    answer = engine.ask("What currencies do Russia and China use for their trade?")
    quote = answer.quotes[0]
    marked = quote.text[quote.highlight[0]:quote.highlight[1]]
    assert "yuan" in marked.lower() or "rouble" in marked.lower() or "ruble" in marked.lower()


def test_candidate_features_say_which_sentence_of_a_window_holds_the_kind_of_answer_asked(engine):
    from knowledge.features import CANDIDATE_FEATURES
    from knowledge.search import gather
    from knowledge.text import text_flags

    column = {name: n for n, name in enumerate(CANDIDATE_FEATURES)}
    index = engine.index
    for question, flag, wanted in [("How many billions of dollars was trade between Russia and China worth?",
                                    "wants_number_sentence_number", 0),
                                   ("Who said China is the economic lifeline for Russia?", "wants_name_sentence_name", 1),
                                   ("Why did Putin go to Beijing?", "wants_number_sentence_number", None)]:
        found = gather(index, question, engine.embed([question])[0], engine.memory, 40)
        values = found.features[:, column[flag]]
        expected = [float(wanted is not None and text_flags(index.sentences[int(r)].text)[wanted]) for r in found.rows]
        assert values.tolist() == expected
        assert (wanted is None) == (not values.any())  # a question that asks for no number marks none
        gaps = found.features[:, column["sentence_sim_window_gap"]]
        assert (gaps <= 1e-6).all() and np.isclose(gaps, 0.0).any()  # the best sentence of its window: 0


def test_quotes_below_the_floor_fill_an_answer_only_within_its_budget(engine):
    from knowledge.search import ANSWER_BUDGET_CHARS, rank, select_spans

    index = engine.index
    question = "Why did Putin go to Beijing?"
    ranking = rank(index, question, engine.embed([question])[0], engine.ranker, engine.memory)
    top = float(ranking.window[ranking.rows[0]])

    def select(floor: float, budget: int = ANSWER_BUDGET_CHARS):
        spans = select_spans(index, ranking.rows, ranking.window, ranking.sentence, set(), 3, floor, budget)
        return spans, sum(index.sentences[hi].end - index.sentences[lo].start for lo, hi, _, _ in spans)

    assert select(top + 1e-6)[0] == []  # the first quote must reach the floor: otherwise nothing is shown
    unbounded, _ = select(top, budget=10**9)
    assert len(unbounded) == 3  # below the floor, further quotes still come when the budget allows
    alone, alone_chars = select(top, budget=0)
    assert len(alone) == 1 and alone[0][2] == unbounded[0][2]  # no room: the quote above the floor, unwidened
    spans, chars = select(top)
    assert chars <= ANSWER_BUDGET_CHARS and spans[0][2] == unbounded[0][2]
