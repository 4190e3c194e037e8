"""Issue 12 end to end: verdicts, the untrained mark, midline naming and re-acquisition through
the real pipeline with the real RetinaFace (../shared; skipped when absent). Landmarks come from
the 5-point fallback (trained STAR weights are not available here); the untrained mark uses a
random-weights STAR export on a few frames."""
from __future__ import annotations

import json

import numpy as np
import pytest

from app.engine.annotate import COLOR_ERROR
from app.engine.model_set import Models
from app.pipeline.run import Pipeline, Settings
from app.video.reader import VideoReader
from tests import videos


# face_detector, models_5pt and portrait: tests/conftest.py


@pytest.fixture(scope="module")
def clean_clip(tmp_path_factory, portrait):
    """A frontal face moving gently (roll up to 4 deg, small shifts): nothing to warn about."""
    h, w = portrait.shape[:2]
    params = videos.transform_sequence(40, max_angle=4.0, max_shift=8.0, scale_amp=0.03)
    _, frames = videos.transformed_frames(portrait, params, (w / 2, h * 0.4), noise_sigma=2.0)
    return videos.write_video(tmp_path_factory.mktemp("clean") / "clean.mp4", frames)


def _report(result) -> dict:
    assert result.ok, result.error
    saved = json.loads(result.outputs["report"].read_text())
    assert saved["verdict"] == result.report["verdict"]
    return saved


def test_clean_clip_has_only_the_five_point_warning(tmp_path, models_5pt, clean_clip):
    rep = _report(Pipeline(models_5pt, Settings()).process(clean_clip, tmp_path))
    print("\nclean clip verdict:", rep["verdict"], "quality:", rep["quality_flags"])
    assert rep["verdict"]["level"] == "usable with warnings"       # 5-point mode is never "good" (issue 20)
    assert len(rep["verdict"]["reasons"]) == 1 and rep["verdict"]["reasons"][0].startswith("5-point mode")
    assert rep["midline_method_used"] == "eye-centre bisector (5-point fallback)"
    assert rep["midline_choice_note"] is None
    assert rep["tracking"]["other_face_frames"] == 0


@pytest.fixture(scope="module")
def pupils_cli_run(tmp_path_factory, retinaface_model, clean_clip):
    """`process --midline pupils --no-annotated` on the clean clip in 5-point mode, once for the two
    tests that read what it printed and what its report says."""
    from tests.cli_runs import process_cli

    out = tmp_path_factory.mktemp("pupils")
    proc = process_cli([clean_clip, "--out", out, "--midline", "pupils", "--no-annotated"], retinaface_model.parent)
    assert proc.returncode == 0, proc.stderr
    return proc, json.loads((out / "clean_report.json").read_text())


def test_pupils_in_five_point_mode_says_it_cannot_be_honoured(pupils_cli_run):
    proc, rep = pupils_cli_run
    assert rep["settings"]["midline"] == "pupils"                       # what was asked ...
    assert rep["midline_method_used"] == "eye-centre bisector (5-point fallback)"   # ... and what was done
    note = rep["midline_choice_note"]
    assert "'pupils' cannot be honoured" in note and f"warning: {note}" in proc.stdout    # a warning of the run
    assert rep["verdict"]["level"] == "usable with warnings" and note in rep["verdict"]["reasons"]


@pytest.fixture(scope="module")
def press_room_run(tmp_path_factory):
    """`process` on the press-room clip as a user runs it (a bare environment: the committed
    RetinaFace, 5-point mode, default settings), once for the tests that read its summary and its
    report: the clip costs 12-20 s a run, and a second run in process computed the same report."""
    import subprocess
    import sys

    from tests.conftest import MEDIA, REPO, _need

    clip = _need(MEDIA / "press_room_clip.mp4")
    root = tmp_path_factory.mktemp("press_room")
    proc = subprocess.run([sys.executable, "main.py", "process", str(clip), "--out", str(root / "out")],
                          cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "FACEMIRROR_LOG_DIR": str(root / "log")})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc, root / "out"


def test_press_room_clip_is_not_good(press_room_run):
    _, out = press_room_run
    rep = json.loads((out / "press_room_clip_report.json").read_text())
    from app.engine.model_set import LANDMARKS_5POINT

    assert rep["models"]["landmark_model"] == LANDMARKS_5POINT        # the 5-point pipeline, as before
    v = rep["verdict"]
    print("\npress_room verdict:", v, "\nframes:", rep["frames"], "\nquality:", rep["quality_flags"],
          "\ntracking:", {k: rep["tracking"][k] for k in ("detector_runs", "other_face_frames", "events")})
    assert v["level"] != "good"
    assert any(r.startswith("the face was not found in") for r in v["reasons"])
    assert any(r.startswith("another face was present") for r in v["reasons"])
    assert rep["tracking"]["other_face_frames"] > 0


def _bottom_band_is_red(frame: np.ndarray) -> bool:
    """The untrained mark: most of the bottom 10 rows in the mark's red (H.264 blurs a little)."""
    rows = frame[-12:-2].astype(int)
    near = np.all(np.abs(rows - np.array(COLOR_ERROR)) <= 60, axis=2)
    return near.mean() > 0.6


