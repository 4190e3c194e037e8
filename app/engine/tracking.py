"""Choose the patient's face and follow it through a video.

Qt-free and torch-free. Used by the video pipeline once per frame:

    tracker = FaceTracker(detector, redetect_every=10)
    for frame in frames:
        t = tracker.step(frame)                  # Track: the box to run STAR in, or lost
        if t.box is not None:
            pts = star.landmarks_for_box(frame, t.box)
            tracker.feedback(pts)                # (98, 2) frame pixels -> next frame's box
        else:
            tracker.feedback(None)

Without a STAR model (5-point fallback) use FaceTracker(detector, use_landmarks=False): the
detector runs on every frame (its 5 points are the landmarks) and feedback() is not needed.

Rules (what a clinician can rely on)
------------------------------------
Choosing the patient. On the first frame with faces, the patient is the face with the highest
`size x centrality` (size = sqrt(box area); centrality falls linearly from 1 at the frame centre
to 0.5 in the corners): the largest, most central face, not the highest detector score.

Keeping the same person. After that, identity is position continuity, never "largest": a
detection is the patient when it overlaps the predicted box (IoU >= 0.3) or its centre is within
0.5 face sizes of it, and its size is within a factor 1.5. A bigger or better-scoring bystander
elsewhere in the frame is ignored.

Between detector runs the box comes from the previous frame's landmarks (box from the landmark
extent, mapped with the detector-box/landmark-extent relation measured at the last detection,
so the box keeps the detector's scale). The detector runs again:
  * every `redetect_every` frames ("scheduled"),
  * when the last landmarks looked implausible: non-finite, collapsed (spread < 20 % of the box
    size), mostly outside the box, or implying a box that moved more than 30 % of the face size
    or changed size by more than a factor 1.3 in one frame ("implausible"),
  * when no landmarks were fed back ("no-feedback"),
  * after a miss ("retry"), while lost ("lost"), and after a scene cut ("scene-cut").
When a scheduled detection misses the patient (e.g. a pose RetinaFace does not find) the
landmark box is kept for up to `max_misses` frames, retrying the detector on each; then the
patient is lost.

Lost and found. While lost the detector searches the whole frame on EVERY frame (no box, so
STAR does not run). Measured on two shared CPU cores: one RetinaFace run at 640 is 14-16 ms
median on a 1280x720 frame (tests/test_faces.py::test_latency_at_detection_size), a tracked
frame with STAR about 235 ms. So a lost frame searched every frame is still the cheapest frame
of the video, and searching only every k frames would add up to k - 1 frames of recovery delay
to save 15 ms on frames that are cheap already: every frame it is. On the re-entry test clip
(tests/test_tracking.py, real RetinaFace) the face is tracked again on the first frame the
detector sees it. On each lost frame, in this order (the documented patient rule):
  1. a face close to where the patient was last seen (centre within 1 face size, size within a
     factor 1.5) is the patient ("reacquired");
  2. otherwise faces that are known bystanders are set aside: a face seen beside the patient
     while they were tracked (or since), followed by position continuity and forgotten after
     `bystander_memory` frames unseen. A known bystander is never taken for the patient;
  3. of the remaining faces, those of the patient's size (within a factor 1.5 of their recent
     median size) are candidates. The only candidate is taken at once ("relocked": the patient
     walked out and came back elsewhere); among several, only a clearly dominant one
     (size x centrality 1.5 times any other) is taken, else the tracker stays lost rather than
     guess. `relock_after=N` waits N lost frames before rule 3 (None: never; the old behaviour).
Without face recognition the tracker cannot tell a stranger who steps into an empty frame from
the returning patient: the switch is marked by the event "relocked", and the frames on which the
detector saw a face other than the patient are counted (TrackerStats.other_face_frames) so the
report and verdict can say so.

Scene cuts. A cut (the whole picture changes: colour histogram and structure both differ from
the previous frame) breaks position continuity, so the old identity is dropped ("scene-cut")
and the patient is chosen anew with the start rule - but only a clearly dominant face is taken;
with several similar faces (an audience) the tracker stays lost. A cut to another person standing
in the patient's place leaves most of the picture and the box unchanged, so tracking simply goes
on; the pipeline's analysis stage notices the new face (identity.FaceChangeDetector) and restarts
what belongs to one person (the midline smoothing). Clinical recordings normally have no cuts;
edited or concatenated videos do.

Per frame the Track records: the box and where it came from ("detector", "landmarks", "none"),
the detector score and 5 points when the detector ran and found the patient, the number of
faces the detector saw (NOT_RUN = -1 when it did not run on that frame), why it ran, and events.
"""
from __future__ import annotations

