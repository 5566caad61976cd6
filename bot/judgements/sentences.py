"""Find a pasted sentence in the articles, verbatim after folding quotes, dashes, markdown, case and space."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from knowledge.text import QUOTE_MAP, fold

MIN_CHARS = 12  # a shorter paste ("the", "Putin") is found everywhere and teaches nothing


@dataclass(frozen=True)
class Found:
    """Where a pasted sentence is: the article and the exact text of the article that it matches."""

    article_id: str
    source: str
    text: str


def folded_with_offsets(body: str) -> tuple[str, list[int]]:
    """fold(body) built character by character, with each folded character's offset in body."""
    chars: list[str] = []
    offsets: list[int] = []
    for i, char in enumerate(body):
        piece = unicodedata.normalize("NFKC", char).translate(QUOTE_MAP).replace("*", "").replace("_", " ").lower()
        for c in piece:
            if c.isspace():
                if not chars or chars[-1] == " ":
                    continue
                c = " "
            chars.append(c)
            offsets.append(i)
    return "".join(chars), offsets


def exact_span(body: str, pasted: str) -> str | None:
    """The article's own text that the paste matches after folding, or None when it isn't in body."""
    needle = fold(pasted)
    if len(needle) < MIN_CHARS or needle not in fold(body):
        return None
    folded, offsets = folded_with_offsets(body)  # only for the article that holds it: slower, character by character
    at = folded.find(needle)
    if at < 0:  # fold() of the whole text differs here (an escape, a combining mark): keep the paste, tidied
        return " ".join(pasted.replace("*", "").split())
    return body[offsets[at]:offsets[at + len(needle) - 1] + 1]


def find_sentence(pasted: str, articles: Iterable) -> Found | None:
    """The first article holding the pasted sentence (articles need id, body and source_file), or None."""
    for article in articles:
        span = exact_span(article.body, pasted)
        if span is not None:
            return Found(article.id, getattr(article, "source_file", "") or "", span)
    return None
