"""The engine the CLI and the bot share: open the index once, then ask many questions."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Collection, Sequence

from knowledge.batching import batcher_for
from knowledge.conversation import continues
from knowledge.embeddings import DEFAULT_MODEL, Embedder, EmbeddingCache, adaptation_beside, embed_cached, file_id
from knowledge.index import Index, build_index, passage_keys
from knowledge.labelled import LabelledItem, shipped_items
from knowledge.memory import Memory, build_memory, memory_text
from knowledge.models import Answer, Article, Passage, Turn
from knowledge.ranker import REMEMBERED_PREFIX, SHIPPED_RANKER, Ranker, RankerError, fallback_ranker, load_ranker
from knowledge.search import context_text, search
from knowledge.text import clean_question

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 1000
DEFAULT_CACHE = Path("data/index.db")


class Engine:
    """Question answering by quotation over a folder of articles."""

    def __init__(self, index: Index, embedder: Embedder, ranker: Ranker | None = None, memory: Memory | None = None):
        self.index = index
        self.embedder = embedder
        self.ranker = ranker or fallback_ranker()
        self.memory = memory or Memory.empty()
        self._lock = threading.Lock()
        # Passage rows, not passages: a large index makes each passage when it is read (knowledge.index.PassageTable).
        self._passages_by_id: dict[str, int] = {}
        self._passages_by_article: dict[str, list[int]] = {}
        for row, (passage_id, article_id) in enumerate(passage_keys(index.passages)):
            self._passages_by_id[passage_id] = row
            self._passages_by_article.setdefault(article_id, []).append(row)

    @classmethod
    def open(
        cls,
        knowledge_dir: Path | str | None = None,
        cache_path: Path | str | None = DEFAULT_CACHE,
        model_name: str | None = None,
        progress: bool = False,
        on_progress: Callable[[int, int], None] | None = None,
        ranker_path: Path | str | None = None,
        remembered: Sequence[LabelledItem] | None = None,
        embedder: Embedder | None = None,
    ) -> "Engine":
        """Load the articles and build or refresh the index (blocking; embeds only what changed).

        The learned ranker comes from `ranker_path` (default: the shipped one); the questions it remembers
        are `remembered` (default: the shipped labelled questions).
        """
        model_name = model_name or DEFAULT_MODEL
        named = embedder is None
        embedder = embedder or Embedder(model_name, adaptation=adaptation_beside(ranker_path, model_name))
        index = build_index(
            Path(knowledge_dir) if knowledge_dir else None, cache_path, embedder=embedder,
            progress=progress, on_progress=on_progress,
        )
        embedder.load_query_encoder()
        ranker = open_ranker(ranker_path)
        if named:
            warn_if_trained_for_another_model(ranker, embedder.requested)
        items = list(shipped_items() if remembered is None else remembered) + ranker.remembered_items()
        memory = remember(index, embedder, items, cache_path)
        return cls(index, embedder, ranker, memory)

    def reload(
        self, knowledge_dir: Path | str | None = None, cache_path: Path | str | None = DEFAULT_CACHE,
        ranker_path: Path | str | None = None,
    ) -> "Engine":
        """A new engine over the articles and the ranker file as they are now, reusing the loaded model.

        Only changed texts are embedded; the remembered questions are located again in the new index. When the
        fine-tuned weights beside the ranker changed (a retrain), the model is loaded again and everything re-embedded.
        """
        embedder = self.embedder
        if embedder.adaptation is not None:
            wanted = adaptation_beside(ranker_path, embedder.requested)
            if file_id(wanted) != embedder.model_name.rsplit("@", 1)[-1]:
                embedder = Embedder(embedder.requested, adaptation=wanted)
        index = build_index(Path(knowledge_dir) if knowledge_dir else None, cache_path, embedder=embedder)
        embedder.load_query_encoder()
        ranker = open_ranker(ranker_path)
        if ranker.training != self.ranker.training:
            warn_if_trained_for_another_model(ranker, embedder.requested)
        shipped_memory = [i for i in self.memory.items if not i.id.startswith(REMEMBERED_PREFIX)]
        items = shipped_memory + ranker.remembered_items()
        return Engine(index, embedder, ranker, remember(index, embedder, items, cache_path))

    def with_knowledge(self, ranker: Ranker | None = None, memory: Memory | None = None) -> "Engine":
        """The same index and model with another ranker and/or memory (cross-validation, hot swap)."""
        return Engine(self.index, self.embedder, ranker or self.ranker, self.memory if memory is None else memory)

    def remember(self, items: Sequence[LabelledItem], cache_path: Path | str | None = None) -> Memory:
        """A memory of these labelled questions against this engine's index."""
        return remember(self.index, self.embedder, list(items), cache_path)

    @property
    def articles(self) -> tuple[Article, ...]:
        """The loaded articles, in file order."""
        return tuple(self.index.articles)

    @property
    def warnings(self) -> list[str]:
        """Problems met while loading articles (skipped files)."""
        return list(self.index.report.warnings)

    def article(self, article_id: str) -> Article | None:
        """One article by id."""
        return self.index.article(article_id)

    def passages_for(self, article_id: str) -> tuple[Passage, ...]:
        """The passages of one article, in order."""
        return tuple(self.index.passages[row] for row in self._passages_by_article.get(article_id, ()))

    def passage(self, passage_id: str) -> Passage | None:
        """One passage by id."""
        row = self._passages_by_id.get(passage_id)
        return None if row is None else self.index.passages[row]

    def continues(self, question: str, previous: str | None) -> bool:
        """Whether a question reads as a follow-up of the previous one (else it starts a new conversation)."""
        return continues(question, previous, self.index.names)

    def embed(self, texts: list[str]):
        """Embed query texts with the engine's model (thread-safe; concurrent questions share one encoder pass)."""
        return batcher_for(self.embedder).encode(texts)

    def ask(
        self,
        question: str,
        previous: Sequence[Turn | str] = (),
        exclude: Collection[str] = (),
        limit: int = 3,
        rank_only: bool = False,
    ) -> Answer:
        """Answer a question (optionally continuing a conversation) with ranked verbatim quotes."""
        started = time.perf_counter()
        question = clean_question(question)
        if not question or not any(ch.isalnum() for ch in question):
            return Answer(question=question, abstained=True, reason="The question is empty.")
        if len(question) > MAX_QUESTION_CHARS:
            return Answer(question=question[:MAX_QUESTION_CHARS], abstained=True,
                          reason=f"The question is too long (over {MAX_QUESTION_CHARS} characters).")
        asked, question = question, self.index.lexical.corrected(question)  # typos: the articles' spelling
        previous = [p if isinstance(p, Turn) else Turn(clean_question(str(p))) for p in previous]
        previous = [replace(p, question=self.index.lexical.corrected(p.question)) for p in previous if p.question]
        texts = [question]
        if previous:
            texts.append(context_text(question, previous))
        # A conversation given as text (CLI, batch): work out what its last question showed, in the same batch.
        recover = bool(previous) and not previous[-1].passage_ids
        if recover:
            texts.append(previous[-1].question)
            if len(previous) > 1:
                texts.append(context_text(previous[-1].question, previous[:-1]))
        vectors = self.embed(texts)
        if recover:
            earlier = search(self.index, previous[-1].question, vectors[2], self.ranker, self.memory,
                             previous=previous[:-1], context_vector=vectors[3] if len(previous) > 1 else None,
                             rank_only=True)  # what the earlier question was about, answered or not
            previous[-1] = Turn(previous[-1].question, earlier.passage_ids)
        encoded = time.perf_counter()
        answer = search(
            self.index, question, vectors[0], self.ranker, self.memory, previous=previous,
            context_vector=vectors[1] if previous else None, exclude=exclude, limit=max(1, limit),
            rank_only=rank_only,
        )
        answer = replace(answer, question=asked, read_as=question if question != asked else "")
        done = time.perf_counter()
        answer.timings_ms.update(embed=round((encoded - started) * 1000, 2), search=round((done - encoded) * 1000, 2),
                                 total=round((done - started) * 1000, 2))
        return answer


