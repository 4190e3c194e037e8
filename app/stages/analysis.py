"""Inference stage: per frame, find the patient's face, its landmarks, the midline and the
quality flags. Runs on the pipeline's calling thread (ONNX Runtime uses its own threads)."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from app.engine.model_check import ModelCheck
from app.engine.midline import Midline, MidlineEstimate, MidlineSmoother, midline_from_5points, midline_from_wflw98
from app.engine.quality import FrameQuality, QualityCounter, assess_frame, eye_centres
from app.engine.faces import iou_one_to_many
from app.engine.identity import FaceChangeDetector
from app.engine.tracking import EVENT_SCENE_CUT, SOURCE_DETECTOR, FaceTracker, Track
from app.stages.channel import StageTimer


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
        self.cuts: list[dict] = []            # scene cuts and changes of person, for the report and verdict
        self._eye_distances: list[float] = []  # px between the eye centres, frames with landmarks
        self._model_check = None if self.coarse else ModelCheck()
        self._face_change = FaceChangeDetector()

    def analyze(self, vf) -> FrameResult:
        track = self._track(vf.image)
        self._note_cut(vf, track)
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
        if points is not None:
            left, right = eye_centres(points)
            self._eye_distances.append(float(np.hypot(*(right - left))))
        self.timer.add("midline", time.perf_counter() - t)
        self.frames += 1
        self.faces_found += track.box is not None
        return FrameResult(vf.index, vf.timestamp_ms, getattr(vf, "pts", None), vf.image, track, points,
                           raw_line, estimate.smoothed or self.default_line, estimate, quality)

    def _note_cut(self, vf, track: Track) -> None:
        changed = self._face_change(vf.image, track.box)
        if EVENT_SCENE_CUT in track.events:
            kind = "scene cut"
        elif changed and self._face_confirmed(vf.image, track):
            kind = "another face in the patient's place"
        else:
            return
        self.cuts.append({"frame": vf.index, "time_s": round(vf.timestamp_ms / 1000.0, 3), "kind": kind})
        self.smoother.reset()   # the midline of what came before says nothing about what follows

    def _face_confirmed(self, image: np.ndarray, track: Track) -> bool:
        """A changed box is another person only if a face is there (not the patient leaving it).
        The detector has just run on most such frames; else one extra detection, on a rare event."""
        if track.source == SOURCE_DETECTOR:
            return True
        faces = self.tracker.detector.detect(image)
        if not faces or track.box is None:
            return False
        return bool(np.max(iou_one_to_many(track.box, np.array([f.box for f in faces]))) > 0.3)

    def face_size(self) -> dict:
        """Distance between the eye centres in pixels (frames with landmarks): the face's size in
        the picture, which bounds how fine a movement the landmarks can resolve."""
        d = np.asarray(self._eye_distances)
        if d.size == 0:
            return {"eye_distance_px_median": None, "frames": 0}
        return {"eye_distance_px_median": round(float(np.median(d)), 1),
                "eye_distance_px_p10": round(float(np.percentile(d, 10)), 1), "frames": int(d.size)}

    def model_check(self) -> dict | None:
        """STAR against the face detector (app.engine.model_check); None in the 5-point mode."""
        return None if self._model_check is None else self._model_check.result()

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
        if track.points5 is not None and self._model_check is not None:
            self._model_check.add(points, track.points5)
        self.tracker.feedback(points)
        return points
