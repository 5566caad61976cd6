"""Small value objects that cross module borders (no discord, no model code here)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Article:
    """One source article: metadata plus its verbatim body."""

    id: str  # stable slug, e.g. "000-arriving-second"
    title: str
    body: str
    outlet: str = ""
    author: str = ""
    date: str = ""  # ISO date "YYYY-MM-DD" when known, else ""
    url: str = ""
    source_file: str = ""  # original delivered file name
    path: str = ""  # file it was loaded from


@dataclass(frozen=True)
class Sentence:
    """One sentence of an article body, with its character offsets in the body."""

    article_id: str
    index: int  # position in the article
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Passage:
    """A quotable span of an article (<= 1024 chars), traceable by offsets."""

    id: str  # "<article_id>#<position>"
    article_id: str
    position: int
    start: int
    end: int
    text: str  # == article.body[start:end]
    sentence_indexes: tuple[int, ...] = ()


@dataclass(frozen=True)
class Quote:
    """One ranked quote shown to a user: a verbatim span of a passage."""

    passage_id: str
    article_id: str
    title: str
    outlet: str
    author: str
    date: str
    url: str
    text: str  # verbatim substring of the article body
    start: int  # offsets of text inside the article body
    end: int
    highlight: tuple[int, int]  # the answering sentence, offsets inside `text`
    score: float


@dataclass(frozen=True)
class Turn:
    """One earlier question of a conversation and the passages it showed."""

    question: str
    passage_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Answer:
    """What the engine returns for one question."""

    question: str
    quotes: tuple[Quote, ...] = ()
    abstained: bool = False
    reason: str = ""  # why it abstained (empty when it answered)
    confidence: float = 0.0
    timings_ms: dict = field(default_factory=dict, compare=False)
    read_as: str = ""  # the question with its typos corrected, when that differs from what was asked

    @property
    def passage_ids(self) -> tuple[str, ...]:
        """Ids of the passages quoted, best first."""
        return tuple(q.passage_id for q in self.quotes)
