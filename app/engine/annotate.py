"""Draw the annotated frame: landmarks, face box, midline, patient-side labels, quality warning.

Qt-free and torch-free (numpy + OpenCV drawing).

``annotate_frame(frame, *, landmarks=None, box=None, midline=None, raw_midline=None,
warning=None, source_mirrored=False) -> np.ndarray``

Draws on a COPY of ``frame`` (BGR uint8) and returns it:

* landmarks: (N, 2) points in frame pixels, small filled dots (green; 5-point input in yellow);
* box: (x1, y1, x2, y2) rectangle (light blue);
* midline: the (smoothed) line across the whole frame (magenta), optionally the raw line thinner
  (grey) to show how much smoothing moved it;
* labels "R" on the image-left side of the midline and "L" on the image-right side: the patient's
  right and left in an unmirrored recording (swapped when ``source_mirrored=True``);
* warning: a string (e.g. ``FrameQuality.message()``) drawn as a banner across the top (see
  below); ``warning_level`` "error" (red) or "warning" (amber).

Banners and marks must be readable in the window's 480-pixel preview (the longest side scaled to
480), so they are sized in preview pixels, not frame pixels: a banner is ``BANNER_PREVIEW_PX``
(32) preview pixels high with text about half of that (at least 11 preview pixels; longer text
is shrunk to fit the width down to that, then cut with "..."), black on amber or white on red:
at 1920 x 1080 that is a 128-pixel band.

``banner_for(quality) -> (text, level) | None``: what the annotated video shows on a flagged
frame ("NO FACE FOUND", "HEAD TURNED 68 DEG", ...; the 5-point flag, set on every frame of a
5-point run, is not a per-frame banner). ``draw_banner(img, text, level, at_top)`` draws one in
place. ``stamp_untrained(img)`` draws the "UNTRAINED MODEL - NOT FOR CLINICAL USE" band across
the bottom of any output frame (annotated and mirrored: applied after mirroring, so the text is
never reflected).

Sizes (dot radius, line width, font) scale with the frame so the drawing reads the same at 360p
and 4K. Anti-aliased lines; all drawing is OpenCV (well under 1 ms for 98 points at 1080p apart
from the one frame copy).
"""
from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np

from app.engine.midline import Midline

__all__ = ["annotate_frame", "side_label_positions", "banner_for", "draw_banner", "stamp_untrained",
           "UNTRAINED_MARK"]

COLOR_LANDMARK = (0, 255, 0)
COLOR_LANDMARK_COARSE = (0, 255, 255)
COLOR_BOX = (255, 200, 0)
COLOR_MIDLINE = (255, 0, 255)
COLOR_RAW_MIDLINE = (160, 160, 160)
COLOR_LABEL = (255, 255, 255)
COLOR_WARNING = (0, 165, 255)         # amber band (BGR), black text
COLOR_ERROR = (0, 0, 200)             # red band, white text
FONT = cv2.FONT_HERSHEY_SIMPLEX
BANNER_FONT = cv2.FONT_HERSHEY_DUPLEX
PREVIEW_SIDE = 480                    # the window's preview: longest side in pixels
BANNER_PREVIEW_PX = 32                # banner height in preview pixels
MIN_TEXT_PREVIEW_PX = 11              # smallest text height in preview pixels
UNTRAINED_MARK = "UNTRAINED MODEL - NOT FOR CLINICAL USE"
_BANNER_WORDS = {"no_face": "NO FACE FOUND", "low_score": "UNCERTAIN FACE", "partly_outside": "FACE PARTLY OUTSIDE",
                 "roll": "HEAD TILTED", "yaw": "HEAD TURNED"}


def _scale(w: int, h: int) -> float:
    return max(min(w, h) / 720.0, 0.35)


def _pt(p) -> tuple[int, int]:
    return (int(round(float(p[0]))), int(round(float(p[1]))))


