"""Hybrid retrieval over sentences: dense + BM25, follow-up context, quotes and abstention."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Collection, Sequence

import numpy as np

from knowledge.index import Index
from knowledge.models import Answer, Quote, Turn
from knowledge.lexical import stem
from knowledge.text import STOPWORDS, content_words

# Weights of the fused score (chosen on the dev set, see BENCHMARKS.md).
W_SENTENCE, W_WINDOW, W_PASSAGE, W_LEXICAL = 0.5, 1.0, 0.6, 0.2
# The answering sentence marked inside a quote: sentence similarity plus this share of its BM25 score.
W_PINPOINT = 0.3
# Follow-ups: sentences in the passages the last answer showed get this bonus (the talk continues there).
W_CONTINUITY = 0.06
# Abstention (calibrated on the dev set's in-scope and out-of-scope items, see BENCHMARKS.md):
# relevance = best dense similarity + W_KNOWN * share of the question's words the articles use at all
#           + W_COVERED * share found together in the best-matching window + W_BM25 * min(best BM25 / 10, 1),
# shares weighted by IDF (a word the articles never use weighs the most).
RELEVANCE_THRESHOLD = 0.735
W_KNOWN, W_COVERED, W_BM25 = 0.4, 0.15, 0.1
# Further quotes must keep this share of the best sentence's score ("More" digs a little deeper).
RELATIVE_FLOOR = 0.72
MORE_FLOOR = 0.6
QUOTE_MAX_CHARS = 620
MERGE_MAX_CHARS = 900  # a passage's quote may widen to this to take in a second strong sentence
MAX_CONTEXT_TURNS = 2
REFERRING = re.compile(
    r"^[\"'“‘(]*(this|that|these|those|it|its|he|she|they|them|his|her|their|but|and|yet|so|such|instead|"
    r"however|therefore|thus|then|there|here|both|neither|nor|which)\b", re.I,
)


@dataclass(frozen=True)
class Scored:
    """Fused per-sentence scores and the relevance features of one query."""

    fused: np.ndarray
    sentence: np.ndarray  # how well each sentence alone answers (to mark the answering sentence)
    dense_best: float
    lexical_best: float
    known_share: float
    covered_share: float

    @property
    def relevance(self) -> float:
        """How strongly the best evidence matches (calibrated against RELEVANCE_THRESHOLD)."""
        return (self.dense_best + W_KNOWN * self.known_share + W_COVERED * self.covered_share
                + W_BM25 * min(self.lexical_best / 10.0, 1.0))


def term_shares(index: Index, query_text: str, window_scores: np.ndarray) -> tuple[float, float]:
    """IDF-weighted shares of the query's words: known to the articles, and present in the best window."""
    lexical = index.lexical
    terms = list(dict.fromkeys(content_words(query_text)))
    if not terms or not window_scores.size:
        return 0.0, 0.0
    unknown_weight = math.log(lexical.size + 1) + 0.7
    weights = {t: lexical.idf(t) if lexical.knows(t) else unknown_weight for t in terms}
    total = sum(weights.values())
    known = sum(w for t, w in weights.items() if lexical.knows(t)) / total
    lo, hi = index.window_bounds[int(np.argmax(window_scores))]
    present = {stem(w) for s in index.sentences[lo : hi + 1] for w in content_words(s.text)}
    covered = sum(w for t, w in weights.items() if stem(t) in present) / total
    return known, covered


def score_query(index: Index, query_vector: np.ndarray, query_text: str) -> Scored:
    """Score every sentence for one query."""
    sentence_sim = index.sentence_vectors @ query_vector
    window_sim = index.window_vectors @ query_vector
    passage_sim = (index.passage_vectors @ query_vector)[index.sentence_passage]
    dense = W_SENTENCE * sentence_sim + W_WINDOW * window_sim + W_PASSAGE * passage_sim
    lexical = index.sentence_lexical.scores(query_text)
    best_lexical = float(lexical.max()) if lexical.size else 0.0
    fused = dense + (W_LEXICAL * lexical / best_lexical if best_lexical > 0 else 0.0)
    window_lexical = index.lexical.scores(query_text)
    top = float(window_lexical.max()) if window_lexical.size else 0.0
    known, covered = term_shares(index, query_text, window_lexical)
    dense_best = float(max(sentence_sim.max(), window_sim.max())) if sentence_sim.size else 0.0
    pinpoint = sentence_sim + (W_PINPOINT * lexical / best_lexical if best_lexical > 0 else 0.0)
    return Scored(fused=fused, sentence=pinpoint, dense_best=dense_best, lexical_best=top,
                  known_share=known, covered_share=covered)


def context_text(question: str, previous: Sequence[Turn | str]) -> str:
    """The question with the last earlier questions of the conversation before it."""
    earlier = [p.question if isinstance(p, Turn) else str(p) for p in previous][-MAX_CONTEXT_TURNS:]
    return " ".join([*earlier, question])


def continuity_bonus(index: Index, previous: Sequence[Turn | str]) -> np.ndarray | float:
    """A small bonus for sentences in the passages the last answer showed."""
    last = previous[-1] if previous else None
    if not isinstance(last, Turn) or not last.passage_ids:
        return 0.0
    shown = {i for i, p in enumerate(index.passages) if p.id in set(last.passage_ids)}
    return W_CONTINUITY * np.isin(index.sentence_passage, list(shown)).astype(np.float32)


