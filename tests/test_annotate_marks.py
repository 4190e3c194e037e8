"""Banners on flagged frames and the untrained-model mark: checked by pixels in the 480-pixel
preview the window shows (the frame scaled so its longest side is 480)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.engine.annotate import (COLOR_ERROR, COLOR_WARNING, annotate_frame, banner_for, draw_banner,
                                 stamp_untrained)
from app.engine.quality import FrameQuality


def preview(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    s = 480 / max(w, h)
    return cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)


def scene(w: int, h: int) -> np.ndarray:
    """A busy picture (gradients and noise), so a band can only come from the drawing."""
    rng = np.random.default_rng(1)
    x = np.linspace(0, 255, w, dtype=np.float32)[None, :, None]
    y = np.linspace(0, 255, h, dtype=np.float32)[:, None, None]
    img = (0.5 * x + 0.3 * y + rng.normal(0, 20, (h, w, 3))).clip(0, 255)
    return img.astype(np.uint8)


def band_rows(img: np.ndarray, colour, tol: int = 40, share: float = 0.6) -> np.ndarray:
    """Indices of rows where most pixels have the band colour (text pixels aside)."""
    near = np.all(np.abs(img.astype(int) - np.array(colour)) <= tol, axis=2)
    return np.flatnonzero(near.mean(axis=1) >= share)


def text_rows(img: np.ndarray, rows: np.ndarray, colour, tol: int = 60) -> np.ndarray:
    """Rows (of `rows`) that hold text pixels of the given colour."""
    near = np.all(np.abs(img[rows].astype(int) - np.array(colour)) <= tol, axis=2)
    return rows[near.sum(axis=1) >= 3]


@pytest.mark.parametrize("size", [(1920, 1080), (1280, 720), (640, 360), (1080, 1920)])
def test_banner_is_readable_at_preview_size(size):
    w, h = size
    q = FrameQuality(yaw=True, yaw_deg=-68.0)
    text, level = banner_for(q)
    assert text == "HEAD TURNED 68 DEG" and level == "warning"
    p = preview(annotate_frame(scene(w, h), warning=text, warning_level=level))
    rows = band_rows(p, COLOR_WARNING)
    assert rows.size and rows[-1] - rows[0] + 1 >= 28 and rows[0] <= 1   # top band, >= 28 px
    ink = text_rows(p, np.arange(rows[0], rows[-1] + 1), (0, 0, 0))
    assert ink.size and ink[-1] - ink[0] + 1 >= 10                 # black letters at least 10 px high


def test_no_face_banner_is_red_with_white_text():
    text, level = banner_for(FrameQuality(no_face=True))
    assert (text, level) == ("NO FACE FOUND", "error")
    p = preview(annotate_frame(scene(1920, 1080), warning=text, warning_level=level))
    rows = band_rows(p, COLOR_ERROR)
    assert rows.size and rows[-1] - rows[0] + 1 >= 28 and rows[0] <= 1
    assert text_rows(p, np.arange(rows[0], rows[-1] + 1), (255, 255, 255)).size >= 8


def test_five_point_flag_alone_gets_no_banner_but_others_do():
    assert banner_for(FrameQuality(coarse_landmarks=True)) is None
    assert banner_for(FrameQuality()) is None
    text, _ = banner_for(FrameQuality(coarse_landmarks=True, roll=True, roll_deg=20.4, partly_outside=True))
    assert text == "FACE PARTLY OUTSIDE / HEAD TILTED 20 DEG"


def test_annotated_frame_without_warning_has_no_band():
    p = preview(annotate_frame(scene(1280, 720)))
    assert len(band_rows(p, COLOR_WARNING)) == 0 and len(band_rows(p, COLOR_ERROR)) == 0


@pytest.mark.parametrize("size", [(1920, 1080), (640, 360), (1080, 1920)])
def test_untrained_mark_across_the_bottom(size):
    w, h = size
    img = scene(w, h)
    out = stamp_untrained(img)
    assert out is img                                              # in place (mirrored buffers are reused)
    p = preview(img)
    rows = band_rows(p, COLOR_ERROR)
    assert rows.size and rows[-1] - rows[0] + 1 >= 28 and rows[-1] >= p.shape[0] - 2
    rows = np.arange(rows[0], rows[-1] + 1)
    ink = text_rows(p, rows, (255, 255, 255))
    assert ink.size and ink[-1] - ink[0] + 1 >= 10
    # the text is neither cut ("...") nor so long it leaves the frame: every column of the band
    # that holds white text lies inside the picture, and both halves of the band hold text
    white = np.all(p[rows] >= 200, axis=2).any(axis=0)
    half = p.shape[1] // 2
    assert white[:half].any() and white[half:].any()


def test_long_text_on_a_portrait_frame_goes_on_two_lines():
    img = scene(1080, 1920)
    draw_banner(img, "UNTRAINED MODEL - NOT FOR CLINICAL USE", "error", at_top=True)
    one = scene(1920, 1080)
    draw_banner(one, "UNTRAINED MODEL - NOT FOR CLINICAL USE", "error", at_top=True)
    assert len(band_rows(preview(img), COLOR_ERROR)) > 1.5 * len(band_rows(preview(one), COLOR_ERROR))