import dataclasses
import math
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

import cv2
import numpy as np

from app.engine.faces import iou_one_to_many

NOT_RUN = -1  # Track.n_faces when the detector did not run on that frame

SOURCE_DETECTOR = "detector"
SOURCE_LANDMARKS = "landmarks"
SOURCE_NONE = "none"

# Detector-run reasons (Track.detect_reason; "" when the detector did not run).
REASON_START = "start"
REASON_SCENE_CUT = "scene-cut"
REASON_AFTER_CUT = "after-cut"
REASON_LOST = "lost"
REASON_EVERY_FRAME = "every-frame"
REASON_RETRY = "retry"
REASON_NO_FEEDBACK = "no-feedback"
REASON_IMPLAUSIBLE = "implausible"
REASON_SCHEDULED = "scheduled"

# Events (Track.events).
EVENT_ACQUIRED = "acquired"
EVENT_REACQUIRED = "reacquired"
EVENT_RELOCKED = "relocked"
EVENT_LOST = "lost"
EVENT_SCENE_CUT = "scene-cut"

_START, _TRACKING, _LOST, _AFTER_CUT = "start", "tracking", "lost", "after-cut"


class Detector(Protocol):
    def detect(self, image_bgr: np.ndarray) -> list: ...  # objects with .box, .score, .points


@dataclass(eq=False)
class Track:
    """The tracker's answer for one frame.

    frame_index: 0-based index of the frame in the sequence given to step().
    box: (x1, y1, x2, y2) float64 frame pixels to run the landmark model in; None when lost.
    score: detector face probability when source == "detector", else None.
    points5: (5, 2) detector points (image-left eye, image-right eye, nose tip, image-left and
        image-right mouth corners) when source == "detector", else None.
    n_faces: faces the detector saw on this frame, or NOT_RUN (-1) when it did not run.
    source: "detector", "landmarks" (box from the previous frame's landmarks) or "none" (lost).
    lost: True when the patient's face is not known on this frame (box is None).
    detect_reason: why the detector ran on this frame ("" when it did not).
    events: what changed on this frame: "acquired", "reacquired", "relocked", "lost", "scene-cut".
    """
    frame_index: int
    box: np.ndarray | None
    score: float | None
    points5: np.ndarray | None
    n_faces: int
    source: str
    lost: bool
    detect_reason: str = ""
    events: tuple[str, ...] = ()

    @property
    def detector_ran(self) -> bool:
        return self.n_faces != NOT_RUN

    @property
    def center(self) -> np.ndarray | None:
        if self.box is None:
            return None
        return np.array([(self.box[0] + self.box[2]) / 2.0, (self.box[1] + self.box[3]) / 2.0])

    @property
    def size(self) -> float | None:
        return None if self.box is None else _box_size(self.box)

    def as_dict(self) -> dict:
        """Plain values for CSV/JSON (None for missing)."""
        return {
            "frame": self.frame_index,
            "box": None if self.box is None else [float(v) for v in self.box],
            "score": self.score,
            "points5": None if self.points5 is None else self.points5.astype(float).tolist(),
            "n_faces": self.n_faces,
            "source": self.source,
            "lost": self.lost,
            "detect_reason": self.detect_reason,
            "events": list(self.events),
        }


@dataclass
class TrackerStats:
    frames: int = 0
    detector_runs: int = 0
    lost_frames: int = 0
    reasons: Counter = field(default_factory=Counter)
    events: Counter = field(default_factory=Counter)
    sources: Counter = field(default_factory=Counter)
    other_face_frames: int = 0    # detector runs that saw a face other than the patient
    max_faces: int = 0            # most faces the detector saw on one frame

    def as_dict(self) -> dict:
        """Plain values for the report. The other-face share is over detector runs (the only
        frames on which other faces are looked for)."""
        return {"frames": self.frames, "detector_runs": self.detector_runs, "lost_frames": self.lost_frames,
                "reasons": dict(self.reasons), "events": dict(self.events), "sources": dict(self.sources),
                "other_face_frames": self.other_face_frames, "max_faces": self.max_faces}


