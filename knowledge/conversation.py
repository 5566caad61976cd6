"""Whether a new line of a conversation continues it: a follow-up leans on what came before."""

from __future__ import annotations

import re

# Openers that lean on the earlier exchange ("and ...", "so ...", "what about ...", "why not?").
CONTINUING_OPENER = re.compile(
    r"^\W*(and|so|but|or|also|then|ok(ay)?|well|like|wait|hmm+|right|yeah|yes|no|nah|really|anything else|"
    r"what about|how about|what else|why( not| so)?\b(?!\s+(is|are|was|were|do|does|did|has|have|would|will|"
    r"should|can|could)\b)|how come|tell me more|more on|go on|example|such as)\b", re.I)
# Words that point back at something named earlier.
POINTING = re.compile(r"\b(he|she|him|her|his|hers|they|them|their|theirs|it|its|that|there|the same|the other|"
                      r"such|then|both|either|neither|(this|these)(?!\s+(year|week|month|weekend|days?|time|morning|"
                      r"evening|summer|winter|spring|autumn|fall)\b))\b", re.I)
PERSONAL = re.compile(r"\b(he|she|him|her|his|hers)\b", re.I)  # a question rarely says "he" of someone new
NAMED = re.compile(r"(?<![.?!]\s)(?<!^)\b[A-Z][a-z]{2,}")


def continues(question: str, previous: str | None, names: frozenset[str] | set[str] = frozenset()) -> bool:
    """True when `question` reads as a follow-up of `previous` (an opener that leans back, or a short
    question that points at something without naming anything new). `names`: lowercase words the articles
    write capitalised (people, places), so "did putin ..." names someone even in lower case."""
    if not previous:
        return False
    text = question.strip()
    if CONTINUING_OPENER.match(text):
        return True
    words = re.findall(r"[\w'’]+", text)
    points = POINTING.search(text) is not None
    names_something = NAMED.search(text) is not None or len(words) > 12 or \
        any(w.lower().strip("'’") in names for w in words)
    if PERSONAL.search(text) and len(words) <= 12:
        return True
    return points and not names_something and len(words) <= 9
