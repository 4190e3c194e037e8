"""Issue 20 "verdicts that mislead", end to end through the real pipeline with the real RetinaFace
(../shared; skipped when absent) on small synthetic videos, mostly in the 5-point mode (trained
STAR weights are not available here; the landmark-model check uses a random-weights STAR export
and a synthetic "perfect" STAR built from the detector's own points)."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from app.engine.model_check import MAX_ERROR_IPD, STAR_FOR_DETECTOR_5, ModelCheck, point_error
from app.engine.model_set import Models
from app.pipeline.run import Pipeline, Settings
from app.results.verdict import MODEL_MISMATCH_REASON, NOT_USABLE, PUPIL_PX_FAIL, WARNINGS
from tests import videos

# face_detector, models_5pt, portrait, star_dev_model, media: tests/conftest.py


def _report(result) -> dict:
    assert result.ok, result.error
    saved = json.loads(result.outputs["report"].read_text())
    assert saved["verdict"] == result.report["verdict"]
    return saved


def _clip(portrait, n, path, **kw):
    h, w = portrait.shape[:2]
    params = videos.transform_sequence(n, max_angle=3.0, max_shift=4.0, scale_amp=0.02)
    _, frames = videos.transformed_frames(portrait, params, (w / 2, h * 0.4), noise_sigma=2.0)
    return videos.write_video(path, frames, **kw)


# ---- landmark-model check -------------------------------------------------------------------------

def _perfect_star(det5: np.ndarray, rng, jitter_px: float) -> np.ndarray:
    """A 98-point set whose 5 matching points are the detector's own (a consistent model), the
    others anywhere: only the matching points are compared."""
    pts = rng.uniform(0, 300, (98, 2))
    pts[list(STAR_FOR_DETECTOR_5)] = det5 + rng.normal(0, jitter_px, (5, 2))
    return pts


def test_model_check_threshold_separates_consistent_and_random_star(face_detector, star_dev_model, portrait):
    """The measurement behind MAX_ERROR_IPD: a consistent model (the detector's points, a few px of
    jitter) vs the random-weights STAR on the real portrait. Prints both."""
    from app.engine.landmarks import StarLandmarkDetector

    rng = np.random.default_rng(0)
    frames = [cv2.warpAffine(portrait, videos.affine(a, s, 0, 0, (180, 200)), portrait.shape[1::-1])
              for a, s in ((0, 1.0), (5, 0.9), (-4, 1.05))]
    star = StarLandmarkDetector(star_dev_model)
    good, bad = ModelCheck(), ModelCheck()
    for img in frames:
        face = face_detector.detect(img)[0]
        good.add(_perfect_star(face.points, rng, jitter_px=3.0), face.points)
        matrix = star.preprocess(img, face.box)
        bad.add(star.to_frame(star.infer(), matrix), face.points)
    print(f"\nmodel check: consistent {good.median:.3f} IPD, random-weights STAR {bad.median:.3f} IPD, "
          f"threshold {MAX_ERROR_IPD}")
    assert good.ok is True and good.median < MAX_ERROR_IPD / 2
    assert bad.ok is False and bad.median > 1.5 * MAX_ERROR_IPD


def test_point_error_in_pupil_distances_from_geometry():
    det = np.array([[100, 100], [160, 100], [130, 130], [110, 160], [150, 160]], float)   # 60 px apart
    star = np.zeros((98, 2))
    star[list(STAR_FOR_DETECTOR_5)] = det + [6.0, 0.0]          # every point 6 px off: 0.1 IPD
    assert point_error(star, det) == pytest.approx(0.1)
    assert point_error(star, np.zeros((5, 2))) is None           # no scale


def test_garbage_model_passed_as_trained_is_not_usable_and_blames_no_recording(
        tmp_path, face_detector, retinaface_model, star_dev_model, portrait):
    from app.engine.landmarks import StarLandmarkDetector

    star = StarLandmarkDetector(star_dev_model)
    star.backend.untrained = False        # random tensors converted without the dev mark: looks trained
    models = Models(faces=face_detector, landmarks=star, files={"retinaface": retinaface_model,
                                                                 "star": star_dev_model})
    clip = _clip(portrait, 3, tmp_path / "garbage.mp4")      # the fewest frames that are measured
    rep = _report(Pipeline(models, Settings(annotated=False)).process(clip, tmp_path / "out"))
    v = rep["verdict"]
    print("\ngarbage model:", rep["model_check"], v)
    assert rep["model_check"]["ok"] is False and rep["model_check"]["frames"] >= 1
    assert v["level"] == NOT_USABLE and v["reasons"][0] == MODEL_MISMATCH_REASON
    assert v["reasons"] == [MODEL_MISMATCH_REASON]
    text = " ".join(v["reasons"])
    for blame in ("turned", "tilted", "outside the picture", "too small", "is small", "frames are usable",
                  "has a face"):
        assert blame not in text


# ---- 5-point mode, too short ------------------------------------------------------------------

def test_clean_five_point_clip_is_usable_with_warnings_in_plain_words(tmp_path, models_5pt, portrait):
    rep = _report(Pipeline(models_5pt, Settings(annotated=False)).process(
        _clip(portrait, 30, tmp_path / "c.mp4"), tmp_path / "out"))
    v = rep["verdict"]
    assert v["level"] == WARNINGS
    assert len(v["reasons"]) == 1 and v["reasons"][0].startswith("5-point mode (no STAR landmark model)")
    assert rep["face_size"]["pupil_px_median"] > 25          # a 360 px wide portrait: pupils ~45 px apart
    assert rep["model_check"]["ok"] is None                  # nothing to check without STAR


def test_one_frame_video_is_a_warning_not_good(tmp_path, models_5pt, portrait):
    rep = _report(Pipeline(models_5pt, Settings(annotated=False)).process(
        _clip(portrait, 1, tmp_path / "one.mp4"), tmp_path / "out"))
    assert rep["frames"]["processed"] == 1
    v = rep["verdict"]
    assert v["level"] != "good"
    assert any("symmetry measures" in r for r in v["reasons"])


# ---- face size ------------------------------------------------------------------------------------

def test_tiny_face_is_not_usable(tmp_path, models_5pt, media):
    """The portrait shrunk until about 10 px separate the pupils, in a 640x360 room."""
    img = cv2.imread(str(media("portrait_frontal.jpg")))
    small = cv2.resize(img, None, fx=0.09, fy=0.09, interpolation=cv2.INTER_AREA)   # pupils ~109 px -> ~10
    rng = np.random.default_rng(1)
    frames = []
    for i in range(20):
        f = np.full((360, 640, 3), 90, np.uint8)
        y, x = 120 + (i % 3), 300 + (i % 4)
        f[y:y + small.shape[0], x:x + small.shape[1]] = small
        frames.append(np.clip(f + rng.normal(0, 2, f.shape), 0, 255).astype(np.uint8))
    rep = _report(Pipeline(models_5pt, Settings(annotated=False)).process(
        videos.write_video(tmp_path / "tiny.mp4", frames), tmp_path / "out"))
    print("\ntiny face:", rep["face_size"], rep["verdict"])
    assert rep["face_size"]["pupil_px_median"] < PUPIL_PX_FAIL
    assert rep["verdict"]["level"] == NOT_USABLE
    assert any("the face is too small" in r for r in rep["verdict"]["reasons"])


# ---- hard cut to another person ---------------------------------------------------------------------

def test_hard_cut_to_another_person_is_reported_with_its_time(tmp_path, models_5pt, media):
    a = videos.portrait_base(media("portrait_frontal.jpg"))
    b = videos.portrait_base(media("portrait_frontal_2.jpg"))
    h = min(a.shape[0], b.shape[0]) // 2 * 2
    a, b = a[:h], b[:h]
    frames = [a] * 6 + [b] * 6              # a cut at frame 6 = 0.2 s at 30 fps (seen between two frames)
    rep = _report(Pipeline(models_5pt, Settings(annotated=False)).process(
        videos.write_video(tmp_path / "cut.mp4", frames), tmp_path / "out"))
    print("\ncut:", rep["scene_cuts"], rep["verdict"])
    assert rep["scene_cuts"]["times_s"] == [pytest.approx(0.2, abs=0.02)]
    assert rep["scene_cuts"]["cuts"][0]["identity_change"] is True
    assert any("a cut) at 0.20 s" in r and "same patient" in r for r in rep["verdict"]["reasons"])
    assert any("probably another person" in r and "0.20 s" in r for r in rep["verdict"]["reasons"])


def test_cut_to_the_same_person_is_a_cut_but_not_another_person(tmp_path, models_5pt, portrait):
    """The same face after a cut: mirrored (face proportions do not change), another colour, shifted."""
    after = cv2.cvtColor(cv2.flip(portrait, 1), cv2.COLOR_BGR2HSV)
    after[..., 0] = (after[..., 0].astype(int) + 60) % 180
    after = cv2.cvtColor(after, cv2.COLOR_HSV2BGR)
    after = cv2.warpAffine(after, videos.affine(0, 1.0, 12, 6, (0, 0)), portrait.shape[1::-1])
    rep = _report(Pipeline(models_5pt, Settings(annotated=False)).process(
        videos.write_video(tmp_path / "same.mp4", [portrait] * 6 + [after] * 6), tmp_path / "out"))
    print("\nsame person cut:", rep["scene_cuts"])
    if not rep["scene_cuts"]["count"]:
        pytest.fail("the edit was not seen as a cut; the test needs a stronger change")
    assert rep["scene_cuts"]["cuts"][0]["identity_change"] is False
    assert not any("probably another person" in r for r in rep["verdict"]["reasons"])


# ---- times --------------------------------------------------------------------------------------------

def test_start_time_is_the_first_frames_pts(tmp_path, models_5pt, portrait):
    """A video whose first frame is shown at 0.5 s on the player's clock (pts written with PyAV)."""
    import av

    h, w = portrait.shape[:2]
    path = tmp_path / "late.mp4"
    with av.open(str(path), "w") as out:
        st = out.add_stream("libx264", rate=30)
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        for i in range(6):
            frame = av.VideoFrame.from_ndarray(portrait, format="bgr24")
            frame.pts = 15 + i                    # codec time base 1/30: starts at 0.5 s
            for pk in st.encode(frame):
                out.mux(pk)
        for pk in st.encode():
            out.mux(pk)
    with av.open(str(path)) as c:                # the player's view of the same file
        first = next(c.decode(video=0))
        expected = float(first.pts * first.time_base)
    rep = _report(Pipeline(models_5pt, Settings(annotated=False)).process(path, tmp_path / "out"))
    print("\nstart_time_s:", rep["input"]["start_time_s"], "player:", expected)
    assert expected == pytest.approx(0.5, abs=0.05)
    assert rep["input"]["start_time_s"] == pytest.approx(expected, abs=1e-6)


