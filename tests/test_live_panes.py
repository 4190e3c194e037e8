"""The live panes drawn at the size shown (app/live/panes.py, shared by the window and the headless
session): the scale steps, and the mirrored panes at a reduced size put a mark and its reflection
where the geometry of the full-size frame says, for an upright and a tilted midline."""
from __future__ import annotations

import math

import numpy as np
import pytest

from app.engine.midline import Midline
from app.live.panes import DISPLAY_MIN_WIDTH, WIDTH_STEP, PaneDrawer, pane_scale


def test_pane_scale_steps_never_enlarges_and_keeps_a_minimum():
    assert pane_scale(1280, 0) == 1.0                      # 0: the camera's full size
    assert pane_scale(1280, 5000) == 1.0                   # never enlarged
    assert pane_scale(1280, 600) == 640 / 1280             # rounded up to the next step
    assert pane_scale(1280, 601) == pane_scale(1280, 640)  # one step for a range of window sizes
    assert pane_scale(1280, 100) == DISPLAY_MIN_WIDTH / 1280
    assert (pane_scale(1920, 700) * 1920) % WIDTH_STEP == 0


def _bright_spots(img: np.ndarray) -> list[tuple[float, float]]:
    """Centres (x, y) of the bright blobs of a pane (the marks put on a dark frame)."""
    import cv2

    mask = (img[..., 1] > 120).astype(np.uint8)
    n, _, stats, centroids = cv2.connectedComponentsWithStats(mask)
    return sorted((float(c[0]), float(c[1])) for c, s in zip(centroids[1:], stats[1:]) if s[4] >= 3)


@pytest.mark.parametrize("tilt_deg", [0.0, 8.0])
def test_mirrored_panes_at_half_size_put_the_mark_and_its_reflection_where_geometry_says(tilt_deg):
    import cv2

    w, h, scale = 1280, 720, 0.5
    frame = np.full((h, w, 3), 30, np.uint8)
    mark = (900.0, 300.0)                                     # on the image-right side: the patient's left
    cv2.circle(frame, (int(mark[0]), int(mark[1])), 12, (0, 255, 0), -1)
    # the midline: through (660, 360), tilted tilt_deg from upright (its direction vector)
    p0 = np.array([660.0, 360.0])
    u = np.array([math.sin(math.radians(tilt_deg)), math.cos(math.radians(tilt_deg))])
    line = Midline.from_point_direction(p0, u, (640.0, 360.0))
    # truth, computed here from the geometry (not by the code under test): the mark's reflection
    # across the line (foot of the perpendicular, then as far again), then both scaled to the pane
    m = np.array(mark)
    foot = p0 + np.dot(m - p0, u) * u
    mirrored = 2 * foot - m
    expected = sorted([(mark[0] * scale, mark[1] * scale), (mirrored[0] * scale, mirrored[1] * scale)])

    panes = PaneDrawer().draw(frame, line, None, scale)
    assert panes.left.shape == (h // 2, w // 2, 3) and panes.camera.shape == (h // 2, w // 2, 3)
    spots = _bright_spots(panes.left)                        # anatomical left: the mark kept and mirrored
    assert len(spots) == 2
    for got, want in zip(spots, expected):
        assert math.dist(got, want) < 1.5, (spots, expected)
    assert _bright_spots(panes.right) == []                  # the other side has no mark


def test_the_drawer_reuses_its_buffers_and_remakes_them_for_a_new_size():
    drawer = PaneDrawer()
    frame = np.zeros((240, 320, 3), np.uint8)
    a = drawer.draw(frame, Midline.vertical((320, 240)), None, 1.0)
    b = drawer.draw(frame, Midline.vertical((320, 240)), None, 1.0)
    assert a.left is b.left                                  # no two frame-sized allocations per frame
    c = drawer.draw(np.zeros((480, 640, 3), np.uint8), Midline.vertical((640, 480)), None, 1.0)
    assert c.left.shape == (480, 640, 3)


def test_landmarks_are_drawn_scaled_onto_the_camera_pane():
    frame = np.zeros((400, 800, 3), np.uint8)
    points = np.array([[700.0, 100.0]])                      # far right, near the top
    panes = PaneDrawer().draw(frame, Midline.vertical((800, 400)), points, 0.5)
    near = panes.camera[40:60, 340:360]                      # (350, 50) in the half-size pane
    far = panes.camera[140:160, 20:40]
    assert near.max() > 100 and far.max() == 0
