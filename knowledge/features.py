"""Per-candidate and per-question features for the learned ranker and the abstention model (pure numpy)."""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass

import numpy as np

from knowledge.index import Index
from knowledge.lexical import stem
from knowledge.rows import RowValues, fetch, maximum
from knowledge.text import content_words

# The candidate features, in the order of a feature row (the ranker file names them too).
CANDIDATE_FEATURES = (
    "sentence_sim", "window_sim", "passage_sim", "neighbour_best_sim",
    "window_sim_gap", "sentence_sim_gap", "passage_sim_gap",
    "sentence_bm25_rel", "window_bm25_rel", "window_bm25_abs",
    "window_overlap", "sentence_overlap",
    "is_followup", "context_window_sim", "context_sentence_sim", "context_window_gap", "in_shown", "next_to_shown",
    "memory_window", "memory_sentence", "memory_gap",
    "wants_number_has_number", "wants_number_lacks_number", "wants_name_has_name",
    "article_lead", "base_score_gap", "article_sim", "article_sim_gap", "article_named",
    "wants_number_sentence_number", "wants_name_sentence_name", "sentence_sim_window_gap", "sentence_bm25_window_gap",
)
# The question-level features of the abstention model.
QUESTION_FEATURES = (
    "top_probability", "second_probability", "dense_best", "known_share", "covered_share", "lexical_best",
    "memory_in_scope", "memory_out_of_scope", "memory_margin", "wants_number_top_lacks", "wants_name_top_lacks",
    "unknown_share", "question_words", "is_followup", "context_dense_best",
    "top_covered", "unknown_words", "passage_best", "top_window_sim", "number_evidence", "name_evidence",
)
NUMBER_QUESTION = re.compile(
    r"\b(how (many|much|long|far|big|large|old|often)|what (percent|percentage|share|proportion|number|year|date|"
    r"rate|amount|value|figure|population|size)|when|which year|what day|by how much)\b", re.I)
NAME_QUESTION = re.compile(r"\b(who|whom|whose|which (country|person|company|city|leader|official|outlet|"
                           r"newspaper|firm|bank|state)|what'?s the name|what is the name|name of)\b", re.I)


@dataclass(frozen=True)
class QuerySignals:
    """Every sentence's similarity and lexical scores for one query text.

    On a large index (approximate search) the per-sentence fields are RowValues: only the rows worth scoring hold
    values (similarities -1 elsewhere, BM25 0, fusion -inf), read like full arrays.
    """

    sentence_sim: np.ndarray
    window_sim: np.ndarray
    passage_sim: np.ndarray  # per sentence (its passage's similarity)
    sentence_bm25: np.ndarray
    window_bm25: np.ndarray
    base: np.ndarray  # the hand-set fusion, used to pick candidates
    known_share: float
    covered_share: float
    unknown_share: float
    article_sim: np.ndarray  # per article
    vector: np.ndarray | None = None  # approximate search only: the query vector, to complete rows later

    @property
    def known(self) -> np.ndarray | None:
        """Approximate search only: the rows whose similarities are computed (the rest read -1)."""
        return self.sentence_sim.rows if isinstance(self.sentence_sim, RowValues) else None


def term_weights(index: Index, text: str) -> dict[str, float]:
    """IDF weight of each distinct content word of a text (words the articles never use weigh the most)."""
    lexical = index.lexical
    unknown = math.log(lexical.size + 1) + 0.7
    return {t: (lexical.idf(t) if lexical.knows(t) else unknown) for t in dict.fromkeys(content_words(text))}


def overlap(weights: dict[str, float], text_stems: set[str]) -> float:
    """IDF-weighted share of the weighted words whose stem occurs in a text."""
    total = sum(weights.values())
    if not total:
        return 0.0
    return sum(w for t, w in weights.items() if stem(t) in text_stems) / total


