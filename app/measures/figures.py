"""Charts (matplotlib, SVG, no GUI backend) and frame pictures (OpenCV) for the summary.

matplotlib is imported lazily and only here. Figures are built with ``matplotlib.figure.Figure``
and the SVG canvas directly (pyplot and the global backend are never touched, so this is safe
inside the Qt app). matplotlib keeps a font cache in MPLCONFIGDIR; unless the user set it, it
goes to FaceMirror's user cache folder, never into the repository or the app bundle.
"""
from __future__ import annotations

import base64
import io
import logging
import math
import os
import re
from collections.abc import Sequence

import cv2
import numpy as np

from app.measures.definitions import MEASURE_BY_NAME, SIDES
from app.measures.io import LandmarkTrack, MeasureTable
from app.measures.analysis import Analysis
from app.results.verdict import GOOD, NOT_USABLE, WARNINGS

RIGHT_COLOUR, LEFT_COLOUR = "#0072B2", "#D55E00"      # Okabe-Ito blue / vermillion (colour-blind safe)
# The verdict's level as the summaries colour it (HTML and PDF)
LEVEL_COLOUR = {GOOD: "#1b7f3b", WARNINGS: "#b35c00", NOT_USABLE: "#c62828"}
REGION_COLOUR = {"brow": "#009E73", "eyes": "#CC79A7", "mouth": "#E69F00", "nose": "#56B4E9"}
PLOT_MEASURES = {"brow": ["brow_height"], "eyes": ["palpebral_fissure", "eye_area"],
                 "mouth": ["commissure_excursion", "commissure_height", "smile_angle", "dental_show"],
                 "nose": ["ala_height"]}
PLOT_MEASURES_5 = {"mouth": ["commissure_excursion", "commissure_height", "commissure_lateral"]}
MAX_PLOT_POINTS = 2000
PICTURE_WIDTH = 320
log = logging.getLogger(__name__)


def _matplotlib():
    if "MPLCONFIGDIR" not in os.environ:
        from app.base.paths import user_cache_dir
        target = user_cache_dir() / "matplotlib"
        try:
            target.mkdir(parents=True, exist_ok=True)
            os.environ["MPLCONFIGDIR"] = str(target)
        except OSError:
            pass    # matplotlib then falls back to a temporary folder of its own
    import matplotlib
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure
    return matplotlib, Figure, FigureCanvasSVG


def svg_of(fig, canvas_cls) -> str:
    """Inline SVG markup: no XML prolog, DOCTYPE, comments, metadata or namespace URLs."""
    canvas_cls(fig)
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<!--.*?-->", "", text, flags=re.DOTALL)
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.DOTALL)
    text = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", text)
    return text.replace("<svg", '<svg style="max-width:100%;height:auto"', 1)


def _decimate(n: int) -> slice:
    return slice(None, None, max(1, math.ceil(n / MAX_PLOT_POINTS)))


def _display(name: str, values: np.ndarray) -> tuple[np.ndarray, str]:
    m = MEASURE_BY_NAME[name]
    if m.mm_unit:
        return m.to_mm(values), m.mm_unit.replace("^2", "\u00b2")
    return values, "\u00b0"


def _shade(ax, analysis: Analysis, table: MeasureTable, region: str) -> None:
    t = table.times_s
    ax.axvspan(t[analysis.rest[0]], t[analysis.rest[1] - 1], color="0.6", alpha=0.25, lw=0)
    for seg in analysis.segments:
        own = seg.region == region
        ax.axvspan(t[seg.start], t[seg.end], color=REGION_COLOUR.get(seg.region, "0.5"),
                   alpha=0.22 if own else 0.07, lw=0)


def draw_region_chart(fig, table: MeasureTable, analysis: Analysis, region: str) -> None:
    """Right-vs-left time series of a region's measures into ``fig`` (a Figure or SubFigure), rest
    and segments shaded. The legend sits above the plots, never over a trace."""
    names = (PLOT_MEASURES_5 if table.n_points == 5 else PLOT_MEASURES).get(region, [])
    axes = fig.subplots(len(names), 1, sharex=True, squeeze=False)[:, 0]
    sl = _decimate(len(table.times_ms))
    for ax, name in zip(axes, names):
        for side, colour in zip(SIDES, (RIGHT_COLOUR, LEFT_COLOUR)):
            y, unit = _display(name, table.side(name, side))
            ax.plot(table.times_s[sl], y[sl], color=colour, lw=1.1, label=f"patient {side}")
        _shade(ax, analysis, table, region)
        ax.set_ylabel(f"{MEASURE_BY_NAME[name].label}\n({unit})")
        ax.grid(alpha=0.3, lw=0.5)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper right", ncols=2, frameon=False)
    axes[-1].set_xlabel("time (s)")


def region_chart_svg(table: MeasureTable, analysis: Analysis, region: str) -> str:
    """The region's chart (:func:`draw_region_chart`) as inline SVG."""
    matplotlib, Figure, FigureCanvasSVG = _matplotlib()
    names = (PLOT_MEASURES_5 if table.n_points == 5 else PLOT_MEASURES).get(region, [])
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": f"facemirror-{region}",
                                "font.size": 8}):
        fig = Figure(figsize=(9.0, 0.8 + 1.5 * len(names)), layout="constrained")
        draw_region_chart(fig, table, analysis, region)
        return svg_of(fig, FigureCanvasSVG)


