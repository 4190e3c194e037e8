"""Post stage: mirror, annotate, encode the three videos and make previews, on its own thread.

Speed (docs/performance.md): STAR dominates the CPU, so this stage stays cheap: one reused pair
of mirror buffers (the writers encode synchronously, so a written frame's buffers are free
again), annotation only for frames that are written or previewed, previews at most preview_fps.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from app.engine.annotate import annotate_frame, banner_for, stamp_untrained
from app.engine.mirror import MirrorPair, mirror_both
from app.base.outputs import VIDEO_KINDS
from app.pipeline.stages.channel import END, Channel, StageTimer
from app.video.writer import VideoWriter


@dataclass
class Preview:
    frame_index: int
    annotated: np.ndarray          # BGR, downscaled
    left: np.ndarray               # anatomical left mirrored
    right: np.ndarray              # anatomical right mirrored
    time_s: float = 0.0
    symmetry: dict | None = None   # {region: (right, left)} headline measures (app.measures), live trace


def downscale(img: np.ndarray, max_side: int) -> np.ndarray:
    h, w = img.shape[:2]
    s = max_side / max(h, w)
    if s >= 1:
        return img.copy()
    return cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def open_video_writers(temp_paths: dict, reader, audio: bool = True) -> dict[str, VideoWriter]:
    """One writer per video output the run produces, writing to its temporary path, with the
    input's time base (output frame times = input frame times) and, unless refused, its audio."""
    writers: dict[str, VideoWriter] = {}
    try:
        for kind in VIDEO_KINDS:
            if kind in temp_paths:
                writers[kind] = VideoWriter(temp_paths[kind], reader.frame_size, time_base=reader.time_base,
                                            fps=reader.fps, audio_source=reader.path if audio else None)
    except BaseException:
        for w in writers.values():
            w.abort()
        raise
    return writers


def _symmetry(r) -> dict | None:
    """This frame's right/left headline measures for the live trace (previewed frames only)."""
    if r.points is None or r.raw_line is None:
        return None
    from app.measures.definitions import region_values
    try:
        return region_values(np.asarray(r.points, np.float64))
    except (ValueError, FloatingPointError, ZeroDivisionError):
        return None


class PostStage(threading.Thread):
    def __init__(self, inbox: Channel, writers: dict[str, VideoWriter], timer: StageTimer,
                 stop: threading.Event, errors: list[BaseException], frame_shape: tuple[int, ...], *,
                 on_preview: Callable[[Preview], None] | None, preview_fps: float, preview_max_side: int,
                 untrained: bool = False):
        super().__init__(name="facemirror-post", daemon=True)
        self.inbox, self.writers, self.timer, self.stop, self.errors = inbox, writers, timer, stop, errors
        self.on_preview, self.preview_fps, self.preview_max_side = on_preview, preview_fps, preview_max_side
        self.untrained = untrained        # every output frame carries the "not for clinical use" mark
        self._buffers = MirrorPair(np.empty(frame_shape, np.uint8), np.empty(frame_shape, np.uint8))
        self._last_preview = 0.0

    def run(self) -> None:
        try:
            while True:
                with self.timer.stage("wait_output"):
                    item = self.inbox.get()
                if item is END:
                    break
                if not self.stop.is_set():
                    self._handle(item)
        except BaseException as exc:  # noqa: BLE001 - handed to the calling thread, which raises it
            self.errors.append(exc)
            self.stop.set()
        finally:
            self.timer.set_thread_cpu("post", time.thread_time())

    def _handle(self, r) -> None:
        t0 = time.perf_counter()
        pair = mirror_both(r.image, r.line, out=self._buffers)
        if self.untrained:
            stamp_untrained(pair.left)
            stamp_untrained(pair.right)
        t1 = time.perf_counter()
        preview_due = self.on_preview is not None and (t1 - self._last_preview) * self.preview_fps >= 1.0
        annotated = None
        if "annotated" in self.writers or preview_due:
            annotated = annotate_frame(r.image, landmarks=r.points, box=r.track.box, midline=r.line,
                                       raw_midline=r.raw_line, banner=banner_for(r.quality))
            if self.untrained:
                stamp_untrained(annotated)
        t2 = time.perf_counter()
        self.writers["left_mirrored"].write(pair.left, r.pts)
        self.writers["right_mirrored"].write(pair.right, r.pts)
        if annotated is not None and "annotated" in self.writers:
            self.writers["annotated"].write(annotated, r.pts)
        t3 = time.perf_counter()
        self.timer.add("mirror", t1 - t0)
        self.timer.add("annotate", t2 - t1)
        self.timer.add("encode", t3 - t2)
        if preview_due and self.on_preview is not None and annotated is not None:
            self._last_preview = t1
            m = self.preview_max_side
            self.on_preview(Preview(r.index, downscale(annotated, m), downscale(pair.left, m),
                                    downscale(pair.right, m), r.timestamp_ms / 1000.0, _symmetry(r)))
            self.timer.add("preview", time.perf_counter() - t3)