def side_label_positions(midline: Midline, frame_size: Sequence[int], offset_px: float,
                         box: Sequence[float] | None = None
                         ) -> tuple[tuple[float, float], tuple[float, float]]:
    """Centres for the image-left and image-right labels, ``offset_px`` either side of the line
    (along its normal), clamped into the frame. With a face ``box`` they sit beside the face at a
    quarter of its height (offset at least half the box width, so they do not cover the face);
    without one, 12 % down the visible part of the line."""
    w, h = frame_size
    anchor = None
    if box is not None and all(math.isfinite(float(v)) for v in box):
        x1, y1, x2, y2 = (float(v) for v in box)
        ya = y1 + 0.25 * (y2 - y1)
        xa = midline.x_at(ya)
        if xa is not None:
            anchor = (xa, ya)
            offset_px = max(offset_px, 0.5 * (x2 - x1) + 0.6 * offset_px)
    if anchor is None:
        seg = midline.segment_in_frame((w, h))
        if seg is None:
            anchor = (w / 2.0, 0.12 * h)
        else:
            (x0, y0), (x1, y1) = seg
            anchor = (x0 + 0.12 * (x1 - x0), y0 + 0.12 * (y1 - y0))
    nx, ny = midline.normal
    margin = 25.0 * _scale(w, h)

    def clamp(x, y):
        return (min(max(x, margin), w - 1 - margin), min(max(y, margin), h - 1 - margin))

    left = clamp(anchor[0] - offset_px * nx, anchor[1] - offset_px * ny)
    right = clamp(anchor[0] + offset_px * nx, anchor[1] + offset_px * ny)
    return left, right


def _draw_line(img, midline: Midline, color, thickness: int) -> None:
    h, w = img.shape[:2]
    seg = midline.segment_in_frame((w, h))
    if seg is not None:
        cv2.line(img, _pt(seg[0]), _pt(seg[1]), color, thickness, cv2.LINE_AA)


def _centered_text(img, text: str, centre, scale: float, thickness: int, color) -> None:
    (tw, th), _ = cv2.getTextSize(text, FONT, scale, thickness)
    org = (int(round(centre[0] - tw / 2)), int(round(centre[1] + th / 2)))
    cv2.putText(img, text, org, FONT, scale, (0, 0, 0), thickness + max(2, thickness), cv2.LINE_AA)
    cv2.putText(img, text, org, FONT, scale, color, thickness, cv2.LINE_AA)


def banner_for(quality) -> tuple[str, str] | None:
    """(text, level) for a frame's quality flags (app.engine.quality.FrameQuality), or None when
    the frame needs no banner. No face is an "error" (red); the other flags are "warning" (amber)."""
    parts = quality.worded(_BANNER_WORDS, lambda _flag, deg: f" {abs(deg):.0f} DEG")
    if not parts:
        return None
    return " / ".join(parts), ("error" if quality.no_face else "warning")


def _preview_unit(w: int, h: int) -> float:
    """Frame pixels per preview pixel (1 for frames no larger than the preview)."""
    return max(max(w, h) / PREVIEW_SIDE, 1.0)


def _fit_text(text: str, max_w: int, target_h: float, min_h: float) -> tuple[str, float, int]:
    """Font scale and thickness so the text is target_h high, shrunk to fit max_w but not below
    min_h; beyond that the text is cut with '...'."""
    (_, h1), _ = cv2.getTextSize("X", BANNER_FONT, 1.0, 1)
    scale = target_h / h1
    thick = max(1, int(round(scale * 1.6)))
    (tw, _), _ = cv2.getTextSize(text, BANNER_FONT, scale, thick)
    if tw > max_w:
        scale = max(scale * max_w / tw, min_h / h1)
        thick = max(1, int(round(scale * 1.6)))
    while len(text) > 4 and cv2.getTextSize(text, BANNER_FONT, scale, thick)[0][0] > max_w:
        text = text[:-4].rstrip(" /-") + "..."
    return text, scale, thick


def _two_lines(text: str) -> list[str]:
    """Split at the separator (" / ", " - ") or space nearest the middle."""
    cuts = [i for i in range(len(text)) if text.startswith((" / ", " - "), i)] or \
        [i for i, c in enumerate(text) if c == " "]
    if not cuts:
        return [text]
    i = min(cuts, key=lambda k: abs(k - len(text) / 2))
    rest = text[i:].lstrip(" /-") if text.startswith((" / ", " - "), i) else text[i + 1:]
    return [text[:i], rest]


