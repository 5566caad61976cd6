"""The engine the CLI and the bot share: open the index once, then ask many questions."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable, Collection, Sequence

from knowledge.embeddings import DEFAULT_MODEL, Embedder
from knowledge.index import Index, build_index
from knowledge.models import Answer, Article, Passage, Turn
from knowledge.search import context_text, search
from knowledge.text import clean_question

MAX_QUESTION_CHARS = 1000
DEFAULT_CACHE = Path("data/index.db")


class Engine:
    """Question answering by quotation over a folder of articles."""

    def __init__(self, index: Index, embedder: Embedder):
        self.index = index
        self.embedder = embedder
        self._lock = threading.Lock()
        self._passages_by_id = {p.id: p for p in index.passages}
        self._passages_by_article: dict[str, list[Passage]] = {}
        for passage in index.passages:
            self._passages_by_article.setdefault(passage.article_id, []).append(passage)

    @classmethod
    def open(
        cls,
        knowledge_dir: Path | str | None = None,
        cache_path: Path | str | None = DEFAULT_CACHE,
        model_name: str | None = None,
        progress: bool = False,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> "Engine":
        """Load the articles and build or refresh the index (blocking; embeds only what changed)."""
        embedder = Embedder(model_name or DEFAULT_MODEL)
        index = build_index(
            Path(knowledge_dir) if knowledge_dir else None, cache_path, embedder=embedder,
            progress=progress, on_progress=on_progress,
        )
        embedder.load_query_encoder()
        return cls(index, embedder)

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
        return tuple(self._passages_by_article.get(article_id, ()))

    def passage(self, passage_id: str) -> Passage | None:
        """One passage by id."""
        return self._passages_by_id.get(passage_id)

    def embed(self, texts: list[str]):
        """Embed query texts with the engine's model (thread-safe)."""
        with self._lock:
            return self.embedder.encode_queries(texts)

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
        previous = [p if isinstance(p, Turn) else Turn(clean_question(str(p))) for p in previous]
        previous = [p for p in previous if p.question]
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
            earlier = search(self.index, previous[-1].question, vectors[2], previous=previous[:-1],
                             context_vector=vectors[3] if len(previous) > 1 else None)
            previous[-1] = Turn(previous[-1].question, earlier.passage_ids)
        encoded = time.perf_counter()
        answer = search(
            self.index, question, vectors[0], previous=previous,
            context_vector=vectors[1] if previous else None, exclude=exclude, limit=max(1, limit),
            rank_only=rank_only,
        )
        done = time.perf_counter()
        answer.timings_ms.update(embed=round((encoded - started) * 1000, 2), search=round((done - encoded) * 1000, 2),
                                 total=round((done - started) * 1000, 2))
        return answer
