"""Split article bodies into sentences and quotable passages, keeping exact offsets."""

from __future__ import annotations

import re

from knowledge.models import Article, Passage, Sentence

MAX_PASSAGE_CHARS = 1024  # a Discord embed field
TARGET_WORDS = 170
MAX_WORDS = 200
MIN_WORDS = 110
MAX_SENTENCE_CHARS = 600  # longer "sentences" are cut at clause boundaries

ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "st", "sr", "jr", "gen", "gov", "sen", "rep", "lt", "col", "capt",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "no", "nos", "vs", "etc", "inc", "ltd", "co", "corp", "approx", "fig", "vol", "pp", "ca",
    "e.g", "i.e", "u.s", "u.k", "u.n", "e.u", "a.m", "p.m",
}
HEADING = re.compile(r"^\s{0,3}#{1,6}\s")
# a sentence ends at . ! ? or … (plus closing quotes/brackets) followed by white space
END = re.compile(r"[.!?…]+[\"'”’)\]*_]*(?=\s)")
NEXT_STARTS = re.compile(r"\s+[\"'“‘(\[*_]*[A-Z0-9\[]")


def paragraphs(body: str) -> list[tuple[int, int]]:
    """Return (start, end) of each non-empty line-block that is not a heading."""
    spans = []
    for match in re.finditer(r"[^\n]+", body):
        line = match.group(0)
        if not line.strip() or HEADING.match(line):
            continue
        start = match.start() + (len(line) - len(line.lstrip()))
        end = match.start() + len(line.rstrip())
        spans.append((start, end))
    return spans


def headings(body: str) -> list[tuple[int, str]]:
    """Return (offset, text) of each Markdown heading line."""
    return [
        (m.start(), re.sub(r"^#+\s*", "", m.group(0)).strip("*_ ").strip())
        for m in re.finditer(r"[^\n]+", body)
        if HEADING.match(m.group(0))
    ]


def is_abbreviation(text: str, dot: int) -> bool:
    """True when the period at `dot` ends an abbreviation or an initial."""
    if text[dot] != ".":
        return False
    match = re.search(r"([A-Za-z][A-Za-z.]*)$", text[:dot])
    if not match:
        return False
    word = match.group(1).lower().rstrip(".")
    return word in ABBREVIATIONS or (len(word) == 1 and text[dot - 1].isupper())


def sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split body[start:end] (one paragraph) into sentence spans."""
    spans = []
    cursor = start
    segment = text[start:end]
    for match in END.finditer(segment):
        stop = start + match.end()
        if not NEXT_STARTS.match(text, stop) or stop >= end:
            continue
        if is_abbreviation(text, start + match.start()) and match.end() - match.start() == 1:
            continue
        spans.append((cursor, stop))
        cursor = stop
        while cursor < end and text[cursor].isspace():
            cursor += 1
    if cursor < end:
        spans.append((cursor, end))
    return [piece for span in spans for piece in cut_long(text, *span)]


def cut_long(text: str, start: int, end: int, limit: int = MAX_SENTENCE_CHARS) -> list[tuple[int, int]]:
    """Cut an over-long sentence at clause boundaries (; , — :) so every piece fits."""
    pieces = []
    while end - start > limit:
        window = text[start : start + limit]
        cut = max(window.rfind(sep) + len(sep) for sep in ("; ", ", ", " — ", " – ", ": ", " "))
        if cut <= len(window) // 3:
            cut = limit
        stop = start + cut
        pieces.append((start, stop))
        start = stop
        while start < end and text[start].isspace():
            start += 1
    pieces.append((start, end))
    return [(s, e) for s, e in ((s, e) for s, e in pieces) if text[s:e].strip()]


def split_sentences(article: Article) -> list[Sentence]:
    """All sentences of an article, in order, with body offsets."""
    body = article.body
    sentences = []
    for p_start, p_end in paragraphs(body):
        for s, e in sentence_spans(body, p_start, p_end):
            while e > s and body[e - 1].isspace():
                e -= 1
            sentences.append(Sentence(article.id, len(sentences), s, e, body[s:e]))
    return sentences


def word_count(text: str) -> int:
    """Count words the simple way."""
    return len(text.split())


def build_passages(article: Article, sentences: list[Sentence]) -> list[Passage]:
    """Group consecutive sentences into passages of ~150-200 words, never over 1024 chars."""
    body = article.body
    heading_offsets = [offset for offset, _ in headings(body)]
    passages: list[Passage] = []
    group: list[Sentence] = []

    def flush() -> None:
        if group:
            start, end = group[0].start, group[-1].end
            passages.append(Passage(
                id=f"{article.id}#{len(passages)}", article_id=article.id, position=len(passages),
                start=start, end=end, text=body[start:end], sentence_indexes=tuple(s.index for s in group),
            ))
            group.clear()

    for sentence in sentences:
        if group:
            start = group[0].start
            words = word_count(body[start : sentence.end])
            chars = sentence.end - start
            crosses_heading = any(group[-1].end < h < sentence.start for h in heading_offsets)
            new_paragraph = "\n" in body[group[-1].end : sentence.start]
            current = word_count(body[start : group[-1].end])
            if (
                crosses_heading
                or chars > MAX_PASSAGE_CHARS
                or words > MAX_WORDS
                or (new_paragraph and current >= TARGET_WORDS)
                or (new_paragraph and current >= MIN_WORDS and words > MAX_WORDS * 0.9)
            ):
                flush()
        group.append(sentence)
    flush()
    return passages
