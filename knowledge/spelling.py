"""Typos in questions: a word that is neither in the articles nor an English word becomes the articles' word one
edit away ("countires" -> "countries", "Beijng" -> "Beijing"), so BM25, the embedding and the name rule see it.

Only words the articles use are ever put in, and only for a word no English dictionary knows (pyspellchecker's
word list): "gushing" or "besties" stay as they are, and so does a name the articles never mention.
"""

from __future__ import annotations

import re
import threading
from typing import Callable

LETTERS = "abcdefghijklmnopqrstuvwxyz"
MIN_LENGTH = 4  # shorter words have too many neighbours one edit away
MAX_LENGTH = 24  # longer "words" are not typos of a word (and would cost thousands of candidates)
WORD = re.compile(r"[A-Za-z]+")

_LOCK = threading.Lock()
_ENGLISH: dict[str, int] | None = None


def english_words() -> dict[str, int]:
    """pyspellchecker's English words with their frequencies, loaded once (about half a second)."""
    global _ENGLISH
    with _LOCK:
        if _ENGLISH is None:
            from spellchecker import SpellChecker

            _ENGLISH = dict(SpellChecker(distance=1).word_frequency.dictionary)
        return _ENGLISH


def one_edit(word: str) -> set[str]:
    """Every string one deletion, transposition, replacement or insertion away from a lowercase word."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    return ({a + b[1:] for a, b in splits if b}
            | {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
            | {a + c + b[1:] for a, b in splits if b for c in LETTERS}
            | {a + c + b for a, b in splits for c in LETTERS})


def corrected_word(word: str, known: Callable[[str], bool], count: Callable[[str], int | None],
                   english: Callable[[], dict[str, int]] = english_words) -> str:
    """The articles' word one edit away from a misspelt lowercase word, else the word itself.

    `known` says whether the articles have the word (or its stem); `count` how often they use a word spelt so
    (0 for a stop word, None for a spelling they never use). Of several candidates, a word the articles use wins
    over a stop word ("Beijng": "Beijing", not "being"), then the commoner in English, then in the articles.
    """
    if not MIN_LENGTH <= len(word) <= MAX_LENGTH or known(word) or word in (common := english()):
        return word
    candidates = [(c, n) for c in sorted(one_edit(word)) if (n := count(c)) is not None]
    if not candidates:
        return word
    return max(candidates, key=lambda pair: (pair[1] > 0, common.get(pair[0], 0), pair[1]))[0]


def correct_spelling(text: str, correct: Callable[[str], str]) -> str:
    """The text with each word replaced by `correct(word)` (case kept for a capitalised word)."""
    def replace(match: re.Match) -> str:
        word = match.group(0)
        fixed = correct(word.lower())
        if fixed == word.lower():
            return word
        if word.isupper() and len(word) > 1:
            return fixed.upper()
        return fixed.capitalize() if word[0].isupper() else fixed

    return WORD.sub(replace, text)

