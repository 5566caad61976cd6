"""The search index: sentences, passages, their vectors (cached) and a BM25 index."""

from __future__ import annotations

import gc
import logging
import re
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Callable

import numpy as np

from abc import abstractmethod
from collections.abc import Sequence

from knowledge.ann import ANN_MIN_SENTENCES, DenseANN, FusedRows, Int8Rows
from knowledge.articles import load_articles
from knowledge.heap import fresh, trim
from knowledge.embeddings import DEFAULT_MODEL, Embedder, EmbeddingCache, embed_cached, embedding_dims
from knowledge.lexical import LexicalIndex, forget_stems, stem
from knowledge.models import Article, Passage, Sentence
from knowledge.passages import build_passages, split_sentences
from knowledge.text import STOPWORDS, content_words, text_flags

log = logging.getLogger(__name__)


@dataclass
class BuildReport:
    """What an index build or refresh did."""

    articles: int = 0
    passages: int = 0
    sentences: int = 0
    embedded: int = 0  # texts that had to be embedded (cache misses)
    cached: int = 0  # texts found in the cache
    pruned: int = 0  # cache rows removed (texts gone or another model)
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    changed_articles: list[str] = field(default_factory=list)  # ids of articles with texts to embed
    added: list[str] = field(default_factory=list)  # file names, against the previous build of this cache
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def article_changes(cache: EmbeddingCache, articles: list[Article], embedded: list[str]) -> tuple[list, list, list]:
    """Added, changed and removed article files since the cache's last build (its list of articles is updated)."""
    from knowledge.embeddings import content_hash

    files = {a.id: Path(a.path).name for a in articles}
    now = {a.id: content_hash(f"{a.title}\n{a.body}") for a in articles}
    db = cache.db
    if "articles" not in db.table_names():  # a new cache, or one built before it kept the list
        before = None
    else:
        before = {r["id"]: (r["file"], r["hash"]) for r in db["articles"].rows}
    try:
        with db.atomic():
            if before is not None:
                db["articles"].delete_where()
            db["articles"].insert_all(
                [{"id": i, "file": files[i], "hash": h} for i, h in now.items()], pk="id", replace=True)
    except Exception:  # a read-only cache: the next build reports against the older list
        pass
    if before is None:
        return sorted(files[i] for i in embedded if i in files), [], []
    added = sorted(files[i] for i in now if i not in before)
    changed = sorted(files[i] for i in now if i in before and before[i][1] != now[i])
    removed = sorted(before[i][0] for i in before if i not in now)
    return added, changed, removed


