"""Verdicts that do not mislead, on real pipeline runs (issue: honest in every case).

A cut to another person in the same place, a landmark model that does not match the face, a
recording too short for measures, `process --rest`, and the player's clock in the report.
"""
from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from app.engine.model_check import MAX_DISAGREEMENT, disagreement
from app.pipeline import Pipeline, Settings
from tests import videos
from tests.conftest import MEDIA, REPO, _need


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
    """20 frames of one person, then 20 of another standing in the same place, both moving a little."""
    a, b = _face_on_grey("portrait_frontal.jpg", face_detector), _face_on_grey("portrait_frontal_2.jpg", face_detector)
    params = videos.transform_sequence(40, max_angle=2.0, max_shift=4.0, scale_amp=0.02)
    _, fa = videos.transformed_frames(a, params[:20], (480, 360), noise_sigma=2.0)
    _, fb = videos.transformed_frames(b, params[20:], (480, 360), noise_sigma=2.0, seed=1)
    return videos.write_video(tmp_path_factory.mktemp("swap") / "swap.mp4", list(fa) + list(fb))


def _report(result) -> dict:
    assert result.ok, result.error
    return json.loads(result.outputs["report"].read_text())


def test_another_person_in_the_same_place_is_reported_with_its_time(tmp_path, models_5pt, swap_clip):
    rep = _report(Pipeline(models_5pt, Settings(annotated=False)).process(swap_clip, tmp_path))
    print("\ncuts:", rep["cuts"], "\nverdict:", rep["verdict"])
    assert [c["frame"] for c in rep["cuts"]] == [20]
    assert rep["cuts"][0]["kind"] == "another face in the patient's place"
    reason = next(r for r in rep["verdict"]["reasons"] if "not one continuous take" in r)
    assert "(frame 20)" in reason and "0:01" in reason   # 20 frames at 30 fps = 0.67 s
    assert rep["verdict"]["level"] != "good"


def test_one_person_moving_has_no_cut(tmp_path, models_5pt, face_detector):
    a = _face_on_grey("portrait_frontal.jpg", face_detector)
    params = videos.transform_sequence(40, max_angle=6.0, max_shift=12.0, scale_amp=0.05)
    _, frames = videos.transformed_frames(a, params, (480, 360), noise_sigma=2.0)
    clip = videos.write_video(tmp_path / "one.mp4", frames)
    rep = _report(Pipeline(models_5pt, Settings(annotated=False)).process(clip, tmp_path / "o"))
    assert rep["cuts"] == []


def test_random_weights_star_disagrees_with_the_detector(star_dev_model, face_detector):
    """The measured side of the model check's limit: the random-weights STAR is far beyond it."""
    from app.engine.landmarks import StarLandmarkDetector

    star = StarLandmarkDetector(star_dev_model)
    values = []
    for photo in ("portrait_frontal.jpg", "portrait_frontal_2.jpg"):
        im = cv2.imread(str(_need(MEDIA / photo)))
        face = max(face_detector.detect(im), key=lambda f: f.score)
        m = star.preprocess(im, face.box)
        values.append(disagreement(star.to_frame(star.infer(), m), face.points))
    print(f"\nrandom-weights STAR vs detector: {[round(v, 2) for v in values]} eye distances "
          f"(limit {MAX_DISAGREEMENT})")
    assert min(values) > 2 * MAX_DISAGREEMENT


def test_consistent_landmarks_pass_the_check(face_detector):
    """A model whose points sit where the detector's do (within a few per cent) passes."""
    im = cv2.imread(str(_need(MEDIA / "portrait_frontal.jpg")))
    face = max(face_detector.detect(im), key=lambda f: f.score)
    p5 = face.points
    star = np.zeros((98, 2))
    ipd = np.hypot(*(p5[1] - p5[0]))
    ring = 0.1 * ipd * np.stack([np.cos(np.arange(8) * np.pi / 4), 0.4 * np.sin(np.arange(8) * np.pi / 4)], 1)
    star[60:68], star[68:76] = p5[0] + ring, p5[1] + ring      # eye contours around the eye centres
    star[54], star[76], star[82] = p5[2] + [0, 0.03 * ipd], p5[3], p5[4] - [0.02 * ipd, 0]
    assert disagreement(star, p5) < 0.1 * MAX_DISAGREEMENT * 4