def _frames(path):
    with VideoReader(path) as r:
        return [f.image for f in r]


def test_untrained_model_marks_every_output_frame(tmp_path, face_detector, retinaface_model, star_dev_model,
                                                  portrait):
    from app.engine.landmarks import StarLandmarkDetector

    star = StarLandmarkDetector(star_dev_model)
    assert star.untrained
    models = Models(faces=face_detector, landmarks=star, files={"retinaface": retinaface_model, "star": star_dev_model})
    h, w = portrait.shape[:2]
    _, frames = videos.transformed_frames(portrait, videos.transform_sequence(2), (w / 2, h * 0.4))  # nothing to measure
    clip = videos.write_video(tmp_path / "short.mp4", frames)
    result = Pipeline(models, Settings()).process(clip, tmp_path / "out")
    rep = _report(result)
    assert rep["verdict"]["level"] == "not usable"
    assert rep["verdict"]["reasons"][0].startswith("untrained landmark model")
    for kind in ("left_mirrored", "right_mirrored", "annotated"):
        out = _frames(result.outputs[kind])
        assert len(out) == 2
        assert all(_bottom_band_is_red(f) for f in out), kind
    # and the same clip with the trained-looking path (5 points) carries no mark
    plain = Pipeline(Models(faces=face_detector, landmarks=None, files={"retinaface": retinaface_model}),
                     Settings()).process(clip, tmp_path / "plain")
    assert plain.ok and not any(_bottom_band_is_red(f) for f in _frames(plain.outputs["left_mirrored"]))


def test_face_leaving_and_coming_back_elsewhere_is_tracked_and_reported(tmp_path, models_5pt, media):
    import cv2

    frames, back, _ = videos.leave_and_return_frames(cv2.imread(str(media("portrait_frontal.jpg"))))
    clip = videos.write_video(tmp_path / "walk.mp4", frames)
    result = Pipeline(models_5pt, Settings()).process(clip, tmp_path / "out")
    rep = _report(result)
    with open(result.outputs["landmarks"], newline="") as fh:
        import csv
        rows = list(csv.DictReader(fh))
    assert all(r["face_found"] == "1" for r in rows[back:])
    assert rep["tracking"]["events"].get("relocked", 0) >= 1
    assert any("found again away from where it was lost" in r for r in rep["verdict"]["reasons"])
    # the empty room (and the walk out) leave frames without a face: said in plain words
    assert any(r.startswith("the face was not found in") for r in rep["verdict"]["reasons"])


def _faststart_clip(path, frames, fps=30):
    """An MP4 with its index (moov) first, as phones and editors write them: cut short, it still
    opens and promises all its frames."""
    import av

    h, w = frames[0].shape[:2]
    with av.open(str(path), "w", options={"movflags": "faststart"}) as out:
        st = out.add_stream("libx264", rate=fps)
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        for f in frames:
            for pk in st.encode(av.VideoFrame.from_ndarray(f, format="bgr24")):
                out.mux(pk)
        for pk in st.encode():
            out.mux(pk)
    return path


@pytest.mark.parametrize("keep,level", [(0.85, "usable with warnings"), (0.45, "not usable")])
def test_truncated_recording_with_an_index_is_not_plain_success(tmp_path, models_5pt, portrait, keep, level):
    """A 3 s recording at 10 fps (30 frames: the verdict weighs the share of the promised frames
    present, and the clock of the reason follows the frame rate), cut short."""
    h, w = portrait.shape[:2]
    params = videos.transform_sequence(30, max_angle=3.0, max_shift=4.0, scale_amp=0.02)
    _, frames = videos.transformed_frames(portrait, params, (w / 2, h * 0.4), noise_sigma=3.0)  # bytes spread over frames
    full = _faststart_clip(tmp_path / "full.mp4", frames, fps=10)
    data = full.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * keep)])
    rep = _report(Pipeline(models_5pt, Settings(annotated=False)).process(cut, tmp_path / "out"))
    assert rep["frames"]["ended_early"] and 0 < rep["frames"]["processed"] < 30
    v = rep["verdict"]
    print("\ntruncated:", rep["frames"]["processed"], "of 30 frames:", v)
    assert v["level"] == level
    end = f"0:{round(rep['frames']['processed'] / 10):02d}"
    assert f"recording ends early at {end} of 0:03 (the file is probably cut short)" in v["reasons"]


def test_cli_midline_pupils_in_five_point_mode_says_it_cannot_be_honoured(pupils_cli_run):
    proc, rep = pupils_cli_run
    assert "warning: midline method 'pupils' cannot be honoured without the STAR landmark model" in proc.stdout
    assert rep["midline_method_used"] == "eye-centre bisector (5-point fallback)"


def test_cli_summary_gives_the_verdict_and_its_reasons(press_room_run):
    """As a user runs it: the press-room clip is 'done' (outputs written) but not usable, and the
    summary says why and that the verdict must be read."""
    proc, _ = press_room_run
    row = next(ln for ln in proc.stdout.splitlines() if ln.startswith("press_room_clip.mp4"))
    assert "not usable" in row and "the face was not found in" in row
    assert "1 not rated good" in proc.stdout