@dataclass
class Index:
    """Everything search needs, held in memory."""

    articles: list[Article]
    sentences: list[Sentence]
    passages: list[Passage]
    sentence_passage: np.ndarray  # passage row of each sentence
    window_bounds: list[tuple[int, int]]  # sentence rows [lo, hi] of each sentence's window
    sentence_vectors: np.ndarray
    window_vectors: np.ndarray
    passage_vectors: np.ndarray
    lexical: LexicalIndex  # BM25 over sentence windows (relevance, vocabulary)
    sentence_lexical: LexicalIndex  # BM25 over single sentences (ranking)
    model_name: str
    report: BuildReport
    window_has_number: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    window_has_name: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    sentence_has_number: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    sentence_has_name: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    sentence_position: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # in its article
    passage_article: list[str] = field(default_factory=list)
    sentence_article: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # article row
    article_vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 384), dtype=np.float32))
    article_stems: list[set[str]] = field(default_factory=list)  # stemmed words of title, outlet, author, date, url
    names: frozenset[str] = frozenset()  # lowercase words the articles write capitalised mid-sentence
    ann: DenseANN | None = None  # large indexes only: candidates by approximate search, vectors kept as float16
    _stems: dict = field(default_factory=dict, repr=False, compare=False)  # memo: (kind, row) -> stemmed words
    _article_of: dict = field(default_factory=dict, repr=False, compare=False)  # many articles: id -> article
    _passage_of: dict = field(default_factory=dict, repr=False, compare=False)  # PassageTable: id -> row

    def window_text(self, row: int) -> str:
        """The verbatim text of sentence `row` with its neighbours (its window)."""
        lo, hi = self.window_bounds[row]
        article = self.article_by_row(lo)
        return article.body[self.sentences[lo].start : self.sentences[hi].end]

    def article_by_row(self, row: int) -> Article:
        """The article of a sentence row."""
        return self.articles[int(self.sentence_article[row])]

    def window_stems(self, row: int) -> set[str]:
        """Stemmed content words of a window (computed when first needed, then kept)."""
        key = ("w", row)
        if key not in self._stems:
            self._stems[key] = {stem(w) for w in content_words(self.window_text(row))}
        return self._stems[key]

    def sentence_stems(self, row: int) -> set[str]:
        """Stemmed content words of a sentence (computed when first needed, then kept)."""
        key = ("s", row)
        if key not in self._stems:
            self._stems[key] = {stem(w) for w in content_words(self.sentences[row].text)}
        return self._stems[key]

    def passage_rows(self, passage_ids) -> frozenset[int]:
        """Rows of the passages with these ids."""
        wanted = set(passage_ids)
        if not isinstance(self.passages, PassageTable):
            return frozenset(i for i, p in enumerate(self.passages) if p.id in wanted)
        if not self._passage_of:  # a large index: by a dictionary, made once
            self._passage_of = {pid: row for row, (pid, _) in enumerate(passage_keys(self.passages))}
        return frozenset(self._passage_of[i] for i in wanted if i in self._passage_of)

    def article(self, article_id: str) -> Article | None:
        """Find an article by id."""
        if len(self.articles) < 64:
            return next((a for a in self.articles if a.id == article_id), None)
        if len(self._article_of) != len(self.articles):  # many articles: by a dictionary (the list never changes)
            self._article_of = {a.id: a for a in reversed(self.articles)}  # the first of equal ids wins, as above
        return self._article_of.get(article_id)


class ColumnTable(Sequence):
    """A list-like view of rows stored as columns; subclasses make one item from a row."""

    start: np.ndarray

    def __len__(self) -> int:
        return len(self.start)

    def __getitem__(self, row):
        if isinstance(row, slice):
            return [self[r] for r in range(*row.indices(len(self)))]
        row = int(row)
        return self.row(row + len(self) if row < 0 else row)

    @abstractmethod
    def row(self, row: int):
        """The item at a non-negative row."""


class SentenceTable(ColumnTable):
    """A large index's sentences as columns (article row, position, start, end): each `Sentence` is made when read,
    its text cut from the article body (as `split_sentences` cuts it), instead of one object per sentence kept."""

    def __init__(self, sentences: list[Sentence], articles: list[Article]) -> None:
        row_of = {a.id: n for n, a in enumerate(articles)}
        self.articles = articles
        self.article = np.fromiter((row_of[s.article_id] for s in sentences), dtype=np.int32, count=len(sentences))
        self.position = np.fromiter((s.index for s in sentences), dtype=np.int32, count=len(sentences))
        self.start = np.fromiter((s.start for s in sentences), dtype=np.int64, count=len(sentences))
        self.end = np.fromiter((s.end for s in sentences), dtype=np.int64, count=len(sentences))

    @classmethod
    def fits(cls, sentences: list[Sentence], articles: list[Article]) -> bool:
        """True when every sentence's text is its article's body between its offsets (nothing would change)."""
        by_id = {a.id: a for a in articles}
        return all(by_id[s.article_id].body[s.start : s.end] == s.text for s in sentences)

    def row(self, row: int) -> Sentence:
        """The sentence at a non-negative row."""
        article = self.articles[int(self.article[row])]
        start, end = int(self.start[row]), int(self.end[row])
        return Sentence(article.id, int(self.position[row]), start, end, article.body[start:end])