def query_signals(index: Index, vector: np.ndarray, text: str) -> QuerySignals:
    """Score every sentence of the index for one query (a large index: only the rows worth scoring)."""
    if index.ann is not None:
        return approximate_signals(index, vector, text)
    sentence_sim = index.sentence_vectors @ vector
    window_sim = index.window_vectors @ vector
    passage_sim = (index.passage_vectors @ vector)[index.sentence_passage]
    sentence_bm25 = index.sentence_lexical.scores(text)
    window_bm25 = index.lexical.scores(text)
    best_sentence_bm25 = float(sentence_bm25.max()) if sentence_bm25.size else 0.0
    base = 0.5 * sentence_sim + window_sim + 0.6 * passage_sim
    if best_sentence_bm25 > 0:
        base = base + 0.2 * sentence_bm25 / best_sentence_bm25
    known, covered, unknown = vocabulary_shares(index, text, window_bm25)
    return QuerySignals(sentence_sim, window_sim, passage_sim, sentence_bm25, window_bm25, base,
                        known, covered, unknown, index.article_vectors @ vector)


def vocabulary_shares(index: Index, text: str, window_bm25: np.ndarray) -> tuple[float, float, float]:
    """Known share (IDF-weighted), coverage by the best BM25 window, and unknown share of a query's words."""
    weights = term_weights(index, text)
    total = sum(weights.values()) or 1.0
    known = sum(w for t, w in weights.items() if index.lexical.knows(t)) / total if weights else 0.0
    covered = 0.0
    if weights and window_bm25.size:
        covered = overlap(weights, index.window_stems(int(window_bm25.argmax())))
    unknown = sum(1 for t in weights if not index.lexical.knows(t)) / len(weights) if weights else 0.0
    return known, covered, unknown