def warn_if_trained_for_another_model(ranker: Ranker, model_name: str) -> None:
    """Log once when the ranker learned from another model's scores (they are not on the same scale)."""
    trained_for = str(ranker.training.get("model") or "").split("@", 1)[0]
    if trained_for and trained_for != model_name:
        log.warning("The ranker was trained with the model %s, not %s, so answers may be worse: run "
                    "`python -m bot train --model %s` to fit one for it.", trained_for, model_name, model_name)


def open_ranker(path: Path | str | None) -> Ranker:
    """The ranker at `path` (default: the shipped one); the hand-set fallback, with a warning, if unreadable."""
    try:
        return load_ranker(path or SHIPPED_RANKER)
    except RankerError as exc:
        log.warning("%s Using the hand-set ranking meanwhile.", exc)
        return fallback_ranker()


def remember(index: Index, embedder: Embedder, items: list[LabelledItem], cache_path: Path | str | None) -> Memory:
    """Embed labelled questions (cached by text and model) and locate their answers in the index."""
    if not items:
        return Memory.empty(index.sentence_vectors.shape[1] if index.sentence_vectors.ndim == 2 else 384)
    try:
        cache = EmbeddingCache(cache_path)
    except Exception:  # an unusable cache file only costs embedding the questions again
        cache = EmbeddingCache(None)
    vectors, _ = embed_cached(embedder, cache, [index.lexical.corrected(memory_text(i)) for i in items], queries=True)
    return build_memory(index, items, vectors)