class PassageTable(ColumnTable):
    """A large index's passages as columns (article row, position, start, end, first sentence, sentence count):
    each `Passage` is made when read, its id and text as `build_passages` makes them."""

    def __init__(self, passages: list[Passage], articles: list[Article]) -> None:
        row_of = {a.id: n for n, a in enumerate(articles)}
        count = len(passages)
        self.articles = articles
        self.article = np.fromiter((row_of[p.article_id] for p in passages), dtype=np.int32, count=count)
        self.position = np.fromiter((p.position for p in passages), dtype=np.int32, count=count)
        self.start = np.fromiter((p.start for p in passages), dtype=np.int64, count=count)
        self.end = np.fromiter((p.end for p in passages), dtype=np.int64, count=count)
        self.first = np.fromiter((p.sentence_indexes[0] if p.sentence_indexes else 0 for p in passages),
                                 dtype=np.int32, count=count)
        self.sentences = np.fromiter((len(p.sentence_indexes) for p in passages), dtype=np.int32, count=count)

    @classmethod
    def fits(cls, passages: list[Passage], articles: list[Article]) -> bool:
        """True when every passage is what its columns would rebuild (id, text, consecutive sentences)."""
        by_id = {a.id: a for a in articles}
        return all(
            p.id == f"{p.article_id}#{p.position}" and by_id[p.article_id].body[p.start : p.end] == p.text
            and p.sentence_indexes == tuple(range(p.sentence_indexes[0], p.sentence_indexes[0] + len(p.sentence_indexes)))
            for p in passages if p.sentence_indexes) and all(p.sentence_indexes for p in passages)

    def row(self, row: int) -> Passage:
        """The passage at a non-negative row."""
        article = self.articles[int(self.article[row])]
        start, end, position, first = int(self.start[row]), int(self.end[row]), int(self.position[row]), int(self.first[row])
        return Passage(f"{article.id}#{position}", article.id, position, start, end, article.body[start:end],
                       tuple(range(first, first + int(self.sentences[row]))))


def passage_keys(passages) -> list[tuple[str, str]]:
    """Each passage's id and article id (a PassageTable's without making its passages)."""
    if isinstance(passages, PassageTable):
        ids = [a.id for a in passages.articles]
        return [(f"{ids[a]}#{p}", ids[a]) for a, p in zip(passages.article.tolist(), passages.position.tolist())]
    return [(p.id, p.article_id) for p in passages]


def sentence_windows(sentences: list[Sentence], sentence_passage: np.ndarray) -> list[tuple[int, int]]:
    """Each sentence with its neighbours inside the same passage (rows lo..hi)."""
    bounds = []
    for i in range(len(sentences)):
        lo = i - 1 if i > 0 and sentence_passage[i - 1] == sentence_passage[i] else i
        hi = i + 1 if i + 1 < len(sentences) and sentence_passage[i + 1] == sentence_passage[i] else i
        bounds.append((lo, hi))
    return bounds


def span_text(index_articles: dict[str, Article], sentences: list[Sentence], lo: int, hi: int) -> str:
    """Verbatim body text from sentence row lo to row hi."""
    article = index_articles[sentences[lo].article_id]
    return article.body[sentences[lo].start : sentences[hi].end]


class WindowTexts(Sequence):
    """Each window's text, made when read: a large build never holds every window's text at once."""

    def __init__(self, index_articles: dict[str, Article], sentences: list[Sentence], bounds) -> None:
        self.articles, self.sentences, self.bounds = index_articles, sentences, bounds

    def __len__(self) -> int:
        return len(self.bounds)

    def __getitem__(self, row: int) -> str:
        lo, hi = self.bounds[row]
        return span_text(self.articles, self.sentences, lo, hi)


def capitalised_words(texts: list[str]) -> frozenset[str]:
    """Lowercase forms of words written capitalised inside sentences more often than not (names)."""
    upper: dict[str, int] = {}
    lower: dict[str, int] = {}
    for text in texts:
        for n, word in enumerate(re.findall(r"[A-Za-z][a-z]+", text)):
            key = word.lower()
            if word[0].isupper():
                if n > 0:
                    upper[key] = upper.get(key, 0) + 1
            else:
                lower[key] = lower.get(key, 0) + 1
    return frozenset(w for w, count in upper.items() if count > lower.get(w, 0) and w not in STOPWORDS)


def article_means(passage_vectors: np.ndarray, rows: list[int], count: int) -> np.ndarray:
    """Each article's mean passage vector, normalised (what the article is about as a whole)."""
    dims = passage_vectors.shape[1] if passage_vectors.ndim == 2 else 384
    out = np.zeros((count, dims), dtype=np.float32)
    rows = np.asarray(rows, dtype=np.int64)
    step = 65_536
    for start in range(0, len(rows), step):  # in slices, added in order as one row at a time would
        np.add.at(out, rows[start : start + step], np.asarray(passage_vectors[start : start + step], dtype=np.float32))
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norms, 1e-12)