def test_garbage_model_loaded_as_trained_is_not_usable_and_blames_no_recording(tmp_path, face_detector,
                                                                              retinaface_model, star_dev_model):
    """Random STAR weights whose file claims to be trained (the window's Convert of a random checkpoint)."""
    from app.engine.landmarks import StarLandmarkDetector
    from app.model_set import Models

    star = StarLandmarkDetector(star_dev_model)
    star.backend.untrained = False       # what a random checkpoint converted as "trained" looks like
    models = Models(faces=face_detector, landmarks=star, files={"retinaface": retinaface_model,
                                                                 "star": star_dev_model})
    base = videos.portrait_base(_need(MEDIA / "portrait_frontal.jpg"), width=240)
    clip = videos.write_video(tmp_path / "clip.mp4", [base] * 4)
    rep = _report(Pipeline(models, Settings(annotated=False)).process(clip, tmp_path / "o"))
    v = rep["verdict"]
    print("\nmodel check:", rep["model_check"], "\nverdict:", v)
    assert rep["model_check"]["passed"] is False and rep["model_check"]["checked_frames"] >= 1
    assert v["level"] == "not usable"
    assert v["reasons"][0].startswith("the landmark model's output does not match the face")
    assert not any(w in " ".join(v["reasons"]) for w in ("turned", "outside the picture", "tilted", "usable)"))


def test_one_frame_video_is_not_good(tmp_path, models_5pt, portrait):
    clip = videos.write_video(tmp_path / "one.mp4", [portrait])
    rep = _report(Pipeline(models_5pt, Settings(annotated=False)).process(clip, tmp_path / "o"))
    assert rep["verdict"]["level"] != "good"
    assert any(r.startswith("no symmetry measures") for r in rep["verdict"]["reasons"]), rep["verdict"]


def test_player_clock_in_the_report(tmp_path, models_5pt, media):
    rep = _report(Pipeline(models_5pt, Settings(annotated=False, max_frames=5)).process(
        media("press_room_clip.mp4"), tmp_path))
    assert rep["input"]["start_time_s"] == pytest.approx(0.852, abs=0.002)


def _cli(*args, weights):
    import os
    env = dict(os.environ, FACEMIRROR_WEIGHTS_DIR=str(weights))
    return subprocess.run([sys.executable, "main.py", *map(str, args)], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)


def test_process_rest_is_honoured_and_validated(tmp_path, detector_only_weights, portrait):
    params = videos.transform_sequence(60, max_angle=2.0, max_shift=3.0, scale_amp=0.01)
    h, w = portrait.shape[:2]
    _, frames = videos.transformed_frames(portrait, params, (w / 2, h * 0.4), noise_sigma=1.0)
    clip = videos.write_video(tmp_path / "clip.mp4", frames)
    ok = _cli("process", clip, "--out", tmp_path / "a", "--rest", "0.5-1.5", "--no-annotated",
              weights=detector_only_weights)
    assert ok.returncode == 0, ok.stderr
    rep = json.loads((tmp_path / "a" / "clip_report.json").read_text())
    assert rep["settings"]["rest"] == [0.5, 1.5]
    body = json.loads((tmp_path / "a" / "clip_measures.json").read_text())
    assert body["rest"]["source"] == "given" and body["rest"]["start_s"] == 0.5
    bad = _cli("process", clip, "--out", tmp_path / "b", "--rest", "3-1", weights=detector_only_weights)
    assert bad.returncode == 2 and "--rest" in bad.stderr and not (tmp_path / "b").exists()
    outside = _cli("process", clip, "--out", tmp_path / "c", "--rest", "10-12", "--no-annotated",
                   weights=detector_only_weights)
    assert outside.returncode == 0
    rep = json.loads((tmp_path / "c" / "clip_report.json").read_text())
    assert any("rest window 10-12 s lies outside the video" in r for r in rep["verdict"]["reasons"]), rep["verdict"]
