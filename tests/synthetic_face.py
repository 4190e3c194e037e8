"""A synthetic WFLW-98 face and landmark tracks of known geometry, for the measures tests.

The face is built from the WFLW map in DESIGN.md: the patient's RIGHT half (image left, x < 0)
is written out point by point in a canonical frame (x to the image right, y down, pupils at
(-0.5, 0) and (0.5, 0), so 1 unit = the interpupillary distance); the other half is its mirror
image through the flip pairs below. Expressions move named points by known amounts; a pose
(scale, roll, translation) places the face in frame pixels, and the midline columns are the
true midline of that pose.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# WFLW flip pairs (image-left index, image-right index); unlisted points lie on the midline.
FLIP_PAIRS = ([(i, 32 - i) for i in range(16)]
              + [(33, 46), (34, 45), (35, 44), (36, 43), (37, 42), (38, 50), (39, 49), (40, 48), (41, 47)]
              + [(55, 59), (56, 58)]
              + [(60, 72), (61, 71), (62, 70), (63, 69), (64, 68), (65, 75), (66, 74), (67, 73)]
              + [(76, 82), (77, 81), (78, 80), (87, 83), (86, 84), (88, 92), (89, 91), (95, 93), (96, 97)])
MIDLINE_POINTS = (16, 51, 52, 53, 54, 57, 79, 85, 90, 94)


def flip_permutation() -> np.ndarray:
    perm = np.arange(98)
    for a, b in FLIP_PAIRS:
        perm[a], perm[b] = b, a
    return perm


def _half() -> dict[int, tuple[float, float]]:
    """Image-left half (patient's right) and the midline points, canonical frame."""
    p: dict[int, tuple[float, float]] = {}
    for i in range(17):                                  # jaw: ear level down to the chin (16)
        phi = i / 16 * math.pi / 2
        p[i] = (-0.95 * math.cos(phi), 0.1 + 1.6 * math.sin(phi))
    for k, x in enumerate((-0.95, -0.75, -0.55, -0.35, -0.15)):   # brow upper edge 33..37
        p[33 + k] = (x, -0.40 - 0.06 * math.sin(math.pi * (k + 0.5) / 5))
    for k, x in enumerate((-0.15, -0.35, -0.55, -0.75)):          # brow lower edge 38..41
        p[38 + k] = (x, -0.33 - 0.04 * math.sin(math.pi * (4 - k) / 5))
    eye = [(-0.75, 0.01), (-0.64, -0.06), (-0.5, -0.08), (-0.36, -0.06), (-0.25, 0.01), (-0.36, 0.06),
           (-0.5, 0.075), (-0.64, 0.06)]
    for k, xy in enumerate(eye):
        p[60 + k] = xy
    p[96] = (-0.5, 0.0)
    p.update({51: (0.0, -0.05), 52: (0.0, 0.15), 53: (0.0, 0.35), 54: (0.0, 0.55),
              55: (-0.2, 0.62), 56: (-0.1, 0.66), 57: (0.0, 0.68)})
    p.update({76: (-0.4, 1.0), 77: (-0.27, 0.93), 78: (-0.12, 0.89), 79: (0.0, 0.91),
              87: (-0.27, 1.08), 86: (-0.12, 1.13), 85: (0.0, 1.14),
              88: (-0.34, 1.0), 89: (-0.15, 0.97), 90: (0.0, 0.975), 95: (-0.15, 1.03), 94: (0.0, 1.035)})
    return p


def neutral_face() -> np.ndarray:
    """(98, 2) canonical face, symmetric by construction."""
    pts = np.full((98, 2), np.nan)
    for i, (x, y) in _half().items():
        pts[i] = (x, y)
    for a, b in FLIP_PAIRS:
        pts[b] = (-pts[a][0], pts[a][1])
    assert np.all(np.isfinite(pts))
    return pts


def mirror_canonical(pts: np.ndarray) -> np.ndarray:
    """The same face seen in a mirror: x -> -x and every point takes its partner's index."""
    out = pts[flip_permutation()].copy()
    out[:, 0] *= -1
    return out


# --- expressions (canonical units; ``a`` = amplitude per side) --------------------------------
SIDE_IDX = {"right": 0, "left": 1}   # patient's side -> index into (image-left, image-right)


def _pair_index(i: int, side: str) -> int:
    if side == "right":
        return i
    return dict(FLIP_PAIRS)[i]


def smile(pts: np.ndarray, side: str, a: float) -> None:
    """Commissure moves by ``a`` along its own direction from the lower-lip midpoint 85 (so the
    commissure excursion grows by exactly ``a``); neighbouring lip points follow partly."""
    corner = _pair_index(76, side)
    u = pts[corner] - pts[85]
    u /= np.linalg.norm(u)
    for i, w in ((76, 1.0), (77, 0.5), (87, 0.5), (78, 0.2), (86, 0.2), (88, 0.8), (89, 0.4), (95, 0.4)):
        pts[_pair_index(i, side)] += w * a * u


def brow_raise(pts: np.ndarray, side: str, a: float) -> None:
    for i in range(33, 42):
        pts[_pair_index(i, side), 1] -= a


def eye_close(pts: np.ndarray, side: str, frac: float) -> None:
    """Upper lid moves down by ``frac`` of the way to the lower lid."""
    for up, low in ((61, 67), (62, 66), (63, 65)):
        u, lo = _pair_index(up, side), _pair_index(low, side)
        pts[u, 1] += frac * (pts[lo, 1] - pts[u, 1])


def snarl(pts: np.ndarray, side: str, a: float) -> None:
    for i, w in ((55, 1.0), (56, 0.5)):
        pts[_pair_index(i, side), 1] -= w * a


EXPRESSIONS = {"smile": smile, "brow": brow_raise, "eye": eye_close, "snarl": snarl}


@dataclass
class Event:
    kind: str             # smile | brow | eye | snarl
    t0: float             # start of the rise (s)
    right: float          # amplitude, patient's right
    left: float           # amplitude, patient's left
    rise: float = 0.5
    hold: float = 1.5
    fall: float = 0.5
    lag_right: float = 0.0   # the right side starts this much later (s)


def envelope(t: np.ndarray, t0: float, rise: float, hold: float, fall: float) -> np.ndarray:
    def smoothstep(x):
        x = np.clip(x, 0, 1)
        return x * x * (3 - 2 * x)
    return smoothstep((t - t0) / rise) * (1 - smoothstep((t - (t0 + rise + hold)) / fall))


def canonical_track(times_s: np.ndarray, events: list[Event], noise: float = 0.0, seed: int = 0) -> np.ndarray:
    base = neutral_face()
    rng = np.random.default_rng(seed)
    out = np.empty((len(times_s), 98, 2))
    for f, t in enumerate(times_s):
        pts = base.copy()
        for e in events:
            for side, amp, lag in (("right", e.right, e.lag_right), ("left", e.left, 0.0)):
                k = float(envelope(np.array([t]), e.t0 + lag, e.rise, e.hold, e.fall)[0])
                if k > 0 and amp:
                    EXPRESSIONS[e.kind](pts, side, k * amp)
        out[f] = pts
    if noise:
        out += rng.normal(0.0, noise, out.shape)
    return out


@dataclass
class Pose:
    scale: float = 120.0          # pixels per IPD
    roll_deg: float = 0.0         # clockwise on screen (y down)
    centre: tuple[float, float] = (640.0, 300.0)


def place(canon: np.ndarray, pose: Pose) -> tuple[np.ndarray, float, np.ndarray]:
    """Canonical (N, 98, 2) -> frame pixels, plus the true midline (angle_deg, point)."""
    r = math.radians(pose.roll_deg)
    rot = np.array([[math.cos(r), -math.sin(r)], [math.sin(r), math.cos(r)]])
    px = canon @ rot.T * pose.scale + np.asarray(pose.centre)
    down = rot @ np.array([0.0, 1.0])
    angle = math.degrees(math.atan2(down[0], down[1]))
    return px, angle, np.asarray(pose.centre, float)


def csv_rows(px: np.ndarray, times_ms: np.ndarray, angle_deg: float, point: np.ndarray) -> list[dict]:
    rows = []
    for f in range(len(px)):
        row = {"frame": f, "time_ms": round(float(times_ms[f]), 3), "midline_angle_deg": angle_deg,
               "midline_point_x": point[0], "midline_point_y": point[1]}
        for i, (x, y) in enumerate(px[f]):
            row[f"p{i}_x"], row[f"p{i}_y"] = (x, y) if np.isfinite(x) else ("", "")
        rows.append(row)
    return rows


def write_csv(path: Path, rows: list[dict], columns: list[str] | None = None, n_points: int = 98) -> Path:
    if columns is None:
        columns = ["frame", "time_ms"] + [f"p{i}_{a}" for i in range(n_points) for a in "xy"] + [
            "midline_angle_deg", "midline_offset_px", "midline_point_x", "midline_point_y"]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(r)
    return path


def times(duration_s: float, fps: float = 30.0) -> np.ndarray:
    return np.arange(int(round(duration_s * fps))) / fps


def five_points(canon: np.ndarray) -> np.ndarray:
    """RetinaFace-like 5 points from a 98-point track: eye centres, nose tip, mouth corners."""
    eyes_l = canon[..., 60:68, :].mean(axis=-2)
    eyes_r = canon[..., 68:76, :].mean(axis=-2)
    return np.stack([eyes_l, eyes_r, canon[..., 54, :], canon[..., 76, :], canon[..., 82, :]], axis=-2)
