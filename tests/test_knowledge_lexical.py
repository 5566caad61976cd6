"""Compact BM25 postings (large indexes) give bm25s's scores bit for bit; settling keeps an index's answers; the
close-word check answers as difflib does."""

from __future__ import annotations

import difflib
import random

import numpy as np

from knowledge.lexical import CloseWords, LexicalIndex, Postings

WORDS = ("gas pipeline china trade yuan rouble oil price sanctions bank talks stalled power siberia export "
         "import tariff market deal summit border").split()


def corpus(count: int, seed: int = 0) -> list[str]:
    """Random texts of 1 to 40 words (lengths vary: many distinct scores per word), a few without any word."""
    pick = random.Random(seed)
    texts = [" ".join(pick.choices(WORDS, k=pick.randint(1, 40))) + "." for _ in range(count)]
    texts[3] = "The of and."  # stop words only: no posting
    return texts


QUERIES = ["gas pipeline china trade trade", "yuan", "unheard-of words", "", "the", "oil oil oil price",
           "siberia border summit deal market tariff import export"]


def test_compact_postings_give_the_same_scores_bit_for_bit() -> None:
    texts = corpus(3000)
    full, compact = LexicalIndex(texts), LexicalIndex(texts, compact=True)
    assert compact.postings is not None and compact.postings.codes is not None
    assert compact.postings.nbytes < 0.6 * sum(full.retriever.scores[k].nbytes for k in ("data", "indices", "indptr"))
    scores = full.retriever.scores  # bm25s's numpy sort (small indexes) and scipy's (large): the same postings
    again = Postings(scores["data"], scores["indices"], scores["indptr"], scores["num_docs"])
    for part in ("table", "table_start", "codes", "low", "bounds"):
        assert np.array_equal(getattr(again, part), getattr(compact.postings, part)), part
    for query in QUERIES:
        assert np.array_equal(compact.scores(query), full.scores(query)), query
        assert compact.scores(query).dtype == np.float32
        held, expected = compact.row_scores(query), full.row_scores(query)
        assert np.array_equal(held.rows, expected.rows) and np.array_equal(held.values, expected.values)


def test_rows_across_blocks_and_scores_kept_as_is_when_codes_would_not_fit() -> None:
    texts = corpus(700, seed=1)
    data = LexicalIndex(texts).retriever.scores
    bm25 = LexicalIndex(texts)
    runs = ((4, 65_536, 1 << 23), (16, 65_536, 1 << 23), (3, 2, 1 << 23),  # blocks of 16 rows / one / too few codes
            (4, 65_536, 50), (16, 65_536, 1), (3, 2, 50))  # built a few words at a time (one word may hold more)
    whole = Postings(data["data"], data["indices"], data["indptr"], data["num_docs"], 4)
    for shift, levels, step in runs:
        postings = Postings(data["data"], data["indices"], data["indptr"], data["num_docs"], shift, levels, step)
        assert (postings.codes is None) == (levels == 2)
        if shift == 4 and levels > 2:
            for part in ("table", "table_start", "codes", "low", "bounds"):
                assert np.array_equal(getattr(postings, part), getattr(whole, part)), (step, part)
        for query in QUERIES[:3] + QUERIES[5:]:
            ids = bm25.retriever.get_tokens_ids(query.split())
            expected = bm25.retriever.get_scores_from_ids(ids)
            assert np.array_equal(postings.scores(ids), expected), (shift, levels, query)


def test_settle_keeps_the_vocabularies() -> None:
    texts = corpus(200, seed=2)
    lexical = LexicalIndex(texts, compact=True)
    df, words, vocab = dict(lexical.df), set(lexical.words), dict(lexical.retriever.vocab_dict)
    before = lexical.scores("gas trade")
    lexical.settle()
    assert dict(lexical.df) == df and lexical.words == words and lexical.retriever.vocab_dict == vocab
    assert np.array_equal(lexical.scores("gas trade"), before) and lexical.knows("pipelin")


def test_close_words_answer_as_difflib_does() -> None:
    vocabulary = ("pipeline pipelines siberia sanctions rouble yuan dependency dependent lopsided kremlin beijing "
                  "moscow partnership partner négociations x-ray " + "b" * 300).split()
    close = CloseWords(vocabulary)
    pick = random.Random(3)
    probes = ["pipelin", "siberian", "sanktions", "yaun", "zelensky", "", "q", "b" * 299, "b" * 400, "négociation"]
    for word in vocabulary:
        for _ in range(4):
            letters = list(word)
            letters[pick.randrange(len(letters))] = pick.choice("abcdeéiklmnorstuy-")
            if pick.random() < 0.5:
                del letters[pick.randrange(len(letters))]
            probes.append("".join(letters))
    for word in probes:
        expected = bool(difflib.get_close_matches(word, vocabulary, n=1, cutoff=0.85))
        assert (word in close) == expected, word
    assert "anything" not in CloseWords([])
