"""Lexical search with bm25s (stemmed, English stop words) and corpus vocabulary checks."""

from __future__ import annotations

import difflib
import math
from collections import Counter
from functools import lru_cache

import bm25s
import numpy as np
import Stemmer

from knowledge.heap import fresh
from knowledge.rows import RowValues
from knowledge.spelling import correct_spelling, corrected_word
from knowledge.text import STOPWORDS, content_words

_STEMMER = Stemmer.Stemmer("english")
STEMMER_CACHE = _STEMMER.maxCacheSize


@lru_cache(maxsize=20000)
def stem(word: str) -> str:
    """Snowball-stem one lowercase word."""
    return _STEMMER.stemWord(word)


def forget_stems() -> None:
    """Empty the stem memos (ours and the stemmer's): after a large build their strings lie scattered among the
    build's freed temporaries, each keeping a whole arena of the small-object heap; they refill when used."""
    stem.cache_clear()
    _STEMMER.maxCacheSize = 0  # PyStemmer empties its cache when the size is set to 0
    _STEMMER.maxCacheSize = STEMMER_CACHE


class CloseWords:
    """Whether any word of a vocabulary is close to a given word: difflib's `get_close_matches(word, words, n=1,
    cutoff)` answer, without its pass over every word in Python. Each word's letter counts sit in a matrix, so
    difflib's own upper bounds on the similarity (length and shared letters) are checked for all words at once,
    and the exact ratio is computed only for the few words they let through."""

    def __init__(self, words, cutoff: float = 0.85, columns: int = 63) -> None:
        self.words = sorted(words)
        self.cutoff, self.columns = cutoff, columns
        letters = Counter(c for w in self.words for c in set(w))
        self.column = {c: n for n, (c, _) in enumerate(letters.most_common(columns))}  # the rest share one column
        self.lengths = np.fromiter((len(w) for w in self.words), dtype=np.int32, count=len(self.words))
        self.counts = np.zeros((len(self.words), columns + 1), dtype=np.uint8)
        self.unbounded = np.zeros(len(self.words), dtype=bool)  # a letter over 255 times: always checked exactly
        for row, word in enumerate(self.words):
            cells = Counter(self.column.get(c, columns) for c in word)
            for cell, n in cells.items():
                self.counts[row, cell] = min(n, 255)
            self.unbounded[row] = max(cells.values(), default=0) > 255

    def __contains__(self, word: str) -> bool:
        """True when some word's difflib ratio against `word` is at least the cutoff."""
        if not self.words:
            return False
        size = len(word)
        total = (self.lengths + size).astype(np.float64)
        near = 2.0 * np.minimum(self.lengths, size) >= self.cutoff * total - 1e-9  # difflib's real_quick_ratio
        if not near.any():
            return False
        counts = np.zeros(self.columns + 1, dtype=np.int32)
        for cell, n in Counter(self.column.get(c, self.columns) for c in word).items():
            counts[cell] = n
        rows = np.flatnonzero(near)
        shared = np.minimum(self.counts[rows], counts).sum(axis=1)  # at least the letters difflib's quick_ratio shares
        rows = rows[(2.0 * shared >= self.cutoff * total[rows] - 1e-9) | self.unbounded[rows]]
        matcher = difflib.SequenceMatcher()
        matcher.set_seq2(word)
        for row in rows.tolist():
            matcher.set_seq1(self.words[row])
            if matcher.ratio() >= self.cutoff:
                return True
        return False


