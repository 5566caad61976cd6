"""Fit the learned ranker on labelled questions, and measure it honestly with grouped k-fold cross-validation."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from knowledge.engine import Engine
from knowledge.features import query_signals, question_row
from knowledge.labelled import LabelledItem, folds, groups, items_hash
from knowledge.memory import Memory
from knowledge.models import Turn
from knowledge.ranker import LinearModel, Ranker
from knowledge.search import Candidates, context_text, gather

# The operating point: the share of answerable training questions refused, read off out-of-fold scores
# (the goal is <= 0.05 on unseen questions; one point of margin).
TARGET_FALSE_ABSTENTION = 0.04
ABSTENTION_FOLDS = 5  # inner grouped folds: the abstention model learns from rankings it did not fit
REGULARISATION = 0.5  # inverse strength C of the logistic regressions
CANDIDATES = 40


@dataclass
class Prepared:
    """What the ranker's features need for one labelled question, computed once."""

    item: LabelledItem
    group: int
    question: str
    vector: np.ndarray
    context_vector: np.ndarray | None
    previous: tuple[Turn, ...]
    window_rows: np.ndarray  # rows whose window holds an answer span
    sentence_rows: np.ndarray  # rows whose sentence holds an answer span


def prepare(engine: Engine, items: Sequence[LabelledItem]) -> list[Prepared]:
    """Embed every question (and its conversation) once, and locate its answer spans in the index."""
    from knowledge.memory import locate

    spelled = engine.index.lexical.corrected  # as Engine.ask corrects a question's typos
    texts = []
    for item in items:
        question, earlier = spelled(item.question), [spelled(p) for p in item.previous]
        texts.append(question)
        texts.append(context_text(question, earlier) if earlier else question)
        texts.append(earlier[-1] if earlier else question)
    vectors = engine.embed(texts)
    item_groups = groups(list(items))
    prepared = []
    for n, item in enumerate(items):
        previous: tuple[Turn, ...] = ()
        if item.previous:
            earlier = query_signals(engine.index, vectors[3 * n + 2], spelled(item.previous[-1]))
            shown = []
            for row in np.argsort(-earlier.base):
                pid = engine.index.passages[int(engine.index.sentence_passage[row])].id
                if pid not in shown:
                    shown.append(pid)
                if len(shown) == 3:
                    break
            previous = (*(Turn(spelled(p)) for p in item.previous[:-1]), Turn(spelled(item.previous[-1]), tuple(shown)))
        window_rows, sentence_rows = locate(engine.index, item.answer_contains)
        prepared.append(Prepared(
            item=item, group=item_groups[n], question=spelled(item.question), vector=vectors[3 * n],
            context_vector=vectors[3 * n + 1] if item.previous else None, previous=previous,
            window_rows=window_rows, sentence_rows=sentence_rows,
        ))
    return prepared


@dataclass
class Rows:
    """Feature rows of one question's candidates, with labels."""

    features: np.ndarray
    window_label: np.ndarray
    sentence_label: np.ndarray
    rows: np.ndarray


def candidate_rows_for(engine: Engine, p: Prepared, memory: Memory) -> tuple[Rows, Candidates]:
    """Candidates and their features for one prepared question, given a memory (which must not hold it)."""
    found = gather(engine.index, p.question, p.vector, memory, CANDIDATES, p.previous, p.context_vector)
    labels = Rows(found.features, np.isin(found.rows, p.window_rows).astype(int),
                  np.isin(found.rows, p.sentence_rows).astype(int), found.rows)
    return labels, found


def fit_linear(features: np.ndarray, labels: np.ndarray, c: float = REGULARISATION,
               balanced: bool = False) -> LinearModel:
    """A standardised logistic regression (scikit-learn), exported as plain numbers."""
    from sklearn.linear_model import LogisticRegression

    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale[scale < 1e-6] = 1.0
    model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced" if balanced else None)
    model.fit((features - mean) / scale, labels)
    return LinearModel(tuple(map(float, mean)), tuple(map(float, scale)), tuple(map(float, model.coef_[0])),
                       float(model.intercept_[0]))


def group_ids(prepared: Sequence[Prepared]) -> dict[int, set[str]]:
    """Item ids of each follow-up group."""
    result: dict[int, set[str]] = {}
    for p in prepared:
        result.setdefault(p.group, set()).add(p.item.id)
    return result


@dataclass
class Example:
    """One labelled question's candidates, as the index (and model) it was scored with saw them."""

    prepared: Prepared
    rows: Rows
    found: Candidates
    index: object


def examples_for(engine: Engine, prepared: Sequence[Prepared], memory: Memory,
                 everyone: Sequence[Prepared] | None = None) -> list[Example]:
    """Each question's candidates; it never sees itself (or its follow-up group) in memory."""
    ids = group_ids(everyone if everyone is not None else prepared)
    result = []
    for p in prepared:
        rows, found = candidate_rows_for(engine, p, memory.without(ids[p.group]))
        result.append(Example(p, rows, found, engine.index))
    return result


def fit_ranker(engine: Engine, prepared: Sequence[Prepared], memory: Memory,
               target_false_abstention: float = TARGET_FALSE_ABSTENTION) -> Ranker:
    """Fit the window, sentence and abstention models on the prepared questions."""
    return fit_examples(examples_for(engine, prepared, memory), engine.index.model_name, target_false_abstention)


