"""Retrieval over sentences: candidates by dense + BM25, a learned ranker, quotes and abstention."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Collection, Sequence

import numpy as np

from knowledge.features import QuerySignals, candidate_matrix, complete, query_signals, question_row, top_rows
from knowledge.index import Index
from knowledge.labelled import LabelledItem
from knowledge.memory import Memory, recalled
from knowledge.models import Answer, Quote, Turn
from knowledge.ranker import Ranker
from knowledge.rows import RowValues, maximum
from knowledge.text import STOPWORDS

QUOTE_MAX_CHARS = 620
MERGE_MAX_CHARS = 900  # a passage's quote may widen to this to take in a second strong sentence
ANSWER_BUDGET_CHARS = 1500  # quotes below the ranker's floor are added only while an answer stays this short
MAX_CONTEXT_TURNS = 2
# A remembered question at least this similar is the same question asked again: its judged answer comes first.
RECALL_SIMILARITY = 0.95
REFERRING = re.compile(
    r"^[\"'“‘(]*(this|that|these|those|it|its|he|she|they|them|his|her|their|but|and|yet|so|such|instead|"
    r"however|therefore|thus|then|there|here|both|neither|nor|which)\b", re.I,
)


def context_text(question: str, previous: Sequence[Turn | str]) -> str:
    """The question with the last earlier questions of the conversation before it."""
    earlier = [p.question if isinstance(p, Turn) else str(p) for p in previous][-MAX_CONTEXT_TURNS:]
    return " ".join([*earlier, question])


def title_cased(question: str) -> bool:
    """True when most words of the question are capitalised (a headline-style question names nothing by it)."""
    tokens = re.findall(r"[A-Za-z][A-Za-z'’]*", question)[1:]
    return len(tokens) >= 3 and sum(t[0].isupper() for t in tokens) / len(tokens) >= 0.6


def missing_names(index: Index, question: str) -> list[str]:
    """Names in the question (runs of capitalised words, hyphenated parts apart) the articles never use."""
    if title_cased(question):
        return []
    missing = []
    for sentence in re.split(r"(?<=[.!?])\s+", question):
        tokens = re.findall(r"[A-Za-z][A-Za-z'’]*", sentence)
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
        highlight=(sentences[row].start - start, sentences[row].end - start), score=round(min(float(score), 1.0), 4),
    )


def select_spans(
    index: Index, order: np.ndarray, window_score: np.ndarray, sentence_score: np.ndarray, excluded: set[str],
    limit: int, floor: float, budget: int = ANSWER_BUDGET_CHARS,
) -> list[tuple[int, int, int, float]]:
    """Pick up to `limit` quote spans (lo, hi, highlight row, score), one per passage, best first.

    `order` lists candidate rows best first. A strong sentence in a passage already chosen widens that
    passage's quote when the two fit together. The first quote must reach `floor`; past it, further quotes and
    widenings are still taken while all the quotes together stay within `budget` characters.
    """
    sentences = index.sentences
    spans: dict[int, tuple[int, int, int, float]] = {}

    def fits(changed: dict[int, tuple[int, int, int, float]]) -> bool:
        return sum(sentences[hi].end - sentences[lo].start for lo, hi, _, _ in changed.values()) <= budget

    for row in order:
        row = int(row)
        score = float(window_score[row])
        below = score < floor
        if below and not spans:
            break
        passage = int(index.sentence_passage[row])
        if index.passages[passage].id in excluded:
            continue
        lo, hi = quote_bounds(index, row, sentence_score)
        if passage in spans:
            old_lo, old_hi, old_row, old_score = spans[passage]
            new_lo, new_hi = min(lo, old_lo), max(hi, old_hi)
            widened = {**spans, passage: (new_lo, new_hi, old_row, old_score)}
            if sentences[new_hi].end - sentences[new_lo].start <= MERGE_MAX_CHARS and (not below or fits(widened)):
                spans = widened
            continue
        if len(spans) >= limit:
            break
        added = {**spans, passage: (lo, hi, row, score)}
        if not below or fits(added):
            spans = added
    return sorted(spans.values(), key=lambda span: -span[3])


@dataclass(frozen=True)
class Ranking:
    """The ranker's view of one question: candidate rows with their probabilities, and P(answerable)."""

    rows: np.ndarray  # candidate sentence rows, best window first
    window: np.ndarray  # P(window holds the answer), per index row (-1 outside the candidates)
    sentence: np.ndarray  # P(sentence holds the answer), per index row (-1 outside the candidates)
    answerable: float
    features: np.ndarray  # candidate feature rows, in `rows` order
    question_features: np.ndarray
    recalled: LabelledItem | None = None  # the same question, judged before


def shown_passages(index: Index, previous: Sequence[Turn | str]) -> frozenset[int]:
    """Passage rows the last answer of the conversation showed."""
    last = previous[-1] if previous else None
    if not isinstance(last, Turn) or not last.passage_ids:
        return frozenset()
    return index.passage_rows(last.passage_ids)


def candidate_rows(index: Index, base: np.ndarray, extra: np.ndarray, count: int) -> np.ndarray:
    """The best `count` rows by the hand-set fusion, plus `extra`, with their windows' neighbours."""
    top = np.argsort(-base)[:count] if index.ann is None else top_rows(base, count)  # large: the scored rows
    rows = set(int(r) for r in top) | set(int(r) for r in extra)
    for r in list(rows):
        lo, hi = index.window_bounds[r]
        rows.update((lo, hi))
    return np.array(sorted(rows), dtype=np.int64)


