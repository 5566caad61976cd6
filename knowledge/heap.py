"""Give freed native memory back to the system: glibc keeps what torch freed, fragmented, unless trimmed."""

from __future__ import annotations

import ctypes
import ctypes.util
import threading

TRIM_EVERY = 64  # encoder passes between trims (a trim costs well under a millisecond)


def _libc_trim():
    """glibc's malloc_trim, or None on other C libraries (macOS, musl, Windows)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):
        return None


_MALLOC_TRIM = _libc_trim()


def trim() -> bool:
    """Return free heap pages of every malloc arena to the system; False when this C library can't."""
    return bool(_MALLOC_TRIM is not None and _MALLOC_TRIM(0))


class Trimmer:
    """Call tick() after each unit of work; every `every` ticks the heap is trimmed (thread-safe)."""

    def __init__(self, every: int = TRIM_EVERY, trim_fn=trim) -> None:
        self.every, self._trim = max(1, every), trim_fn
        self._count = 0
        self._lock = threading.Lock()

    def tick(self) -> bool:
        """Count one unit of work; trim when it is due; return whether it trimmed."""
        with self._lock:
            self._count += 1
            due = self._count % self.every == 0
        if due:
            self._trim()
        return due
