"""The engine the bot answers from, swapped atomically after a re-index built in a background thread."""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

_log = logging.getLogger(__name__)

# Engine calls get threads of their own: in a burst they mostly wait for a shared encoder pass, so more of them
# in flight means fuller passes (the default pool has min(32, cores + 4) threads, 6 here, shared with the log).
ENGINE_THREADS = 64
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def engine_pool() -> ThreadPoolExecutor:
    """The process's thread pool for engine calls (created on first use)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(ENGINE_THREADS, thread_name_prefix="engine")
        return _POOL


async def in_engine_thread(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Run a blocking engine call on the engine pool and await its result."""
    return await asyncio.get_running_loop().run_in_executor(engine_pool(), functools.partial(fn, *args, **kwargs))


@dataclass(frozen=True)
class Rebuilt:
    """A finished re-index: the engines before and after, and how long the build took."""

    old: Any
    new: Any
    seconds: float


def build_engine(settings: Any, current: Any = None) -> Any:
    """Build a new engine from KNOWLEDGE_DIR and the ranker file (blocking), reusing the current model."""
    from bot.client import open_engine, ranker_path

    if getattr(current, "embedder", None) is None:
        return open_engine(settings)
    return current.reload(settings.knowledge_dir, settings.index_path, ranker_path(settings))


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
