"""Face proportions for "another person after a cut" are compared on near-frontal faces only:
built from 5-point faces of known geometry (a frontal face turned by a known yaw, rolled, and a
profile where the detector's eye points fall together)."""
from __future__ import annotations

import math

import numpy as np

from app.engine.identity import CHANGE_IPD, CutLog, face_proportions


def _face(yaw_deg: float = 0.0, roll_deg: float = 0.0, mouth_width: float = 0.9) -> np.ndarray:
    """Right eye, left eye, nose tip, mouth corners of a head (pupil distance 1) seen at a yaw:
    the nose tip stands 1.2 pupil distances in front of the eyes' plane, the mouth 0.3."""
    pts3 = np.array([[-0.5, 0, 0], [0.5, 0, 0], [0, 0.6, 1.2],
                     [-mouth_width / 2, 1.1, 0.3], [mouth_width / 2, 1.1, 0.3]])
    y, r = math.radians(yaw_deg), math.radians(roll_deg)
    x = pts3[:, 0] * math.cos(y) + pts3[:, 2] * math.sin(y)      # orthographic view after the yaw
    xy = np.stack([x, pts3[:, 1]], axis=1)
    rot = np.array([[math.cos(r), -math.sin(r)], [math.sin(r), math.cos(r)]])
    return 100.0 + 80.0 * xy @ rot.T


def test_frontal_and_rolled_faces_give_the_same_proportions():
    a, b = face_proportions(_face()), face_proportions(_face(roll_deg=25))
    assert a is not None and b is not None
    np.testing.assert_allclose(a, [0.9, 1.1, 0.6], atol=1e-9)
    np.testing.assert_allclose(a, b, atol=1e-9)


def test_a_slightly_turned_face_is_compared_and_a_turned_one_is_not():
    assert face_proportions(_face(yaw_deg=10)) is not None
    assert face_proportions(_face(yaw_deg=30)) is None        # the nose stands off the eyes' middle


def test_a_profile_whose_eye_points_fall_together_is_not_compared():
    p = _face()
    p[0] = p[1] - [4.0, 0.0]           # the far eye's point on top of the near one (the press clip's profiles)
    p[2] = (p[0] + p[1]) / 2 + [0, 48]
    assert face_proportions(p) is None


def test_a_cut_between_profiles_is_not_judged_and_between_two_people_is():
    log = CutLog(window=5)
    for i in range(5):
        log.add(i * 33.0, False, _face(yaw_deg=70))             # profile before the cut
    log.add(200.0, True, _face())
    for i in range(5):
        log.add(233.0 + i * 33, False, _face())
    log.add(500.0, True, _face(mouth_width=1.2))                  # another mouth: another person
    for i in range(5):
        log.add(533.0 + i * 33, False, _face(mouth_width=1.2))
    cuts = log.as_dict()["cuts"]
    assert cuts[0]["identity_change"] is None and cuts[0]["proportion_change_ipd"] is None
    assert cuts[1]["identity_change"] is True
    assert abs(cuts[1]["proportion_change_ipd"] - 0.3) < 1e-6 and cuts[1]["proportion_change_ipd"] > CHANGE_IPD