# ---- the converter's check ------------------------------------------------------------------------

def _comparison_with(label_to_crop_points: dict):
    from app.convert.star import Comparison

    c = Comparison()
    for label, pts in label_to_crop_points.items():
        lm = np.zeros((98, 2))
        lm[list(STAR_FOR_DETECTOR_5)] = pts
        c.onnx_landmarks[label] = (2.0 * lm + 1.0) / 256.0 - 1.0        # crop pixels -> STAR's [-1, 1]
    return c


def test_converter_check_passes_a_model_that_finds_the_synthetic_face():
    from app.convert.star import SYNTHETIC_FACE, SYNTHETIC_FACE_POINTS, model_check

    lines: list[str] = []
    out = model_check(_comparison_with({SYNTHETIC_FACE: SYNTHETIC_FACE_POINTS + 2.0}),
                      {SYNTHETIC_FACE: SYNTHETIC_FACE_POINTS}, lines.append)
    assert out["ok"] is True and out["median_error_ipd"] == pytest.approx(2 * np.sqrt(2) / 72, abs=1e-3)
    assert not any("WARNING" in ln for ln in lines)


def test_converter_says_loudly_when_weights_do_not_match_a_photographed_face():
    from app.convert.star import SYNTHETIC_FACE, SYNTHETIC_FACE_POINTS, model_check

    photo = np.array([[100, 110], [150, 110], [125, 140], [105, 170], [145, 170]], float)
    blob = np.full((5, 2), 128.0)                                   # every point in the crop's centre
    lines: list[str] = []
    out = model_check(_comparison_with({SYNTHETIC_FACE: SYNTHETIC_FACE_POINTS, "face 1 of a.jpg": blob}),
                      {SYNTHETIC_FACE: SYNTHETIC_FACE_POINTS, "face 1 of a.jpg": photo}, lines.append)
    assert out["basis"] == "photos" and out["ok"] is False          # the photo decides, not the drawing
    assert any("DO NOT BEHAVE LIKE A TRAINED STAR MODEL" in ln for ln in lines)