def missing_names(index: Index, question: str) -> list[str]:
    """Names in the question (runs of capitalised words) with a word that appears nowhere in the articles."""
    missing = []
    for sentence in re.split(r"(?<=[.!?])\s+", question):
        tokens = re.findall(r"[A-Za-z][A-Za-z'’\-]*", sentence)
        run: list[tuple[str, bool]] = []
        for position, token in enumerate([*tokens, ""]):
            word = re.sub(r"['’]s?$", "", token)
            capitalised = position > 0 and bool(word) and word[0].isupper() and word.lower() not in STOPWORDS
            if capitalised:
                judged = len(word) >= 3 and not (word.isupper() and len(word) < 4)  # skip UN, EU
                run.append((word, judged and not index.lexical.knows(word.lower())))
                continue
            if any(unknown for _, unknown in run):
                missing.append(" ".join(w for w, _ in run))
            run = []
    return missing


def quote_bounds(index: Index, row: int, sentence_score: np.ndarray) -> tuple[int, int]:
    """Sentence rows [lo, hi] to quote around sentence `row`: its window, trimmed to QUOTE_MAX_CHARS."""
    sentences = index.sentences
    lo, hi = index.window_bounds[row]

    def length(a: int, b: int) -> int:
        return sentences[b].end - sentences[a].start

    if lo < row and REFERRING.match(sentences[row].text) is None and length(lo, hi) > QUOTE_MAX_CHARS:
        lo = row
    while length(lo, hi) > QUOTE_MAX_CHARS and lo < hi:
        if hi > row and (lo == row or sentence_score[hi] <= sentence_score[lo]):
            hi -= 1
        else:
            lo += 1
    return lo, hi


def make_quote(index: Index, lo: int, hi: int, row: int, score: float) -> Quote:
    """Build the Quote for sentence rows lo..hi, marking sentence `row`."""
    sentences = index.sentences
    article = index.article(sentences[row].article_id)
    start, end = sentences[lo].start, sentences[hi].end
    passage = index.passages[index.sentence_passage[row]]
    return Quote(
        passage_id=passage.id, article_id=article.id, title=article.title, outlet=article.outlet,
        author=article.author, date=article.date, url=article.url, text=article.body[start:end],
        start=start, end=end,
        highlight=(sentences[row].start - start, sentences[row].end - start), score=round(float(score), 4),
    )


def select_spans(
    index: Index, fused: np.ndarray, sentence_score: np.ndarray, excluded: set[str], limit: int, floor: float,
) -> list[tuple[int, int, int, float]]:
    """Pick up to `limit` quote spans (lo, hi, highlight row, score), one per passage, best first.

    A strong sentence in a passage already chosen widens that passage's quote when the two fit together.
    """
    spans: dict[int, tuple[int, int, int, float]] = {}
    for row in np.argsort(-fused):
        row = int(row)
        score = float(fused[row])
        if score < floor:
            break
        passage = int(index.sentence_passage[row])
        if index.passages[passage].id in excluded:
            continue
        lo, hi = quote_bounds(index, row, sentence_score)
        if passage in spans:
            old_lo, old_hi, old_row, old_score = spans[passage]
            new_lo, new_hi = min(lo, old_lo), max(hi, old_hi)
            if index.sentences[new_hi].end - index.sentences[new_lo].start <= MERGE_MAX_CHARS:
                spans[passage] = (new_lo, new_hi, old_row, old_score)
            continue
        if len(spans) >= limit:
            break
        spans[passage] = (lo, hi, row, score)
    return sorted(spans.values(), key=lambda span: -span[3])


def search(
    index: Index,
    question: str,
    question_vector: np.ndarray,
    previous: Sequence[Turn | str] = (),
    context_vector: np.ndarray | None = None,
    exclude: Collection[str] = (),
    limit: int = 3,
    rank_only: bool = False,
) -> Answer:
    """Rank sentences for a question (and its conversation) and return quotes or an abstention."""
    if not index.sentences:
        return Answer(question=question, abstained=True, reason="No articles are loaded.")
    scored = score_query(index, question_vector, question)
    if previous and context_vector is not None:
        in_context = score_query(index, context_vector, context_text(question, previous))
        fused = np.maximum(scored.fused, in_context.fused) + continuity_bonus(index, previous)
        sentence_score = np.maximum(scored.sentence, in_context.sentence)
        relevance = max(scored.relevance, in_context.relevance)
    else:
        fused, relevance, sentence_score = scored.fused, scored.relevance, scored.sentence
    names = [] if rank_only else missing_names(index, question)
    if names:
        listed = ", ".join(dict.fromkeys(names))
        return Answer(question=question, abstained=True, confidence=relevance,
                      reason=f"The articles never mention {listed}.")
    if relevance < RELEVANCE_THRESHOLD and not rank_only:
        return Answer(question=question, abstained=True, confidence=relevance,
                      reason="Nothing in the articles is close enough to this question.")
    excluded = set(exclude)
    floor = float(fused.max()) * (MORE_FLOOR if excluded else RELATIVE_FLOOR)
    if rank_only:
        floor = -np.inf
    quotes = []
    for lo, hi, row, score in select_spans(index, fused, sentence_score, excluded, limit, floor):
        best = max(range(lo, hi + 1), key=lambda r: (sentence_score[r], r == row))
        quotes.append(make_quote(index, lo, hi, best, score))
    if not quotes:
        return Answer(question=question, abstained=True, confidence=relevance,
                      reason="There are no more quotes on this question.")
    return Answer(question=question, quotes=tuple(quotes), confidence=round(relevance, 4))

