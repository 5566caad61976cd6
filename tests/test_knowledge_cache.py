"""The embedding cache: a restart embeds nothing, an edit embeds only its own texts, a model change rebuilds."""

from __future__ import annotations

from knowledge.index import build_index
from tests.knowledge_fixtures import HashEmbedder


def test_restart_reuses_every_vector(article_dir, tmp_path, hash_embedder):
    cache = tmp_path / "index.db"
    first = build_index(article_dir, cache, embedder=hash_embedder)
    assert first.report.embedded > 0 and first.report.cached == 0
    again = HashEmbedder()
    second = build_index(article_dir, cache, embedder=again)
    assert again.encoded == [] and second.report.embedded == 0
    assert second.report.cached == first.report.embedded
    assert (second.window_vectors == first.window_vectors).all()


def test_edited_or_added_article_reembeds_only_its_texts(article_dir, tmp_path, hash_embedder):
    cache = tmp_path / "index.db"
    build_index(article_dir, cache, embedder=hash_embedder)
    target = next(article_dir.glob("004-*.md"))
    target.write_text(target.read_text(encoding="utf-8").replace(
        "Bilateral trade reached a record", "Bilateral trade reportedly reached a record"), encoding="utf-8")
    (article_dir / "new-article.txt").write_text(
        "A moderator's new article\n\nMongolia hosts a dialogue every summer. It invites many partners.\n",
        encoding="utf-8")
    edited = HashEmbedder()
    index = build_index(article_dir, cache, embedder=edited)
    assert set(index.report.changed_articles) == {"004-putin-expected-in-beijing", "new-article"}
    untouched = {s.text for s in index.sentences if not s.article_id.startswith(("004", "new"))}
    assert not untouched & set(edited.encoded)
    assert 0 < len(edited.encoded) < 30
    assert index.report.pruned > 0  # the edited texts' old vectors are gone


def test_model_change_rebuilds(article_dir, tmp_path, hash_embedder):
    cache = tmp_path / "index.db"
    first = build_index(article_dir, cache, embedder=hash_embedder)
    other = HashEmbedder(model_name="another-model")
    second = build_index(article_dir, cache, embedder=other)
    assert second.report.embedded == first.report.embedded
    assert second.model_name == "another-model"


def test_unwritable_cache_still_answers(article_dir, tmp_path, hash_embedder):
    cache = tmp_path / "ro" / "index.db"
    build_index(article_dir, cache, embedder=hash_embedder)
    cache.parent.chmod(0o555)
    cache.chmod(0o444)
    try:
        index = build_index(article_dir, cache, embedder=HashEmbedder())
        assert index.report.embedded == 0 and len(index.passages) > 0
    finally:
        cache.parent.chmod(0o755)
        cache.chmod(0o644)


def test_real_engine_reopens_from_cache(engine, engine_cache):
    from knowledge import Engine

    reopened = Engine.open(cache_path=engine_cache)
    assert reopened.index.report.embedded == 0
    assert reopened.index.report.cached > 0



def test_a_large_build_settles_its_index_and_keeps_its_answers(article_dir, tmp_path, hash_embedder, monkeypatch):
    import numpy as np

    import knowledge.index as index_module

    cache = tmp_path / "index.db"
    exact = build_index(article_dir, cache, embedder=hash_embedder)
    assemble, settle, settled = index_module.assemble_index, index_module.settle, []
    monkeypatch.setattr(index_module, "assemble_index", lambda *a, **k: assemble(*a, **k, ann_min_sentences=0))
    monkeypatch.setattr(index_module, "settle", lambda index: settled.append(index) or settle(index))
    large = build_index(article_dir, cache, embedder=HashEmbedder())
    assert large.ann is not None and settled == [large] and large.articles == exact.articles
    assert large.names == exact.names and large.article_stems == exact.article_stems
    assert large.passage_article == exact.passage_article and large.lexical.df == exact.lexical.df
    for query in ("gas pipeline", "yuan trade summit", "nothing like it"):
        assert np.array_equal(large.lexical.scores(query), exact.lexical.scores(query))
        assert np.array_equal(large.sentence_lexical.scores(query), exact.sentence_lexical.scores(query))
