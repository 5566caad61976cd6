"""Give freed native memory back to the system: glibc keeps what torch freed, fragmented, unless trimmed."""

from __future__ import annotations

import ctypes
import ctypes.util
import threading

TRIM_EVERY = 64  # encoder passes between trims (a trim costs well under a millisecond)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
MMAP_THRESHOLD = 64 * 1024  # blocks this large get their own mapping, returned to the system when freed
TRIM_THRESHOLD = 128 * 1024  # free memory above this at the top of the heap is returned at once


def _libc(name: str):
    """A glibc function, or None on other C libraries (macOS, musl, Windows)."""
    try:
        return getattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), name)
    except (OSError, AttributeError):
        return None


_MALLOC_TRIM = _libc("malloc_trim")
_MALLOPT = _libc("mallopt")
_tuned = False


def tune() -> bool:
    """Once per process: fixed mmap and trim thresholds, so the encoder's large temporary tensors (a few MB
    each, of every size as question lengths vary) go back to the system instead of fragmenting the heap."""
    global _tuned
    if _MALLOPT is None:
        return False
    if not _tuned:
        _tuned = bool(_MALLOPT(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(_MALLOPT(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _tuned


def fresh(text: str) -> str:
    """A copy of a string made now (not the same object): long-lived strings made during a large build, copied
    once its temporaries are freed, no longer keep the arenas they were first allocated in."""
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "surrogatepass")


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