def test_random_weights_conversion_records_a_failed_model_check(star_dev_model):
    """The conftest conversion (random weights, the shared photos): the manifest beside it says so."""
    manifest = json.loads((star_dev_model.parent / "manifest.json").read_text())
    check = manifest["models"]["star"]["converted"][star_dev_model.name]["model_check"]
    print("\nconverter model check (random weights):", check)
    assert check["ok"] is False and check["median_error_ipd"] > MAX_ERROR_IPD


# ---- process --rest ------------------------------------------------------------------------------

def _process(args) -> tuple[int, str, str]:
    import io

    from app.batch.process import process_command
    from app.cli.main import _build_parser

    out, err = io.StringIO(), io.StringIO()
    code = process_command(_build_parser().parse_args(["process", *map(str, args)]), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_process_rest_is_honoured_and_validated(tmp_path, detector_only_weights, portrait):
    clip = _clip(portrait, 30, tmp_path / "rest.mp4")           # 1.0 s: the window 0.2-0.9 s lies inside
    code, _, err = _process([clip, "--out", tmp_path / "bad", "--rest", "soon"])
    assert code == 2 and "--rest" in err and "START-END" in err
    assert not (tmp_path / "bad").exists() or not any((tmp_path / "bad").iterdir())

    code, out, err = _process([clip, "--out", tmp_path / "ok", "--rest", "0.2-0.9", "--no-annotated"])
    assert code == 0, out + err
    rep = json.loads((tmp_path / "ok" / "rest_report.json").read_text())
    assert rep["settings"]["rest"] == [0.2, 0.9]
    rest = json.loads((tmp_path / "ok" / "rest_measures.json").read_text())["rest"]
    print("\nrest used:", rest)
    assert rest["start_s"] == pytest.approx(0.2, abs=0.04) and rest["end_s"] == pytest.approx(0.9, abs=0.04)

    code, out, err = _process([clip, "--out", tmp_path / "outside", "--rest", "5-8", "--no-annotated"])
    rep = json.loads((tmp_path / "outside" / "rest_report.json").read_text())
    assert any("rest window 5-8 s lies outside the video" in r for r in rep["verdict"]["reasons"])
    assert "rest window 5-8 s lies outside the video" in out + err
