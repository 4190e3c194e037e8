"""Per-frame quality flags."""
from __future__ import annotations

import math

import numpy as np
import pytest

from app.engine.quality import (
    LOW_SCORE_THRESHOLD,
    QUALITY_CSV_COLUMNS,
    QUALITY_FLAGS,
    ROLL_MAX_DEG,
    YAW_MAX_DEG,
    FrameQuality,
    QualityCounter,
    assess_frame,
    estimate_roll_deg,
    estimate_yaw_deg,
)

W, H = 1280, 720
BOX = (500.0, 200.0, 780.0, 560.0)


def five_points(cx=640.0, cy=330.0, eye_half=50.0, nose_shift=0.0, roll_deg=0.0):
    """RetinaFace-order 5 points of a frontal face, optionally rolled about (cx, cy)."""
    p = np.array([[-eye_half, 0.0], [eye_half, 0.0], [nose_shift, 45.0], [-35.0, 90.0], [35.0, 90.0]])
    a = math.radians(roll_deg)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    return p @ rot.T + [cx, cy]


def wflw98_frontal(cx=640.0, cy=330.0, yaw_deg=0.0):
    """98 points placed on a simple 3D face (eyes at depth 0, nose tip 45 px in front), rotated
    about the vertical axis by yaw_deg and projected orthographically."""
    rng = np.random.default_rng(0)
    pts3 = np.zeros((98, 3))
    pts3[:, 0] = rng.uniform(-60, 60, 98)
    pts3[:, 1] = rng.uniform(-60, 120, 98)
    pts3[60] = (-45, 0, 0)      # outer corner, image-left eye
    pts3[72] = (45, 0, 0)       # outer corner, image-right eye
    pts3[60:68, :2] = pts3[60, :2] + rng.uniform(-5, 25, (8, 2)) * [1, 0.2]
    pts3[68:76, :2] = pts3[72, :2] - rng.uniform(-5, 25, (8, 2)) * [1, 0.2]
    pts3[60] = (-45, 0, 0)
    pts3[72] = (45, 0, 0)
    pts3[54] = (0, 50, 45)      # nose tip, 45 units in front of the eye corners
    a = math.radians(yaw_deg)
    x = pts3[:, 0] * math.cos(a) + pts3[:, 2] * math.sin(a)
    return np.stack([x + cx, pts3[:, 1] + cy], axis=1)


def test_good_frontal_frame_is_ok():
    q = assess_frame((W, H), box=BOX, score=0.99, landmarks=wflw98_frontal())
    assert q.ok and q.names() == () and q.message() == ""
    assert abs(q.yaw_deg) < 1e-6 and abs(q.roll_deg) < 5


def test_no_face():
    q = assess_frame((W, H))
    assert q.no_face and not q.ok and q.names() == ("no_face",)
    assert q.roll_deg is None and q.yaw_deg is None


def test_low_score():
    assert assess_frame((W, H), box=BOX, score=LOW_SCORE_THRESHOLD - 0.01, landmarks=five_points()).low_score
    assert not assess_frame((W, H), box=BOX, score=LOW_SCORE_THRESHOLD + 0.01, landmarks=five_points()).low_score
    assert not assess_frame((W, H), box=BOX, score=None, landmarks=five_points()).low_score


def test_partly_outside_by_box_or_landmarks():
    # box slightly past the border (within the 10 % tolerance): fine
    assert not assess_frame((W, H), box=(-10.0, 200.0, 280.0, 560.0), score=0.99).partly_outside
    # box well past the border
    assert assess_frame((W, H), box=(-100.0, 200.0, 180.0, 560.0), score=0.99).partly_outside
    assert assess_frame((W, H), box=(1100.0, 500.0, 1380.0, 860.0), score=0.99).partly_outside
    # a landmark outside the frame
    pts = wflw98_frontal(cx=40.0)          # jaw/eye points with negative x
    assert (pts[:, 0] < 0).any()
    assert assess_frame((W, H), box=(0.0, 200.0, 280.0, 560.0), score=0.99, landmarks=pts).partly_outside


def test_roll_flag_and_sign():
    # image-right eye lower -> positive roll
    assert estimate_roll_deg(five_points(roll_deg=10.0)) == pytest.approx(10.0)
    q = assess_frame((W, H), box=BOX, score=0.99, landmarks=five_points(roll_deg=ROLL_MAX_DEG + 5))
    assert q.roll and q.roll_deg == pytest.approx(ROLL_MAX_DEG + 5)
    q = assess_frame((W, H), box=BOX, score=0.99, landmarks=five_points(roll_deg=-(ROLL_MAX_DEG + 5)))
    assert q.roll
    assert not assess_frame((W, H), box=BOX, score=0.99, landmarks=five_points(roll_deg=ROLL_MAX_DEG - 5)).roll


