"""Another person in the patient's place without a scene cut (app/engine/face_change.py), on real
pipeline runs: reported with its time and in the verdict; one person moving raises nothing."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from app.pipeline.run import Pipeline, Settings
from tests import videos
from tests.conftest import MEDIA, _need


def _face_on_grey(photo: str, face_detector) -> np.ndarray:
    """The photo's face (1.6 x its box) on the same grey 960x720 background, at the same place: small
    enough in the picture that the whole-frame scene-cut test does not see the change."""
    im = cv2.imread(str(_need(MEDIA / photo)))
    b = max(face_detector.detect(im), key=lambda f: f.score).box
    side = 1.6 * max(b[2] - b[0], b[3] - b[1])
    crop = cv2.resize(cv2.getRectSubPix(im, (int(side), int(side)), ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)),
                      (210, 210), interpolation=cv2.INTER_AREA)
    canvas = np.full((720, 960, 3), 110, np.uint8)
    canvas[255:465, 375:585] = crop
    return canvas


@pytest.fixture(scope="module")
def swap_clip(tmp_path_factory, face_detector):
    """12 frames of one person, then 12 of another standing in the same place, both moving a little
    (the test compares each frame with the one before: a few frames on each side show the change)."""
    a, b = _face_on_grey("portrait_frontal.jpg", face_detector), _face_on_grey("portrait_frontal_2.jpg", face_detector)
    params = videos.transform_sequence(24, max_angle=2.0, max_shift=4.0, scale_amp=0.02)
    _, fa = videos.transformed_frames(a, params[:12], (480, 360), noise_sigma=2.0)
    _, fb = videos.transformed_frames(b, params[12:], (480, 360), noise_sigma=2.0, seed=1)
    return videos.write_video(tmp_path_factory.mktemp("swap") / "swap.mp4", list(fa) + list(fb))


def _report(result) -> dict:
    assert result.ok, result.error
    return json.loads(result.outputs["report"].read_text())


def test_another_person_in_the_same_place_is_reported_with_its_time(tmp_path, models_5pt, swap_clip):
    rep = _report(Pipeline(models_5pt, Settings(annotated=False)).process(swap_clip, tmp_path))
    cuts = rep["scene_cuts"]["cuts"]
    print("\ncuts:", cuts, "\nverdict:", rep["verdict"])
    assert len(cuts) == 1 and cuts[0]["time_s"] == pytest.approx(12 / 30, abs=0.01)
    assert cuts[0]["kind"] == "another face in the patient's place" and cuts[0]["identity_change"] is True
    reason = next(r for r in rep["verdict"]["reasons"] if "another face appears in the patient's place" in r)
    assert "0.40 s" in reason
    assert rep["verdict"]["level"] != "good"


def test_one_person_moving_has_no_cut(tmp_path, models_5pt, face_detector):
    a = _face_on_grey("portrait_frontal.jpg", face_detector)
    # the same sway as over 40 frames in 24: each frame moves more than before (a harder case), fewer frames to run
    params = videos.transform_sequence(24, max_angle=6.0, max_shift=12.0, scale_amp=0.05)
    _, frames = videos.transformed_frames(a, params, (480, 360), noise_sigma=2.0)
    clip = videos.write_video(tmp_path / "one.mp4", frames)
    rep = _report(Pipeline(models_5pt, Settings(annotated=False)).process(clip, tmp_path / "o"))
    assert rep["scene_cuts"]["cuts"] == []
