"""The engine the bot answers from, swapped atomically after a re-index built in a background thread."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rebuilt:
    """A finished re-index: the engines before and after, and how long the build took."""

    old: Any
    new: Any
    seconds: float


def build_engine(settings: Any, current: Any = None) -> Any:
    """Build a new engine from KNOWLEDGE_DIR (blocking), reusing the current model: only changed texts are embedded."""
    from knowledge import Engine
    from knowledge.index import build_index

    embedder = getattr(current, "embedder", None)
    if embedder is None:
        from bot.client import open_engine

        return open_engine(settings)
    index = build_index(settings.knowledge_dir, settings.index_path, embedder=embedder)
    return Engine(index, embedder)


class EngineHolder:
    """Owns the current engine; a question takes a reference once and keeps using it even if a swap happens."""

    def __init__(self, engine: Any = None, builder: Callable[[Any, Any], Any] = build_engine) -> None:
        self._engine = engine
        self._swap_lock = threading.Lock()
        self._rebuild_lock: asyncio.Lock | None = None
        self.builder = builder  # (settings, current engine) -> new engine, run in a thread

    @property
    def current(self) -> Any:
        """The engine answering questions now."""
        return self._engine

    def swap(self, engine: Any) -> Any:
        """Make `engine` current; return the previous one."""
        with self._swap_lock:
            old, self._engine = self._engine, engine
        return old

    @property
    def rebuilding(self) -> bool:
        """Whether a re-index is running."""
        return self._rebuild_lock is not None and self._rebuild_lock.locked()

    async def rebuild(self, settings: Any) -> Rebuilt:
        """Build a new engine in a thread (one build at a time) and swap to it; on failure the old one stays."""
        if self._rebuild_lock is None:
            self._rebuild_lock = asyncio.Lock()
        async with self._rebuild_lock:
            started = time.monotonic()
            old = self.current
            new = await asyncio.to_thread(self.builder, settings, old)
            self.swap(new)
            seconds = time.monotonic() - started
            _log.info("Re-indexed the articles in %.1f s: %d article(s)", seconds, len(getattr(new, "articles", ())))
            return Rebuilt(old, new, seconds)
