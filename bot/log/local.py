"""The terminal prompt's interaction log: the same database as Discord's, as the local user; never stops the prompt."""

from __future__ import annotations

import getpass
import logging
import sqlite3
from pathlib import Path

from bot.log.store import InteractionLog, Who
from knowledge.models import Answer

LOCAL_COMMAND = "local"  # a question typed at the terminal prompt (new or follow-up)
LOCAL_MORE_COMMAND = "local-more"  # 'more' at the terminal prompt

_log = logging.getLogger(__name__)


def local_user() -> Who:
    """The person at the terminal: no server or channel, 'local:<login>' as the user id."""
    try:
        login = getpass.getuser()
    except (KeyError, OSError):
        login = "unknown"
    return Who(None, None, f"local:{login}", login)  # type: ignore[arg-type]  # a text id, stored as text


class LocalLog:
    """Write the prompt's questions and answers; a database failure is reported once and then ignored."""

    def __init__(self, path: Path | str, *, anonymize_key: str | None = None, who: Who | None = None) -> None:
        self.path = Path(path)
        self.who = who or local_user()
        self._anonymize_key = anonymize_key
        self._store: InteractionLog | None = None
        self._failed = False
        self.question_row: int | None = None  # the latest question, which 'more' and follow-ups continue

    def _open(self) -> InteractionLog | None:
        if self._store is None and not self._failed:
            self._store = self._guard(lambda: InteractionLog(self.path, anonymize_key=self._anonymize_key))
        return self._store

    def _guard(self, work):
        """Run work, turning a database failure into one warning for the whole session."""
        try:
            return work()
        except (sqlite3.Error, OSError) as exc:
            if not self._failed:
                _log.warning("Interaction log %s can't be written (%s); answers go on, unlogged", self.path, exc)
            self._failed = True
            return None

    def _write(self, command: str, question: str, status: str, parent_id: int | None, **details) -> int | None:
        store = self._open()
        if store is None:
            return None
        return self._guard(lambda: store.record(self.who, command, status=status, question=question,
                                                parent_id=parent_id, **details))

    def asked(self, question: str, answer: Answer, *, follows: bool) -> int | None:
        """Log a question's answer (a follow-up continues the latest question's row); return its row id."""
        parent = self.question_row if follows else None
        row = self._write(LOCAL_COMMAND, question, "ok", parent, **_outcome(answer))
        self.question_row = row
        return row

    def more(self, question: str, answer: Answer) -> int | None:
        """Log a 'more' page of the latest question."""
        return self._write(LOCAL_MORE_COMMAND, question, "ok", self.question_row, **_outcome(answer))

    def refused(self, question: str, reason: str) -> int | None:
        """Log a question turned away before the engine saw it (empty or too long)."""
        return self._write(LOCAL_COMMAND, question, "invalid", None, reason=reason)

    def close(self) -> None:
        """Checkpoint and close the database."""
        if self._store is not None:
            self._guard(self._store.close)
            self._store = None


def _outcome(answer: Answer) -> dict:
    """The finish() details of an answer."""
    total = answer.timings_ms.get("total")
    return {
        "quotes": answer.quotes, "abstained": answer.abstained or not answer.quotes, "reason": answer.reason,
        "latency_ms": None if total is None else int(total),
    }
