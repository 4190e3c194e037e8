"""Per-frame symmetry measures in the face's own frame (Qt-free, numpy only).

Face coordinates come from :mod:`app.measures.face_frame`: every frame fitted to the video's
reference shape of the eye corners and the nasal bridge; ``x`` along the eye line, positive
towards the patient's LEFT (image right of an unmirrored recording), ``y`` UP, origin midway
between the eyes (so ``x = 0`` is the measuring midline and ``y = 0`` the eye line), unit = the
interpupillary distance (IPD; 5 points: the eye-centre distance). Millimetres follow from the
stated assumption IPD = 63 mm (:data:`ASSUMED_IPD_MM`).

Each sided measure is computed by one function for both sides in a side-lateral coordinate
``s`` (distance from the midline, positive away from it on that side), so a mirrored face gives
exactly swapped values. Two mouth measures are taken against the mouth corners' REST position
(:func:`rest_relative`), so that a dropping jaw changes neither: ``commissure_excursion`` and
``smile_angle``. docs/MEASURES.md documents every definition with indices and sources.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from app.measures.face_frame import PUPILS_98, eye_frame

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
    from_rest: bool = False    # measured against the rest position (filled in once rest is known)

    @property
    def unit(self) -> str:
        return {"length": "IPD", "area": "IPD^2", "angle": "deg"}[self.kind]

    @property
    def mm_unit(self) -> str | None:
        return {"length": "mm", "area": "mm^2"}.get(self.kind)

    @property
    def display_unit(self) -> str:
        """The unit a clinician reads: mm, mm\u00b2 or deg."""
        return (self.mm_unit or "deg").replace("^2", "\u00b2")

    def to_mm(self, value):
        """Convert from IPD units (None for angles)."""
        if self.kind == "length":
            return value * ASSUMED_IPD_MM
        if self.kind == "area":
            return value * ASSUMED_IPD_MM ** 2
        return None

    def to_display(self, value):
        """mm / mm\u00b2 for lengths and areas, degrees unchanged."""
        return value if self.kind == "angle" else self.to_mm(value)


MEASURES: tuple[MeasureDef, ...] = (
    MeasureDef("brow_height", "brow", "length", True, "brow height"),
    MeasureDef("palpebral_fissure", "eyes", "length", True, "palpebral fissure height"),
    MeasureDef("mrd1", "eyes", "length", True, "MRD1 (pupil to upper lid)"),
    MeasureDef("mrd2", "eyes", "length", True, "MRD2 (pupil to lower lid)"),
    MeasureDef("eye_area", "eyes", "area", True, "eye area"),
    MeasureDef("commissure_excursion", "mouth", "length", True, "commissure excursion", five_point=True,
               from_rest=True),
    MeasureDef("commissure_height", "mouth", "length", True, "commissure height", five_point=True),
    MeasureDef("commissure_lateral", "mouth", "length", True, "commissure distance from midline", five_point=True),
    MeasureDef("smile_angle", "mouth", "angle", True, "smile angle", from_rest=True),
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

# The one measure per region a clinician reads first (the headline, with its interval).
HEADLINE = {"brow": "brow_height", "eyes": "palpebral_fissure", "mouth": "commissure_excursion"}
HEADLINE_LABEL = {"brow": "brow raise", "eyes": "eye closure", "mouth": "smile (commissure excursion)"}
# Measure drawn per region in the live trace: it needs no rest position (the trace starts at once).
# (A smile pulls the corner mostly outwards, so the mouth's is its distance from the midline.)
LIVE = {"brow": "brow_height", "eyes": "palpebral_fissure", "mouth": "commissure_lateral", "nose": "ala_height"}


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


def headline_measure(region: str, n_points: int) -> str | None:
    name = HEADLINE.get(region)
    return name if name and any(m.name == name for m in measures_for(n_points)) else None


def live_measure(region: str, n_points: int) -> str:
    """The measure the live trace draws for ``region`` (5 points: only the mouth's)."""
    name = LIVE[region]
    return name if any(m.name == name for m in measures_for(n_points)) else LIVE["mouth"]


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


def _sided_wflw(face: np.ndarray, side: str) -> dict[str, float]:
    ix = WFLW_SIDES[side]
    p = _side_coords(face, side)
    pupil, corner = p[ix.pupil], p[ix.corner]
    upper, lower = p[list(ix.upper_lid)], p[list(ix.lower_lid)]
    # Mean height of the brow's upper edge above the eye line: five points and the eye line (fitted to
    # eight points) are far steadier than one pupil, which also moves with the gaze.
    brow = float(np.mean(p[list(ix.brow_upper), 1]))
    s_eye = (p[ix.eye_outer, 0] + p[ix.eye_inner, 0]) / 2
    # Not clipped at 0: noise around a closed eye must stay symmetric, or the closed side's median
    # (and so every closure ratio) would be pulled up; the gap reported is clipped instead.
    fissure = _interp_y(upper, s_eye) - _interp_y(lower, s_eye)
    s_half = corner[0] / 2      # half-way between the midline and the commissure
    y_out_up = _interp_y(p[list(OUTER_UPPER_LIP)], s_half)
    y_in_up = _interp_y(p[list(INNER_UPPER_LIP)], s_half)
    y_in_low = _interp_y(p[list(INNER_LOWER_LIP)], s_half)
    y_out_low = _interp_y(p[list(OUTER_LOWER_LIP)], s_half)
    return {
        "brow_height": brow,
        "palpebral_fissure": fissure,
        # Margin-reflex distances: the pupil centre stands in for the corneal light reflex.
        "mrd1": _interp_y(upper, pupil[0]) - pupil[1],
        "mrd2": pupil[1] - _interp_y(lower, pupil[0]),
        "eye_area": _shoelace(p[list(ix.eye_ring)]),
        "commissure_excursion": math.nan,      # from the rest position: rest_relative()
        "commissure_height": float(corner[1]),
        "commissure_lateral": float(corner[0]),
        "smile_angle": math.nan,               # from the rest position: rest_relative()
        "upper_lip_height": max(0.0, y_out_up - y_in_up),
        "lower_lip_height": max(0.0, y_in_low - y_out_low),
        "dental_show": max(0.0, y_in_up - y_in_low),
        "dental_area": _shoelace(_clip_half_plane(p[list(INNER_LIP_RING)])),
        "eye_mouth_distance": float(np.hypot(*(p[ix.eye_inner] - corner))),
        "ala_height": float(p[ix.ala, 1]),
    }


def _sided_5point(face: np.ndarray, side: str) -> dict[str, float]:
    ix = FIVE_SIDES[side]
    p = _side_coords(face, side)
    corner = p[ix["corner"]]
    return {"commissure_excursion": math.nan, "commissure_height": float(corner[1]),
            "commissure_lateral": float(corner[0]),
            "eye_mouth_distance": float(np.hypot(*(p[ix["eye"]] - corner)))}


def _tilt_deg(face: np.ndarray, right_i: int, left_i: int) -> float:
    """Angle of the line patient-right -> patient-left point; positive when the LEFT end is higher."""
    d = face[left_i] - face[right_i]
    return math.degrees(math.atan2(d[1], d[0]))


def face_measures(face: np.ndarray) -> dict[str, float]:
    """One frame's measures from its landmarks in face coordinates (98 or 5 points, IPD units,
    see :mod:`app.measures.face_frame`). Returns ``{column: value}`` with keys :func:`column_names`;
    NaN for every value when a point is missing; the rest-relative measures are NaN here."""
    face = np.asarray(face, np.float64)
    n = len(face)
    if not np.all(np.isfinite(face)):
        return {c: math.nan for c in column_names(n)}
    if n == 98:
        sided_fn, tilts = _sided_wflw, {"eye_line_tilt": (96, 97), "mouth_line_tilt": (76, 82)}
    else:
        sided_fn, tilts = _sided_5point, {"eye_line_tilt": (0, 1), "mouth_line_tilt": (3, 4)}
    per_side = {s: sided_fn(face, s) for s in SIDES}
    out: dict[str, float] = {}
    for m in measures_for(n):
        if m.sided:
            for s in SIDES:
                out[f"{m.name}_{s}"] = per_side[s][m.name]
        elif m.name == "fai":
            out["fai"] = abs(per_side["right"]["eye_mouth_distance"] - per_side["left"]["eye_mouth_distance"])
        else:
            out[m.name] = _tilt_deg(face, *tilts[m.name])
    return out


def rest_relative(columns: dict[str, np.ndarray], rest: slice) -> None:
    """Fill the measures taken against the mouth corners' rest position (in place).

    ``commissure_excursion``: distance of the corner from its rest position (median over the rest
    window, face frame), positive when it moves outwards or upwards (a smile), negative when it is
    pulled inwards and down. ``smile_angle``: 90 deg + the angle, above the eye line's direction,
    of the line from the mouth's rest centre (the midline at the corners' mean rest height) to
    the corner. Neither uses a lip point, so an opening jaw changes neither.
    """
    def rest_median(key: str) -> float:
        x = columns[key][rest]
        return float(np.nanmedian(x)) if np.isfinite(x).any() else math.nan
    heights = {s: columns[f"commissure_height_{s}"] for s in SIDES}
    centre_y = float(np.mean([rest_median(f"commissure_height_{s}") for s in SIDES]))
    for s in SIDES:
        lat = columns[f"commissure_lateral_{s}"]
        d_s, d_y = lat - rest_median(f"commissure_lateral_{s}"), heights[s] - rest_median(f"commissure_height_{s}")
        sign = np.where(d_s + d_y >= 0, 1.0, -1.0)
        columns[f"commissure_excursion_{s}"] = sign * np.hypot(d_s, d_y)
        if f"smile_angle_{s}" in columns:
            columns[f"smile_angle_{s}"] = 90.0 + np.degrees(np.arctan2(heights[s] - centre_y, lat))


def frame_measures(points: np.ndarray) -> dict[str, float]:
    """One frame's measures from 98 WFLW points (or 5 RetinaFace points) in PIXELS, in that frame's
    own eye-corner frame (for single frames and live views; a video is measured through
    :func:`app.measures.io.compute_table`, which fits every frame to the video's reference shape).
    Keys :func:`column_names` plus ``ipd_px``; NaN when the landmarks are missing or degenerate."""
    pts = np.asarray(points, np.float64)
    n = len(pts)
    nan = {c: math.nan for c in column_names(n)} | {"ipd_px": math.nan}
    if not np.all(np.isfinite(pts)):
        return nan
    local = eye_frame(pts[None])[0]
    eyes = PUPILS_98 if n == 98 else (0, 1)
    ipd_local = float(np.hypot(*(local[eyes[1]] - local[eyes[0]])))
    if not (math.isfinite(ipd_local) and ipd_local > 1e-6):
        return nan
    out = face_measures(local / ipd_local)
    out["ipd_px"] = float(np.hypot(*(pts[eyes[1]] - pts[eyes[0]])))
    return out


def region_values(points: np.ndarray) -> dict[str, tuple[float, float]]:
    """Live-trace measure of each region for one frame: ``{region: (right, left)}`` in IPD units
    (the measure per region is :func:`live_measure`)."""
    n = len(points)
    vals = frame_measures(points)
    return {region: (vals[f"{live_measure(region, n)}_right"], vals[f"{live_measure(region, n)}_left"])
            for region in regions_for(n)}


# ---------------------------------------------------------------------------------------------
# Measures the guided exam's tasks need (app.measures.tasks), kept out of MEASURES so the segments,
# the rest detection and the measures CSV stay as they are. Both are changes from the rest position
# (filled by :func:`task_columns` once the rest is known), positive in the task's direction.
TASK_MEASURES: tuple[MeasureDef, ...] = (
    MeasureDef("lower_lip_depression", "mouth", "length", True, "lower-lip depression", from_rest=True),
    MeasureDef("commissure_narrowing", "mouth", "length", True, "commissure narrowing", from_rest=True),
)
CHIN = (15, 16, 17)     # the chin's lowest points: the jaw's reference for the lower lip


def _lower_lip_above_chin(face: np.ndarray, side: str, s_at: float) -> float:
    """Height of the lower lip's outer edge above the chin, at distance ``s_at`` from the midline."""
    p = _side_coords(face, side)
    return _interp_y(p[list(OUTER_LOWER_LIP)], s_at) - float(np.mean(p[list(CHIN), 1]))


def task_columns(faces: np.ndarray, columns: dict[str, np.ndarray], rest: slice) -> dict[str, np.ndarray]:
    """Per-frame task measures of a video (98 points): ``{NAME_right, NAME_left}`` of TASK_MEASURES.

    ``faces`` (N, 98, 2) face coordinates (IPD units; NaN rows for frames without a fit), ``columns``
    the measure table's columns (``commissure_lateral_*``), ``rest`` the rest frames.

    * lower_lip_depression: how far the lower lip's outer edge came down towards the chin, at half
      the mouth corner's REST distance from the midline (a fixed place on the lip, so a moving corner
      does not move it), against the chin: an opening jaw moves lip and chin alike and changes nothing.
    * commissure_narrowing: how far the mouth corner moved towards the midline (a pucker).
    """
    out: dict[str, np.ndarray] = {}
    n = len(faces)
    usable = np.isfinite(faces).all(axis=(1, 2))
    with np.errstate(invalid="ignore"):
        for s in SIDES:
            lateral = columns[f"commissure_lateral_{s}"]
            lat_rest = lateral[rest][np.isfinite(lateral[rest])]
            rest_lat = float(np.median(lat_rest)) if len(lat_rest) else math.nan
            out[f"commissure_narrowing_{s}"] = rest_lat - lateral
            height = np.full(n, np.nan)
            if math.isfinite(rest_lat):
                for i in np.flatnonzero(usable):
                    height[i] = _lower_lip_above_chin(faces[i], s, rest_lat / 2)
            at_rest = height[rest][np.isfinite(height[rest])]
            rest_h = float(np.median(at_rest)) if len(at_rest) else math.nan
            out[f"lower_lip_depression_{s}"] = rest_h - height
    return out