def products(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """Each row's inner product with `vector`, on this thread: the approximate path's products are a few hundred
    rows (or the articles), where a multi-threaded BLAS waits for its other threads (milliseconds on a busy machine
    against 0.3 ms here for 5,000 × 384)."""
    return np.einsum("ij,j->i", matrix, vector)


LEXICAL_FETCH = 50  # approximate search: the best rows by each BM25 join the graph's rows


def top_rows(values, count: int, among: np.ndarray | None = None) -> np.ndarray:
    """Rows of the `count` largest values (only rows `among`, when given; RowValues: among the rows holding a value
    other than the fill), best first (ties in any order)."""
    rows, picked = fetch(values, count, among)
    if picked.size > count:
        keep = np.argpartition(-picked, count)[:count]
        rows, picked = rows[keep], picked[keep]
    return rows[np.argsort(-picked, kind="stable")]


def approximate_signals(index: Index, vector: np.ndarray, text: str) -> QuerySignals:
    """A large index's signals: BM25 over the rows holding a query word, similarities only for the rows the
    approximate search and BM25 find (RowValues: nothing in proportion to the corpus)."""
    size = len(index.sentences)
    sentence_bm25 = index.sentence_lexical.row_scores(text)
    window_bm25 = index.lexical.row_scores(text)
    vector = np.asarray(vector, dtype=np.float32)
    sims = [RowValues(size, -1.0) for _ in range(3)]
    signals = QuerySignals(*sims, sentence_bm25, window_bm25, RowValues(size, -np.inf), 0.0, 0.0,
                           0.0, products(index.article_vectors, vector), vector)
    lexical = [top_rows(scores, LEXICAL_FETCH) for scores in (sentence_bm25, window_bm25)]  # rows scoring > 0
    complete(index, signals, np.concatenate([index.ann.search(vector), *lexical]))
    known, covered, unknown = vocabulary_shares(index, text, window_bm25)
    return dataclasses.replace(signals, known_share=known, covered_share=covered, unknown_share=unknown)


def complete(index: Index, signals: QuerySignals | None, rows: np.ndarray) -> QuerySignals | None:
    """Compute the similarities (and fusion score) of `rows` and their windows' rows not scored yet (in place)."""
    if signals is None or signals.known is None or not len(rows):
        return signals
    rows = np.unique(np.asarray(rows, dtype=np.int64))
    bounds = np.asarray(index.window_bounds[rows] if isinstance(index.window_bounds, np.ndarray)
                        else [index.window_bounds[r] for r in rows], dtype=np.int64).reshape(-1, 2)
    rows = np.unique(np.concatenate([rows, bounds[:, 0], bounds[:, 1]]))
    rows = rows[~signals.sentence_sim.has(rows)]
    if not len(rows):
        return signals
    vector = signals.vector
    s = products(np.asarray(index.sentence_vectors[rows], dtype=np.float32), vector)
    w = products(np.asarray(index.window_vectors[rows], dtype=np.float32), vector)
    p = products(np.asarray(index.passage_vectors[index.sentence_passage[rows]], dtype=np.float32), vector)
    signals.sentence_sim.put(rows, s)
    signals.window_sim.put(rows, w)
    signals.passage_sim.put(rows, p)
    base = 0.5 * s + w + 0.6 * p
    best_sentence_bm25 = float(signals.sentence_bm25.max()) if signals.sentence_bm25.size else 0.0
    if best_sentence_bm25 > 0:
        base = base + 0.2 * signals.sentence_bm25[rows] / best_sentence_bm25
    signals.base.put(rows, base)
    return signals


def with_context(signals: QuerySignals, context: QuerySignals | None) -> QuerySignals:
    """A follow-up's signals: for each sentence the better of the question alone and the conversation."""
    if context is None:
        return signals
    window_bm25 = maximum(_rel(signals.window_bm25), _rel(context.window_bm25))
    top = max(float(signals.window_bm25.max(initial=0.0)), float(context.window_bm25.max(initial=0.0)))
    return QuerySignals(
        maximum(signals.sentence_sim, context.sentence_sim), maximum(signals.window_sim, context.window_sim),
        maximum(signals.passage_sim, context.passage_sim),
        maximum(_rel(signals.sentence_bm25), _rel(context.sentence_bm25)),
        window_bm25.times(top) if isinstance(window_bm25, RowValues) else window_bm25 * top,
        maximum(signals.base, context.base), max(signals.known_share, context.known_share),
        max(signals.covered_share, context.covered_share), min(signals.unknown_share, context.unknown_share),
        np.maximum(signals.article_sim, context.article_sim),
    )


def _rel(values: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """Values (at `rows`, when given) divided by their maximum (zeros when nothing scores)."""
    top = float(values.max()) if values.size else 0.0
    picked = values if rows is None else values[rows]
    if isinstance(picked, RowValues):
        return picked.divided(top) if top > 0 else RowValues(picked.size, 0.0, dtype=picked.dtype)
    return picked / top if top > 0 else np.zeros_like(picked)


def wants_number(question: str) -> bool:
    """True when the question asks for a quantity, a date or a time."""
    return NUMBER_QUESTION.search(question) is not None


def wants_name(question: str) -> bool:
    """True when the question asks who or for a name."""
    return NAME_QUESTION.search(question) is not None


def candidate_matrix(
    index: Index,
    question: str,
    signals: QuerySignals,
    rows: np.ndarray,
    context: QuerySignals | None = None,
    shown_passages: frozenset[int] = frozenset(),
    memory_window: np.ndarray | None = None,
    memory_sentence: np.ndarray | None = None,
) -> np.ndarray:
    """One feature row per candidate sentence (its window is the quote), in CANDIDATE_FEATURES order."""
    signals = with_context(signals, context)
    n = len(rows)
    s, w, p = signals.sentence_sim[rows], signals.window_sim[rows], signals.passage_sim[rows]
    lo = np.array([index.window_bounds[r][0] for r in rows], dtype=np.int64)
    hi = np.array([index.window_bounds[r][1] for r in rows], dtype=np.int64)
    neighbour = np.maximum(np.maximum(signals.sentence_sim[lo], signals.sentence_sim[hi]), s)
    # the sentence against the best of its window: which sentence of a quote is the answer (the bold one)
    spans = [np.arange(a, b + 1) for a, b in zip(lo, hi)]
    window_best_sim = np.array([float(np.max(signals.sentence_sim[span])) for span in spans])
    window_best_bm25 = np.array([float(np.max(signals.sentence_bm25[span])) for span in spans])
    weights = term_weights(index, question)
    window_overlap = np.array([overlap(weights, index.window_stems(int(r))) for r in rows], dtype=np.float32)
    sentence_overlap = np.array([overlap(weights, index.sentence_stems(int(r))) for r in rows], dtype=np.float32)
    number_q, name_q = wants_number(question), wants_name(question)
    has_number = index.window_has_number[rows]
    has_name = index.window_has_name[rows]
    if context is not None:
        cw, cs = context.window_sim[rows], context.sentence_sim[rows]
        cgap = cw - float(context.window_sim.max())
    else:
        cw = cs = cgap = np.zeros(n, dtype=np.float32)
    passages = index.sentence_passage[rows]
    in_shown = np.array([int(pp) in shown_passages for pp in passages], dtype=np.float32)
    next_to = np.array([bool(shown_passages) and int(pp) not in shown_passages and (
        (int(pp) - 1 in shown_passages and index.passage_article[int(pp) - 1] == index.passage_article[int(pp)])
        or (int(pp) + 1 in shown_passages and int(pp) + 1 < len(index.passages)
            and index.passage_article[int(pp) + 1] == index.passage_article[int(pp)])) for pp in passages],
        dtype=np.float32)
    mw = memory_window[rows] if memory_window is not None else np.zeros(n, dtype=np.float32)
    ms = memory_sentence[rows] if memory_sentence is not None else np.zeros(n, dtype=np.float32)
    best_memory = float(memory_window.max()) if memory_window is not None and memory_window.size else 0.0
    columns = [
        s, w, p, neighbour,
        w - float(signals.window_sim.max()), s - float(signals.sentence_sim.max()),
        p - float(signals.passage_sim.max()),
        _rel(signals.sentence_bm25, rows), _rel(signals.window_bm25, rows),
        np.minimum(signals.window_bm25[rows] / 10.0, 1.0),
        window_overlap, sentence_overlap,
        np.full(n, float(context is not None)), cw, cs, cgap, in_shown, next_to,
        mw, ms, mw - best_memory,
        has_number * number_q, (1 - has_number) * number_q, has_name * name_q,
        (index.sentence_position[rows] < 2).astype(np.float32),
        signals.base[rows] - float(signals.base.max()),
        signals.article_sim[index.sentence_article[rows]],
        signals.article_sim[index.sentence_article[rows]] - (float(signals.article_sim.max()) if signals.article_sim.size else 0.0),
        np.array([overlap(weights, index.article_stems[a]) for a in index.sentence_article[rows]], dtype=np.float32),
        index.sentence_has_number[rows] * number_q, index.sentence_has_name[rows] * name_q,
        s - window_best_sim, (signals.sentence_bm25[rows] - window_best_bm25) / np.maximum(window_best_bm25, 1.0),
    ]
    return np.column_stack([np.asarray(c, dtype=np.float32) for c in columns])


def dense_best(signals: QuerySignals | None) -> float:
    """The best sentence or window similarity of a query."""
    if signals is None or not signals.sentence_sim.size:
        return 0.0
    return float(max(signals.sentence_sim.max(), signals.window_sim.max()))


def typed_evidence(index: Index, weights: dict[str, float], rows, has_type: np.ndarray) -> float:
    """The best word overlap among the top windows that hold the kind of answer asked for (0 when none does)."""
    return max((overlap(weights, index.window_stems(int(r))) for r in rows if has_type[int(r)]), default=0.0)


def question_row(
    question: str,
    signals: QuerySignals,
    probabilities: np.ndarray,
    top_rows: np.ndarray,
    index: Index,
    memory_in: float,
    memory_out: float,
    context: QuerySignals | None = None,
) -> np.ndarray:
    """The abstention model's features for one question, in QUESTION_FEATURES order."""
    ordered = np.sort(probabilities)[::-1]
    top = int(top_rows[0]) if len(top_rows) else 0
    weights = term_weights(index, question)
    values = [
        float(ordered[0]) if ordered.size else 0.0, float(ordered[1]) if ordered.size > 1 else 0.0,
        dense_best(signals), signals.known_share, signals.covered_share,
        min(float(signals.window_bm25.max()) / 10.0, 1.0) if signals.window_bm25.size else 0.0,
        memory_in, memory_out, memory_in - memory_out,
        float(wants_number(question) and not index.window_has_number[top]),
        float(wants_name(question) and not index.window_has_name[top]),
        signals.unknown_share, min(len(content_words(question)) / 10.0, 1.0),
        float(context is not None), dense_best(context),
        max((overlap(weights, index.window_stems(int(r))) for r in top_rows[:3]), default=0.0),
        min(sum(1 for t in weights if not index.lexical.knows(t)) / 3.0, 1.0),
        float(signals.passage_sim.max()) if signals.passage_sim.size else 0.0,
        float(signals.window_sim[top]) if signals.window_sim.size else 0.0,
        typed_evidence(index, weights, top_rows[:3], index.window_has_number) if wants_number(question) else 1.0,
        typed_evidence(index, weights, top_rows[:3], index.window_has_name) if wants_name(question) else 1.0,
    ]
    return np.asarray(values, dtype=np.float32)

