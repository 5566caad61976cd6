"""Large indexes: approximate candidates above the size threshold, exact search below, the same answers on the articles."""

from __future__ import annotations

import numpy as np

from knowledge.ann import ANN_FETCH, DenseANN, FusedRows, Int8Rows, fused_vectors
from knowledge.features import query_signals
from knowledge.index import BuildReport, article_means, assemble_index, settle
from knowledge.models import Article, Passage, Sentence
from knowledge.search import rank, search


def unit(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1."""
    return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)


def clustered(rows: int, dims: int = 32, topics: int = 20, seed: int = 0) -> np.ndarray:
    """Unit vectors around a few topics (shaped like sentence embeddings, not uniform noise)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((topics, dims))
    return unit(centres[rng.integers(0, topics, rows)] + 0.7 * rng.standard_normal((rows, dims)))


def tiny_index(passages: int, threshold: int, dims: int = 32):
    """An index of `passages` three-sentence passages with clustered vectors, assembled with `threshold`."""
    words = ["gas", "pipeline", "yuan", "trade", "summit", "sanctions", "oil", "Beijing", "Moscow", "tariffs"]
    rng = np.random.default_rng(1)
    sentences, passage_rows, sp = [], [], []
    texts = [" ".join(rng.choice(words, 6)) + "." for _ in range(passages * 3)]
    body = " ".join(texts)
    article = Article(id="a", title="Synthetic", body=body)
    offset = 0
    for p in range(passages):
        first = len(sentences)
        for text in texts[p * 3 : p * 3 + 3]:
            sentences.append(Sentence("a", len(sentences), offset, offset + len(text), text))
            sp.append(p)
            offset += len(text) + 1
        start, end = sentences[first].start, sentences[-1].end
        passage_rows.append(Passage(f"a#{p}", "a", p, start, end, body[start:end], tuple(range(first, len(sentences)))))
    vectors = clustered(passages * 7, dims)
    n = passages * 3
    return assemble_index([article], sentences, passage_rows, np.asarray(sp), vectors[:n], vectors[n : 2 * n],
                          vectors[2 * n :], "synthetic", BuildReport(), ann_min_sentences=threshold)


def test_exact_below_the_threshold_and_approximate_above() -> None:
    small = tiny_index(200, threshold=1000)  # more sentences than the approximate search fetches
    assert small.ann is None and small.sentence_vectors.dtype == np.float32
    vector = small.sentence_vectors[3]
    signals = query_signals(small, vector, "gas pipeline")
    assert signals.known is None
    assert np.array_equal(signals.sentence_sim, small.sentence_vectors @ vector)  # every row, exactly as before
    large = tiny_index(200, threshold=100)
    assert large.ann is not None
    assert large.sentence_vectors.dtype == large.window_vectors.dtype == large.passage_vectors.dtype == np.int8
    assert np.abs(large.sentence_vectors[:] - small.sentence_vectors).max() <= large.sentence_vectors.scales.max() / 2 + 1e-7
    assert isinstance(large.window_bounds, np.ndarray) and [tuple(b) for b in large.window_bounds] == small.window_bounds
    assert len(large.sentences) == len(small.sentences) and list(large.sentences) == small.sentences  # columns
    assert len(large.passages) == len(small.passages) and list(large.passages) == small.passages
    assert large.passage_rows(["a#3", "a#7", "nope"]) == small.passage_rows(["a#3", "a#7", "nope"]) == {3, 7}
    signals = query_signals(large, large.sentence_vectors[3].astype(np.float32), "gas pipeline")
    assert signals.known is not None and 0 < len(signals.known) < len(large.sentences)
    unknown = np.setdiff1d(np.arange(len(large.sentences)), signals.known)
    assert 3 in signals.known and (signals.sentence_sim[unknown] == -1).all()


def test_the_approximate_search_finds_the_exact_dense_top_10() -> None:
    sentence, window, passage = clustered(20_000), clustered(20_000, seed=1), clustered(20_000, seed=2)
    fused = fused_vectors(sentence, window, passage)
    ann = DenseANN(fused)
    hits, queries = 0, clustered(50, seed=3)
    for q in queries:
        truth = set(np.argsort(-(fused @ q))[:10].tolist())
        found = ann.search(q, ANN_FETCH)
        hits += len(truth & set(found[np.argsort(-(fused[found] @ q))[:10]].tolist()))
    assert hits / (10 * len(queries)) >= 0.95


def test_the_index_built_a_slice_at_a_time_is_the_index_built_at_once() -> None:
    sentence, window, passage = clustered(12_000), clustered(12_000, seed=1), clustered(3_000, seed=2)
    of_sentence = np.repeat(np.arange(3_000), 4)
    lazy = FusedRows(sentence, window, passage, of_sentence)
    whole = fused_vectors(sentence, window, passage[of_sentence])
    assert np.array_equal(lazy[100:5000], whole[100:5000])
    assert np.array_equal(lazy[[7, 3, 11_999]], whole[[7, 3, 11_999]])
    at_once, sliced = DenseANN(whole), DenseANN(lazy, step=1_000)
    for q in clustered(20, seed=3):
        assert np.array_equal(at_once.search(q), sliced.search(q))
    codes = Int8Rows.empty(len(sentence), sentence.shape[1])
    for start in range(0, len(sentence), 5_000):
        codes.put(start, sentence[start : start + 5_000])
    reference = Int8Rows(sentence)
    assert np.array_equal(codes.codes, reference.codes) and np.array_equal(codes.scales, reference.scales)
    rows = np.random.default_rng(4).integers(0, 40, 3_000)
    expected = np.zeros((40, passage.shape[1]), dtype=np.float32)
    for vector, row in zip(passage, rows):  # one passage at a time, as before
        expected[row] += vector
    expected /= np.maximum(np.linalg.norm(expected, axis=1, keepdims=True), 1e-12)
    assert np.array_equal(article_means(passage, rows.tolist(), 40), expected)
    stored = Int8Rows(passage)  # read back a slice at a time: the same sums as from its float32 rows
    assert np.array_equal(article_means(stored, rows.tolist(), 40), article_means(stored[:], rows.tolist(), 40))


def test_candidate_rows_the_approximate_search_missed_are_scored_exactly() -> None:
    index = tiny_index(200, threshold=100)
    vector = clustered(1, seed=9)[0]
    assert search(index, "gas pipeline yuan", vector, _ranker(), _memory(), rank_only=True).quotes
    ranking = rank(index, "gas pipeline yuan", vector, _ranker(), _memory())
    sims = index.sentence_vectors[ranking.rows].astype(np.float32) @ vector
    assert np.allclose(ranking.features[:, 0], sims, atol=1e-6)  # sentence_sim of every candidate is exact


def _ranker():
    """The shipped ranker."""
    from knowledge.ranker import load_ranker

    return load_ranker()


def _memory():
    """A memory that knows nothing (32 dimensions, as the tiny index)."""
    from knowledge.memory import Memory

    return Memory.empty(32)


def test_the_articles_stay_exact_and_forced_approximate_search_agrees(engine) -> None:
    import json
    from pathlib import Path

    from knowledge.engine import Engine

    index = engine.index
    assert index.ann is None and index.sentence_vectors.dtype == np.float32  # a few hundred sentences: exact
    forced = assemble_index(list(index.articles), index.sentences, index.passages, index.sentence_passage,
                            index.sentence_vectors, index.window_vectors, index.passage_vectors, index.model_name,
                            index.report, ann_min_sentences=0)
    assert forced.ann is not None and forced.lexical.postings is not None  # compact BM25 postings
    settle(forced)  # as build_index does once a large build's temporaries are freed
    assert forced.articles == index.articles and forced.names == index.names
    assert forced.article_stems == index.article_stems and forced.passage_article == index.passage_article
    assert type(forced.sentences).__name__ == "SentenceTable" and type(forced.passages).__name__ == "PassageTable"
    approximate = Engine(forced, engine.embedder, engine.ranker, engine.memory)
    assert [approximate.passage(p.id) for p in index.passages] == list(index.passages)
    assert all(approximate.passages_for(a.id) == engine.passages_for(a.id) for a in index.articles)
    dev = Path(__file__).resolve().parents[1] / "knowledge" / "data" / "dev.jsonl"
    items = [json.loads(line) for line in dev.read_text().splitlines() if line.strip()]
    assert len(items) >= 50
    knife_edges = []
    for item in items:  # every dev question, follow-ups with their conversation, as the bot asks them
        previous = [item["previous"]] if isinstance(item.get("previous"), str) else list(item.get("previous") or [])
        exact, approx = (e.ask(item["question"], previous=previous) for e in (engine, approximate))
        assert approx.passage_ids == exact.passage_ids and approx.abstained == exact.abstained, item["question"]
        marked = [[(q.start + q.highlight[0], q.start + q.highlight[1]) for q in a.quotes] for a in (exact, approx)]
        assert marked[0] == marked[1], item["question"]  # the same sentences in bold
        if [q.text for q in approx.quotes] != [q.text for q in exact.quotes]:
            knife_edges.append(item["question"])
            if approx.quotes[0].text != exact.quotes[0].text:  # the best quote: only on the quote floor's edge
                assert on_floor_edge(engine, item["question"]) or on_floor_edge(approximate, item["question"])
            # Below the floor, quotes fill the answer's character budget in the ranker's order, and int8 vectors
            # (window probabilities moved by ~3e-4) may swap two near-equal candidates: a later quote of the same
            # passage, with the same sentence in bold, may then take in a different neighbour.
    assert len(knife_edges) <= 4, knife_edges


def on_floor_edge(engine, question: str, margin: float = 1e-3) -> bool:
    """Whether a candidate's P(window) lies within `margin` of the quote floor (int8 vectors move it ~3e-4), so that
    widening a quote by its window or not is a coin toss between the exact and approximate paths."""
    from knowledge.search import rank

    ranking = rank(engine.index, question, engine.embed([question])[0], engine.ranker, engine.memory)
    window = np.asarray(ranking.window[ranking.rows], dtype=float)
    return bool(np.any(np.abs(window - engine.ranker.quote_floor) < margin))