class Postings:
    """bm25s's postings (float32 score and int32 text row each, by word) in 4 bytes a posting instead of 8, giving
    the same float32 scores bit for bit: each score as a 16-bit code into its word's table of distinct scores, each
    row as its low 16 bits, the high part given by where the word's postings cross a multiple of 65,536 rows."""

    def __init__(self, data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, size: int, shift: int = 16,
                 levels: int = 65_536, step: int = 1 << 21) -> None:
        """Built a run of words at a time (about `step` postings each): a word's postings never straddle two runs,
        so the tables, codes and bounds are those of one pass over all of them, without its int64 temporaries."""
        words, total = len(indptr) - 1, int(indptr[-1])
        self.size, self.shift, self.blocks = int(size), shift, max(1, -(-int(size) // (1 << shift)))
        self.low = np.empty(total, dtype=np.uint16 if shift <= 16 else np.uint32)
        codes: np.ndarray | None = np.empty(total, dtype=np.uint16)
        tables, table_sizes = [], np.zeros(words, dtype=np.int64)
        block_counts = np.zeros(words * self.blocks, dtype=np.int64)
        first = 0
        while first < words:  # [first, last): whole words, about `step` postings (one word may hold more)
            last = max(first + 1, int(np.searchsorted(indptr, indptr[first] + step, side="right")) - 1)
            last = min(last, words)
            lo, hi = int(indptr[first]), int(indptr[last])
            word = np.repeat(np.arange(first, last, dtype=np.int64), np.diff(indptr[first : last + 1]))
            keys = (word << 32) | data[lo:hi].astype(np.float32).view(np.uint32).astype(np.int64)
            distinct, inverse = np.unique(keys, return_inverse=True)  # sorted by word, then by the score's bits
            tables.append((distinct & 0xFFFFFFFF).astype(np.uint32).view(np.float32))
            start = np.searchsorted(distinct >> 32, np.arange(first, last + 1))
            table_sizes[first:last] = np.diff(start)
            if codes is not None and table_sizes[first:last].max(initial=0) <= levels:
                codes[lo:hi] = inverse.reshape(-1) - start[word - first]
            else:
                codes = None  # a word with too many distinct scores: all scores kept as they are
            self.low[lo:hi] = indices[lo:hi] & ((1 << shift) - 1)
            block = word * self.blocks + (indices[lo:hi].astype(np.int64) >> shift)  # non-decreasing
            block_counts += np.bincount(block, minlength=len(block_counts))
            first = last
        self.table = np.concatenate(tables) if tables else np.zeros(0, dtype=np.float32)
        self.table_start = np.concatenate([[0], np.cumsum(table_sizes)]).astype(np.int64)
        self.codes = codes
        self.data = None if codes is not None else data.astype(np.float32)
        self.bounds = np.concatenate([[0], np.cumsum(block_counts)]).astype(np.int64)

    @property
    def nbytes(self) -> int:
        """Memory the postings take."""
        parts = (self.codes, self.data, self.low, self.bounds, self.table, self.table_start)
        return sum(p.nbytes for p in parts if p is not None)

    def scores(self, word_ids) -> np.ndarray:
        """Every text's BM25 score for these word ids (repeats count again), as bm25s adds them: float32, in order."""
        out = np.zeros(self.size, dtype=np.float32)
        for word in np.asarray(word_ids, dtype=np.int64).tolist():
            bounds = self.bounds[word * self.blocks : (word + 1) * self.blocks + 1]
            start, end = int(bounds[0]), int(bounds[-1])
            rows = self.low[start:end].astype(np.int64)
            rows += np.repeat(np.arange(self.blocks, dtype=np.int64) << self.shift, np.diff(bounds))
            out[rows] += self.word_scores(word, start, end)  # a word's rows are distinct: one add each, as np.add.at
        return out

    def word_scores(self, word: int, start: int, end: int) -> np.ndarray:
        """The float32 scores of one word's postings [start, end)."""
        if self.codes is None:
            return self.data[start:end]
        return self.table[self.table_start[word] + self.codes[start:end].astype(np.int64)]


class LexicalIndex:
    """BM25 over a list of texts, plus document frequencies of stemmed words. `compact`: postings kept as
    `Postings` (half the memory, the same scores; for large indexes)."""

    def __init__(self, texts: list[str], compact: bool = False):
        self.size = len(texts)
        self.retriever = None
        self.postings = None
        tokens = bm25s.tokenize(texts, stopwords="en", stemmer=_STEMMER, show_progress=False) if texts else None
        if tokens is not None and tokens.vocab:  # bm25s can't index texts without a single word (say, only "\u200b")
            # large: scipy sorts the postings by word in less memory than bm25s's numpy sort (the same postings)
            self.retriever = bm25s.BM25(csc_backend="scipy" if compact else "numpy")
            self.retriever.index(tokens, show_progress=False)
        del tokens
        if compact and self.retriever is not None:
            scores = self.retriever.scores
            self.postings = Postings(scores["data"], scores["indices"], scores["indptr"], scores["num_docs"])
            self.retriever.scores = {"num_docs": scores["num_docs"]}  # bm25s's own arrays go
        self.knows = lru_cache(maxsize=4096)(self._knows)  # per index: a replaced index is not kept alive
        self.spelled = lru_cache(maxsize=4096)(self._spelled)
        self.df: Counter[str] = Counter()
        self.words: set[str] = set()
        for text in texts:
            found = content_words(text)
            self.words.update(found)
            self.df.update({stem(w) for w in found})
        self.close_words = CloseWords(self.words)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every text for the query (zeros when nothing matches)."""
        if self.retriever is None:
            return np.zeros(self.size, dtype=np.float32)
        tokens = bm25s.tokenize([query], stopwords="en", stemmer=_STEMMER, show_progress=False, return_ids=False)[0]
        if not tokens:
            return np.zeros(self.size, dtype=np.float32)
        if self.postings is not None:
            return self.postings.scores(self.retriever.get_tokens_ids(tokens))
        return np.asarray(self.retriever.get_scores(tokens), dtype=np.float32)

    def settle(self) -> None:
        """Make the vocabularies anew (fresh strings and counts): called once the build's temporaries are freed, so
        these long-lived small objects sit together instead of each keeping one of the freed arenas."""
        self.df = Counter(dict(zip([fresh(w) for w in self.df], np.fromiter(self.df.values(), np.int64).tolist())))
        self.words = {fresh(w) for w in self.words}
        self.close_words = CloseWords(self.words)
        self.knows.cache_clear()
        if self.retriever is not None:
            vocab = self.retriever.vocab_dict
            ids = np.fromiter(vocab.values(), np.int64, count=len(vocab)).tolist()
            self.retriever.vocab_dict = dict(zip([fresh(w) for w in vocab], ids))
            self.retriever.unique_token_ids_set = set(self.retriever.vocab_dict.values())

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
        return word in self.close_words

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
