"""The pipeline on videos made from a real photograph with known per-frame transforms.

Face detection uses the real RetinaFace weights (../shared); landmarks come from the 5-point
fallback here (trained STAR weights are not available), and the STAR path is exercised for
plumbing with a random-weights development model on a handful of frames.
"""
from __future__ import annotations

import csv
import json
import math
import threading

import numpy as np
import pytest

from app.engine.midline import midline_from_5points
from app.base.outputs import SUFFIX
from app.engine.model_set import Models
from app.pipeline.run import Pipeline, Settings
from app.results.landmarks_csv import csv_columns
from tests import videos

N_MOTION = 60


# face_detector, models_5pt and portrait: tests/conftest.py


def _angle_between(d1, d2) -> float:
    """Angle in degrees between two undirected lines."""
    c = abs(d1[0] * d2[0] + d1[1] * d2[1]) / (math.hypot(*d1) * math.hypot(*d2))
    return math.degrees(math.acos(min(1.0, c)))


def _reference_line(face_detector, base):
    faces = face_detector.detect(base)
    assert len(faces) == 1
    pts = faces[0].points
    line = midline_from_5points(pts, (base.shape[1], base.shape[0]))
    p0 = (pts[0] + pts[1]) / 2.0  # between the eyes: on the midline by construction
    return np.array(line.direction), p0


def _read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_smoothed_midline_follows_known_rotation_translation_scale(tmp_path, models_5pt, face_detector, portrait):
    h, w = portrait.shape[:2]
    centre = (w / 2, h * 0.4)
    params = videos.transform_sequence(N_MOTION, max_angle=15.0, max_shift=20.0, scale_amp=0.08)
    mats, frames = videos.transformed_frames(portrait, params, centre)
    video = videos.write_video(tmp_path / "motion.mp4", frames)
    d0, p0 = _reference_line(face_detector, portrait)

    result = Pipeline(models_5pt, Settings(annotated=False)).process(video, tmp_path / "out")
    assert result.ok, result.error
    rows = _read_csv(result.outputs["landmarks"])
    assert len(rows) == N_MOTION
    angle_err, offset_err = [], []
    for row, m in zip(rows, mats):
        assert row["face_found"] == "1"
        true_d = m[:, :2] @ d0
        true_p = m[:, :2] @ p0 + m[:, 2]
        a = math.radians(float(row["midline_angle_deg"]))
        got_d = (math.sin(a), math.cos(a))
        angle_err.append(_angle_between(got_d, true_d))
        # perpendicular distance of the true between-the-eyes point from the smoothed line
        px, py = float(row["midline_point_x"]), float(row["midline_point_y"])
        nx, ny = math.cos(a), -math.sin(a)
        offset_err.append(abs(nx * (true_p[0] - px) + ny * (true_p[1] - py)))
    angle_err, offset_err = np.array(angle_err), np.array(offset_err)
    print(f"\n5-point midline vs known transform ({N_MOTION} frames, +/-15 deg, +/-20 px, +/-8 % scale): "
          f"angle error mean {angle_err.mean():.2f} max {angle_err.max():.2f} deg; "
          f"offset error mean {offset_err.mean():.2f} max {offset_err.max():.2f} px")
    # Bounds: the face is ~150 px wide; errors combine detector noise and smoothing lag.
    assert angle_err.mean() < 2.0 and angle_err.max() < 5.0
    assert offset_err.mean() < 2.5 and offset_err.max() < 6.0


def test_still_face_jitter_is_removed(tmp_path, models_5pt, portrait):
    h, w = portrait.shape[:2]
    params = [(0.0, 1.0, 0.0, 0.0)] * 45
    _, frames = videos.transformed_frames(portrait, params, (w / 2, h / 2), noise_sigma=6.0, seed=3)
    video = videos.write_video(tmp_path / "still.mp4", frames)
    result = Pipeline(models_5pt, Settings(annotated=False)).process(video, tmp_path / "out")
    assert result.ok, result.error
    rows = _read_csv(result.outputs["landmarks"])[10:]  # after the filter settled
    raw = np.array([float(r["midline_raw_angle_deg"]) for r in rows])
    smooth = np.array([float(r["midline_angle_deg"]) for r in rows])
    raw_off = np.array([float(r["midline_raw_offset_px"]) for r in rows])
    smooth_off = np.array([float(r["midline_offset_px"]) for r in rows])
    jitter = np.abs(np.diff(smooth)).max()
    print(f"\nstill face: raw angle std {raw.std():.3f} deg, smoothed std {smooth.std():.3f} deg, "
          f"max frame-to-frame step {jitter:.3f} deg; offset std raw {raw_off.std():.3f} px, "
          f"smoothed {smooth_off.std():.3f} px")
    assert jitter < 0.1               # frame-to-frame angle change after smoothing
    assert np.abs(np.diff(smooth_off)).max() < 0.3
    assert smooth.std() <= raw.std() + 1e-9


