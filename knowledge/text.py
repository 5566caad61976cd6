"""Pure text helpers: normalisation for matching, tokens for lexical search."""

from __future__ import annotations

import functools
import re
import unicodedata

QUOTE_MAP = str.maketrans({
    "“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "‘": "'", "’": "'", "‚": "'", "′": "'",
    "—": "-", "–": "-", "‐": "-", "‑": "-", "−": "-", "…": "...", "\u00a0": " ",
})
STOPWORDS = frozenset("""
a about above after again against all am an and any are aren't as at be because been before being below between both
but by can could did didn't do does doesn't doing don't down during each even ever few for from further had has have
having he her here hers herself him himself his how i if in into is isn't it it's its itself just let's me more most
my myself no nor not now of off on once only or other ought our ours ourselves out over own really same she should so
some such than that that's the their theirs them themselves then there these they this those through to too under
until up very was we were what what's when where which while who whom why will with would you your yours yourself
yourselves rn tell told say said says much many thing things actually exactly supposedly pretty kind sort also
get got go going went come came anything something whats whos hows wheres s t
""".split())


NUMBER = re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
                    r"hundred|thousand|million|billion|trillion|dozen|half|quarter|percent|first|second|third|"
                    r"january|february|march|april|may|june|july|august|september|october|november|december)\b", re.I)
NAME = re.compile(r"(?<=[a-z,;:] )[A-Z][a-z]+")


def fold(text: str) -> str:
    """Normalise quotes, dashes, markdown emphasis, escapes, case and white space for comparison."""
    text = unicodedata.normalize("NFKC", text).translate(QUOTE_MAP)
    text = re.sub(r"\\(.)", r"\1", text)
    text = text.replace("*", "").replace("_", " ")
    return re.sub(r"\s+", " ", text).strip().lower()


# For the articles' own texts (bodies, sentences, windows, quotes and answer spans), folded again for every labelled
# question. Never for questions: each is new, and hostile ones (1,000 characters of odd code points) kept the memory.
fold_article_text = functools.lru_cache(maxsize=16384)(fold)


def contains(haystack: str, needle: str) -> bool:
    """True when needle occurs in haystack after folding both (article texts: the folds are kept)."""
    return fold_article_text(needle) in fold_article_text(haystack)


def words(text: str) -> list[str]:
    """Lowercase word tokens (letters/digits, inner apostrophes and hyphens split)."""
    return re.findall(r"[a-z0-9]+", fold(text).replace("'", ""))


def content_words(text: str) -> list[str]:
    """Word tokens minus stop words."""
    return [w for w in words(text) if w not in STOPWORDS]


def clean_question(text: str) -> str:
    """Collapse white space and strip control characters from a user question."""
    text = unicodedata.normalize("NFC", text or "")
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch in "\n\t ")
    return re.sub(r"\s+", " ", text).strip()


def text_flags(text: str) -> tuple[bool, bool]:
    """(holds a number or date, holds a name) for a quote text."""
    return NUMBER.search(text) is not None, NAME.search(text) is not None