@pytest.mark.parametrize("yaw", [-30.0, -20.0, -8.0, 0.0, 8.0, 20.0, 30.0])
def test_yaw_estimate_98_points_recovers_model_yaw(yaw):
    """On the geometric model the estimator assumes (a/d = 1) it recovers the yaw exactly; the sign
    is positive when the nose points to the image right."""
    est = estimate_yaw_deg(wflw98_frontal(yaw_deg=yaw))
    assert est == pytest.approx(yaw, abs=1e-6)
    q = assess_frame((W, H), box=BOX, score=0.99, landmarks=wflw98_frontal(yaw_deg=yaw))
    assert q.yaw == (abs(yaw) > YAW_MAX_DEG)


def test_yaw_estimate_5_points_and_roll_invariance():
    # nose tip shifted towards the image right by a quarter of the eye distance -> t = 0.75
    pts = five_points(eye_half=50.0, nose_shift=25.0)
    expected = math.degrees(math.atan(0.5))
    assert estimate_yaw_deg(pts) == pytest.approx(expected)
    assert estimate_yaw_deg(five_points(eye_half=50.0, nose_shift=25.0, roll_deg=25.0)) == pytest.approx(expected)
    q = assess_frame((W, H), box=BOX, score=0.99, landmarks=pts)
    assert q.yaw and q.coarse_landmarks
    assert q.names() == ("yaw", "coarse_landmarks")
    assert "head turned" in q.message() and "5 points" in q.message()


def test_coarse_landmarks_flag():
    assert assess_frame((W, H), box=BOX, score=0.99, landmarks=five_points()).coarse_landmarks
    assert not assess_frame((W, H), box=BOX, score=0.99, landmarks=wflw98_frontal()).coarse_landmarks
    assert assess_frame((W, H), box=BOX, score=0.99, landmarks=wflw98_frontal(), coarse=True).coarse_landmarks
    with pytest.raises(ValueError):
        assess_frame((W, H), box=BOX, landmarks=np.zeros((68, 2)))


def test_csv_and_counter():
    q = assess_frame((W, H), box=BOX, score=0.5, landmarks=five_points(roll_deg=30.0))
    d = q.as_dict()
    assert tuple(d) == QUALITY_CSV_COLUMNS
    assert d["q_low_score"] == 1 and d["q_roll"] == 1 and d["q_no_face"] == 0
    assert d["roll_deg"] == pytest.approx(30.0)
    assert d["quality_flags"] == "low_score;roll;coarse_landmarks"
    assert FrameQuality(no_face=True).as_dict()["yaw_deg"] == ""

    c = QualityCounter()
    c.extend([q, FrameQuality(no_face=True), FrameQuality()])
    counts = c.as_dict()
    assert counts["frames"] == 3 and counts["frames_ok"] == 1
    assert counts["no_face"] == 1 and counts["roll"] == 1 and counts["yaw"] == 0
    assert set(QUALITY_FLAGS) <= set(counts)


def test_recorded_retinaface_points_from_real_photographs():
    """5 points RetinaFace (this project's detector) found on the test photographs, recorded here
    so the test needs neither the model nor the media: portrait_frontal.jpg is frontal;
    portrait_frontal_2.jpg shows a head visibly turned towards the image right and tilted."""
    frontal = np.array([[439.4, 208.6], [548.4, 207.8], [497.6, 273.9], [440.1, 313.4], [553.4, 312.5]])
    q = assess_frame((910, 1137), box=(375.8, 79.8, 603.5, 423.1), score=0.9997, landmarks=frontal)
    assert q.names() == ("coarse_landmarks",)
    assert abs(q.yaw_deg) < 5 and abs(q.roll_deg) < 2
    turned = np.array([[529.9, 324.8], [659.7, 342.4], [601.2, 401.2], [521.4, 464.9], [629.9, 479.9]])
    q = assess_frame((970, 2204), box=(427.6, 186.7, 708.0, 563.7), score=0.9986, landmarks=turned)
    assert q.yaw and q.yaw_deg > YAW_MAX_DEG and 5 < q.roll_deg < ROLL_MAX_DEG
