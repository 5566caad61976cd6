"""`python -m bot eval` and `python -m bot train`, run as a user runs them."""

from __future__ import annotations

import json

import pytest

from knowledge import Engine
from knowledge.adaptation import adaptation_meta
from knowledge.embeddings import ADAPTATION_FILE, ADAPTED_SUFFIX, BASE_MODEL, SMALL_MODEL, adaptation_file, file_id
from knowledge.engine import SHIPPED_RANKER
from knowledge.labelled import shipped_items
from knowledge.ranker import load_ranker
from tests.test_cli import run_module

SMALL = SMALL_MODEL + ADAPTED_SUFFIX  # the machinery is the same for every model; MiniLM fine-tunes in a minute


@pytest.fixture(scope="module")
def small_cache(tmp_path_factory):
    """An embedding cache of its own for the small model (the session's holds the shipped model's vectors)."""
    return tmp_path_factory.mktemp("small") / "index.db"


@pytest.mark.timeout(2400)  # two fine-tunings
def test_eval_cross_validates_the_shipped_questions_without_shared(tmp_path, small_cache):
    done = run_module("eval", "--folds", "2", "--curve", env={"INDEX_PATH": str(small_cache), "EMBEDDING_MODEL": SMALL},
                      timeout=2300)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "the fine-tuned model, every weight" in out and "fold 2 of 2 fine-tuned" in done.stderr
    for name in ("cross-validated (2-fold)", "fitted on everything (optimistic)", "plain BM25", "plain dense",
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


@pytest.mark.timeout(2400)  # three fine-tunings
def test_train_writes_a_model_and_a_ranker_the_engine_loads(tmp_path, small_cache):
    output = tmp_path / "ranker.json"
    done = run_module("train", "--folds", "2", "--output", str(output),
                      env={"INDEX_PATH": str(small_cache), "EMBEDDING_MODEL": SMALL}, timeout=2300)
    assert done.returncode == 0, done.stderr
    assert "shipped sets, shipped data" in done.stdout and f"Saved the ranker to {output}" in done.stdout
    assert "fine-tuned model beside it" in done.stdout
    ranker = load_ranker(output)
    assert ranker.training["items"] == len(shipped_items()) and ranker.training["folds"] == 2
    weights = output.with_name(adaptation_file(SMALL_MODEL))
    assert weights.exists() and adaptation_meta(weights)["tuned_on"] == ranker.training["hash"]
    assert adaptation_meta(weights)["base"] == SMALL_MODEL and not output.with_name(ADAPTATION_FILE).exists()
    engine = Engine.open(cache_path=tmp_path / "index.db", ranker_path=output, model_name=SMALL)
    assert engine.embedder.model_name == f"{SMALL}@{file_id(weights)}"
    assert ranker.training["model"] == engine.embedder.model_name
    assert not engine.ask("Which currencies do Russia and China use for trade?").abstained
    kept = list((small_cache.parent / "fine-tunes").glob("*.safetensors"))  # the two folds and the shipped model
    assert len(kept) >= 3, kept  # (after `eval --folds 2` above, train reused its two folds instead of retraining)


@pytest.mark.timeout(1200)
def test_train_for_the_plain_packaged_model_refits_only_the_ranker(tmp_path, small_cache):
    output = tmp_path / "ranker.json"
    done = run_module("train", "--folds", "2", "--output", str(output), "--model", SMALL_MODEL,
                      env={"INDEX_PATH": str(small_cache)}, timeout=600)
    assert done.returncode == 0, done.stderr
    assert f"Saved the ranker to {output} (trained" in done.stdout
    assert not list(tmp_path.glob("adapted-*.safetensors"))


def test_train_with_a_missing_log_is_one_sentence(tmp_path, engine_cache):
    done = run_module("train", "--with-log", str(tmp_path / "none.db"), env={"INDEX_PATH": str(engine_cache)})
    assert done.returncode == 2 and "There is no interaction log at" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.timeout(1200)
def test_eval_with_a_fixed_model_says_its_figures_are_optimistic(tmp_path, engine_cache):
    done = run_module("eval", "--folds", "2", "--fixed-model", env={"INDEX_PATH": str(engine_cache)}, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "so these figures are optimistic" in done.stdout and "fine-tuned" not in done.stderr


def test_damaged_fine_tuned_weights_beside_the_ranker_are_one_sentence(tmp_path, engine_cache):
    ranker = tmp_path / "ranker.json"
    ranker.write_text(SHIPPED_RANKER.read_text())
    ranker.with_name(ADAPTATION_FILE).write_bytes(b"\x00not safetensors")
    done = run_module("ask", "who is Kurt Campbell?", env={"INDEX_PATH": str(engine_cache), "RANKER_PATH": str(ranker)})
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "fine-tuned weights" in done.stderr and f"EMBEDDING_MODEL={BASE_MODEL}." in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
