"""The learned ranker file: shipped, readable, round-trips, and a damaged file falls back with a warning."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from knowledge.features import CANDIDATE_FEATURES, QUESTION_FEATURES
from knowledge.labelled import items_hash, shipped_items
from knowledge.ranker import SHIPPED_RANKER, LinearModel, RankerError, fallback_ranker, load_ranker


def test_the_shipped_ranker_loads_and_names_its_training_data():
    ranker = load_ranker(SHIPPED_RANKER)
    assert ranker.features == CANDIDATE_FEATURES and ranker.question_features == QUESTION_FEATURES
    assert ranker.training["hash"] == items_hash(shipped_items())
    assert ranker.training["items"] == len(shipped_items())
    assert 0.0 < ranker.answer_threshold < 1.0


def test_linear_model_is_a_standardised_logistic_regression():
    model = LinearModel(mean=(1.0, 0.0), scale=(2.0, 1.0), coef=(1.0, -1.0), intercept=0.5)
    rows = np.array([[1.0, 0.0], [3.0, 1.0]])
    expected = 1 / (1 + np.exp(-np.array([0.5, 0.5 + 1.0 - 1.0])))
    assert np.allclose(model.predict(rows), expected)


def test_ranker_round_trips_through_its_file(tmp_path):
    ranker = load_ranker(SHIPPED_RANKER).with_training(note="copy")
    path = tmp_path / "ranker.json"
    ranker.save(path)
    again = load_ranker(path)
    assert again.window == ranker.window and again.abstain == ranker.abstain
    assert again.answer_threshold == ranker.answer_threshold and again.training["note"] == "copy"


@pytest.mark.parametrize("content", ["", "{not json", json.dumps({"version": 1}), json.dumps({"version": 99})])
def test_a_damaged_ranker_file_is_refused_with_a_sentence(tmp_path, content):
    path = tmp_path / "ranker.json"
    path.write_text(content)
    with pytest.raises(RankerError, match="python -m bot train"):
        load_ranker(path)


def test_engine_falls_back_to_the_hand_set_ranking_when_the_file_is_damaged(tmp_path, engine, caplog):
    from knowledge.engine import open_ranker

    path = tmp_path / "ranker.json"
    path.write_text("{")
    with caplog.at_level(logging.WARNING):
        ranker = open_ranker(path)
    assert ranker == fallback_ranker() and "hand-set" in caplog.text
    answer = engine.with_knowledge(ranker).ask("What currencies do Russia and China use for their trade?")
    assert not answer.abstained and "yuan" in answer.quotes[0].text.lower()


def test_abstention_learns_from_out_of_fold_rankings(engine):
    from knowledge.training import (ABSTENTION_FOLDS, examples_for, fit_examples, inner_folds, prepare,
                                    question_features)

    items = shipped_items()[:80]
    examples = examples_for(engine, prepare(engine, items), engine.remember(items))
    fold_of = inner_folds(examples)
    assert fold_of is not None and set(fold_of) == set(range(ABSTENTION_FOLDS))
    ranker = fit_examples(examples, engine.embedder.model_name)
    assert ranker.training["abstention"].startswith("out-of-fold")
    assert 0.0 < ranker.answer_threshold < 1.0
    in_scope = [e for e in examples if e.prepared.item.in_scope]
    confident = [float(ranker.abstain.predict(question_features(e, ranker.window))[0]) for e in in_scope]
    assert sum(c < ranker.answer_threshold for c in confident) <= 0.25 * len(in_scope)


def test_too_few_questions_fall_back_to_in_sample_abstention(engine):
    from knowledge.training import examples_for, fit_examples, inner_folds, prepare

    items = [i for i in shipped_items() if i.in_scope][:3] + [i for i in shipped_items() if not i.in_scope][:1]
    examples = examples_for(engine, prepare(engine, items), engine.remember(items))
    assert inner_folds(examples) is None
    ranker = fit_examples(examples, engine.embedder.model_name)
    assert ranker.training["abstention"] == "in-sample" and 0.0 <= ranker.answer_threshold <= 1.0