@dataclass(frozen=True)
class Candidates:
    """The rows worth ranking for one question, their features, and what the question-level model needs."""

    rows: np.ndarray
    features: np.ndarray
    signals: QuerySignals
    context: QuerySignals | None
    memory_in: float
    memory_out: float
    same: LabelledItem | None  # a remembered question this one repeats (never for follow-ups)


def gather(
    index: Index, question: str, question_vector: np.ndarray, memory: Memory, count: int,
    previous: Sequence[Turn | str] = (), context_vector: np.ndarray | None = None,
) -> Candidates:
    """Candidates: the best rows by the fixed fusion, the remembered answers, and around what was just shown."""
    signals = query_signals(index, question_vector, question)
    context = None
    if previous and context_vector is not None:
        context = query_signals(index, context_vector, context_text(question, previous))
    shown = shown_passages(index, previous)
    vectors = [question_vector] + ([context_vector] if context is not None else [])
    memory_window, memory_sentence, memory_in, memory_out = memory.scores(vectors, len(index.sentences),
                                                                          sparse=index.ann is not None)
    base = signals.base if context is None else maximum(signals.base, context.base)
    extra = [np.argsort(-memory_window)[:8] if index.ann is None else
             top_rows(memory_window, 8)]  # a large index: remembered rows only
    same = recalled(memory, vectors[:1], RECALL_SIMILARITY) if context is None else None
    if same is not None and same.in_scope:
        extra.append(memory.window_rows[memory.items.index(same)])
    if shown:
        near = {p + d for p in shown for d in (-1, 0, 1)}
        extra.append(np.flatnonzero(np.isin(index.sentence_passage, list(near))))
    rows = candidate_rows(index, base, np.concatenate(extra), count)
    if index.ann is not None:  # rows the approximate search did not score (remembered, shown, neighbours)
        complete(index, signals, rows)
        complete(index, context, rows)
    features = candidate_matrix(index, question, signals, rows, context, shown, memory_window, memory_sentence)
    return Candidates(rows, features, signals, context, memory_in, memory_out, same)


def rank(
    index: Index,
    question: str,
    question_vector: np.ndarray,
    ranker: Ranker,
    memory: Memory,
    previous: Sequence[Turn | str] = (),
    context_vector: np.ndarray | None = None,
) -> Ranking:
    """Score candidates with the learned ranker, and the question with the abstention model."""
    found = gather(index, question, question_vector, memory, ranker.candidates, previous, context_vector)
    rows, same = found.rows, found.same
    p_window = ranker.window.predict(found.features)
    p_sentence = ranker.sentence.predict(found.features)
    if same is not None and same.in_scope:  # the judged answer of the same question comes first
        remembered = memory.items.index(same)
        p_window = p_window + np.isin(rows, memory.window_rows[remembered])
        p_sentence = p_sentence + np.isin(rows, memory.sentence_rows[remembered])
    order = np.argsort(-p_window, kind="stable")
    size = len(index.sentences)
    if index.ann is not None:  # a large index: per-row values for the candidates only (rows are sorted)
        window = RowValues(size, -1.0, rows, p_window, np.float64)
        sentence = RowValues(size, -1.0, rows, p_sentence, np.float64)
    else:
        window = np.full(size, -1.0)
        sentence = np.full(size, -1.0)
        window[rows], sentence[rows] = p_window, p_sentence
    q_features = question_row(question, found.signals, p_window, rows[order], index, found.memory_in,
                              found.memory_out, found.context)
    answerable = float(ranker.abstain.predict(q_features)[0])
    if same is not None:
        answerable = 1.0 if same.in_scope else 0.0
    return Ranking(rows[order], window, sentence, answerable, found.features[order], q_features, same)


def search(
    index: Index,
    question: str,
    question_vector: np.ndarray,
    ranker: Ranker,
    memory: Memory,
    previous: Sequence[Turn | str] = (),
    context_vector: np.ndarray | None = None,
    exclude: Collection[str] = (),
    limit: int = 3,
    rank_only: bool = False,
) -> Answer:
    """Rank sentences for a question (and its conversation) and return quotes or an abstention."""
    if not index.sentences:
        return Answer(question=question, abstained=True, reason="No articles are loaded.")
    ranking = rank(index, question, question_vector, ranker, memory, previous, context_vector)
    confidence = round(ranking.answerable, 4)
    if not rank_only:
        names = missing_names(index, question)
        if names:
            listed = ", ".join(dict.fromkeys(names))
            return Answer(question=question, abstained=True, confidence=confidence,
                          reason=f"The articles never mention {listed}.")
        if ranking.recalled is not None and not ranking.recalled.in_scope:
            return Answer(question=question, abstained=True, confidence=confidence,
                          reason="This question was judged before: the articles don't cover it.")
        if ranking.answerable < ranker.answer_threshold:
            return Answer(question=question, abstained=True, confidence=confidence,
                          reason="Nothing in the articles answers this closely enough.")
    floor = -np.inf if rank_only else ranker.quote_floor
    quotes = []
    spans = select_spans(index, ranking.rows, ranking.window, ranking.sentence, set(exclude), limit, floor)
    for lo, hi, row, score in spans:
        best = max(range(lo, hi + 1), key=lambda r: (ranking.sentence[r], r == row))
        quotes.append(make_quote(index, lo, hi, best, score))
    if not quotes:
        return Answer(question=question, abstained=True, confidence=confidence,
                      reason="That's all the articles have on this." if exclude else
                      "Nothing in the articles answers this closely enough.")
    return Answer(question=question, quotes=tuple(quotes), confidence=confidence)