def test_outputs_report_and_csv(tmp_path, models_5pt, portrait):
    _, frames = videos.transformed_frames(portrait, videos.transform_sequence(12), (180, 200))
    video = videos.write_video(tmp_path / "clip.mp4", frames, fps=25)
    out = tmp_path / "out"
    progress, previews = [], []
    result = Pipeline(models_5pt, Settings(preview_fps=1000)).process(
        video, out, on_progress=progress.append, on_preview=previews.append)
    assert result.ok, result.error
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(f"clip{s}" for s in SUFFIX.values())     # 12 frames: measures found a rest
    from app.video.reader import VideoReader
    with VideoReader(video) as src:
        times_in = [f.timestamp_ms for f in src]
    for kind in ("left_mirrored", "right_mirrored", "annotated"):
        with VideoReader(out / f"clip_{kind}.mp4") as r:
            times_out = [f.timestamp_ms for f in r]
            assert r.codec == "h264" and r.pix_fmt == "yuv420p"
            assert r.frame_size == frames[0].shape[1::-1]
        assert times_out == pytest.approx(times_in, abs=1.0)     # the input's frame times, 12 frames
    report = json.loads((out / "clip_report.json").read_text())
    assert report["app"]["version"]
    assert len(report["models"]["retinaface"]["sha256"]) == 64
    assert report["models"]["landmark_model"] == "5-point fallback"
    assert report["input"]["sha256"] and len(report["input"]["sha256"]) == 64
    assert report["frames"]["processed"] == 12 and report["frames"]["with_face"] == 12
    assert report["quality_flags"]["coarse_landmarks"] == 12
    assert "CPU" in report["backend"]
    assert report["settings"]["midline"] == "glabella-chin"
    assert set(report["output_video"]) == {"left_mirrored", "right_mirrored", "annotated"}
    assert all(v["encoder"] and v["ffmpeg"] for v in report["output_video"].values())
    assert report["timings"]["total_s"] > 0
    rows = _read_csv(out / "clip_landmarks.csv")
    assert list(rows[0].keys()) == csv_columns(coarse=True)
    assert progress and progress[-1].frames_done == 12
    assert previews and previews[0].left.shape[0] <= 480


def test_no_annotated_option(tmp_path, models_5pt, portrait):
    _, frames = videos.transformed_frames(portrait, [(0, 1, 0, 0)] * 2, (180, 200))   # nothing to measure
    video = videos.write_video(tmp_path / "c.mp4", frames)
    result = Pipeline(models_5pt, Settings(annotated=False)).process(video, tmp_path / "o")
    assert result.ok
    assert not (tmp_path / "o" / "c_annotated.mp4").exists()
    assert (tmp_path / "o" / "c_left_mirrored.mp4").exists()


def test_star_path_plumbing_with_development_model(tmp_path, face_detector, retinaface_model, star_dev_model, portrait):
    from app.engine.landmarks import StarLandmarkDetector

    star = StarLandmarkDetector(star_dev_model)
    models = Models(faces=face_detector, landmarks=star, files={"retinaface": retinaface_model, "star": star_dev_model})
    _, frames = videos.transformed_frames(portrait, [(0, 1, 0, 0)] * 4, (180, 200))
    video = videos.write_video(tmp_path / "s.mp4", frames)
    result = Pipeline(models, Settings(midline="pupils")).process(video, tmp_path / "o")
    assert result.ok, result.error
    rows = _read_csv(result.outputs["landmarks"])
    assert len(rows) == 4 and "p97_y" in rows[0] and rows[0]["p97_y"] != ""
    report = result.report
    assert report["models"]["star"]["untrained"] is True
    assert report["models"]["landmark_model"] == "STAR 98-point"
    assert any("UNTRAINED" in w for w in result.warnings)
    assert report["timings"]["mean_ms_per_frame_by_stage"]["star_infer"] > 0


def test_cancel_mid_run_leaves_no_file(tmp_path, models_5pt, portrait):
    _, frames = videos.transformed_frames(portrait, [(0, 1, 0, 0)] * 40, (180, 200))
    video = videos.write_video(tmp_path / "long.mp4", frames)
    cancel = threading.Event()
    seen = []

    def on_preview(p):
        seen.append(p.frame_index)
        if len(seen) >= 3:
            cancel.set()
    out = tmp_path / "out"
    result = Pipeline(models_5pt, Settings(preview_fps=1000)).process(video, out, on_preview=on_preview, cancel=cancel)
    assert result.cancelled and not result.ok
    assert list(out.iterdir()) == []  # no output, no temporary file


def test_disk_full_during_encoding_leaves_no_file(tmp_path, models_5pt, portrait, monkeypatch):
    import errno
    from app.video import writer as writer_mod

    _, frames = videos.transformed_frames(portrait, [(0, 1, 0, 0)] * 10, (180, 200))
    video = videos.write_video(tmp_path / "v.mp4", frames)
    original_open = writer_mod._open_output

    class DiskFills:
        """The output file object of a disk that fills up after a few kilobytes."""

        def __init__(self, fh):
            self._fh, self.written = fh, 0

        def write(self, data):
            self.written += len(data)
            if self.written > 4000:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self._fh.write(data)

        def __getattr__(self, name):
            return getattr(self._fh, name)

    monkeypatch.setattr(writer_mod, "_open_output", lambda path: DiskFills(original_open(path)))
    out = tmp_path / "out"
    result = Pipeline(models_5pt, Settings()).process(video, out)
    assert not result.ok and "disk is full" in result.error
    assert list(out.iterdir()) == []


def test_existing_outputs_are_not_overwritten(tmp_path, models_5pt, portrait):
    _, frames = videos.transformed_frames(portrait, [(0, 1, 0, 0)] * 2, (180, 200))   # nothing to measure
    video = videos.write_video(tmp_path / "e.mp4", frames)
    out = tmp_path / "out"
    out.mkdir()
    (out / "e_report.json").write_text("precious")
    result = Pipeline(models_5pt, Settings()).process(video, out)
    assert not result.ok and "already exist" in result.error
    assert (out / "e_report.json").read_text() == "precious"
    assert sorted(p.name for p in out.iterdir()) == ["e_report.json"]
    result = Pipeline(models_5pt, Settings(overwrite=True)).process(video, out)
    assert result.ok
    assert json.loads((out / "e_report.json").read_text())["frames"]["processed"] == 2