def build_index(
    knowledge_dir: Path | None = None,
    cache_path: Path | str | None = None,
    model_name: str | None = None,
    embedder: Embedder | None = None,
    progress: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> Index:
    """Load articles, split them, embed what the cache lacks, and return the index."""
    started = time.perf_counter()
    model_name = model_name or DEFAULT_MODEL
    embedder = embedder or Embedder(model_name)
    articles, warnings = load_articles(knowledge_dir)
    sentences: list[Sentence] = []
    passages: list[Passage] = []
    sentence_passage: list[int] = []
    for article in articles:
        local_sentences = split_sentences(article)
        local_passages = build_passages(article, local_sentences)
        row_of = {}
        for passage in local_passages:
            for s in passage.sentence_indexes:
                row_of[s] = len(passages)
            passages.append(passage)
        for sentence in local_sentences:
            sentences.append(sentence)
            sentence_passage.append(row_of[sentence.index])
    sp = np.asarray(sentence_passage, dtype=np.int64)
    bounds = sentence_windows(sentences, sp)
    by_id = {a.id: a for a in articles}
    titles = {a.id: a.title for a in articles}
    sentence_texts = [s.text for s in sentences]
    window_texts = [span_text(by_id, sentences, lo, hi) for lo, hi in bounds]
    passage_texts = [f"{titles[p.article_id]}. {p.text}" for p in passages]

    cache = EmbeddingCache(cache_path)
    all_texts = sentence_texts + window_texts + passage_texts
    from knowledge.embeddings import content_hash

    known = cache.get_many(embedder.model_name, [content_hash(t) for t in all_texts])
    changed = sorted({
        sentences[i].article_id for i, t in enumerate(sentence_texts) if content_hash(t) not in known
    } | {p.article_id for p, t in zip(passages, passage_texts) if content_hash(t) not in known})
    bar = None
    if progress and len(known) < len(set(all_texts)):
        from tqdm import tqdm

        bar = tqdm(total=len(set(all_texts)) - len(known), desc="Embedding passages", unit="text")

    def report_progress(done: int, total: int) -> None:
        if bar is not None:
            bar.n = done
            bar.refresh()
        if on_progress:
            on_progress(done, total)

    matrix, fresh = embed_cached(embedder, cache, all_texts, progress=report_progress)
    if bar is not None:
        bar.close()
    n_s, n_w = len(sentence_texts), len(window_texts)
    if len(all_texts) == 0:
        matrix = np.zeros((0, embedding_dims(embedder)), dtype=np.float32)
    pruned = cache.prune(embedder.model_name, {content_hash(t) for t in all_texts})
    added, edited, removed = article_changes(cache, articles, changed)
    report = BuildReport(
        articles=len(articles), passages=len(passages), sentences=len(sentences),
        embedded=fresh, cached=len(set(all_texts)) - fresh, pruned=pruned,
        seconds=time.perf_counter() - started, warnings=warnings, changed_articles=changed,
        added=added, changed=edited, removed=removed,
    )
    index = assemble_index(articles, sentences, passages, sp, matrix[:n_s], matrix[n_s : n_s + n_w],
                           matrix[n_s + n_w :], embedder.model_name, report)
    if index.ann is not None:  # a large index keeps columns: the sentence and passage objects and texts go now
        del sentences, passages, sentence_texts, window_texts, passage_texts, all_texts, matrix, known
        del sentence_passage, bounds, by_id, titles
        settle(index)
    return index


def settle(index: Index) -> None:
    """Once a large build's temporaries are freed: make the index's long-lived small objects (articles, their ids,
    vocabularies, names, stems) anew, so they sit together instead of each keeping one of the arenas the
    temporaries filled, and give the freed heap back to the system."""
    index.articles[:] = [replace(a, **{f.name: fresh(getattr(a, f.name)) for f in fields(a) if f.name != "body"})
                         for a in index.articles]  # in place: the sentence and passage tables share the list
    if isinstance(index.passages, PassageTable):
        index.passage_article = [index.articles[a].id for a in index.passages.article.tolist()]
    else:
        index.passage_article = [fresh(a) for a in index.passage_article]
    index._article_of, index._passage_of = {}, {}
    index.names = frozenset(fresh(w) for w in index.names)
    index.article_stems = [{fresh(w) for w in stems} for stems in index.article_stems]
    index.lexical.settle()
    index.sentence_lexical.settle()
    forget_stems()
    gc.collect()
    trim()


def assemble_index(
    articles: list[Article], sentences: list[Sentence], passages: list[Passage], sentence_passage: np.ndarray,
    sentence_vectors: np.ndarray, window_vectors: np.ndarray, passage_vectors: np.ndarray, model_name: str,
    report: BuildReport, ann_min_sentences: int = ANN_MIN_SENTENCES,
) -> Index:
    """The Index with everything search derives from the texts and vectors (lexical indexes, flags, stems).

    From `ann_min_sentences` sentences on, candidates come from an approximate index, vectors are kept as 8-bit
    codes (`Int8Rows`), sentences as columns (`SentenceTable`), window bounds as one array and BM25 postings
    compactly (`lexical.Postings`); the caller calls `settle` once it has freed the objects it built the index from.
    """
    by_id = {a.id: a for a in articles}
    article_row = {a.id: n for n, a in enumerate(articles)}
    article_vectors = article_means(passage_vectors, [article_row[p.article_id] for p in passages], len(articles))
    ann = None
    if len(sentences) >= ann_min_sentences and len(sentences):
        ann = DenseANN(FusedRows(sentence_vectors, window_vectors, passage_vectors, sentence_passage))
        sentence_vectors, window_vectors, passage_vectors = (  # a caller may hand them over as codes already
            m if isinstance(m, Int8Rows) else Int8Rows(m) for m in (sentence_vectors, window_vectors, passage_vectors))
    bounds = sentence_windows(sentences, sentence_passage)
    sentence_texts = [s.text for s in sentences]
    window_texts = [span_text(by_id, sentences, lo, hi) for lo, hi in bounds] if ann is None else None
    if ann is not None:  # large: window bounds as one array, sentences as columns (no object per sentence)
        bounds = np.asarray(bounds, dtype=np.int32).reshape(-1, 2)
        window_texts = WindowTexts(by_id, sentences, bounds)  # read three times below, never all held at once
        if SentenceTable.fits(sentences, articles):
            sentences = SentenceTable(sentences, articles)
        if PassageTable.fits(passages, articles):
            passages = PassageTable(passages, articles)
    flags = [text_flags(t) for t in window_texts]
    sentence_flags = np.array([text_flags(t) for t in sentence_texts], dtype=np.float32).reshape(-1, 2)
    index = Index(
        articles=articles, sentences=sentences, passages=passages, sentence_passage=sentence_passage,
        window_bounds=bounds, sentence_vectors=sentence_vectors, window_vectors=window_vectors,
        passage_vectors=passage_vectors, lexical=LexicalIndex(window_texts, compact=ann is not None),
        sentence_lexical=LexicalIndex(sentence_texts, compact=ann is not None), model_name=model_name, report=report,
        window_has_number=np.array([f[0] for f in flags], dtype=np.float32),
        window_has_name=np.array([f[1] for f in flags], dtype=np.float32),
        sentence_has_number=sentence_flags[:, 0].copy(), sentence_has_name=sentence_flags[:, 1].copy(),
        sentence_position=(np.array([s.index for s in sentences], dtype=np.int64) if isinstance(sentences, list)
                           else sentences.position),
        passage_article=([p.article_id for p in passages] if isinstance(passages, list)
                         else [articles[a].id for a in passages.article]),  # the ids are shared, not copied
        sentence_article=(np.array([article_row[s.article_id] for s in sentences], dtype=np.int64)
                          if isinstance(sentences, list) else sentences.article),
        article_vectors=article_vectors,
        names=capitalised_words(sentence_texts),
        article_stems=[{stem(w) for w in content_words(" ".join((a.title, a.outlet, a.author, a.date, a.url)))}
                       for a in articles],
        ann=ann,
    )
    if ann is not None:  # the build's temporary texts and tokens leave the C heap fragmented: give it back
        del window_texts, flags, sentence_texts, sentence_flags
        trim()
    return index
