"""One live exam: show (or hand to a callback) the three panes at the source's rate, record
every frame with its capture time, optionally mark the rest, and at the end process the
recording like a dropped file (all outputs, verdict, measures, summary)."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.live.heap import HeapTrimmer
from app.live.exam_state import ExamState, Phase
from app.live.frame_step import LiveFrameStep
from app.live.landmarks import LatestLandmarks
from app.live.panes import HEADLESS_PANE_WIDTH, pane_scale
from app.live.recorder import RecorderThread, RecordingFailed
from app.live.timing import RecordingTiming

# camera (annotated), left, right, time, at the panes' size; the mirrored arrays are reused for the
# next frame: copy to keep them
PanesCallback = Callable[[np.ndarray, np.ndarray, np.ndarray, float], None]


@dataclass
class LiveStats:
    frames: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)   # frame in -> mirrored panes out
    landmark_runs: int = 0
    recorded_frames: int = 0
    landmark_error: str | None = None     # the landmark thread failed (the panes kept the last midline)
    encoder_backlog_max: int = 0          # most frames ever waiting for the encoder (each a whole picture in memory)
    heap_trim_max_ms: float = 0.0         # the longest return of freed memory to the system (app.live.heap)
    timing: RecordingTiming | None = None  # the recording's length against the time it ran (frames lost)
    interrupted: bool = False             # stopped by ``abort``: the recording is the kept .recording file

    def as_dict(self) -> dict:
        lat = np.asarray(self.latencies_ms) if self.latencies_ms else np.array([np.nan])
        return {"display_fps": round(self.frames / self.seconds, 2) if self.seconds else None,
                "latency_p95_ms": round(float(np.percentile(lat, 95)), 2),
                "landmark_fps": round(self.landmark_runs / self.seconds, 2) if self.seconds else None,
                "recorded_frames_dropped": self.frames - self.recorded_frames,
                "encoder_backlog_max": self.encoder_backlog_max,
                "heap_trim_max_ms": round(self.heap_trim_max_ms, 2),
                **(self.timing.as_dict() if self.timing is not None else {})}


def record(source, models, recording: Path, *, stop: threading.Event | None = None,
           on_panes: PanesCallback | None = None, max_seconds: float | None = None,
           pane_width: int = HEADLESS_PANE_WIDTH, abort: threading.Event | None = None,
           replace: bool = False) -> tuple[Path, LiveStats]:
    """Run the exam until the source ends, ``stop`` is set or ``max_seconds`` pass. Returns the
    finished recording and the figures. ``abort`` (a signal): stop as well, but keep the recording
    as the interrupted NAME.recording.mp4 (returned, ``stats.interrupted``), not finished.
    ``replace``: an existing ``recording`` is replaced when the new one is complete (never before).
    A failed write (a full disk) stops the exam and raises RecordingFailed (its text one plain
    sentence); the part recorded stays as NAME.recording.mp4, playable.

    ``models``: those of the live panes (Models.load(live=True)); ``pane_width``: the panes' drawn width
    in pixels (0: the camera's full size). As in the window, the encoder has a thread of its own,
    so the panes never wait for it; every frame is still recorded."""
    stop = stop or threading.Event()
    abort = abort or threading.Event()
    exam = ExamState()
    exam.begin(origin=0.0)                     # the file's own times are the recording's (and the prompts')
    step = LiveFrameStep(exam)
    step.marks = marks = LatestLandmarks(models, source.size, source.fps)
    step.writer = writer = RecorderThread(recording, source.size, source.fps)
    heap = HeapTrimmer().start()
    stats = LiveStats()
    t0 = time.perf_counter()
    final = writer.partial
    try:
        _run(source, step, writer, stats, pane_scale(source.size[0], pane_width),
             lambda t_s: stop.is_set() or abort.is_set() or writer.error is not None or
             (max_seconds is not None and t_s > max_seconds), on_panes)
        stats.interrupted = abort.is_set()
        final = _finish(writer, exam, replace=replace, interrupted=stats.interrupted)
    finally:
        stats.seconds = time.perf_counter() - t0
        heap.stop()
        stats.heap_trim_max_ms = heap.longest_ms
        _stop_landmarks(marks, stats)
        if exam.phase is not Phase.IDLE:
            writer.close_partial()                     # writes what was queued, then closes
        stats.recorded_frames = writer.frames
        stats.timing = exam.timing(source.fps, writer.frames)
    return final, stats


def _run(source, step: LiveFrameStep, writer: RecorderThread, stats: LiveStats, scale: float, ended: Callable[[float], bool],
         on_panes: PanesCallback | None) -> None:
    """The frames until ``ended(t)``: each taken and drawn (app.live.frame_step), its figures kept."""
    for i, (image, t_s) in enumerate(source.frames()):
        if ended(t_s):
            break
        arrived = time.perf_counter()
        step.take(i, image, t_s, arrived)
        panes = step.draw(image, scale)
        if on_panes is not None:
            on_panes(panes.camera, panes.left, panes.right, t_s)
        stats.latencies_ms.append((time.perf_counter() - arrived) * 1000.0)
        stats.frames += 1
        stats.encoder_backlog_max = max(stats.encoder_backlog_max, writer.backlog)


def _finish(writer: RecorderThread, exam: ExamState, *, replace: bool, interrupted: bool) -> Path:
    """The finished recording (the exam back to IDLE); interrupted: the kept part, unfinished. A
    write failure raises RecordingFailed (the part closed, playable)."""
    exam.finish()
    final = writer.partial
    if writer.error is None and not interrupted:
        try:
            final = writer.finish(replace=replace)     # waits for the encoder to catch up
            exam.finished()
        except OSError:
            if writer.recorder.failed is None:
                raise                              # not a write failure (the name taken meanwhile)
    failure = writer.error or writer.recorder.failed
    if failure is not None:
        exam.fail()
        writer.close_partial()
        raise RecordingFailed(failure, writer.partial, writer.recorder.last_s) from failure
    return final


def _stop_landmarks(marks: LatestLandmarks, stats: LiveStats) -> None:
    marks.stop()
    stats.landmark_runs = marks.runs
    if marks.error is not None:
        stats.landmark_error = f"{type(marks.error).__name__}: {marks.error}"


REST_SECONDS = 1.5          # the rest capture: this long from the moment it is marked
REST_MIN_SECONDS = 0.5      # shorter (stopped at once after the mark) is too little to measure rest on


def rest_window(marked_s: float | None, last_s: float, seconds: float = REST_SECONDS) -> tuple[float, float] | None:
    """The rest capture as (start, end) on the recording's clock: from the marked frame on, for
    ``seconds``, cut at the recording's last frame. None when nothing was marked, or when so little
    was recorded after the mark that the measures' own rest detection is the better choice."""
    if marked_s is None:
        return None
    end = min(marked_s + seconds, last_s)
    if end - marked_s < REST_MIN_SECONDS:
        return None
    return round(marked_s, 3), round(end, 3)


def process_recording(recording: Path, out_dir: Path, models, *, rest: tuple[float, float] | None = None,
                      overwrite: bool = False, patient: str | None = None, visit: str | None = None,
                      cancel: threading.Event | None = None):
    """The usual pipeline on the finished recording (the rest capture, when made, as --rest);
    ``cancel`` set: it stops within a frame or two and leaves no output (``result.cancelled``)."""
    from app.pipeline.run import Pipeline, Settings

    settings = Settings(rest=rest, overwrite=overwrite, patient=patient, visit=visit)
    return Pipeline(models, settings).process(recording, out_dir, cancel=cancel)
