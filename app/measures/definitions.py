"""Per-frame symmetry measures in the face's own frame (Qt-free, numpy only).

The face frame
--------------
* Axis: the (smoothed) facial midline from the landmarks CSV, given as its angle (degrees, 0 =
  vertical, positive when the lower end lies to the image right) and a point on it. Without a
  midline the perpendicular bisector of the pupils (or, with 5 points, of the eye centres) is used.
* Origin: the pupils' midpoint projected onto the midline.
* Face coordinates: ``x`` along the normal, positive towards the IMAGE RIGHT, which is the
  patient's LEFT in an unmirrored recording; ``y`` along the midline, positive UPWARDS.
* Scale: the interpupillary distance (IPD, points 96-97; eye centres p0-p1 with 5 points). Lengths
  are fractions of the IPD, areas fractions of IPD squared, angles degrees. Millimetres follow from
  the stated assumption IPD = 63 mm (:data:`ASSUMED_IPD_MM`).

Each sided measure is computed by one function for both sides in a side-lateral coordinate
``s`` (distance from the midline, positive away from it on that side), so a mirrored face gives
exactly swapped values. docs/MEASURES.md documents every definition with indices and sources.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from collections.abc import Sequence

import numpy as np

ASSUMED_IPD_MM = 63.0
SIDES = ("right", "left")   # the PATIENT's sides
REGIONS = ("brow", "eyes", "mouth", "nose")


@dataclass(frozen=True)
class MeasureDef:
    name: str
    region: str
    kind: str            # "length" (IPD), "area" (IPD^2) or "angle" (degrees)
    sided: bool
    label: str
    five_point: bool = False   # also computed from RetinaFace's 5 points (coarse)

    @property
    def unit(self) -> str:
        return {"length": "IPD", "area": "IPD^2", "angle": "deg"}[self.kind]

    @property
    def mm_unit(self) -> str | None:
        return {"length": "mm", "area": "mm^2"}.get(self.kind)

    def to_mm(self, value):
        """Convert from IPD units (None for angles)."""
        if self.kind == "length":
            return value * ASSUMED_IPD_MM
        if self.kind == "area":
            return value * ASSUMED_IPD_MM ** 2
        return None


MEASURES: tuple[MeasureDef, ...] = (
    MeasureDef("brow_height", "brow", "length", True, "brow height"),
    MeasureDef("palpebral_fissure", "eyes", "length", True, "palpebral fissure height"),
    MeasureDef("eye_area", "eyes", "area", True, "eye area"),
    MeasureDef("commissure_excursion", "mouth", "length", True, "commissure excursion"),
    MeasureDef("commissure_height", "mouth", "length", True, "commissure height", five_point=True),
    MeasureDef("commissure_lateral", "mouth", "length", True, "commissure distance from midline", five_point=True),
    MeasureDef("smile_angle", "mouth", "angle", True, "smile angle"),
    MeasureDef("upper_lip_height", "mouth", "length", True, "upper lip height"),
    MeasureDef("lower_lip_height", "mouth", "length", True, "lower lip height"),
    MeasureDef("dental_show", "mouth", "length", True, "dental show"),
    MeasureDef("dental_area", "mouth", "area", True, "dental area"),
    MeasureDef("eye_mouth_distance", "mouth", "length", True, "eye-mouth distance", five_point=True),
    MeasureDef("ala_height", "nose", "length", True, "nasal ala height"),
    MeasureDef("fai", "mouth", "length", False, "facial asymmetry index (FAI)", five_point=True),
    MeasureDef("eye_line_tilt", "eyes", "angle", False, "eye-line tilt", five_point=True),
    MeasureDef("mouth_line_tilt", "mouth", "angle", False, "mouth-line tilt", five_point=True),
)
MEASURE_BY_NAME = {m.name: m for m in MEASURES}

# Measure drawn for a region in the live trace and used as the region's headline.
PRIMARY = {"brow": "brow_height", "eyes": "palpebral_fissure", "mouth": "commissure_excursion",
           "nose": "ala_height"}
PRIMARY_5POINT = {"mouth": "commissure_height"}


def measures_for(n_points: int) -> tuple[MeasureDef, ...]:
    """The measures that ``n_points`` landmarks (98 or 5) allow."""
    if n_points == 98:
        return MEASURES
    if n_points == 5:
        return tuple(m for m in MEASURES if m.five_point)
    raise ValueError(f"measures need 98 (WFLW) or 5 landmarks, got {n_points}")


def regions_for(n_points: int) -> tuple[str, ...]:
    present = {m.region for m in measures_for(n_points) if m.sided}
    return tuple(r for r in REGIONS if r in present)


def primary_measure(region: str, n_points: int) -> str:
    if n_points == 5:
        return PRIMARY_5POINT.get(region, "commissure_height")
    return PRIMARY[region]


def column_names(n_points: int) -> list[str]:
    """Keys of :func:`frame_measures` (``NAME_right``/``NAME_left`` or ``NAME``), in order."""
    cols: list[str] = []
    for m in measures_for(n_points):
        cols += [f"{m.name}_{s}" for s in SIDES] if m.sided else [m.name]
    return cols


# ---------------------------------------------------------------------------------------------
# WFLW-98 indices per PATIENT side (patient's right = image left in an unmirrored recording).
@dataclass(frozen=True)
class _Side:
    pupil: int
    brow_upper: tuple[int, ...]
    eye_ring: tuple[int, ...]        # closed contour, 8 points
    upper_lid: tuple[int, ...]       # outer corner .. inner corner
    lower_lid: tuple[int, ...]
    eye_outer: int
    eye_inner: int
    corner: int                      # oral commissure (outer lip)
    ala: int


WFLW_SIDES = {
    "right": _Side(96, (33, 34, 35, 36, 37), tuple(range(60, 68)), (60, 61, 62, 63, 64), (60, 67, 66, 65, 64),
                   60, 64, 76, 55),
    "left": _Side(97, (46, 45, 44, 43, 42), tuple(range(68, 76)), (72, 71, 70, 69, 68), (72, 73, 74, 75, 68),
                  72, 68, 82, 59),
}
OUTER_UPPER_LIP = (76, 77, 78, 79, 80, 81, 82)
OUTER_LOWER_LIP = (82, 83, 84, 85, 86, 87, 76)
INNER_UPPER_LIP = (88, 89, 90, 91, 92)
INNER_LOWER_LIP = (92, 93, 94, 95, 88)
INNER_LIP_RING = tuple(range(88, 96))
LOWER_LIP_MIDLINE = 85
PUPILS = (96, 97)
# RetinaFace 5 points: image-left eye, image-right eye, nose tip, image-left and image-right mouth corner.
FIVE_SIDES = {"right": {"eye": 0, "corner": 3}, "left": {"eye": 1, "corner": 4}}


# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FaceFrame:
    """Maps frame pixels to face coordinates (x to the patient's left, y up, unit = IPD)."""
    origin: np.ndarray
    down: np.ndarray       # unit vector down the midline
    normal: np.ndarray     # unit vector to the image right
    ipd_px: float

    def to_face(self, pts: np.ndarray) -> np.ndarray:
        rel = np.asarray(pts, np.float64) - self.origin
        return np.stack([rel @ self.normal, -(rel @ self.down)], axis=-1) / self.ipd_px


def midline_from_pupils(left_img: np.ndarray, right_img: np.ndarray) -> tuple[float, np.ndarray]:
    """Perpendicular bisector of two points given in image order: (angle_deg, point)."""
    v = np.asarray(right_img, np.float64) - np.asarray(left_img, np.float64)
    # The midline is perpendicular to v; its downward direction is (-v_y, v_x) normalised.
    theta = math.atan2(-v[1], v[0])      # angle of d = (sin t, cos t) = (-v_y, v_x)/|v|
    mid = (np.asarray(left_img, np.float64) + np.asarray(right_img, np.float64)) / 2
    return math.degrees(theta), mid


def face_frame(points: np.ndarray, midline_angle_deg: float | None = None,
               midline_point: Sequence[float] | None = None) -> FaceFrame | None:
    """Face frame of one frame's landmarks (98 or 5 points), or None when not computable."""
    pts = np.asarray(points, np.float64)
    eyes = (pts[96], pts[97]) if len(pts) == 98 else (pts[0], pts[1])
    if not np.all(np.isfinite(eyes)):
        return None
    ipd = float(np.hypot(*(eyes[1] - eyes[0])))
    if ipd < 1e-6:
        return None
    angle: float | None = midline_angle_deg
    mp: Sequence[float] | np.ndarray | None = midline_point
    if angle is None or mp is None or not (math.isfinite(angle) and np.all(np.isfinite(mp))):
        angle, mp = midline_from_pupils(*eyes)
    t = math.radians(angle)
    down = np.array([math.sin(t), math.cos(t)])
    normal = np.array([math.cos(t), -math.sin(t)])
    p0 = np.asarray(mp, np.float64)
    centre = (eyes[0] + eyes[1]) / 2
    origin = p0 + down * float((centre - p0) @ down)
    return FaceFrame(origin, down, normal, ipd)


# ---------------------------------------------------------------------------------------------
def _side_coords(face: np.ndarray, side: str) -> np.ndarray:
    """(s, y): s = distance from the midline, positive away from it on ``side``."""
    sign = 1.0 if side == "left" else -1.0
    return np.stack([face[..., 0] * sign, face[..., 1]], axis=-1)


def _interp_y(poly: np.ndarray, s: float) -> float:
    order = np.argsort(poly[:, 0], kind="stable")
    return float(np.interp(s, poly[order, 0], poly[order, 1]))


def _shoelace(poly: np.ndarray) -> float:
    if len(poly) < 3:
        return 0.0
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _clip_half_plane(poly: np.ndarray) -> np.ndarray:
    """Part of a closed polygon with s >= 0 (one Sutherland-Hodgman pass)."""
    out = []
    n = len(poly)
    for i in range(n):
        a, b = poly[i], poly[(i + 1) % n]
        if a[0] >= 0:
            out.append(a)
        if (a[0] >= 0) != (b[0] >= 0):
            t = a[0] / (a[0] - b[0])
            out.append(a + t * (b - a))
    return np.array(out) if out else np.zeros((0, 2))


def _sided_wflw(face: np.ndarray, side: str, eyeline_y: float) -> dict[str, float]:
    ix = WFLW_SIDES[side]
    p = _side_coords(face, side)
    pupil, corner = p[ix.pupil], p[ix.corner]
    brow = _interp_y(p[list(ix.brow_upper)], pupil[0]) - pupil[1]
    s_eye = (p[ix.eye_outer, 0] + p[ix.eye_inner, 0]) / 2
    fissure = max(0.0, _interp_y(p[list(ix.upper_lid)], s_eye) - _interp_y(p[list(ix.lower_lid)], s_eye))
    lip_mid = p[LOWER_LIP_MIDLINE]
    s_half = corner[0] / 2      # half-way between the midline and the commissure
    y_out_up = _interp_y(p[list(OUTER_UPPER_LIP)], s_half)
    y_in_up = _interp_y(p[list(INNER_UPPER_LIP)], s_half)
    y_in_low = _interp_y(p[list(INNER_LOWER_LIP)], s_half)
    y_out_low = _interp_y(p[list(OUTER_LOWER_LIP)], s_half)
    return {
        "brow_height": brow,
        "palpebral_fissure": fissure,
        "eye_area": _shoelace(p[list(ix.eye_ring)]),
        "commissure_excursion": float(np.hypot(*(corner - lip_mid))),
        "commissure_height": float(corner[1] - eyeline_y),
        "commissure_lateral": float(corner[0]),
        "smile_angle": 90.0 + math.degrees(math.atan2(corner[1] - lip_mid[1], corner[0] - lip_mid[0])),
        "upper_lip_height": max(0.0, y_out_up - y_in_up),
        "lower_lip_height": max(0.0, y_in_low - y_out_low),
        "dental_show": max(0.0, y_in_up - y_in_low),
        "dental_area": _shoelace(_clip_half_plane(p[list(INNER_LIP_RING)])),
        "eye_mouth_distance": float(np.hypot(*(p[ix.eye_inner] - corner))),
        "ala_height": float(p[ix.ala, 1] - eyeline_y),
    }


def _sided_5point(face: np.ndarray, side: str, eyeline_y: float) -> dict[str, float]:
    ix = FIVE_SIDES[side]
    p = _side_coords(face, side)
    corner = p[ix["corner"]]
    return {"commissure_height": float(corner[1] - eyeline_y),
            "commissure_lateral": float(corner[0]),
            "eye_mouth_distance": float(np.hypot(*(p[ix["eye"]] - corner)))}


def _tilt_deg(face: np.ndarray, right_i: int, left_i: int) -> float:
    """Angle of the line patient-right -> patient-left point; positive when the LEFT end is higher."""
    d = face[left_i] - face[right_i]
    return math.degrees(math.atan2(d[1], d[0]))


def frame_measures(points: np.ndarray, midline_angle_deg: float | None = None,
                   midline_point: Sequence[float] | None = None) -> dict[str, float]:
    """One frame's measures from 98 WFLW points (or 5 RetinaFace points) and the midline.

    Returns ``{column: value}`` with keys :func:`column_names` plus ``ipd_px``; values in IPD
    units / degrees; NaN for every value when the landmarks are missing or degenerate.
    """
    pts = np.asarray(points, np.float64)
    n = len(pts)
    nan = {c: math.nan for c in column_names(n)}
    nan["ipd_px"] = math.nan
    if not np.all(np.isfinite(pts)):
        return nan
    frame = face_frame(pts, midline_angle_deg, midline_point)
    if frame is None:
        return nan
    face = frame.to_face(pts)
    if n == 98:
        eyes, sided_fn, tilts = PUPILS, _sided_wflw, {"eye_line_tilt": (96, 97), "mouth_line_tilt": (76, 82)}
    else:
        eyes, sided_fn, tilts = (0, 1), _sided_5point, {"eye_line_tilt": (0, 1), "mouth_line_tilt": (3, 4)}
    eyeline_y = float((face[eyes[0], 1] + face[eyes[1], 1]) / 2)
    per_side = {s: sided_fn(face, s, eyeline_y) for s in SIDES}
    out: dict[str, float] = {}
    for m in measures_for(n):
        if m.sided:
            for s in SIDES:
                out[f"{m.name}_{s}"] = per_side[s][m.name]
        elif m.name == "fai":
            out["fai"] = abs(per_side["right"]["eye_mouth_distance"] - per_side["left"]["eye_mouth_distance"])
        else:
            out[m.name] = _tilt_deg(face, *tilts[m.name])
    out["ipd_px"] = frame.ipd_px
    return out


def region_values(points: np.ndarray, midline_angle_deg: float | None = None,
                  midline_point: Sequence[float] | None = None) -> dict[str, tuple[float, float]]:
    """Headline measure of each region for one frame: ``{region: (right, left)}`` in IPD units
    (for live traces; the measure per region is :func:`primary_measure`)."""
    n = len(points)
    vals = frame_measures(points, midline_angle_deg, midline_point)
    out = {}
    for region in regions_for(n):
        name = primary_measure(region, n)
        out[region] = (vals[f"{name}_right"], vals[f"{name}_left"])
    return out
