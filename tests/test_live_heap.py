"""app/live/heap: freed memory handed back to the system beside a live exam (glibc), in a thread of
its own; a no-op where there is no malloc_trim."""
from __future__ import annotations

import sys
import threading

import pytest

from app.live import heap


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="malloc_trim is glibc's")
def test_the_trimmer_trims_in_its_own_thread_and_stops():
    if heap._malloc_trim() is None:
        pytest.skip("no malloc_trim in this C library")
    caller = threading.get_ident()
    seen: list[int] = []
    real = heap._malloc_trim()

    def spy(pad):
        seen.append(threading.get_ident())
        return real(pad)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(heap, "_malloc_trim", lambda: spy)
        with heap.HeapTrimmer(every_s=0.01) as trimmer:
            threading.Event().wait(0.2)
        count = trimmer.trims
        threading.Event().wait(0.05)
    assert count >= 3 and trimmer.trims == count          # it trimmed, and stopped with the exam
    assert seen and all(t != caller for t in seen)        # never on the caller's (the display's) thread
    assert trimmer.longest_ms >= 0.0


def test_without_malloc_trim_it_does_nothing(monkeypatch):
    monkeypatch.setattr(heap, "_malloc_trim", lambda: None)
    with heap.HeapTrimmer(every_s=0.01) as trimmer:
        threading.Event().wait(0.05)
    assert trimmer.trims == 0 and trimmer._thread is None