# --- pictures --------------------------------------------------------------------------------
_CONTOURS_98 = [list(range(33)), list(range(33, 42)) + [33], list(range(42, 51)) + [42], [51, 52, 53, 54],
                list(range(55, 60)), list(range(60, 68)) + [60], list(range(68, 76)) + [68],
                list(range(76, 88)) + [76], list(range(88, 96)) + [88]]


def _midline_ends(angle_deg: float, point: Sequence[float] | np.ndarray, length: float) -> tuple[tuple[int, int], ...]:
    t = math.radians(angle_deg)
    d = np.array([math.sin(t), math.cos(t)])
    p = np.asarray(point, float)
    a, b = p - d * length, p + d * length
    return (int(round(a[0])), int(round(a[1]))), (int(round(b[0])), int(round(b[1])))


def _crop_box(pts: np.ndarray, shape: tuple[int, ...] | None) -> tuple[int, int, int, int]:
    """Box around the landmarks with a margin (wider for 5 points, which span eyes to mouth only)."""
    x0, y0 = np.min(pts, axis=0)
    x1, y1 = np.max(pts, axis=0)
    m = (0.25 if len(pts) == 98 else 0.8) * max(x1 - x0, y1 - y0)
    box = [x0 - m, y0 - m, x1 + m, y1 + m]
    if shape is not None:
        box = [max(0, box[0]), max(0, box[1]), min(shape[1], box[2]), min(shape[0], box[3])]
    return tuple(int(round(v)) for v in box)  # type: ignore[return-value]


def _canvas(frame: np.ndarray | None, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The face's crop scaled to PICTURE_WIDTH (a white canvas without a frame): (image, origin, zoom)."""
    x0, y0, x1, y1 = _crop_box(pts, None if frame is None else frame.shape)
    if x1 <= x0 or y1 <= y0:
        return np.zeros((0, 0, 3), np.uint8), np.zeros(2), 1.0
    zoom = PICTURE_WIDTH / (x1 - x0)
    size = (PICTURE_WIDTH, max(1, round((y1 - y0) * zoom)))
    img: np.ndarray
    if frame is None:
        img = np.full((size[1], size[0], 3), 255, np.uint8)
    else:
        interp = cv2.INTER_AREA if zoom < 1 else cv2.INTER_LINEAR
        img = cv2.resize(frame[y0:y1, x0:x1], size, interpolation=interp)
    return img, np.array([x0, y0], float), zoom


def frame_picture(frame: np.ndarray | None, points: np.ndarray, midline_angle_deg: float,
                  midline_point: Sequence[float] | np.ndarray) -> str:
    """Data-URI JPEG of the face (crop of ``frame``, or a drawing of the landmarks when None) with
    the landmarks, the midline and the patient's sides marked."""
    pts = np.asarray(points, float)
    if not np.all(np.isfinite(pts)):
        return ""
    img, origin, zoom = _canvas(frame, pts)
    if img.size == 0:
        return ""
    local = (pts - origin) * zoom
    if frame is None and len(pts) == 98:
        for c in _CONTOURS_98:
            cv2.polylines(img, [np.round(local[c]).astype(np.int32)], False, (120, 120, 120), 1, cv2.LINE_AA)
    mid = (np.asarray(midline_point, float) - origin) * zoom
    a, b = _midline_ends(midline_angle_deg, mid, 2.0 * max(img.shape[:2]))
    cv2.line(img, a, b, (0, 200, 255), 2, cv2.LINE_AA)
    for x, y in local:
        cv2.circle(img, (int(round(x)), int(round(y))), 2, (60, 220, 60), -1, cv2.LINE_AA)
    for text, x in (("patient R", 6), ("patient L", PICTURE_WIDTH - 72)):
        cv2.putText(img, text, (x, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 2, cv2.LINE_AA)
        cv2.putText(img, text, (x, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    ok, enc = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 82])
    if not ok:
        return ""
    return "data:image/jpeg;base64," + base64.b64encode(enc.tobytes()).decode("ascii")


PICTURE_BATCH = 4   # frames asked of the provider at once: a long recording has many segments, and
                    # holding every peak frame at full size made memory grow with the video's length


def measuring_axis(table: MeasureTable, i: int) -> tuple[float, tuple[float, float]] | None:
    """The measuring midline of frame ``i`` in image pixels: (angle_deg, point), or None."""
    fit = table.frames_fit
    if fit is None or not np.all(np.isfinite(fit.pose[i])):
        return None
    top, bottom = fit.to_image(i, np.array([[0.0, 1.0], [0.0, -3.0]]))
    d = bottom - top
    return math.degrees(math.atan2(d[0], d[1])), (float(top[0]), float(top[1]))


def pictures(track: LandmarkTrack, table: MeasureTable, indices: list[int], frame_provider) -> list[str]:
    """One data URI per frame index (photo when the provider gives the frame, else a drawing), with
    the midline the measures used in that frame."""
    out = []
    for start in range(0, len(indices), PICTURE_BATCH):
        batch = indices[start:start + PICTURE_BATCH]
        frames: list = [None] * len(batch)
        if frame_provider is not None:
            try:
                got = frame_provider([float(track.times_ms[i]) for i in batch])
                frames = list(got) + [None] * (len(batch) - len(got))
            except Exception:  # noqa: BLE001 - pictures are optional; the drawing stands in
                log.warning("could not read frames for the summary", exc_info=True)
        for i, frame in zip(batch, frames):
            axis = measuring_axis(table, i)
            out.append(frame_picture(frame, track.points[i], *axis) if axis else "")
    return out
