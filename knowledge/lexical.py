"""Lexical search with bm25s (stemmed, English stop words) and corpus vocabulary checks."""

from __future__ import annotations

import difflib
import math
from collections import Counter
from functools import lru_cache

import bm25s
import numpy as np
import Stemmer

from knowledge.rows import RowValues
from knowledge.spelling import correct_spelling, corrected_word
from knowledge.text import STOPWORDS, content_words

_STEMMER = Stemmer.Stemmer("english")


@lru_cache(maxsize=20000)
def stem(word: str) -> str:
    """Snowball-stem one lowercase word."""
    return _STEMMER.stemWord(word)


class LexicalIndex:
    """BM25 over a list of texts, plus document frequencies of stemmed words."""

    def __init__(self, texts: list[str]):
        self.size = len(texts)
        self.retriever = None
        tokens = bm25s.tokenize(texts, stopwords="en", stemmer=_STEMMER, show_progress=False) if texts else None
        if tokens is not None and tokens.vocab:  # bm25s can't index texts without a single word (say, only "\u200b")
            self.retriever = bm25s.BM25()
            self.retriever.index(tokens, show_progress=False)
        self.knows = lru_cache(maxsize=4096)(self._knows)  # per index: a replaced index is not kept alive
        self.spelled = lru_cache(maxsize=4096)(self._spelled)
        self.df: Counter[str] = Counter()
        self.words: set[str] = set()
        for text in texts:
            found = content_words(text)
            self.words.update(found)
            self.df.update({stem(w) for w in found})

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every text for the query (zeros when nothing matches)."""
        if self.retriever is None:
            return np.zeros(self.size, dtype=np.float32)
        tokens = bm25s.tokenize([query], stopwords="en", stemmer=_STEMMER, show_progress=False, return_ids=False)[0]
        if not tokens:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self.retriever.get_scores(tokens), dtype=np.float32)

    def row_scores(self, query: str) -> RowValues:
        """The same scores as `scores`, kept for the texts holding a query word only (the rows that score): one pass
        over the corpus here, none in what reads them (maxima, the best rows, follow-up merges)."""
        scores = self.scores(query)
        rows = np.flatnonzero(scores != 0)  # a boolean mask: several times faster than flatnonzero on floats
        return RowValues(self.size, 0.0, rows, scores[rows])

    def _knows(self, word: str) -> bool:
        """True when the corpus has the word, its stem, or a near spelling (typos)."""
        word = word.lower()
        if stem(word) in self.df:
            return True
        if len(word) < 5:
            return False
        return bool(difflib.get_close_matches(word, self.words, n=1, cutoff=0.85))

    def _spelled(self, word: str) -> str:
        """A lowercase word as the articles spell it: itself, or the articles' word one typo away."""
        return corrected_word(word, lambda w: w in self.words or w in STOPWORDS or stem(w) in self.df,
                              lambda w: self.df.get(stem(w), 0) if w in self.words else 0 if w in STOPWORDS else None)

    def corrected(self, text: str) -> str:
        """A question with its typos corrected to the articles' words (see knowledge/spelling.py)."""
        return correct_spelling(text, self.spelled)

    def idf(self, word: str) -> float:
        """Inverse document frequency of a word (unknown words get the maximum)."""
        return math.log((self.size + 1) / (self.df.get(stem(word.lower()), 0) + 0.5))
