"""Facial midline: a straight line in frame pixels, built from landmarks and smoothed over time.

Qt-free and torch-free (numpy only).

Coordinates
-----------
Frame pixels in OpenCV's convention: the pixel in column ``i`` and row ``j`` has its centre at
``(x, y) = (i, j)``; ``y`` grows downwards. The landmark detectors report points in the same
convention. Image left is the patient's RIGHT in an unmirrored recording.

Parameterisation (chosen so both numbers are continuous and smooth well)
-----------------------------------------------------------------------
A :class:`Midline` is ``(theta, rho)`` about a fixed reference point ``c`` = the frame centre
``((w - 1) / 2, (h - 1) / 2)``::

    d = ( sin theta, cos theta)   unit direction pointing DOWN the face (glabella -> chin), d_y >= 0
    n = ( cos theta, -sin theta)  unit normal pointing to the IMAGE RIGHT (n_x >= 0)
    line = { p : n . (p - c) = rho }

* ``theta`` (radians, in (-pi/2, pi/2]; ``angle_deg`` in degrees): 0 is a vertical line; positive
  when the lower end of the line lies to the image right of its upper end.
* ``rho`` (pixels): signed distance from the frame centre to the line, positive when the line
  passes to the image right of the centre.
* ``signed_distance(x, y)`` is positive on the image-right side of the line (the patient's LEFT
  half in an unmirrored recording) and negative on the image-left side.

Constructors
------------
* ``midline_from_wflw98(points, frame_size, method="glabella-chin")``
    - ``"glabella-chin"`` (default, as in the reference tool): through the glabella (midpoint of
      points 38 and 50, the inner lower brow points) and the chin (point 16).
    - ``"pupils"`` (Emotrics style): perpendicular bisector of the pupils (points 96 and 97).
* ``midline_from_5points(points, frame_size)``: RetinaFace's 5 points in the order
  [image-left eye, image-right eye, nose tip, image-left mouth corner, image-right mouth corner];
  the perpendicular bisector of the two eye centres.
* ``Midline.vertical(frame_size, x=None)``: a vertical line (frame centre by default), a fallback
  for frames before the first face is found.
* ``Midline.through_points``, ``Midline.perpendicular_bisector``, ``Midline.from_theta_rho``.

``frame_size`` is always ``(width, height)``. The landmark constructors return ``None`` when the
points are degenerate (coincident or not finite) and raise ``ValueError`` for arrays of the wrong
shape or an unknown method.

Temporal smoothing: :class:`MidlineSmoother`
--------------------------------------------
``theta`` (in degrees) and ``rho`` (in pixels) are smoothed by two independent
:class:`AdaptiveOneEuroFilter` s: a One-Euro filter (Casiez, Roussel & Vogel, CHI 2012) whose
speed term is measured in units of the signal's own noise, after a short median::

    m      = median over the last 3 frames of (x_i + slope * (t - t_i)), clipped to the raw range
             # slope = slope of the filter's own output: ramps are not delayed, one-frame
             # glitches are rejected
    sigma  = max(noise_floor, median(|x_k - 2 x_(k-1) + x_(k-2)|, last 60 frames) / (0.6745 sqrt 6))
             # second differences: constant-speed motion does not inflate the noise estimate
    r      = lowpass(m - x_hat_prev, d_cutoff_hz)               # smoothed residual
    fc     = min_cutoff_hz + beta * max(0, |r| / sigma - dead_zone)
    x_hat  = x_hat_prev + alpha(fc) * (m - x_hat_prev),   alpha(fc) = 1 / (1 + 1 / (2 pi fc dt))

On a still face the residual stays within the noise, the cutoff stays at ``min_cutoff_hz`` and the
jitter is removed; when the head really moves the residual grows to many noise widths, the cutoff
rises and the line follows within a few frames. Because the speed term is normalised by the
measured noise, the same parameters work for angle and offset, small and large faces, quieter or
noisier landmark models. The noise floors make excursions smaller than about half a degree or
1.5 px never count as motion. (The classic One-Euro filter, speed in deg/s, was tried first: with
1 deg noise it needed 7-10 frames to follow a 10 deg step for the same residual jitter.)

Defaults (chosen by simulation at 29.97 fps and checked on RetinaFace's 5 points on videos made
from portrait_frontal.jpg; tests/test_midline.py asserts the bounds):

===================  =======  ================================================================
parameter            default  meaning
===================  =======  ================================================================
min_cutoff_hz        0.3      cutoff for a still face (Hz)
beta                 6.0      cutoff increase (Hz) per noise-sigma of residual above the dead zone
d_cutoff_hz          2.0      cutoff of the residual low-pass (Hz)
dead_zone            1.5      residual (in noise sigmas) that never counts as motion
median_window        3        frames in the trend-compensated median
noise_window         60       frames in the running noise estimate (2 s)
noise floors         0.3 deg (angle), 1.0 px (offset): least noise assumed
startup_cutoff_hz    5.0      cutoff until the noise is known (first ~7 frames): follow closely
reset_after_s        1.0      after a gap without a face longer than this, restart the filters
===================  =======  ================================================================

Measured with these defaults (simulation, white Gaussian noise, 8 seeds):

* still face, 1 deg noise on the angle: smoothed std 0.19 deg (worst seed 0.22); 2 px noise on
  the offset: 0.39 px (worst 0.57);
* 10 deg step with 1 deg noise: 90 % reached in 3 frames (median; worst 5); a 33 px offset step
  in 3 (worst 4); without noise in 2 frames;
* 30 deg/s tilt ramp with 1 deg noise: mean lag 1.4 deg;
* +-15 deg roll, 2 s period (peak 47 deg/s): mean error 0.8 deg with 0.5 deg noise, 1.4 deg with
  1 deg noise;
* a single-frame glitch of 10 deg moves the smoothed line by 0.3 deg (worst 0.5 deg).

On RetinaFace 5-point midlines of a still synthetic video (image noise 6 grey levels): angle std
0.27 -> 0.05 deg, largest frame-to-frame change 0.04 deg; offset std 0.54 -> 0.12 px. On the same
face rolled +-15 deg in 2 s, translated and scaled: angle error mean 1.7 deg, max 4.5 deg (the
raw detector's own error: mean 1.1, max 4.1). Cost: about 0.13 ms per update.

Missing frames: ``update(None, t)`` keeps the filter state and returns the last smoothed line
with ``held=True`` (``frames_since_measurement`` counts the frames held). Before the first
measurement ``smoothed`` is ``None``; the pipeline decides what to do then (e.g. use
``Midline.vertical``). After a gap longer than ``reset_after_s`` the next measurement restarts the
filters (no slow glide from a stale position). Frames with a poor detection (see
``app.engine.quality``) can be passed as ``None`` to hold the line rather than let a bad
measurement pull it.

CSV: :meth:`MidlineEstimate.as_dict` gives the raw and smoothed angle and offset, a point on the
smoothed line and the held flag, under the column names ``MIDLINE_CSV_COLUMNS``.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "Midline",
    "MidlineEstimate",
    "MidlineSmoother",
    "AdaptiveOneEuroFilter",
    "MIDLINE_METHODS",
    "METHOD_DESCRIPTIONS",
    "method_used",
    "unhonoured_choice_note",
    "MIDLINE_CSV_COLUMNS",
    "frame_centre",
    "midline_from_wflw98",
    "midline_from_5points",
]

# The one home for midline method names. The user chooses between the two 98-point methods; the
# 5-point fallback (no STAR model) can only bisect the detector's eye centres, whatever was chosen.
METHOD_GLABELLA_CHIN = "glabella-chin"
METHOD_PUPILS = "pupils"
METHOD_EYE_CENTRES = "eye-centres"          # 5-point fallback only; not a user choice
MIDLINE_METHODS = (METHOD_GLABELLA_CHIN, METHOD_PUPILS)
DEFAULT_METHOD = METHOD_GLABELLA_CHIN
# What the report's `midline_method_used` says, in words a reader of the report understands.
METHOD_DESCRIPTIONS = {
    METHOD_GLABELLA_CHIN: "glabella to chin (98-point STAR)",
    METHOD_PUPILS: "pupil bisector (98-point STAR)",
    METHOD_EYE_CENTRES: "eye-centre bisector (5-point fallback)",
}
# Short labels and explanations for the window's choice.
METHOD_LABELS = {METHOD_GLABELLA_CHIN: "Glabella to chin", METHOD_PUPILS: "Between the pupils"}
METHOD_TIPS = {METHOD_GLABELLA_CHIN: "Midline through the glabella (between the inner brows) and the chin",
               METHOD_PUPILS: "Midline perpendicular to the line joining the pupils, through its centre"}
FALLBACK_CHOICE_REASON = ("Without the STAR landmark model the midline is always the bisector of the two eye "
                          "centres found by the face detector; the midline choice needs STAR's 98 points.")


def method_used(requested: str, coarse: bool) -> str:
    """The method actually applied: the requested one with STAR, the eye-centre bisector without."""
    if requested not in MIDLINE_METHODS:
        raise ValueError(f"unknown midline method {requested!r}; expected one of {MIDLINE_METHODS}")
    return METHOD_EYE_CENTRES if coarse else requested


def unhonoured_choice_note(requested: str, coarse: bool) -> str | None:
    """A warning when the chosen method cannot be applied (5-point fallback and a non-default
    choice: the default's difference is already said by the 5-point warning), else None."""
    if coarse and requested != DEFAULT_METHOD:
        return (f"midline method '{requested}' cannot be honoured without the STAR landmark model: "
                f"the {METHOD_DESCRIPTIONS[METHOD_EYE_CENTRES]} was used instead")
    return None

# WFLW 98 indices (image left = patient's right in an unmirrored recording).
WFLW_CHIN = 16
WFLW_BROW_INNER_IMAGE_LEFT = 38
WFLW_BROW_INNER_IMAGE_RIGHT = 50
WFLW_PUPIL_IMAGE_LEFT = 96
WFLW_PUPIL_IMAGE_RIGHT = 97

_HALF_PI = math.pi / 2


def frame_centre(frame_size: Sequence[float]) -> tuple[float, float]:
    """Reference point for ``rho``: the centre of a ``(width, height)`` frame, pixel-centre convention."""
    w, h = frame_size
    return ((float(w) - 1.0) / 2.0, (float(h) - 1.0) / 2.0)


def _wrap_theta(theta: float, rho: float) -> tuple[float, float]:
    """Bring theta into (-pi/2, pi/2]; turning the direction by pi flips the normal, so rho flips."""
    while theta > _HALF_PI:
        theta -= math.pi
        rho = -rho
    while theta <= -_HALF_PI:
        theta += math.pi
        rho = -rho
    return theta, rho


@dataclass(frozen=True)
class Midline:
    """A line in frame pixels: ``n . (p - ref) = rho`` with ``n = (cos theta, -sin theta)``.

    See the module docstring for the conventions. Instances are immutable.
    """

    theta: float
    rho: float
    ref: tuple[float, float]

    # ---- constructors -------------------------------------------------------------------------
    @classmethod
    def from_theta_rho(cls, theta: float, rho: float, ref: Sequence[float]) -> "Midline":
        theta, rho = _wrap_theta(float(theta), float(rho))
        return cls(theta, rho, (float(ref[0]), float(ref[1])))

    @classmethod
    def from_point_direction(cls, point: ArrayLike, direction: ArrayLike,
                             ref: Sequence[float]) -> "Midline | None":
        """Line through ``point`` along ``direction`` (either sense); None if degenerate."""
        p, d = np.asarray(point, np.float64), np.asarray(direction, np.float64)
        px, py = float(p[0]), float(p[1])
        dx, dy = float(d[0]), float(d[1])
        norm = math.hypot(dx, dy)
        if not (math.isfinite(px) and math.isfinite(py) and math.isfinite(norm)) or norm < 1e-9:
            return None
        dx, dy = dx / norm, dy / norm
        if dy < 0 or (dy == 0 and dx < 0):
            dx, dy = -dx, -dy
        theta = math.atan2(dx, dy)
        nx, ny = dy, -dx
        rho = nx * (px - ref[0]) + ny * (py - ref[1])
        return cls.from_theta_rho(theta, rho, ref)

    @classmethod
    def through_points(cls, p_upper: Sequence[float], p_lower: Sequence[float],
                       ref: Sequence[float]) -> "Midline | None":
        """Line through two points (e.g. glabella and chin); None if they coincide."""
        p0 = np.asarray(p_upper, dtype=np.float64)
        p1 = np.asarray(p_lower, dtype=np.float64)
        return cls.from_point_direction(p0, p1 - p0, ref)

    @classmethod
    def perpendicular_bisector(cls, a: Sequence[float], b: Sequence[float],
                               ref: Sequence[float]) -> "Midline | None":
        """Perpendicular bisector of the segment ab (e.g. the two eyes); None if a == b."""
        pa = np.asarray(a, dtype=np.float64)
        pb = np.asarray(b, dtype=np.float64)
        e = pb - pa
        return cls.from_point_direction((pa + pb) / 2.0, (-e[1], e[0]), ref)

    @classmethod
    def vertical(cls, frame_size: Sequence[float], x: float | None = None) -> "Midline":
        """Vertical line at column ``x`` (default: the frame centre)."""
        ref = frame_centre(frame_size)
        rho = 0.0 if x is None else float(x) - ref[0]
        return cls(0.0, rho, ref)

    # ---- derived quantities -------------------------------------------------------------------
    @property
    def angle_deg(self) -> float:
        """theta in degrees (0 = vertical; positive = lower end towards the image right)."""
        return math.degrees(self.theta)

    @property
    def direction(self) -> tuple[float, float]:
        """Unit vector along the line pointing down the face (d_y >= 0)."""
        return (math.sin(self.theta), math.cos(self.theta))

    @property
    def normal(self) -> tuple[float, float]:
        """Unit normal pointing to the image right (the patient's left in an unmirrored recording)."""
        return (math.cos(self.theta), -math.sin(self.theta))

    @property
    def point(self) -> tuple[float, float]:
        """The point of the line closest to the reference point (foot of the perpendicular)."""
        nx, ny = self.normal
        return (self.ref[0] + self.rho * nx, self.ref[1] + self.rho * ny)

    def with_ref(self, ref: Sequence[float]) -> "Midline":
        """The same geometric line expressed about another reference point."""
        nx, ny = self.normal
        rho = self.rho + nx * (self.ref[0] - ref[0]) + ny * (self.ref[1] - ref[1])
        return Midline(self.theta, rho, (float(ref[0]), float(ref[1])))

    def signed_distance(self, x, y):
        """Signed distance of points from the line, > 0 on the image-right side. Vectorised."""
        nx, ny = self.normal
        return nx * (np.asarray(x) - self.ref[0]) + ny * (np.asarray(y) - self.ref[1]) - self.rho

    def x_at(self, y: float) -> float | None:
        """Column where the line crosses row ``y`` (None for a horizontal line)."""
        nx, ny = self.normal
        if abs(nx) < 1e-12:
            return None
        return self.ref[0] + (self.rho - ny * (y - self.ref[1])) / nx

    def reflection_matrix(self) -> np.ndarray:
        """2x3 affine matrix (float64) of the reflection across the line: p' = A @ [x, y, 1]."""
        nx, ny = self.normal
        k = 2.0 * (nx * self.ref[0] + ny * self.ref[1] + self.rho)
        return np.array([[1.0 - 2.0 * nx * nx, -2.0 * nx * ny, k * nx],
                         [-2.0 * nx * ny, 1.0 - 2.0 * ny * ny, k * ny]], dtype=np.float64)

    def reflect_points(self, points) -> np.ndarray:
        """Reflect an (..., 2) array of points across the line."""
        p = np.asarray(points, dtype=np.float64)
        nx, ny = self.normal
        s = self.signed_distance(p[..., 0], p[..., 1])
        out = p.copy()
        out[..., 0] -= 2.0 * s * nx
        out[..., 1] -= 2.0 * s * ny
        return out

    def segment_in_frame(self, frame_size: Sequence[float]):
        """End points ``((x0, y0), (x1, y1))`` of the part of the line inside the frame, upper end
        first; None if the line misses the frame."""
        w, h = frame_size
        x0, y0 = self.point
        dx, dy = self.direction
        t_lo, t_hi = -math.inf, math.inf
        for p, d, lo, hi in ((x0, dx, -0.5, w - 0.5), (y0, dy, -0.5, h - 0.5)):
            if abs(d) < 1e-12:
                if p < lo or p > hi:
                    return None
                continue
            t1, t2 = (lo - p) / d, (hi - p) / d
            if t1 > t2:
                t1, t2 = t2, t1
            t_lo, t_hi = max(t_lo, t1), min(t_hi, t2)
        if t_lo > t_hi:
            return None
        return ((x0 + t_lo * dx, y0 + t_lo * dy), (x0 + t_hi * dx, y0 + t_hi * dy))


# ---- constructors from landmarks --------------------------------------------------------------

def _as_points(points, n: int) -> np.ndarray:
    p = np.asarray(points, dtype=np.float64)
    if p.shape != (n, 2):
        raise ValueError(f"expected an array of shape ({n}, 2), got {p.shape}")
    return p


def midline_from_wflw98(points, frame_size: Sequence[float], method: str = METHOD_GLABELLA_CHIN) -> Midline | None:
    """Midline from 98 WFLW landmarks in frame pixels; ``method`` is one of ``MIDLINE_METHODS``."""
    p = _as_points(points, 98)
    if method not in MIDLINE_METHODS:
        raise ValueError(f"unknown midline method {method!r}; expected one of {MIDLINE_METHODS}")
    ref = frame_centre(frame_size)
    if method == METHOD_GLABELLA_CHIN:
        glabella = (p[WFLW_BROW_INNER_IMAGE_LEFT] + p[WFLW_BROW_INNER_IMAGE_RIGHT]) / 2.0
        return Midline.through_points(glabella, p[WFLW_CHIN], ref)
    return Midline.perpendicular_bisector(p[WFLW_PUPIL_IMAGE_LEFT], p[WFLW_PUPIL_IMAGE_RIGHT], ref)


def midline_from_5points(points, frame_size: Sequence[float]) -> Midline | None:
    """Midline from RetinaFace's 5 points: perpendicular bisector of the eye centres (points 0, 1)."""
    p = _as_points(points, 5)
    return Midline.perpendicular_bisector(p[0], p[1], frame_centre(frame_size))


# ---- smoothing ----------------------------------------------------------------------------------

def _alpha(cutoff_hz: float, dt: float) -> float:
    """Smoothing factor of a first-order low-pass with the given cutoff for a time step dt."""
    return 1.0 / (1.0 + 1.0 / (2.0 * math.pi * cutoff_hz * dt))


class AdaptiveOneEuroFilter:
    """Scalar noise-adaptive One-Euro filter with a trend-compensated median prefilter.

    See the module docstring for the equations. ``noise_floor`` is the least noise assumed (in the
    signal's units); it stops a signal that is exactly constant for a while from treating every
    tiny change as motion.
    """

    def __init__(self, *, min_cutoff_hz: float = 0.3, beta: float = 6.0, d_cutoff_hz: float = 2.0,
                 dead_zone: float = 1.5, median_window: int = 3, noise_window: int = 60,
                 noise_floor: float = 1e-3, startup_cutoff_hz: float = 5.0):
        if min_cutoff_hz <= 0 or d_cutoff_hz <= 0 or beta < 0 or median_window < 1 or noise_window < 5:
            raise ValueError("invalid filter parameters")
        self.min_cutoff_hz = float(min_cutoff_hz)
        self.beta = float(beta)
        self.d_cutoff_hz = float(d_cutoff_hz)
        self.dead_zone = float(dead_zone)
        self.median_window = int(median_window)
        self.noise_window = int(noise_window)
        self.noise_floor = float(noise_floor)
        self.startup_cutoff_hz = float(startup_cutoff_hz)
        self.reset()

    def reset(self) -> None:
        self.value: float | None = None
        self.residual = 0.0
        self.cutoff_hz = self.min_cutoff_hz
        self._t = 0.0                                                      # filter's own clock (s)
        self._recent: deque[tuple[float, float]] = deque(maxlen=self.median_window)  # (t, raw)
        self._outputs: deque[tuple[float, float]] = deque(maxlen=2)       # (t, value)
        self._d2: deque[float] = deque(maxlen=self.noise_window)           # |second differences|

    @property
    def noise(self) -> float | None:
        """Current estimate of the measurement noise (std); None until 5 second differences are seen."""
        if len(self._d2) < 5:
            return None
        # for white noise x_k - 2 x_(k-1) + x_(k-2) has std sqrt(6) sigma, median 0.6745 of that;
        # smooth motion (constant speed) adds nothing, unlike first differences
        return max(float(np.median(self._d2)) / (0.6745 * math.sqrt(6.0)), self.noise_floor)

    def break_continuity(self) -> None:
        """After a gap: forget the short-term history (median window, slope); keep the noise level."""
        self._recent.clear()
        self._outputs.clear()

    def flip_sign(self) -> None:
        """Negate the whole state (the signal's sign convention flipped)."""
        if self.value is not None:
            self.value = -self.value
        self.residual = -self.residual
        self._recent = deque(((t, -v) for t, v in self._recent), maxlen=self.median_window)
        self._outputs = deque(((t, -v) for t, v in self._outputs), maxlen=2)

    def shift(self, offset: float) -> None:
        """Add a constant to the whole state (the signal was re-expressed with an offset)."""
        if self.value is not None:
            self.value += offset
        self._recent = deque(((t, v + offset) for t, v in self._recent), maxlen=self.median_window)
        self._outputs = deque(((t, v + offset) for t, v in self._outputs), maxlen=2)

    def _prefilter(self) -> float:
        """Median of the recent raw values after removing the current trend (the slope of the
        filter's own output), so a ramp is not delayed while a one-frame glitch is rejected."""
        t_now, x_now = self._recent[-1]
        if len(self._recent) == 1:
            return x_now
        slope = 0.0
        if len(self._outputs) == 2:
            (t0, v0), (t1, v1) = self._outputs
            if t1 > t0:
                slope = (v1 - v0) / (t1 - t0)
        m = float(np.median([x + slope * (t_now - t) for t, x in self._recent]))
        # never beyond the raw values themselves (no overshoot when the motion slows down)
        raw = [x for _, x in self._recent]
        return min(max(m, min(raw)), max(raw))

    def __call__(self, x: float, dt: float) -> float:
        x = float(x)
        if dt > 0:
            self._t += dt
        self._recent.append((self._t, x))
        if len(self._recent) >= 3:
            a, b, c = (v for _, v in list(self._recent)[-3:])
            self._d2.append(abs(c - 2.0 * b + a))
        xm = self._prefilter()
        if self.value is None:
            self.value = xm
            self._outputs.append((self._t, self.value))
            return self.value
        if dt <= 0:
            return self.value
        sigma = self.noise
        r = xm - self.value
        self.residual += _alpha(self.d_cutoff_hz, dt) * (r - self.residual)
        if sigma is None:   # start-up: no noise estimate yet, follow closely
            cutoff = self.startup_cutoff_hz
        else:
            cutoff = self.min_cutoff_hz + self.beta * max(0.0, abs(self.residual) / sigma - self.dead_zone)
        self.cutoff_hz = cutoff
        self.value += _alpha(cutoff, dt) * r
        self._outputs.append((self._t, self.value))
        return self.value


MIDLINE_CSV_COLUMNS = (
    "midline_raw_angle_deg", "midline_raw_offset_px",
    "midline_angle_deg", "midline_offset_px",
    "midline_point_x", "midline_point_y",
    "midline_held",
)


@dataclass(frozen=True)
class MidlineEstimate:
    """One frame's midline: the raw measurement and the smoothed line.

    ``raw`` is None when the frame had no usable landmarks; ``smoothed`` is None only before the
    first measurement; ``held`` is True when ``smoothed`` is carried over from an earlier frame.
    Angles/offsets follow the :class:`Midline` conventions (degrees, pixels from the frame centre).
    """

    t_s: float
    raw: Midline | None
    smoothed: Midline | None
    held: bool
    frames_since_measurement: int

    def as_dict(self) -> dict[str, float | int | str]:
        """CSV row fragment (keys ``MIDLINE_CSV_COLUMNS``; empty string for missing values)."""
        def f(v):
            return "" if v is None else round(float(v), 4)
        r, s = self.raw, self.smoothed
        pt = s.point if s is not None else (None, None)
        return {
            "midline_raw_angle_deg": f(r.angle_deg if r else None),
            "midline_raw_offset_px": f(r.rho if r else None),
            "midline_angle_deg": f(s.angle_deg if s else None),
            "midline_offset_px": f(s.rho if s else None),
            "midline_point_x": f(pt[0]),
            "midline_point_y": f(pt[1]),
            "midline_held": int(self.held),
        }


def _near_state(theta_deg: float, rho: float, state: float | None) -> tuple[float, float]:
    """The line is undirected: keep the measurement within 90 deg of the filter state."""
    if state is not None:
        while theta_deg - state > 90.0:
            theta_deg, rho = theta_deg - 180.0, -rho
        while theta_deg - state < -90.0:
            theta_deg, rho = theta_deg + 180.0, -rho
    return theta_deg, rho


class MidlineSmoother:
    """Temporal smoothing of the midline: adaptive One-Euro filters on angle (deg) and offset (px).

    Call :meth:`update` once per frame, in order, with the raw line (or None when there is no
    usable face) and the frame time in seconds (None: assume a constant ``fps``). Parameters and
    measured behaviour are documented in the module docstring.
    """

    THETA_NOISE_FLOOR_DEG = 0.3
    RHO_NOISE_FLOOR_PX = 1.0

    def __init__(self, fps: float = 30.0, *, min_cutoff_hz: float = 0.3, beta: float = 6.0,
                 d_cutoff_hz: float = 2.0, dead_zone: float = 1.5, median_window: int = 3,
                 noise_window: int = 60, reset_after_s: float = 1.0):
        if not (fps and math.isfinite(fps) and fps > 0):
            fps = 30.0
        self.fps = float(fps)
        self.reset_after_s = float(reset_after_s)
        common: dict[str, Any] = dict(min_cutoff_hz=min_cutoff_hz, beta=beta, d_cutoff_hz=d_cutoff_hz,
                      dead_zone=dead_zone, median_window=median_window, noise_window=noise_window)
        self._theta = AdaptiveOneEuroFilter(noise_floor=self.THETA_NOISE_FLOOR_DEG, **common)
        self._rho = AdaptiveOneEuroFilter(noise_floor=self.RHO_NOISE_FLOOR_PX, **common)
        self.reset()

    def reset(self) -> None:
        self._theta.reset()
        self._rho.reset()
        self._ref: tuple[float, float] | None = None
        self._last_meas_t: float | None = None
        self._smoothed: Midline | None = None
        self._held_frames = 0
        self._n = 0

    @property
    def current(self) -> Midline | None:
        """The latest smoothed line (None before the first measurement)."""
        return self._smoothed

    @property
    def noise(self) -> tuple[float | None, float | None]:
        """Current noise estimates (angle in degrees, offset in pixels) of the raw line."""
        return self._theta.noise, self._rho.noise

    def update(self, raw: Midline | None, t_s: float | None = None) -> MidlineEstimate:
        """Feed one frame's raw line (or None) at time ``t_s`` seconds; returns the estimate."""
        t_s = self._n / self.fps if t_s is None else float(t_s)
        self._n += 1

        if raw is None:
            return self._hold(t_s)
        dt = self._step_dt(raw, t_s)
        if self._ref is not None and raw.ref != self._ref:
            raw = raw.with_ref(self._ref)
        theta_deg, rho = _near_state(raw.angle_deg, raw.rho, self._theta.value)
        th = self._theta(theta_deg, dt)
        rh = self._rho(rho, dt)
        self._last_meas_t = t_s
        # Keep the filter state in (-90, 90] so it cannot drift by multiples of 180 deg.
        if th > 90.0 or th <= -90.0:
            k = 180.0 if th > 90.0 else -180.0
            self._theta.shift(-k)
            self._rho.flip_sign()
            th, rh = th - k, -rh
        assert self._ref is not None    # set by the first measurement, before any smoothing
        self._smoothed = Midline.from_theta_rho(math.radians(th), rh, self._ref)
        self._held_frames = 0
        return MidlineEstimate(t_s, raw, self._smoothed, False, 0)

    def _hold(self, t_s: float) -> MidlineEstimate:
        """No line this frame: keep the last smoothed one (held), and let the filters know."""
        if self._smoothed is not None:
            self._held_frames += 1
            self._theta.break_continuity()
            self._rho.break_continuity()
        return MidlineEstimate(t_s, None, self._smoothed, self._smoothed is not None,
                               self._held_frames)

    def _step_dt(self, raw: Midline, t_s: float) -> float:
        """Seconds since the last measurement; after a long (or no, or backwards) gap the filters
        start again from this line, at a nominal one-frame step."""
        gap = None if self._last_meas_t is None else t_s - self._last_meas_t
        if self._smoothed is None or gap is None or gap > self.reset_after_s or gap <= 0:
            self._theta.reset()
            self._rho.reset()
            self._ref = raw.ref
            return 1.0 / self.fps
        return gap

    def run(self, raws: Iterable[Midline | None], times_s: Iterable[float] | None = None) -> list[MidlineEstimate]:
        """Convenience: smooth a whole sequence (offline use and tests)."""
        raws = list(raws)
        times = list(times_s) if times_s is not None else [None] * len(raws)
        return [self.update(r, t) for r, t in zip(raws, times)]
