"""Frame sources for the live mode: a recorded file played as a camera (in real time), and a
synthetic moving pattern. Each yields (BGR image, capture time in seconds from the start)."""
from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import numpy as np


class FrameSource(Protocol):
    fps: float
    size: tuple[int, int]          # (width, height)

    def frames(self) -> Iterator[tuple[np.ndarray, float]]: ...


class FileSource:
    """A video file played as a camera: frames come at their own times (``realtime``), or as fast
    as they are taken (benchmarks of the processing alone)."""

    def __init__(self, path: Path, *, realtime: bool = True, max_seconds: float | None = None):
        from app.video.reader import VideoReader

        self.path, self.realtime, self.max_seconds = Path(path), realtime, max_seconds
        with VideoReader(self.path) as reader:
            info = reader.info()
            self.size = reader.frame_size
            self.fps = float(info.get("fps") or 30.0)

    def frames(self) -> Iterator[tuple[np.ndarray, float]]:
        from app.video.reader import VideoReader

        start = time.perf_counter()
        with VideoReader(self.path) as reader:
            for vf in reader:
                t = vf.timestamp_ms / 1000.0
                if self.max_seconds is not None and t > self.max_seconds:
                    return
                if self.realtime:
                    wait = start + t - time.perf_counter()
                    if wait > 0:
                        time.sleep(wait)
                yield vf.image, t


class SyntheticSource:
    """A moving bar pattern at ``fps`` (no face: for plumbing and timing tests)."""

    def __init__(self, size: tuple[int, int] = (320, 240), fps: float = 30.0, seconds: float = 2.0,
                 realtime: bool = False):
        self.size, self.fps, self.seconds, self.realtime = size, fps, seconds, realtime

    def frames(self) -> Iterator[tuple[np.ndarray, float]]:
        w, h = self.size
        start = time.perf_counter()
        for i in range(int(round(self.seconds * self.fps))):
            t = i / self.fps
            if self.realtime:
                wait = start + t - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
            img = np.full((h, w, 3), 40, np.uint8)
            x = int((i * 7) % w)
            img[:, x:x + 12] = (0, 200, 255)
            img[h // 2 - 2:h // 2 + 2, :] = (min(255, i), 80, 80)      # each frame its own row colour
            yield img, t


class LoopedSource:
    """A source played over and over, its times running on, as a camera never ends: until
    ``seconds`` pass, or for ever (None). For the window's file-as-camera demonstrations and the
    live benchmark's long runs from a short clip."""

    def __init__(self, source: FrameSource, seconds: float | None = None):
        self.source, self.seconds = source, seconds
        self.size, self.fps = source.size, source.fps
        self.path = getattr(source, "path", None)       # what the window names in its camera list

    def frames(self) -> Iterator[tuple[np.ndarray, float]]:
        end = float("inf") if self.seconds is None else self.seconds
        offset = 0.0
        while offset < end:
            last = -1.0
            for image, t in self.source.frames():
                if offset + t > end:
                    return
                last = t
                yield image, offset + t
            if last < 0:
                return                  # an empty pass: nothing to loop
            offset += last + 1.0 / self.fps
            # A camera is opened once; each pass here opens the file again, and its reader's buffers
            # (7-15 MB) wait for the cycle collector: free them now, not at some later frame
            gc.collect()
