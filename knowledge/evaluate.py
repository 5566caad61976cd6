"""Evaluate retrieval on a JSONL question set: the pipeline beside plain BM25 and plain dense search."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field

import numpy as np

from knowledge.engine import Engine
from knowledge.labelled import LabelledItem, load_items
from knowledge.lexical import LexicalIndex
from knowledge.text import contains

__all__ = ["EvalItem", "ItemResult", "load_items", "run_pipeline", "run_pairs", "metrics", "evaluate"]


EvalItem = LabelledItem  # the name the first evaluation used


@dataclass
class ItemResult:
    """What one system did with one item."""

    item: EvalItem
    abstained: bool
    texts: list[str]  # quoted texts, best first (answer shown)
    ranking: list[str]  # up to 10 ranked texts regardless of abstention
    latency_ms: float
    bold: list[str] = field(default_factory=list)  # the marked sentence of each shown quote
    confidence: float = 1.0  # P(answerable) the engine gave the question
    refused_by_name: bool = False  # refused because it names something the articles never mention

    def rank(self) -> int | None:
        """1-based rank of the first ranked text that answers, or None."""
        for i, text in enumerate(self.ranking[:10], 1):
            if any(contains(text, a) for a in self.item.answer_contains):
                return i
        return None

    def bold_holds(self) -> bool | None:
        """Whether the marked sentence of the first answering quote holds the answer (None: no quote answers)."""
        for text, bold in zip(self.texts, self.bold):
            if any(contains(text, a) for a in self.item.answer_contains):
                return any(contains(bold, a) for a in self.item.answer_contains)
        return None

    def hit(self, k: int) -> bool:
        """True when one of the top k shown quotes answers."""
        return not self.abstained and any(
            contains(t, a) for t in self.texts[:k] for a in self.item.answer_contains
        )


def run_pipeline(engine: Engine, items: list[EvalItem]) -> list[ItemResult]:
    """Ask the project's pipeline every item (follow-ups with their earlier questions)."""
    return run_pairs([(item, engine) for item in items])


def run_pairs(pairs: list[tuple[EvalItem, Engine]]) -> list[ItemResult]:
    """Ask each item of the engine paired with it (cross-validation pairs each item with its fold's engine)."""
    results = []
    for item, engine in pairs:
        started = time.perf_counter()
        answer = engine.ask(item.question, previous=list(item.previous))
        latency = (time.perf_counter() - started) * 1000
        ranked = engine.ask(item.question, previous=list(item.previous), limit=10, rank_only=True)
        bold = [q.text[q.highlight[0]:q.highlight[1]] for q in answer.quotes]
        results.append(ItemResult(item, answer.abstained, [q.text for q in answer.quotes],
                                  [q.text for q in ranked.quotes], latency, bold, answer.confidence,
                                  answer.abstained and answer.reason.startswith("The articles never mention")))
    return results


