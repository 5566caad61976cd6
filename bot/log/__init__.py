"""The interaction log, and an async front that keeps its I/O off the event loop."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from bot.log.migrations import MIGRATIONS, migrate
from bot.log.store import InteractionLog, Who, iso, parse_iso, utc_now

__all__ = ["AsyncLog", "InteractionLog", "MIGRATIONS", "Who", "iso", "migrate", "parse_iso", "utc_now"]

_log = logging.getLogger(__name__)
T = TypeVar("T")


class AsyncLog:
    """Run every log call on one writer thread; a failing database is reported once and never reaches users."""

    retry_after_seconds = 15.0  # after a failure, calls skip the database this long instead of waiting on it

    def __init__(
        self,
        path: Path | str,
        *,
        anonymize_key: str | None = None,
        busy_timeout: float = 5.0,
        anonymize_default: bool | None = None,
    ) -> None:
        self.path = Path(path)
        self._options = {"anonymize_key": anonymize_key, "busy_timeout": busy_timeout,
                         "anonymize_default": anonymize_default}
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="interaction-log")
        self._store: InteractionLog | None = None
        self._last_open_attempt = float("-inf")
        self._failed_at = float("-inf")
        self._failing = False
        self._closed = False

    @property
    def available(self) -> bool:
        """Whether the database is open."""
        return self._store is not None

    async def open(self, *, interrupt_stale: bool = False) -> bool:
        """Open (creating and migrating) the database; optionally mark rows left pending by a crash."""
        if await self._ensure_open() and interrupt_stale:
            count = await self.call(lambda log: log.interrupt_pending(), default=0)
            if count:
                _log.warning("Marked %d interaction(s) left pending by an earlier run as interrupted", count)
        return self.available

    async def _ensure_open(self) -> bool:
        if self._store is not None:
            return True
        if self._closed or time.monotonic() - self._last_open_attempt < self.retry_after_seconds:
            return False
        self._last_open_attempt = time.monotonic()
        try:
            self._store = await self._run(lambda: InteractionLog(self.path, **self._options))
        except (sqlite3.Error, OSError) as exc:
            self._report(exc)
            return False
        self._recovered()
        return True

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def call(self, fn: Callable[[InteractionLog], T], *, default: Any = None) -> T | Any:
        """Run fn(store) on the writer thread; on any database failure return default."""
        if self._failing and time.monotonic() - self._failed_at < self.retry_after_seconds:
            return default
        if not await self._ensure_open():
            return default
        store = self._store
        try:
            result = await self._run(lambda: fn(store))
        except (sqlite3.Error, OSError) as exc:
            self._report(exc)
            return default
        except Exception:
            _log.exception("Interaction log call failed")
            return default
        self._recovered()
        return result

    def _report(self, exc: BaseException) -> None:
        """Say once on stderr (and in the log) that the database can't be used."""
        self._failed_at = time.monotonic()
        if self._failing:
            _log.debug("Interaction log still failing: %s", exc)
            return
        self._failing = True
        message = f"interaction log: cannot write {self.path}: {exc}; answers go on, but are not being logged"
        print(message, file=sys.stderr, flush=True)
        _log.error(message)

    def _recovered(self) -> None:
        if self._failing:
            self._failing = False
            _log.warning("Interaction log %s is writable again", self.path)

    async def close(self) -> None:
        """Finish queued writes, checkpoint and close; later calls return their defaults."""
        if self._closed:
            return
        self._closed = True
        store, self._store = self._store, None
        if store is not None:
            try:
                await self._run(store.close)
            except (sqlite3.Error, OSError) as exc:
                self._report(exc)
        await asyncio.to_thread(self._executor.shutdown, wait=True)
