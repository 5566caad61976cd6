"""Moderators judge answers; judgements become evaluation and training items (no Discord in this package's core)."""

from bot.judgements._store import (
    CORRECT,
    LABELS,
    QUOTE,
    RIGHTLY_REFUSED,
    SAID,
    SHOULD_REFUSE,
    VERDICTS,
    Tally,
    Verdict,
    allowed,
    answer,
    judge,
    label,
    listing,
    of_answer,
    set_keep,
    tally,
)
from bot.judgements.export import judged_items

__all__ = [
    "CORRECT", "LABELS", "QUOTE", "RIGHTLY_REFUSED", "SAID", "SHOULD_REFUSE", "VERDICTS", "Tally", "Verdict",
    "allowed", "answer", "judge", "judged_items", "label", "listing", "of_answer", "set_keep", "tally",
]
