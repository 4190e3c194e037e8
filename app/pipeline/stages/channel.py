"""Bounded hand-off between two pipeline threads, and per-stage timing.

A Channel never blocks a producer past a stop request: every put waits in short slices and gives
up once any of the run's stop events is set, so one failing or cancelled stage winds the others
down without a deadlock. `finish()` delivers the end marker; when the run is stopping it makes
room by dropping queued items (they would be thrown away anyway).
"""
from __future__ import annotations

import queue
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

END = object()   # end-of-stream marker
_SLICE_S = 0.1

# The timed stages (the one home of their names) and the thread each runs on. wait_input: the
# inference thread waiting for decoded frames; wait_output: the post thread waiting for inference
# results; infer_blocked: the inference thread waiting for room in the post channel
# (post-processing is the slower side); read_blocked: the reader waiting for room in the input
# channel (decoding is ahead, the normal case).
STAGE_THREAD = {"decode": "reader", "read_blocked": "reader",
                "detect": "inference", "track": "inference", "star_pre": "inference",
                "star_infer": "inference", "midline": "inference", "csv": "inference",
                "wait_input": "inference", "infer_blocked": "inference",
                "mirror": "post", "annotate": "post", "encode": "post", "preview": "post",
                "wait_output": "post"}
# Time a thread spends waiting for another, not working.
WAIT_STAGES = ("read_blocked", "wait_input", "infer_blocked", "wait_output")


class Channel:
    def __init__(self, size: int, *stop_events: threading.Event):
        self._q: queue.Queue = queue.Queue(maxsize=size)
        self._stops = stop_events

    def stopping(self) -> bool:
        return any(e.is_set() for e in self._stops)

    def put(self, item: Any) -> bool:
        """Queue an item, waiting for room; False (item dropped) when the run is stopping."""
        while not self.stopping():
            try:
                self._q.put(item, timeout=_SLICE_S)
                return True
            except queue.Full:
                continue
        return False

    def get(self) -> Any:
        return self._q.get()

    def finish(self) -> None:
        """Deliver the end marker: after everything queued, or at once when stopping."""
        if self.put(END):
            return
        while True:
            try:
                self._q.put_nowait(END)
                return
            except queue.Full:
                try:
                    self._q.get_nowait()
                except queue.Empty:
                    pass


class StageTimer:
    """Accumulated wall seconds and calls per stage, and CPU seconds per thread; thread-safe."""

    def __init__(self) -> None:
        self.total: defaultdict[str, float] = defaultdict(float)
        self.calls: defaultdict[str, int] = defaultdict(int)
        self.thread_cpu: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            self.total[stage] += seconds
            self.calls[stage] += 1

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - t)

    def seconds(self, stage: str) -> float:
        with self._lock:
            return self.total[stage]

    def mean_ms(self, frames: int) -> dict[str, float]:
        with self._lock:
            return {k: 1000.0 * v / max(1, frames) for k, v in self.total.items()}

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self.calls)

    def set_thread_cpu(self, thread: str, seconds: float) -> None:
        with self._lock:
            self.thread_cpu[thread] = seconds