def run_baseline(engine: Engine, items: list[EvalItem], kind: str) -> list[ItemResult]:
    """Plain BM25 or plain dense search over the same passages, question alone, never abstaining."""
    passages = engine.index.passages
    texts = [p.text for p in passages]
    lexical = LexicalIndex(texts) if kind == "bm25" else None
    vectors = engine.embed(texts) if kind == "dense" else None
    results = []
    for item in items:
        started = time.perf_counter()
        if lexical is not None:
            scores = lexical.scores(item.question)
        else:
            scores = vectors @ engine.embed([item.question])[0]
        order = list(np.argsort(-scores)[:10])
        latency = (time.perf_counter() - started) * 1000
        ranked = [texts[i] for i in order]
        results.append(ItemResult(item, False, ranked[:3], ranked, latency))
    return results


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) of values."""
    return float(np.percentile(values, q)) if values else 0.0


def metrics(results: list[ItemResult]) -> dict[str, float]:
    """The headline numbers for one system."""
    scope = [r for r in results if r.item.in_scope]
    plain = [r for r in scope if r.item.kind != "followup"]
    follow = [r for r in scope if r.item.kind == "followup"]
    out = [r for r in results if not r.item.in_scope]
    answered = [r for r in results if not r.abstained and r.texts]
    ranks = [r.rank() for r in scope]
    latencies = [r.latency_ms for r in results]

    def rate(rows, fn) -> float:
        return sum(1 for r in rows if fn(r)) / len(rows) if rows else 0.0

    return {
        "hit@1": rate(scope, lambda r: r.hit(1)),
        "hit@3": rate(scope, lambda r: r.hit(3)),
        "MRR@10": sum(1 / k for k in ranks if k) / len(scope) if scope else 0.0,
        "hit@3 (no follow-ups)": rate(plain, lambda r: r.hit(3)),
        "follow-up hit@3": rate(follow, lambda r: r.hit(3)),
        "out-of-scope abstention": rate(out, lambda r: r.abstained),
        "in-scope false abstention": rate(scope, lambda r: r.abstained),
        "bold sentence holds the answer": rate([r for r in scope if r.bold_holds() is not None],
                                               lambda r: r.bold_holds()),
        "chars quoted, top 3 (mean)": statistics.mean(sum(len(t) for t in r.texts[:3]) for r in answered)
        if answered else 0.0,
        "longest quote (chars)": max((len(t) for r in answered for t in r.texts), default=0),
        "latency p50 (ms)": percentile(latencies, 50),
        "latency p95 (ms)": percentile(latencies, 95),
    }


def evaluate(engine: Engine, items: list[EvalItem]) -> dict[str, dict[str, float]]:
    """Metrics for the pipeline and the two plain baselines."""
    return {
        "pipeline": metrics(run_pipeline(engine, items)),
        "plain BM25": metrics(run_baseline(engine, items, "bm25")),
        "plain dense": metrics(run_baseline(engine, items, "dense")),
    }


def abstention_curve(results: list[ItemResult], steps: int = 20) -> list[tuple[float, float, float]]:
    """(threshold, answered-but-unanswerable, wrongly refused) as the P(answerable) threshold moves."""
    scope = [r for r in results if r.item.in_scope]
    out = [r for r in results if not r.item.in_scope]
    curve = []
    for step in range(steps + 1):
        t = step / steps * 0.6
        refused = [r for r in scope if r.refused_by_name or r.confidence < t]
        answered = [r for r in out if not r.refused_by_name and r.confidence >= t]
        curve.append((t, len(answered) / len(out) if out else 0.0, len(refused) / len(scope) if scope else 0.0))
    return curve


def format_curve(curve: list[tuple[float, float, float]], chosen: float | None = None) -> str:
    """The abstention curve as a Markdown table (the operating point marked)."""
    lines = ["| threshold | unanswerable but answered | answerable but refused |", "| ---: | ---: | ---: |"]
    for t, answered, refused in curve:
        lines.append(f"| {t:.2f} | {answered:.3f} | {refused:.3f} |")
    if chosen is not None:
        from knowledge.training import TARGET_FALSE_ABSTENTION

        lines.append(f"\nThe ranker in use answers when P(answerable) ≥ {chosen:.3f} (fitted for ≤ "
                     f"{TARGET_FALSE_ABSTENTION:.0%} wrongly refused among its training questions, scored out of fold; "
                     "each fold fits its own).")
    return "\n".join(lines)


def format_table(table: dict[str, dict[str, float]]) -> str:
    """Render metrics side by side as a Markdown table."""
    systems = list(table)
    names = list(next(iter(table.values())))
    lines = ["| metric | " + " | ".join(systems) + " |", "| --- |" + " ---: |" * len(systems)]
    for name in names:
        cells = []
        for system in systems:
            value = table[system][name]
            cells.append(f"{value:.0f}" if ("chars" in name or "ms" in name and value >= 100) else
                         f"{value:.1f}" if "ms" in name else f"{value:.3f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def failures(results: list[ItemResult]) -> list[str]:
    """One line per item the pipeline got wrong."""
    lines = []
    for r in results:
        if r.item.in_scope and not r.hit(1):
            lines.append(f"{r.item.id} {r.item.kind}: {'abstained' if r.abstained else 'miss@1'}"
                         f"{'' if r.hit(3) else ' miss@3'} — {r.item.question}")
        if not r.item.in_scope and not r.abstained:
            lines.append(f"{r.item.id} out_of_scope: answered — {r.item.question}")
    return lines
