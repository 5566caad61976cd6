"""Typos in questions: corrected to the articles' words, never to anything else (pure parts and the real engine)."""

from __future__ import annotations

import pytest

from knowledge.spelling import correct_spelling, corrected_word, one_edit

ARTICLE_WORDS = {"countries", "according", "beijing", "particular", "during", "trade", "real"}
ENGLISH = {"countries": 900, "according": 800, "particular": 700, "during": 950, "trade": 600, "real": 990,
           "really": 999, "being": 999, "gushing": 5, "think": 990}
STOP_WORDS = {"really", "being"}


def fix(word: str) -> str:
    """corrected_word over the small vocabulary above (stop words as candidates, as the lexical index does)."""
    return corrected_word(word, lambda w: w in ARTICLE_WORDS or w in STOP_WORDS,
                          lambda w: 1 if w in ARTICLE_WORDS else 0 if w in STOP_WORDS else None, lambda: ENGLISH)


def test_one_edit_covers_deletion_insertion_replacement_and_transposition():
    edits = one_edit("abc")
    assert {"ab", "abcd", "abd", "bac"} <= edits
    assert "abc" in edits  # replacing a letter by itself


@pytest.mark.parametrize("typo, fixed", [
    ("countires", "countries"),  # transposition
    ("acording", "according"),  # missing letter
    ("particlar", "particular"),
    ("beijng", "beijing"),  # an article word wins over a common stop word one edit away ("being")
])
def test_a_misspelt_word_becomes_the_articles_word(typo, fixed):
    assert fix(typo) == fixed


@pytest.mark.parametrize("word", [
    "gushing",  # an English word the articles don't use: left alone
    "think",  # one edit from nothing here, and English anyway
    "besties",  # unknown everywhere, but no article word is one edit away
    "zelensky",  # a name the articles never mention stays, so the name rule can say so
    "trd",  # too short to correct safely
    "countires" * 4,  # too long to be a typo of any word
    "trade",  # already right
])
def test_other_words_are_left_as_they_are(word):
    assert fix(word) == word


def test_the_text_keeps_its_case_and_punctuation():
    text = "Did Putin visit Beijng, acording to AP? COUNTIRES!"
    assert correct_spelling(text, fix) == "Did Putin visit Beijing, according to AP? COUNTRIES!"
    assert correct_spelling("", fix) == ""


def test_the_real_index_corrects_typos_to_article_words(engine):
    corrected = engine.index.lexical.corrected
    assert corrected("how many countires sent reps?") == "how many countries sent reps?"
    assert corrected("Did Putin visit Beijng?") == "Did Putin visit Beijing?"
    assert corrected("was it all gushing, besties?") == "was it all gushing, besties?"


def test_a_typo_gets_the_answer_of_the_right_spelling_and_keeps_the_question_as_asked(engine):
    typed = engine.ask("What currencies do Russia and China use for their trade acording to the articles?")
    right = engine.ask("What currencies do Russia and China use for their trade according to the articles?")
    assert typed.question.endswith("trade acording to the articles?")
    assert [q.passage_id for q in typed.quotes] == [q.passage_id for q in right.quotes]


def test_a_misspelt_name_is_not_refused_as_unknown(engine):
    answer = engine.ask("When did Putin arrive in Beijng?")
    assert not answer.reason.startswith("The articles never mention"), answer.reason


def test_an_unknown_name_is_still_refused_truthfully(engine):
    answer = engine.ask("What did Zelensky say about the summit?")
    assert answer.abstained and answer.reason == "The articles never mention Zelensky."


def test_a_corrected_question_says_how_it_was_read(engine):
    from bot.cli import answer_json, render_answer
    from bot.formatting import answer_embed

    answer = engine.ask("Did Putin arrive in Beijng?")
    assert answer.read_as == "Did Putin arrive in Beijing?"
    assert "Read as: Did Putin arrive in Beijing?" in answer_embed(answer).footer.text
    assert render_answer(answer).startswith("(Read as: Did Putin arrive in Beijing?)")
    assert answer_json(answer)["read_as"] == "Did Putin arrive in Beijing?"
    assert engine.ask("Did Putin arrive in Beijing?").read_as == ""
