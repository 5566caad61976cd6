"""The articles' inline markdown (*emphasis*, **strong**, backslash escapes) as styled runs, for any renderer."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_STRONG = re.compile(r"(?<!\*)\*\*(?=[^\s*])([^\n]+?)(?<=[^\s*])\*\*(?!\*)")
_EMPHASIS = re.compile(r"(?<!\*)\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*(?!\*)")


@dataclass(frozen=True)
class Run:
    """A stretch of quote text with one style: text without markup, raw with the article's escapes kept."""

    text: str
    raw: str
    italic: bool = False
    strong: bool = False
    mark: bool = False  # inside the answering sentence


def _flags(text: str) -> tuple[list[bool], list[bool], list[bool], list[bool]]:
    """Per character: is an emphasis marker, is an escaping backslash, is italic, is strong."""
    n = len(text)
    marker, escaping, italic, strong = [False] * n, [False] * n, [False] * n, [False] * n
    scan = list(text)
    for m in _ESCAPE.finditer(text):
        escaping[m.start()] = True
        scan[m.start()] = scan[m.start() + 1] = "\0"  # escaped characters never pair as markers
    for pattern, flags, width in ((_STRONG, strong, 2), (_EMPHASIS, italic, 1)):
        for m in pattern.finditer("".join(scan)):
            for i in (*range(m.start(), m.start() + width), *range(m.end() - width, m.end())):
                marker[i] = True
                scan[i] = "\0"
            for i in range(m.start(1), m.end(1)):
                flags[i] = True
    return marker, escaping, italic, strong


def styled_runs(text: str, highlight: tuple[int, int] = (0, 0), lo: int = 0, hi: int | None = None) -> list[Run]:
    """text[lo:hi] as runs of one style each; markers are parsed over the whole text, so a cut keeps its styles."""
    hi = len(text) if hi is None else hi
    marker, escaping, italic, strong = _flags(text)
    a, b = highlight
    runs: list[Run] = []
    key, plain, raw = None, [], []
    for i in range(max(0, lo), min(hi, len(text))):
        if marker[i]:
            continue
        style = (italic[i], strong[i], a <= i < b)
        if style != key and (plain or raw):
            runs.append(Run("".join(plain), "".join(raw), *key))
            plain, raw = [], []
        key = style
        raw.append(text[i])
        if not escaping[i]:
            plain.append(text[i])
    if plain or raw:
        runs.append(Run("".join(plain), "".join(raw), *key))
    return runs


def plain_text(text: str) -> str:
    """The text as a reader sees it: markup and escaping backslashes removed."""
    return "".join(run.text for run in styled_runs(text))
