"""Inference stage: per frame, find the patient's face, its landmarks, the midline and the
quality flags. Runs on the pipeline's calling thread (ONNX Runtime uses its own threads)."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from app.engine.face_change import FaceChangeDetector
from app.engine.faces import iou_one_to_many
from app.engine.identity import FACE_CHANGE, CutLog
from app.engine.model_check import ModelCheck
from app.engine.midline import Midline, MidlineEstimate, MidlineSmoother, midline_from_5points, midline_from_wflw98
from app.engine.quality import FrameQuality, QualityCounter, assess_frame
from app.engine.tracking import EVENT_SCENE_CUT, SOURCE_DETECTOR, FaceTracker, Track
from app.pipeline.stages.channel import StageTimer


@dataclass
class FrameResult:
    index: int
    timestamp_ms: float
    pts: int | None
    image: np.ndarray                 # BGR, upright
    track: Track
    points: np.ndarray | None         # (98, 2) STAR or (5, 2) detector points, frame pixels
    raw_line: Midline | None          # this frame's measurement
    line: Midline                     # smoothed (or held, or the default vertical line)
    estimate: MidlineEstimate
    quality: FrameQuality


class _TimedDetector:
    """Wraps the face detector so detector time is its own stage."""

    def __init__(self, detector, timer: StageTimer):
        self._d, self._timer = detector, timer
        self.runs = 0

    def detect(self, image):
        with self._timer.stage("detect"):
            faces = self._d.detect(image)
        self.runs += 1
        return faces


class FrameAnalyzer:
    def __init__(self, models, *, midline_method: str, redetect_every: int,
                 frame_size: tuple[int, int], fps: float, timer: StageTimer):
        self.models, self.method, self.size, self.timer = models, midline_method, frame_size, timer
        self.coarse = models.coarse
        self.tracker = FaceTracker(_TimedDetector(models.faces, timer), redetect_every=redetect_every,
                                   use_landmarks=not self.coarse)
        self.smoother = MidlineSmoother(fps=fps)
        self.quality = QualityCounter()
        self.default_line = Midline.vertical(frame_size)
        self.frames = self.faces_found = 0
        self.model_check = ModelCheck()
        self.pupil_px: list[float] = []          # per frame with a face: the face size the verdict rates
        self.cuts = CutLog()                     # scene cuts (the tracker relocks there) and face proportions
        self._face_change = FaceChangeDetector()  # another person in the patient's place (no scene cut)

    def analyze(self, vf) -> FrameResult:
        track = self._track(vf.image)
        points = self._landmarks(vf.image, track)
        t = time.perf_counter()
        raw_line = None
        if points is not None:
            raw_line = (midline_from_5points(points, self.size) if self.coarse
                        else midline_from_wflw98(points, self.size, self.method))
        box = None if track.box is None else track.box.tolist()
        quality = assess_frame(self.size, box=box, score=track.score, landmarks=points, coarse=self.coarse)
        estimate = self.smoother.update(raw_line, vf.timestamp_ms / 1000.0)   # None (no face) holds the line
        self.quality.add(quality)
        self.timer.add("midline", time.perf_counter() - t)
        self.frames += 1
        self.faces_found += track.box is not None
        self._face_facts(vf, track, points)
        return FrameResult(vf.index, vf.timestamp_ms, getattr(vf, "pts", None), vf.image, track, points,
                           raw_line, estimate.smoothed or self.default_line, estimate, quality)

    def _face_facts(self, vf, track: Track, points: np.ndarray | None) -> None:
        changed = self._face_change(vf.image, track.box)
        if EVENT_SCENE_CUT in track.events:
            self.cuts.add(vf.timestamp_ms, True, points)
        elif changed and self._face_confirmed(vf.image, track):
            self.cuts.add(vf.timestamp_ms, True, points, kind=FACE_CHANGE)
            self.smoother.reset()   # the midline of the person before says nothing about this one
        else:
            self.cuts.add(vf.timestamp_ms, False, points)
        if points is None:
            return
        left, right = (points[96], points[97]) if points.shape[0] == 98 else (points[0], points[1])
        self.pupil_px.append(float(np.hypot(*(right - left))))
        if not self.coarse and track.points5 is not None:
            self.model_check.add(points, track.points5)

    def _face_confirmed(self, image: np.ndarray, track: Track) -> bool:
        """A changed box is another person only if a face is there (not the patient leaving it).
        The detector has just run on most such frames; else one extra detection, on a rare event."""
        if track.box is None:
            return False
        if track.source == SOURCE_DETECTOR:
            return True
        faces = self.tracker.detector.detect(image)
        return bool(faces) and bool(np.max(iou_one_to_many(track.box, np.array([f.box for f in faces]))) > 0.3)

    def _track(self, image: np.ndarray) -> Track:
        detect_before = self.timer.seconds("detect")
        t = time.perf_counter()
        track = self.tracker.step(image)
        # tracking time without the detector calls made inside it
        self.timer.add("track", time.perf_counter() - t - (self.timer.seconds("detect") - detect_before))
        return track

    def _landmarks(self, image: np.ndarray, track: Track) -> np.ndarray | None:
        if self.coarse:
            return track.points5 if track.box is not None else None
        if track.box is None:
            self.tracker.feedback(None)
            return None
        star = self.models.landmarks
        with self.timer.stage("star_pre"):
            matrix = star.preprocess(image, track.box)
        with self.timer.stage("star_infer"):
            raw = star.infer()
        points = star.to_frame(raw, matrix)
        self.tracker.feedback(points)
        return points
