"""Known-truth WFLW-98 landmark tracks in millimetres, for validating the clinical measures.

Independent of app/measures: the face, the expressions and the head motion are written here from
the WFLW layout (DESIGN.md) and plain geometry, and each expression states its truth in mm
(how far a mouth corner moved, how far a brow rose, what gap an eye kept). A seated patient's head
moves: it rolls, drifts and leans in (scale), and the display midline a landmarks CSV carries lags
behind it (an exponential smoothing, like the app's). Landmark noise is Gaussian per coordinate in
mm; glitch frames put one point far off (single frames or runs of any length).

The head is three-dimensional: every point has a depth (:data:`DEPTH_MM`, towards the camera),
written here from a simple head shape (a horizontally curved face, recessed orbits, a nose, lips in
front of the teeth; round anthropometric figures, not the app's table), so that turning (yaw) and
nodding (pitch) move each point as a real head does, about a pivot in the neck, and a camera at
``camera_mm`` adds perspective. ``depth_scale`` makes the face flatter or deeper than that shape
(people differ). Expressions move points in the face plane; their truth is that in-plane movement.

Face coordinates here: x to the IMAGE right, y DOWN, millimetres, origin between the pupils; the
patient's right half is the image left (x < 0). ``neutral_face()`` of tests/synthetic_face.py
(built from the same WFLW map, one unit = the interpupillary distance) gives the resting shape.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from app.measures.io import LandmarkTrack
from tests.synthetic_face import FLIP_PAIRS, neutral_face

IPD_MM = 63.0
PX_PER_MM = 120.0 / IPD_MM
PARTNER = {a: b for a, b in FLIP_PAIRS} | {b: a for a, b in FLIP_PAIRS}


def on_side(i: int, side: str) -> int:
    """WFLW index ``i`` (given for the patient's right = image left) on the patient's ``side``."""
    return i if side == "right" else PARTNER.get(i, i)


def outward(side: str) -> float:
    return -1.0 if side == "right" else 1.0     # patient's right is the image left


def rest_face() -> np.ndarray:
    return neutral_face() * IPD_MM


REST = rest_face()


def face_depth() -> np.ndarray:
    """(98,) depth of every point in mm, towards the camera, for the resting face.

    A face is curved around the head (a cylinder of radius 80 mm seen from the front), the eyes sit
    in their orbits, the brows on the brow ridge, the nose stands out from the nasal root to its tip,
    the lips lie in front of the teeth and curve back to the mouth corners, the chin stands forward.
    """
    x = REST[:, 0]
    z = -(x ** 2) / (2 * 80.0)
    z[60:76] -= 7.0                                  # eye contours, in the orbit
    z[96:98] -= 4.0                                  # the cornea bulges in front of the lid corners
    z[33:51] += 2.0                                  # brow ridge
    z[51:55] += (2.0, 8.0, 14.0, 18.0)               # nasal root to tip
    z[[55, 59]] += 8.0                               # alae
    z[[56, 58]] += 12.0
    z[57] += 14.0                                    # columella base
    lips = list(range(76, 96))
    z[lips] += 12.0 * np.cos(np.clip(x[lips] / 26.0, -1, 1) * math.pi / 2) - 6.0   # lips curve back to the corners
    towards_chin = np.minimum(np.arange(33), 32 - np.arange(33)) / 16      # 0 at the ears, 1 at the chin
    z[:33] += 6.0 * np.sin(towards_chin * math.pi / 2) ** 4
    return z


DEPTH_MM = face_depth()
NECK_PIVOT_MM = np.array([0.0, 40.0, -95.0])        # turning and nodding pivot: behind and below (y down)
FISSURE_MM = float(REST[66, 1] - REST[62, 1])       # lid to lid at the eye centre (x of 62/66)
MRD1_MM = float(REST[96, 1] - REST[62, 1])          # pupil up to the upper lid
MRD2_MM = float(REST[66, 1] - REST[96, 1])          # pupil down to the lower lid


# --- expressions: each moves points of one side by a known amount ---------------------------
SMILE_ELEVATION_DEG = 35.0


def smile(pts: np.ndarray, side: str, mm: float) -> None:
    """The mouth corner moves ``mm`` outwards and up (35 deg above the eye line); lip points
    near it follow partly. Truth: commissure excursion = ``mm``."""
    e = math.radians(SMILE_ELEVATION_DEG)
    v = np.array([outward(side) * math.cos(e), -math.sin(e)]) * mm
    for i, w in ((76, 1.0), (88, 0.9), (77, 0.5), (87, 0.5), (89, 0.4), (95, 0.4), (78, 0.2), (86, 0.2)):
        pts[on_side(i, side)] += w * v


def brow_raise(pts: np.ndarray, side: str, mm: float) -> None:
    """The whole brow (33-41 / 42-50) rises ``mm``. Truth: brow height +``mm``."""
    for i in range(33, 42):
        pts[on_side(i, side), 1] -= mm


def eye_close(pts: np.ndarray, side: str, fraction: float) -> None:
    """The upper lid closes ``fraction`` of the way to the lower lid. Truth: the fissure at the
    eye centre becomes (1 - fraction) x FISSURE_MM."""
    for up, low in ((61, 67), (62, 66), (63, 65)):
        u, lo = on_side(up, side), on_side(low, side)
        pts[u, 1] += fraction * (pts[lo, 1] - pts[u, 1])


def jaw_drop(pts: np.ndarray, side: str, mm: float) -> None:
    """The jaw opens ``mm`` at the chin (both sides; call once): the lower lip and the jaw line move
    down, the mouth corners do not. Truth: no commissure measure changes."""
    if side != "right":
        return
    for i in range(33):
        phi = (i if i <= 16 else 32 - i) / 16 * math.pi / 2
        pts[i, 1] += mm * math.sin(phi)
    for i in (83, 84, 85, 86, 87, 93, 94, 95):
        pts[i, 1] += mm


def ptosis(pts: np.ndarray, side: str, mm: float) -> None:
    """The upper lid droops ``mm`` at rest. Truth: MRD1 - ``mm``."""
    for i in (61, 62, 63):
        pts[on_side(i, side), 1] += mm


def pucker(pts: np.ndarray, side: str, mm: float) -> None:
    """The mouth corner moves ``mm`` straight towards the midline (lips pursed); lip points near it
    follow partly. Truth: commissure narrowing = ``mm`` (the corner's distance from the midline
    shrinks by ``mm``; its height does not change)."""
    v = np.array([-outward(side) * mm, 0.0])
    for i, w in ((76, 1.0), (88, 0.9), (77, 0.5), (87, 0.5), (89, 0.4), (95, 0.4)):
        pts[on_side(i, side)] += w * v


def lower_lip_down(pts: np.ndarray, side: str, mm: float) -> None:
    """The lower lip on ``side`` comes down ``mm`` (depressor labii inferioris): its outer and inner
    edge between the corner and the midline (86, 87, 95 for the patient's right), the midline points
    half as much per side; the corner and the chin stay. Truth: lower-lip depression = ``mm`` at
    half the corner's distance from the midline (which lies between 86 and 87)."""
    for i in (86, 87, 95):
        pts[on_side(i, side), 1] += mm
    for i in (85, 94):
        pts[i, 1] += 0.5 * mm


KINDS = {"smile": smile, "brow": brow_raise, "eye": eye_close, "jaw": jaw_drop, "pucker": pucker,
         "lower_lip": lower_lip_down}


@dataclass
class Move:
    kind: str
    t0: float
    right: float
    left: float
    rise: float = 0.4
    hold: float = 1.4
    fall: float = 0.4


def _ramp(x: float) -> float:
    x = min(1.0, max(0.0, x))
    return x * x * (3 - 2 * x)


def envelope(t: float, m: Move) -> float:
    return _ramp((t - m.t0) / m.rise) * (1 - _ramp((t - m.t0 - m.rise - m.hold) / m.fall))


def rotate_3d(pts: np.ndarray, depth: np.ndarray, yaw_deg: float, pitch_deg: float) -> np.ndarray:
    """(K, 2) face points (mm, x right, y down) with depths (K,) -> (K, 3) after turning the head by
    ``yaw_deg`` (nose to the image right) and nodding it by ``pitch_deg`` (chin up) about the neck."""
    p = np.column_stack([pts, depth]) - NECK_PIVOT_MM
    a, b = math.radians(yaw_deg), math.radians(pitch_deg)
    yaw = np.array([[math.cos(a), 0.0, math.sin(a)], [0.0, 1.0, 0.0], [-math.sin(a), 0.0, math.cos(a)]])
    # chin up: the points below the pivot (y down, positive) come forwards, the nose tip goes up
    pitch = np.array([[1.0, 0.0, 0.0], [0.0, math.cos(b), -math.sin(b)], [0.0, math.sin(b), math.cos(b)]])
    return p @ (yaw @ pitch).T + NECK_PIVOT_MM


def glitch_run(start_s: float, duration_s: float, fps: float, point: int,
               offset_mm: tuple[float, float]) -> list[tuple[int, int, tuple[float, float]]]:
    """A detector that puts ``point`` ``offset_mm`` off for ``duration_s`` from ``start_s``."""
    f0 = int(round(start_s * fps))
    return [(f, point, offset_mm) for f in range(f0, f0 + max(1, int(round(duration_s * fps))))]


@dataclass
class HeadMotion:
    """Smooth motion of a seated patient (all zero = a still head).

    Yaw (turning; positive = the nose to the image right) and pitch (nodding; positive = chin up)
    rotate the 3-D face about the neck before it is projected: a sway of the given amplitude, a
    held angle for the whole recording, and turns held between two times (smooth 0.3 s
    transitions), e.g. a head that turns while smiling."""
    roll_deg: float = 0.0          # amplitude
    drift_px: float = 0.0          # amplitude, horizontal (vertical 60 %)
    scale: float = 0.0             # relative amplitude (leaning in and out)
    yaw_deg: float = 0.0           # sway amplitude
    pitch_deg: float = 0.0         # sway amplitude
    yaw_held_deg: float = 0.0
    pitch_held_deg: float = 0.0
    turns: list[tuple[float, float, float, float]] = field(default_factory=list)   # (t0, t1, yaw, pitch)

    def angles(self, t: float) -> tuple[float, float]:
        """(yaw, pitch) in degrees at time ``t``."""
        yaw = self.yaw_held_deg + self.yaw_deg * math.sin(2 * math.pi * t / 4.1 + 0.3)
        pitch = self.pitch_held_deg + self.pitch_deg * math.sin(2 * math.pi * t / 3.3 + 1.9)
        for t0, t1, y, p in self.turns:
            k = _ramp((t - t0) / 0.3) * (1 - _ramp((t - t1) / 0.3))
            yaw, pitch = yaw + k * y, pitch + k * p
        return yaw, pitch

    def pose(self, t: float) -> tuple[float, np.ndarray, float]:
        roll = self.roll_deg * math.sin(2 * math.pi * t / 3.7)
        shift = np.array([self.drift_px * math.sin(2 * math.pi * t / 5.3),
                          0.6 * self.drift_px * math.sin(2 * math.pi * t / 4.3 + 1.0)])
        return roll, shift, 1.0 + self.scale * math.sin(2 * math.pi * t / 6.1 + 0.5)


@dataclass
class Recording:
    moves: list[Move]
    duration_s: float = 12.0
    fps: float = 30.0
    motion: HeadMotion = field(default_factory=HeadMotion)
    noise_mm: float = 0.0
    seed: int = 0
    glitches: list[tuple[int, int, tuple[float, float]]] = field(default_factory=list)  # (frame, point, mm offset)
    at_rest: list[tuple[str, str, float]] = field(default_factory=list)   # (kind, side, amount), e.g. ptosis
    centre_px: tuple[float, float] = (640.0, 330.0)
    display_lag_s: float = 0.4     # the CSV's smoothed midline lags the head by about this
    camera_mm: float | None = None  # camera distance for perspective; None = orthographic
    depth_scale: float = 1.0       # this face's depth relief relative to DEPTH_MM

    def times(self) -> np.ndarray:
        return np.arange(int(round(self.duration_s * self.fps))) / self.fps

    def faces_mm(self) -> np.ndarray:
        """(N, 98, 2) landmark positions in mm in the face's own frame, noise and glitches included."""
        t = self.times()
        base = REST.copy()
        for kind, side, amount in self.at_rest:
            {"ptosis": ptosis}[kind](base, side, amount)
        out = np.empty((len(t), 98, 2))
        for f, tf in enumerate(t):
            pts = base.copy()
            for m in self.moves:
                k = envelope(tf, m)
                for side, amp in (("right", m.right), ("left", m.left)):
                    if k > 0 and amp:
                        KINDS[m.kind](pts, side, k * amp)
            out[f] = pts
        rng = np.random.default_rng(self.seed)
        if self.noise_mm:
            out += rng.normal(0.0, self.noise_mm, out.shape)
        for frame, point, offset in self.glitches:
            out[frame, point] += offset
        return out

    def track(self) -> LandmarkTrack:
        """Frame pixels after the head's motion, with a lagging display midline."""
        t = self.times()
        faces = self.faces_mm()
        px = np.empty_like(faces)
        true_angle = np.empty(len(t))
        true_point = np.empty((len(t), 2))
        depth = DEPTH_MM * self.depth_scale
        for f, tf in enumerate(t):
            roll, shift, scale = self.motion.pose(tf)
            r = math.radians(roll)
            rot = np.array([[math.cos(r), -math.sin(r)], [math.sin(r), math.cos(r)]])
            centre = np.asarray(self.centre_px) + shift
            yaw, pitch = self.motion.angles(tf)
            flat = faces[f]
            if yaw or pitch or self.camera_mm:
                p3 = rotate_3d(faces[f], depth, yaw, pitch)
                # perspective: a point nearer the camera looks bigger (pinhole at camera_mm)
                k = 1.0 if not self.camera_mm else self.camera_mm / (self.camera_mm - p3[:, 2])
                flat = p3[:, :2] * (k if np.isscalar(k) else k[:, None])
            px[f] = flat @ rot.T * (PX_PER_MM * scale) + centre
            down = rot @ np.array([0.0, 1.0])
            true_angle[f] = math.degrees(math.atan2(down[0], down[1]))
            true_point[f] = centre
        alpha = 1.0 - math.exp(-1.0 / (self.fps * self.display_lag_s))
        angle, point = true_angle.copy(), true_point.copy()
        for f in range(1, len(t)):
            angle[f] = angle[f - 1] + alpha * (true_angle[f] - angle[f - 1])
            point[f] = point[f - 1] + alpha * (true_point[f] - point[f - 1])
        return LandmarkTrack(np.arange(len(t)), t * 1000.0, px, angle, point)


# A standard examination: rest, brow raise, smile right after it, eye closure.
def exam(smile_mm=(5.0, 10.0), brow_mm=(8.0, 8.0), eye_fraction=(1.0, 0.6), jaw_mm: float = 0.0,
         **kw) -> Recording:
    moves = [Move("brow", 2.5, *brow_mm), Move("smile", 4.9, *smile_mm), Move("eye", 8.2, *eye_fraction)]
    if jaw_mm:
        moves.append(Move("jaw", 4.9, jaw_mm, 0.0))
    return Recording(moves, **kw)


# A guided examination (docs/GUIDED_EXAM.md) with its record: every task's movement starts 0.5 s after
# the task's span opens (the patient's reaction) and relaxes after it closes. Truth per task, patient's
# right against left: brow 6 / 8 mm; gentle closure 70 % / 90 % of the fissure, full 85 % / 100 %, the
# LEFT mouth corner moving 2 mm outwards and up during the full closure (ocular-oral synkinesis); smile
# 5 / 10 mm with the RIGHT eye narrowing 30 % of its fissure (oral-ocular synkinesis); open smile
# 6 / 12 mm with the jaw opening 6 mm; pucker 3 / 6 mm; lower lip 3 / 6 mm with the jaw opening 3 mm.
# ``unprompted``: a 6 mm brow raise on both sides between the open smile and the pucker, in no task.
GUIDED_TRUTH = {
    "brow_raise": (6.0, 8.0), "gentle_eye_closure": (0.7, 0.9), "full_eye_closure": (0.85, 1.0),
    "smile": (5.0, 10.0), "smile_open": (6.0, 12.0), "pucker": (3.0, 6.0), "lower_lip": (3.0, 6.0),
}
GUIDED_KIND = {"brow_raise": "brow", "gentle_eye_closure": "eye", "full_eye_closure": "eye", "smile": "smile",
               "smile_open": "smile", "pucker": "pucker", "lower_lip": "lower_lip"}
SYNK_EYE_FRACTION = 0.3        # right eye, during "smile"
SYNK_CORNER_MM = 2.0           # left mouth corner, during "full_eye_closure"
TASK_SPAN_S = 2.8              # a task's recorded span
TASK_EVERY_S = 4.0             # from one task's start to the next (the rest between: 1.2 s)
REACTION_S = 0.5
UNPROMPTED_GAP_S = 4.0         # the extra gap holding the unprompted movement


def guided_exam(unprompted: bool = True, **kw) -> tuple[Recording, dict]:
    """(recording, protocol record dict): rest 0-2.5 s, then the tasks of GUIDED_TRUTH in order."""
    tasks = [{"task": "rest", "start_s": 0.0, "end_s": 2.5}]
    moves: list[Move] = []
    t = 3.0
    for name, (right, left) in GUIDED_TRUTH.items():
        if name == "pucker":
            if unprompted:
                moves.append(Move("brow", t + 0.8, 6.0, 6.0))
            t += UNPROMPTED_GAP_S
        tasks.append({"task": name, "start_s": t, "end_s": t + TASK_SPAN_S})
        t0 = t + REACTION_S
        moves.append(Move(GUIDED_KIND[name], t0, right, left))
        if name == "smile":
            moves.append(Move("eye", t0, SYNK_EYE_FRACTION, 0.0))
        if name == "full_eye_closure":
            moves.append(Move("smile", t0, 0.0, SYNK_CORNER_MM))
        if name == "smile_open":
            moves.append(Move("jaw", t0, 6.0, 0.0))
        if name == "lower_lip":
            moves.append(Move("jaw", t0, 3.0, 0.0))
        t += TASK_EVERY_S
    record = {"protocol": "truth", "version": 1, "tasks": tasks}
    return Recording(moves, duration_s=t + 1.0, **kw), record
