"""The live window's frames: the source shown (a camera, or a file played as one), each frame
through the shared step (app.live.frame_step: the landmark slot, the recorder, the guided exam's
clock) to the panes, Freeze, and the landmark thread (made once the models are in, for the
frames' size). Frames arrive on the GUI thread; the panes never wait for the model."""
from __future__ import annotations

import collections
import time
from collections.abc import Callable

import numpy as np

from app.gui import camera_source
from app.gui.live_panels import LiveControlsBar, LivePanesPanel
from app.live.frame_step import LiveFrameStep
from app.live.landmarks import LatestLandmarks


class LiveFeed:
    """Receives the panes and the controls bar, the shared frame ``step`` (the recording's), and
    from the window: ``recording()``, ``write_failed()`` (the recorder could not write: the
    recording stops), ``say(text)`` (the notice) and ``status()`` (the status line)."""

    def __init__(self, panes: LivePanesPanel, controls: LiveControlsBar, step: LiveFrameStep, *,
                 recording: Callable[[], bool], write_failed: Callable[[], None], say: Callable[..., None],
                 status: Callable[[], None]):
        self._panes, self._controls, self._step = panes, controls, step
        self._recording, self._write_failed, self._say, self._status = recording, write_failed, say, status
        self.source: camera_source.QtFrameSource | None = None
        self.models = None                         # app.engine.model_set.Models, once loaded
        self.frozen = False
        self.frames_seen = 0
        self.pane_updates = 0
        self.handle_ms: collections.deque[float] = collections.deque(maxlen=600)   # frame in -> panes set
        self.draws_skipped = 0                     # frames recorded but not drawn: a newer one was waiting
        self._marks_size: tuple[int, int] | None = None

    @property
    def landmark_runs(self) -> int:
        marks = self._step.marks
        return marks.runs if marks is not None else 0

    def fps(self) -> float:
        return self.source.fps if self.source is not None else camera_source.DEFAULT_FPS

    def show(self, source: camera_source.QtFrameSource) -> None:
        """Show ``source`` (the one shown before is stopped)."""
        self.stop()
        self.source = source
        source.frame.connect(self._on_frame)
        source.failed.connect(self._on_source_failed)
        self._say("")
        self._panes.waiting()
        source.start()

    def stop(self) -> None:
        if self.source is None:
            return
        src, self.source = self.source, None
        src.frame.disconnect(self._on_frame)
        src.failed.disconnect(self._on_source_failed)
        src.stop()
        src.deleteLater()

    def _on_source_failed(self, text: str) -> None:
        self._say(text + (" The recording so far is kept: press Stop to hand it over." if self._recording() else ""))

    def _on_frame(self, image: np.ndarray, t: float) -> None:
        """Every frame: the shared step (landmark slot, recorder, guided clock), then the panes
        unless frozen or a newer frame is already waiting."""
        arrived = time.perf_counter()
        self.frames_seen += 1
        h, w = image.shape[:2]
        self._landmarks_for((w, h))
        writer = self._step.writer
        if writer is not None and writer.error is not None:
            self._write_failed()                                # a full disk: stopped, the part kept
        if self._step.take(self.frames_seen, image, t, arrived) is not None:
            self._status()
        if self.frozen:
            return
        if self.source is not None and self.source.behind:
            self.draws_skipped += 1                             # recorded; the newer frame is drawn
            return
        self._panes.show_panes(self._step.draw(image, self._panes.display_scale(w, h)))   # at the size shown
        self.pane_updates += 1
        self.handle_ms.append((time.perf_counter() - arrived) * 1000.0)
        marks = self._step.marks
        if marks is not None and marks.error is not None and self.frames_seen % 30 == 0:
            self._controls.show_landmarks_failed(marks.error)

    def _landmarks_for(self, size: tuple[int, int]) -> None:
        """The landmark thread, once the models are in, (re)made for the frames' size."""
        step = self._step
        if self.models is None or (step.marks is not None and self._marks_size == size):
            return
        if step.marks is not None:
            step.marks.stop()
        step.marks, self._marks_size = LatestLandmarks(self.models, size, self.fps()), size

    def set_frozen(self, frozen: bool) -> None:
        self.frozen = bool(frozen)
        self._controls.show_frozen(self.frozen)
        self._panes.show_frozen(self.frozen)
        self._status()

    def close(self) -> None:
        """The window closes: the source and the landmark thread stopped, the models let go (their
        ONNX sessions freed now, not by the collector at exit)."""
        self.stop()
        if self._step.marks is not None:
            self._step.marks.stop()
            self._step.marks = None
        self.models = None
