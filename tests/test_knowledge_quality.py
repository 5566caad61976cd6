"""A quality floor on the dev set, so retrieval cannot silently regress."""

from __future__ import annotations

import pytest

from knowledge.evaluate import load_items, metrics, run_pipeline
from tests.knowledge_fixtures import DEV_SET


@pytest.mark.skipif(not DEV_SET.exists(), reason="needs ../shared/eval/dev.jsonl")
def test_dev_set_quality_floor(engine):
    result = metrics(run_pipeline(engine, load_items(DEV_SET)))
    assert result["hit@1"] >= 0.90, result
    assert result["hit@3"] >= 0.95, result
    assert result["follow-up hit@3"] >= 0.90, result
    assert result["out-of-scope abstention"] >= 0.85, result
    assert result["in-scope false abstention"] <= 0.05, result
    assert result["chars quoted, top 3 (mean)"] <= 1500, result
    assert result["longest quote (chars)"] <= 1024, result