def fit_examples(examples: Sequence[Example], model_name: str,
                 target_false_abstention: float = TARGET_FALSE_ABSTENTION) -> Ranker:
    """Fit the window, sentence and abstention models on scored candidates.

    The abstention model and its threshold learn from out-of-fold numbers (inner grouped folds): at answer time
    the window model ranks questions it never saw, so its training rows must look like that too.
    """
    answerable = [e for e in examples if e.prepared.item.in_scope and e.rows.window_label.any()]
    window = fit_window(answerable)
    sentence = fit_linear(np.vstack([e.rows.features for e in answerable]),
                          np.concatenate([e.rows.sentence_label for e in answerable]))
    y = np.asarray([int(e.prepared.item.in_scope) for e in examples])
    inner = inner_folds(examples)
    q = np.vstack([question_features(e, window) for e in examples])
    if inner is not None:
        for fold in range(ABSTENTION_FOLDS):
            fitted = fit_window([e for e, f in zip(answerable_mask(examples), inner) if e is not None and f != fold])
            for n, f in enumerate(inner):
                if f == fold:
                    q[n] = question_features(examples[n], fitted)
    abstain = fit_linear(q, y, balanced=True)
    scores = abstain.predict(q)
    if inner is not None:
        inner_arr = np.asarray(inner)
        for fold in range(ABSTENTION_FOLDS):
            held = inner_arr == fold
            if len(set(y[~held])) == 2:
                scores[held] = fit_linear(q[~held], y[~held], balanced=True).predict(q[held])
    in_scope = np.sort(scores[y == 1])
    cut = int(np.floor(target_false_abstention * len(in_scope)))
    threshold = float(in_scope[cut]) if len(in_scope) else 0.5
    top_probabilities = [float(window.predict(e.rows.features).max()) for e in answerable]
    # further quotes: keep those at least as likely as the weakest best-quote of most answerable questions
    quote_floor = float(np.quantile(top_probabilities, 0.05)) * 0.5 if top_probabilities else 0.01
    return Ranker(window=window, sentence=sentence, abstain=abstain, answer_threshold=threshold,
                  quote_floor=quote_floor, candidates=CANDIDATES, training={
                      "items": len(examples), "hash": items_hash([e.prepared.item for e in examples]),
                      "model": model_name, "date": _dt.date.today().isoformat(),
                      "target_false_abstention": target_false_abstention,
                      "abstention": f"out-of-fold, {ABSTENTION_FOLDS} inner folds" if inner else "in-sample",
                  })


def fit_window(answerable: Sequence[Example]) -> LinearModel:
    """P(window holds the answer) from the candidates of answerable questions."""
    return fit_linear(np.vstack([e.rows.features for e in answerable]),
                      np.concatenate([e.rows.window_label for e in answerable]))


def answerable_mask(examples: Sequence[Example]) -> list[Example | None]:
    """Each example if the window model can learn from it (answerable, an answer among its candidates), else None."""
    return [e if e.prepared.item.in_scope and e.rows.window_label.any() else None for e in examples]


def inner_folds(examples: Sequence[Example]) -> list[int] | None:
    """Grouped folds over the examples' questions, or None when too few questions to hold any out."""
    items = [e.prepared.item for e in examples]
    fold_of = folds(items, ABSTENTION_FOLDS)
    for fold in range(ABSTENTION_FOLDS):
        rest = [e for e, f in zip(answerable_mask(examples), fold_of) if e is not None and f != fold]
        labels = {int(e.prepared.item.in_scope) for e, f in zip(examples, fold_of) if f != fold}
        if len(rest) < 2 or labels != {0, 1} or fold not in fold_of:
            return None
    return fold_of


def question_features(example: Example, window: LinearModel) -> np.ndarray:
    """The abstention model's features for a scored question, ranked by `window`."""
    probabilities = window.predict(example.rows.features)
    order = np.argsort(-probabilities)
    found = example.found
    return question_row(example.prepared.question, found.signals, probabilities, example.rows.rows[order],
                        example.index, found.memory_in, found.memory_out, found.context)


def cross_validate(
    engine: Engine, items: Sequence[LabelledItem], k: int = 5,
    fit: Callable[..., Ranker] = fit_ranker, on_fold: Callable[[int], None] | None = None,
    extra_training: Sequence[LabelledItem] = (),
) -> list[tuple[LabelledItem, Engine]]:
    """For each item, an engine whose ranker and memory were fitted without the item's fold.

    `extra_training` items (e.g. moderators' judgements) join every fold's training data, never its test data.
    """
    items = list(items)
    fold_of = folds(items, k)
    everything = items + list(extra_training)
    prepared = prepare(engine, everything)
    memory_all = engine.remember(everything)
    result: list[tuple[LabelledItem, Engine]] = []
    for fold in range(k):
        test_ids = {item.id for item, f in zip(items, fold_of) if f == fold}
        train = [p for p in prepared if p.item.id not in test_ids]
        memory = memory_all.without(test_ids)
        ranker = fit(engine, train, memory)
        fold_engine = engine.with_knowledge(ranker, memory)
        result.extend((item, fold_engine) for item, f in zip(items, fold_of) if f == fold)
        if on_fold:
            on_fold(fold)
    order = {item.id: n for n, item in enumerate(items)}
    return sorted(result, key=lambda pair: order[pair[0].id])


def train(engine: Engine, items: Sequence[LabelledItem]) -> Ranker:
    """Fit the ranker on every item (what ships); its memory is the same items."""
    return fit_ranker(engine, prepare(engine, list(items)), engine.remember(list(items)))

