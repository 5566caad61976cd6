"""`python -m bot eval` and `python -m bot train`, run as a user runs them."""

from __future__ import annotations

import json

from knowledge.labelled import shipped_items
from knowledge.ranker import load_ranker
from tests.test_cli import run_module


def test_eval_cross_validates_the_shipped_questions_without_shared(tmp_path, engine_cache):
    done = run_module("eval", "--folds", "3", "--curve", env={"INDEX_PATH": str(engine_cache)}, timeout=600)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for name in ("cross-validated (3-fold)", "fitted on everything (optimistic)", "plain BM25", "plain dense",
                 "hit@1", "hit@3", "follow-up hit@3", "out-of-scope abstention", "in-scope false abstention",
                 "bold sentence holds the answer", "answerable but refused"):
        assert name in out, name
    assert "Traceback" not in done.stderr


def test_eval_of_a_file_says_when_its_questions_were_trained_on(tmp_path, engine_cache):
    fresh = tmp_path / "fresh.jsonl"
    fresh.write_text(json.dumps({"id": "n1", "question": "What currencies do Russia and China trade in?",
                                 "answer_contains": ["yuan"], "kind": "fact"}) + "\n")
    trained = tmp_path / "trained.jsonl"
    trained.write_text("\n".join(json.dumps(i.to_json()) for i in shipped_items()[:3]) + "\n")
    env = {"INDEX_PATH": str(engine_cache)}
    done = run_module("eval", str(fresh), env=env)
    assert done.returncode == 0 and "training data" not in done.stdout and "| hit@1 | 1.000" in done.stdout
    done = run_module("eval", str(trained), env=env)
    assert done.returncode == 0 and "3 of them are in the ranker's training data" in done.stdout


def test_eval_of_a_missing_or_broken_file_is_one_sentence(tmp_path, engine_cache):
    done = run_module("eval", str(tmp_path / "nope.jsonl"), env={"INDEX_PATH": str(engine_cache)})
    assert done.returncode == 2 and done.stderr.strip().endswith("nope.jsonl.") and "Traceback" not in done.stderr
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{oops\n")
    done = run_module("eval", str(broken), env={"INDEX_PATH": str(engine_cache)})
    assert done.returncode == 2 and "line 1, is not valid JSON" in done.stderr


def test_train_writes_a_ranker_the_engine_loads(tmp_path, engine_cache):
    output = tmp_path / "ranker.json"
    done = run_module("train", "--folds", "2", "--output", str(output), env={"INDEX_PATH": str(engine_cache)},
                      timeout=600)
    assert done.returncode == 0, done.stderr
    assert "shipped sets, shipped data" in done.stdout and f"Saved the ranker to {output}" in done.stdout
    ranker = load_ranker(output)
    assert ranker.training["items"] == len(shipped_items())


def test_train_with_a_missing_log_is_one_sentence(tmp_path, engine_cache):
    done = run_module("train", "--with-log", str(tmp_path / "none.db"), env={"INDEX_PATH": str(engine_cache)})
    assert done.returncode == 2 and "There is no interaction log at" in done.stderr and "Traceback" not in done.stderr