def draw_banner(img: np.ndarray, text: str, level: str = "warning", at_top: bool = True) -> None:
    """A full-width band with centred text, in place, sized for the 480-pixel preview. Text too
    long for one line at the smallest size (a portrait video) goes on two lines."""
    h, w = img.shape[:2]
    unit = _preview_unit(w, h)
    line_h = int(round(BANNER_PREVIEW_PX * unit))
    pad = int(round(4 * unit))
    (_, h1), _ = cv2.getTextSize("X", BANNER_FONT, 1.0, 1)
    min_scale = MIN_TEXT_PREVIEW_PX * unit / h1
    min_w = cv2.getTextSize(text, BANNER_FONT, min_scale, max(1, int(round(min_scale * 1.6))))[0][0]
    lines = _two_lines(text) if min_w > w - 2 * pad else [text]
    band_h = min(h, line_h * len(lines) - (line_h // 4) * (len(lines) - 1))
    y0 = 0 if at_top else h - band_h
    bg, fg = (COLOR_ERROR, (255, 255, 255)) if level == "error" else (COLOR_WARNING, (0, 0, 0))
    img[y0:y0 + band_h, :] = bg
    step = band_h / len(lines)
    for k, line in enumerate(lines):
        line, scale, thick = _fit_text(line, w - 2 * pad, 0.5 * line_h, MIN_TEXT_PREVIEW_PX * unit)
        (tw, th), _ = cv2.getTextSize(line, BANNER_FONT, scale, thick)
        org = (max(pad, (w - tw) // 2), int(round(y0 + k * step + (step + th) / 2)))
        cv2.putText(img, line, org, BANNER_FONT, scale, fg, thick, cv2.LINE_AA)


def stamp_untrained(img: np.ndarray) -> np.ndarray:
    """The untrained-model mark across the bottom of an output frame, in place; returns img."""
    draw_banner(img, UNTRAINED_MARK, "error", at_top=False)
    return img


def _draw_box(out: np.ndarray, box: Sequence[float], lw: int) -> None:
    x1, y1, x2, y2 = (float(v) for v in box)
    if all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        cv2.rectangle(out, _pt((x1, y1)), _pt((x2, y2)), COLOR_BOX, lw, cv2.LINE_AA)


def _draw_landmarks(out: np.ndarray, landmarks, s: float) -> None:
    """Dots at the finite landmarks; the 5 coarse points larger and in their own colour."""
    pts = np.asarray(landmarks, dtype=np.float64).reshape(-1, 2)
    color = COLOR_LANDMARK_COARSE if len(pts) <= 5 else COLOR_LANDMARK
    r = max(1, int(round(2 * s))) if len(pts) > 5 else max(2, int(round(3 * s)))
    for p in pts[np.all(np.isfinite(pts), axis=1)]:
        cv2.circle(out, _pt(p), r, color, -1, cv2.LINE_AA)


def _draw_side_labels(out: np.ndarray, midline: Midline, box: Sequence[float] | None, s: float,
                      source_mirrored: bool) -> None:
    h, w = out.shape[:2]
    font_scale = 1.2 * s
    thick = max(1, int(round(2.5 * s)))
    left_pos, right_pos = side_label_positions(midline, (w, h), offset_px=45 * s, box=box)
    # image-left side shows the patient's RIGHT in an unmirrored recording
    image_left_label, image_right_label = ("L", "R") if source_mirrored else ("R", "L")
    _centered_text(out, image_left_label, left_pos, font_scale, thick, COLOR_LABEL)
    _centered_text(out, image_right_label, right_pos, font_scale, thick, COLOR_LABEL)


def annotate_frame(frame: np.ndarray, *, landmarks=None, box: Sequence[float] | None = None,
                   midline: Midline | None = None, raw_midline: Midline | None = None,
                   warning: str | None = None, warning_level: str = "warning",
                   banner: tuple[str, str] | None = None, source_mirrored: bool = False) -> np.ndarray:
    """Return an annotated copy of ``frame`` (see the module docstring). ``banner``: a
    (text, level) pair from ``banner_for``, the same as warning=text, warning_level=level."""
    if banner is not None:
        warning, warning_level = banner
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError("frame must be an HxWx3 BGR image")
    out = frame.copy()
    h, w = out.shape[:2]
    s = _scale(w, h)
    lw = max(1, int(round(2 * s)))

    if box is not None:
        _draw_box(out, box, lw)
    if raw_midline is not None:
        _draw_line(out, raw_midline, COLOR_RAW_MIDLINE, max(1, lw // 2))
    if midline is not None:
        _draw_line(out, midline, COLOR_MIDLINE, lw)
    if landmarks is not None:
        _draw_landmarks(out, landmarks, s)
    if midline is not None:
        _draw_side_labels(out, midline, box, s, source_mirrored)

    if warning:
        draw_banner(out, warning, warning_level, at_top=True)
    return out
