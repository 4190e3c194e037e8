"""Give freed memory back to the system during a long live exam (glibc only; elsewhere nothing).

Why: each camera frame is a 2.7 MB array (720p) made in one thread and freed in another (the
encoder's, the landmarks'). glibc serves such blocks from its heaps once its adaptive mmap threshold
has risen above their size, and keeps what is freed there: a 10-minute exam grew by about 4 MB a
minute here though nothing was leaked (Python's own heap stayed at 15 MB; with a fixed mmap
threshold the figure was flat, but every frame then cost ~5 ms more CPU in page faults). Trimming
every few seconds, beside the exam, returns the freed pages.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys
import threading
import time

TRIM_EVERY_S = 5.0


@functools.cache
def _malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim                     # glibc; musl and others have none
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


class HeapTrimmer:
    """Trims every ``every_s`` seconds in a thread of its own while it runs (a trim took up to 31 ms
    here: never on the display's thread). Use as a context manager, or start() / stop()."""

    def __init__(self, every_s: float = TRIM_EVERY_S):
        self.every_s = every_s
        self.trims = 0
        self.longest_ms = 0.0      # the longest trim (the benchmark prints it)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "HeapTrimmer":
        if _malloc_trim() is not None and self._thread is None:
            self._thread = threading.Thread(target=self._work, name="facemirror-heap-trim", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "HeapTrimmer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _work(self) -> None:
        trim = _malloc_trim()
        while not self._stop.wait(self.every_s):
            t0 = time.perf_counter()
            trim(0)
            self.trims += 1
            self.longest_ms = max(self.longest_ms, (time.perf_counter() - t0) * 1000.0)