def _box_size(box: np.ndarray) -> float:
    return math.sqrt(max(float(box[2] - box[0]), 0.0) * max(float(box[3] - box[1]), 0.0))


def _center(box: np.ndarray) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0])


def _same_place(a: np.ndarray, b: np.ndarray, min_iou: float, max_dist: float, max_ratio: float) -> bool:
    """Two boxes are one person by position continuity: overlap (IoU) or centres within
    `max_dist` face sizes, and sizes within a factor `max_ratio`."""
    sa, sb = _box_size(a), _box_size(b)
    if sa <= 0 or sb <= 0 or max(sa / sb, sb / sa) > max_ratio:
        return False
    if float(iou_one_to_many(a, b[None, :])[0]) >= min_iou:
        return True
    return float(np.linalg.norm(_center(a) - _center(b))) <= max_dist * sb


def _box_from_center(cx: float, cy: float, w: float, h: float) -> np.ndarray:
    return np.array([cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0], np.float64)


class SceneCutDetector:
    """Flags a frame whose whole picture differs from the previous frame's.

    A cut needs both: the hue/saturation histograms differ (Bhattacharyya distance above
    `hist_distance`) and the structure differs (correlation of 32x32 grey thumbnails below
    `correlation`). A light switched on changes the histogram but not the structure; a moving
    head changes the structure locally but hardly the histogram.
    """

    def __init__(self, hist_distance: float = 0.25, correlation: float = 0.5):
        self.hist_distance = hist_distance
        self.correlation = correlation
        self._prev: tuple[np.ndarray, np.ndarray] | None = None

    def reset(self) -> None:
        self._prev = None

    @staticmethod
    def _signature(frame_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # Subsample before the area resize: a 64x64 thumbnail does not need every pixel, and the
        # full-frame resize cost 3 ms at 720p (7 ms at 1080p) per frame on the inference thread.
        h, w = frame_bgr.shape[:2]
        step = max(1, min(h, w) // 128)
        small = cv2.resize(frame_bgr[::step, ::step], (64, 64), interpolation=cv2.INTER_AREA)
        grey = cv2.resize(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (32, 32),
                          interpolation=cv2.INTER_AREA).astype(np.float32)
        hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
        hist = cv2.calcHist([hsv], [0, 1], None, [16, 8], [0, 180, 0, 256])
        cv2.normalize(hist, hist, 1.0, 0.0, cv2.NORM_L1)
        return grey, hist

    def __call__(self, frame_bgr: np.ndarray) -> bool:
        grey, hist = self._signature(frame_bgr)
        prev, self._prev = self._prev, (grey, hist)
        if prev is None:
            return False
        pgrey, phist = prev
        dist = float(cv2.compareHist(hist, phist, cv2.HISTCMP_BHATTACHARYYA))
        a, b = grey - grey.mean(), pgrey - pgrey.mean()
        denom = math.sqrt(float((a * a).sum()) * float((b * b).sum()))
        corr = float((a * b).sum()) / denom if denom > 1e-6 else (1.0 if abs(grey.mean() - pgrey.mean()) < 8 else 0.0)
        return dist > self.hist_distance and corr < self.correlation


@dataclass(frozen=True)
class TrackerThresholds:
    """FaceTracker's numbers, defaults in this one place (what each rule does: the module docstring).

    Frozen: a tracker's rules do not change mid-video; make another with dataclasses.replace().
    """

    redetect_every: int = 10        # run the detector at least every N frames while tracking on landmarks
    max_misses: int = 3             # detector misses tolerated (keeping the landmark box) before lost
    match_iou: float = 0.3          # a detection is the patient: IoU with the predicted box at least this,
    match_distance: float = 0.5     # or centre within this many face sizes of it,
    max_size_ratio: float = 1.5     # and size within this factor (also: landmark box drift since a detection)
    reacquire_distance: float = 1.0  # lost: a face this many face sizes from the last place is the patient
    relock_after: int | None = 0    # lost frames before a face elsewhere may be taken (rule 3); None: never
    dominance: float = 1.5          # size x centrality over every other face to be taken among several
    bystander_memory: int = 60      # frames a bystander unseen by the detector is still remembered
    max_shift: float = 0.3          # landmark box moved more than this (face sizes) in one frame: implausible
    max_scale_change: float = 1.3   # or changed size by more than this factor
    min_spread: float = 0.2         # landmarks spread less than this share of the box: collapsed
    default_box_scale: float = 1.2  # box side / landmark extent before the first detection calibrates it

    def __post_init__(self) -> None:
        # Frame counts are whole numbers whatever numeric type the caller passed (as before).
        for name in ("redetect_every", "max_misses", "bystander_memory"):
            object.__setattr__(self, name, int(getattr(self, name)))
        if self.redetect_every < 1:
            raise ValueError("redetect_every must be at least 1")


class FaceTracker:
    """Per-frame face choice and tracking; see the module docstring for the rules.

    detector: anything with detect(image_bgr) -> faces with .box (x1, y1, x2, y2), .score and
        .points (5, 2), e.g. app.engine.faces.FaceDetector.
    thresholds: the tracker's numbers (TrackerThresholds; its defaults when None). Single ones can
        be given as keywords instead, e.g. FaceTracker(det, redetect_every=5, relock_after=None).
    use_landmarks: False for the 5-point fallback (detector on every frame, feedback unused).
    scene_cuts: detect scene cuts (see SceneCutDetector).
    """

    def __init__(self, detector: Detector, thresholds: TrackerThresholds | None = None, *,
                 use_landmarks: bool = True, scene_cuts: bool = True, **overrides: Any):
        # replace() validates the overrides: an unknown name is a TypeError, as a wrong keyword was.
        self.thresholds = dataclasses.replace(thresholds or TrackerThresholds(), **overrides)
        self.detector = detector
        self.use_landmarks = bool(use_landmarks)
        self._cuts = SceneCutDetector() if scene_cuts else None
        self.stats = TrackerStats()
        self.reset()

    # -- public ----------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget everything (a new video)."""
        self._index = -1
        self._phase = _START
        self._current: Track | None = None
        self._frame_hw: tuple[int, int] = (0, 0)
        self._last_seen: np.ndarray | None = None    # last box the patient had
        self._sizes: deque = deque(maxlen=15)         # recent face sizes (for re-acquisition)
        self._lost_frames = 0
        self._next_box: np.ndarray | None = None     # from the last landmarks, for the next frame
        self._feedback = "none"                       # "none" | "ok" | "implausible"
        self._since_detect = 0
        self._misses = 0
        self._calib: np.ndarray | None = None         # (dcx, dcy, sw, sh): landmark extent -> box
        self._anchor_size: float | None = None        # size of the last detector-confirmed box
        self._bystanders: list[tuple[np.ndarray, int]] = []   # (box, frame last seen) of other people
        if self._cuts is not None:
            self._cuts.reset()
        self.stats = TrackerStats()

    @property
    def frame_index(self) -> int:
        return self._index

    def step(self, frame_bgr: np.ndarray) -> Track:
        """Track the patient on the next frame. Call once per frame, in order."""
        if frame_bgr is None or frame_bgr.ndim != 3:
            raise ValueError("expected a BGR frame of shape (H, W, 3)")
        self._index += 1
        self._frame_hw = frame_bgr.shape[:2]
        events: list[str] = []

        cut = self._cuts is not None and self._cuts(frame_bgr)
        if cut and self._phase != _START:
            events.append(EVENT_SCENE_CUT)
            self._phase = _AFTER_CUT
            self._next_box = None
            self._calib = None
            self._anchor_size = None
            self._misses = 0
            self._bystanders = []   # positions mean nothing across a cut

        reason = REASON_SCENE_CUT if cut and self._phase == _AFTER_CUT else self._detect_reason()
        if not reason and self._next_box is not None:   # no reason to detect implies a box from landmarks
            track = Track(self._index, self._next_box.copy(), None, None, NOT_RUN, SOURCE_LANDMARKS,
                          False, "", tuple(events))
            self._since_detect += 1
        else:
            track = self._detect_step(frame_bgr, reason, events)

        self._feedback = "none"
        self._next_box = None
        self._current = track
        if track.box is not None:
            self._last_seen = track.box.copy()
            self._sizes.append(_box_size(track.box))
            self._lost_frames = 0
        else:
            self._lost_frames += 1
        self._count(track)
        return track

    def feedback(self, landmarks_xy: np.ndarray | Sequence | None) -> bool:
        """Landmarks (N x 2 frame pixels, 98 from STAR or 5) found inside the current box.

        Derives the next frame's box. Returns False when the landmarks look implausible (the
        next frame then runs the detector). None means no landmarks for this frame.
        """
        cur = self._current
        if cur is None or cur.box is None or not self.use_landmarks:
            return False
        if self._feedback != "none":  # one answer per frame: a second call changes nothing
            return self._feedback == "ok"
        if landmarks_xy is None:
            self._feedback = "implausible"
            return False
        pts = np.asarray(landmarks_xy, np.float64).reshape(-1, 2)
        box = cur.box
        extent = self._plausible_extent(pts, box)
        if extent is None:
            return self._reject()
        nxt = self._box_from_extent(extent, box, cur.source)
        if not self._plausible_next_box(nxt, box):
            return self._reject()
        self._next_box = nxt
        self._feedback = "ok"
        return True

    # -- internals -------------------------------------------------------------------------------
    def _plausible_extent(self, pts: np.ndarray, box: np.ndarray) -> tuple[float, float, float, float] | None:
        """(x1, y1, x2, y2) of the landmarks, or None when they are too few, not finite, collapsed
        or mostly outside the current box."""
        if len(pts) < 2 or not np.all(np.isfinite(pts)):
            return None
        x1, y1 = pts.min(axis=0)
        x2, y2 = pts.max(axis=0)
        ew, eh = x2 - x1, y2 - y1
        bsize = _box_size(box)
        if bsize <= 0 or math.sqrt(max(ew, 0) * max(eh, 0)) < self.thresholds.min_spread * bsize:
            return None  # collapsed
        margin = 0.25 * bsize
        inside = ((pts[:, 0] >= box[0] - margin) & (pts[:, 0] <= box[2] + margin)
                  & (pts[:, 1] >= box[1] - margin) & (pts[:, 1] <= box[3] + margin))
        if inside.mean() < 0.9:
            return None
        return x1, y1, x2, y2

    def _box_from_extent(self, extent: tuple[float, float, float, float], box: np.ndarray,
                         source: str) -> np.ndarray:
        """The next frame's box from the landmarks' extent, using the detector box's offset and
        size relative to that extent (calibrated on detector frames) where known."""
        x1, y1, x2, y2 = extent
        ext_c = np.array([(x1 + x2) / 2.0, (y1 + y2) / 2.0])
        ew, eh = max(x2 - x1, 1e-6), max(y2 - y1, 1e-6)
        if source == SOURCE_DETECTOR:
            bc = _center(box)
            calib = np.array([(bc[0] - ext_c[0]) / ew, (bc[1] - ext_c[1]) / eh,
                              (box[2] - box[0]) / ew, (box[3] - box[1]) / eh])
            self._calib = calib if self._calib is None else 0.5 * (self._calib + calib)
        if self._calib is not None:
            dcx, dcy, sw, sh = self._calib
            return _box_from_center(ext_c[0] + dcx * ew, ext_c[1] + dcy * eh, sw * ew, sh * eh)
        side = max(ew, eh) * self.thresholds.default_box_scale
        return _box_from_center(ext_c[0], ext_c[1], side, side)

    def _plausible_next_box(self, nxt: np.ndarray, box: np.ndarray) -> bool:
        """Not jumped or rescaled too far from this frame's box, not drifted in size since the
        last detection, and mostly inside the frame."""
        bsize = _box_size(box)
        nsize = _box_size(nxt)
        shift = float(np.linalg.norm(_center(nxt) - _center(box))) / bsize
        scale = max(nsize / bsize, bsize / nsize) if nsize > 0 else float("inf")
        if shift > self.thresholds.max_shift or scale > self.thresholds.max_scale_change:
            return False
        if self._anchor_size and max(nsize / self._anchor_size, self._anchor_size / nsize) > self.thresholds.max_size_ratio:
            return False  # drifted in size since the last detection
        return self._mostly_in_frame(nxt)

    def _reject(self) -> bool:
        self._next_box = None
        self._feedback = "implausible"
        return False

    def _mostly_in_frame(self, box: np.ndarray) -> bool:
        h, w = self._frame_hw
        ix = max(0.0, min(box[2], w) - max(box[0], 0.0))
        iy = max(0.0, min(box[3], h) - max(box[1], 0.0))
        area = max(box[2] - box[0], 0.0) * max(box[3] - box[1], 0.0)
        return area > 0 and ix * iy >= 0.3 * area

    def _detect_reason(self) -> str:
        if self._phase == _START:
            return REASON_START
        if self._phase == _AFTER_CUT:
            return REASON_AFTER_CUT
        if self._phase == _LOST:
            return REASON_LOST
        if not self.use_landmarks:
            return REASON_EVERY_FRAME
        if self._misses > 0:
            return REASON_RETRY
        if self._feedback == "none":
            return REASON_NO_FEEDBACK
        if self._feedback == "implausible" or self._next_box is None:
            return REASON_IMPLAUSIBLE
        if self._since_detect >= self.thresholds.redetect_every:
            return REASON_SCHEDULED
        return ""

    def _detect_step(self, frame: np.ndarray, reason: str, events: list[str]) -> Track:
        faces = list(self.detector.detect(frame))
        n = len(faces)
        chosen = self._choose(faces, events)
        self._note_bystanders(faces, chosen)
        if chosen is not None:
            return self._detected(chosen, n, reason, events)
        if self._phase == _TRACKING:
            self._misses += 1
            if self.use_landmarks and self._next_box is not None and self._misses <= self.thresholds.max_misses:
                self._since_detect += 1
                return Track(self._index, self._next_box.copy(), None, None, n, SOURCE_LANDMARKS, False,
                             reason, tuple(events))
            self._phase = _LOST
            self._misses = 0
            events.append(EVENT_LOST)
        return Track(self._index, None, None, None, n, SOURCE_NONE, True, reason, tuple(events))

    def _choose(self, faces: list, events: list[str]):
        """The patient among this frame's detections by the phase's rule (None: not found);
        an acquisition, reacquisition or relock goes into `events`."""
        if self._phase in (_START, _AFTER_CUT):
            chosen = self._select(faces, require_dominant=self._phase == _AFTER_CUT)
            if chosen is not None:
                events.append(EVENT_ACQUIRED)
            return chosen
        if self._phase == _LOST:
            return self._lost_choice(faces, events)
        # tracking
        ref = self._next_box if self._next_box is not None else (self._current.box if self._current else None)
        return self._match(faces, ref, reacquire=False)

    def _lost_choice(self, faces: list, events: list[str]):
        chosen = self._match(faces, self._reacquire_ref(), reacquire=True)
        if chosen is not None:
            events.append(EVENT_REACQUIRED)
        elif self.thresholds.relock_after is not None and self._lost_frames >= self.thresholds.relock_after:
            chosen = self._relock_choice(faces)
            if chosen is not None:
                events.append(EVENT_RELOCKED)
        return chosen

    def _detected(self, chosen, n: int, reason: str, events: list[str]) -> Track:
        """Track on the detector's box; a new acquisition forgets the old calibration and sizes."""
        self._phase = _TRACKING
        self._since_detect = 1
        self._misses = 0
        if EVENT_ACQUIRED in events or EVENT_RELOCKED in events:
            self._calib = None
            self._sizes.clear()
        self._anchor_size = _box_size(np.asarray(chosen.box, np.float64))
        return Track(self._index, np.asarray(chosen.box, np.float64).copy(), float(chosen.score),
                     np.asarray(chosen.points, np.float64).reshape(5, 2).copy(), n, SOURCE_DETECTOR,
                     False, reason, tuple(events))

    def _reacquire_ref(self) -> np.ndarray | None:
        """Where the patient was last seen, with their typical recent size (the last box before a
        loss is often a partial face at the frame edge or mid-turn, smaller than the face)."""
        if self._last_seen is None:
            return None
        c = _center(self._last_seen)
        size = float(np.median(self._sizes)) if self._sizes else _box_size(self._last_seen)
        w = self._last_seen[2] - self._last_seen[0]
        h = self._last_seen[3] - self._last_seen[1]
        aspect = math.sqrt(w / h) if w > 0 and h > 0 else 1.0
        return _box_from_center(c[0], c[1], size * aspect, size / aspect)

    def _relock_choice(self, faces: list):
        """Rule 3 of "Lost and found": the only (or a clearly dominant) face of the patient's
        size that is not a known bystander; None when there is none or it is ambiguous."""
        size = float(np.median(self._sizes)) if self._sizes else None
        candidates = []
        for f in faces:
            box = np.asarray(f.box, np.float64)[:4]
            if any(_same_place(box, b, self.thresholds.match_iou, self.thresholds.match_distance, self.thresholds.max_size_ratio)
                   for b, _ in self._bystanders):
                continue
            fsize = _box_size(box)
            if size and (fsize <= 0 or max(fsize / size, size / fsize) > self.thresholds.max_size_ratio):
                continue
            candidates.append(f)
        return self._select(candidates, require_dominant=True)

    def _note_bystanders(self, faces: list, chosen) -> None:
        """Remember the other people. New ones only on frames where the detector confirmed the
        patient (then every other face is someone else); known ones are followed while lost."""
        now = self._index
        others = [np.asarray(f.box, np.float64)[:4].copy() for f in faces if f is not chosen]
        kept: list[tuple[np.ndarray, int]] = []
        for box, seen in self._bystanders:
            match = next((o for o in others if _same_place(o, box, self.thresholds.match_iou, self.thresholds.match_distance,
                                                           self.thresholds.max_size_ratio)), None)
            if match is not None:
                kept.append((match, now))
                others = [o for o in others if o is not match]
            elif now - seen <= self.thresholds.bystander_memory:
                kept.append((box, seen))
        if chosen is not None:
            kept.extend((o, now) for o in others)
        self._bystanders = kept

    def _select(self, faces: list, require_dominant: bool):
        """The start rule: highest size x centrality; optionally only a clearly dominant face."""
        if not faces:
            return None
        h, w = self._frame_hw
        centre = np.array([w / 2.0, h / 2.0])
        radius = math.hypot(w / 2.0, h / 2.0) or 1.0
        ranked = []
        for f in faces:
            box = np.asarray(f.box, np.float64)
            d = float(np.linalg.norm(_center(box) - centre))
            ranked.append((_box_size(box) * (1.0 - 0.5 * min(d / radius, 1.0)), f))
        ranked.sort(key=lambda t: -t[0])
        if require_dominant and len(ranked) > 1 and ranked[0][0] < self.thresholds.dominance * ranked[1][0]:
            return None
        return ranked[0][1]

    def _match(self, faces: list, ref: np.ndarray | None, reacquire: bool):
        """The detection that is the same person as `ref` (a box), or None."""
        if not faces or ref is None:
            return None
        rsize = _box_size(ref)
        if rsize <= 0:
            return None
        # While tracking, a detection must also be the size of the last confirmed detection
        # (the landmark box may have drifted a little in size since).
        anchor = self._anchor_size if (not reacquire and self._anchor_size) else rsize
        boxes = np.array([np.asarray(f.box, np.float64)[:4] for f in faces])
        ious = iou_one_to_many(ref, boxes)
        rc = _center(ref)
        best, best_key = None, None
        for f, box, iou in zip(faces, boxes, ious):
            key = self._match_key(box, float(iou), rc, rsize, anchor, reacquire)
            if key is not None and (best_key is None or key < best_key):
                best, best_key = f, key
        return best

    def _match_key(self, box: np.ndarray, iou: float, rc: np.ndarray, rsize: float, anchor: float,
                   reacquire: bool) -> tuple[float, float] | None:
        """Sort key of a candidate (highest IoU, then nearest); None when it cannot be the same
        person (other size, or too far)."""
        size = _box_size(box)
        if size <= 0 or max(size / rsize, rsize / size) > self.thresholds.max_size_ratio:
            return None
        if max(size / anchor, anchor / size) > self.thresholds.max_size_ratio:
            return None
        dist = float(np.linalg.norm(_center(box) - rc)) / rsize
        if reacquire:
            ok = dist <= self.thresholds.reacquire_distance
        else:
            ok = iou >= self.thresholds.match_iou or dist <= self.thresholds.match_distance
        if not ok:
            return None
        return (-iou, dist)

    def _count(self, track: Track) -> None:
        s = self.stats
        s.frames += 1
        if track.detector_ran:
            s.detector_runs += 1
            s.reasons[track.detect_reason] += 1
            s.max_faces = max(s.max_faces, track.n_faces)
            if track.n_faces - (1 if track.source == SOURCE_DETECTOR else 0) > 0:
                s.other_face_frames += 1
        if track.lost:
            s.lost_frames += 1
        s.sources[track.source] += 1
        for e in track.events:
            s.events[e] += 1
