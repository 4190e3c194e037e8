"""The face detector committed in weights/: what the manifest says about it, that git tracks it,
and that a fresh clone processes a video in 5-point mode with nothing else installed."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest

from tests import videos
from tests.conftest import MEDIA, REPO, _need

WEIGHTS = REPO / "weights"
DETECTOR = WEIGHTS / "retinaface_mobilenet025.onnx"


def _manifest() -> dict:
    return json.loads((WEIGHTS / "manifest.json").read_text())


def test_committed_detector_matches_its_manifest_entry():
    entry = _manifest()["models"]["retinaface"]
    assert entry["committed"] is True and entry["file"] == DETECTOR.name
    data = DETECTOR.read_bytes()
    assert hashlib.sha256(data).hexdigest() == entry["sha256"] == entry["converted"][DETECTOR.name]["sha256"]
    assert len(data) == entry["size_bytes"]
    # Provenance: converted from the published checkpoint, not random weights.
    record = entry["converted"][DETECTOR.name]
    assert record["untrained"] is False
    assert record["source_sha256"] == "2979b33ffafda5d74b6948cd7a5b9a7a62f62b949cef24e95fd15d2883a65220"
    assert record["source_sha256"] in entry["provenance"]
    licence = (WEIGHTS / entry["licence_file"]).read_text()
    assert "MIT License" in licence and "Permission is hereby granted" in licence and "biubug6" in licence


def test_committed_detector_metadata_says_trained_retinaface():
    onnx = pytest.importorskip("onnx")
    meta = {p.key: p.value for p in onnx.load(str(DETECTOR), load_external_data=False).metadata_props}
    assert meta["facemirror.model"] == "retinaface-mnet025"
    assert meta["facemirror.untrained"] == "false"
    assert meta["facemirror.source_sha256"] == _manifest()["models"]["retinaface"]["converted"][DETECTOR.name][
        "source_sha256"]


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=60)


@pytest.fixture
def git_checkout():
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")


def test_git_tracks_the_detector_and_no_checkpoint(git_checkout):
    assert _git("check-ignore", "-q", "weights/retinaface_mobilenet025.onnx").returncode == 1  # 1 = not ignored
    assert _git("check-ignore", "-q", "weights/star_landmark_98.onnx").returncode == 0       # STAR stays out
    assert _git("ls-files", "--error-unmatch", "weights/retinaface_mobilenet025.onnx").returncode == 0
    tracked = _git("ls-files", "weights").stdout.split()
    assert not [f for f in tracked if f.endswith((".pth", ".pkl", ".pt"))], tracked


def test_fresh_clone_processes_a_video_in_5_point_mode(git_checkout, tmp_path):
    """Clone the committed state, run `main.py process` there with no model folder configured."""
    portrait = videos.portrait_base(_need(MEDIA / "portrait_frontal.jpg"), width=240)
    h, w = portrait.shape[:2]
    # 2 frames: nothing to measure (the summary's charts and PDF, and a fresh font cache, cost 3-4 CPU s)
    _, frames = videos.transformed_frames(portrait, [(0, 1, 0, 0)] * 2, (w / 2, h / 2))
    video = videos.write_video(tmp_path / "clip.mp4", frames)
    clone = tmp_path / "clone"
    proc = subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(REPO), str(clone)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    env = {k: v for k, v in os.environ.items() if k != "FACEMIRROR_WEIGHTS_DIR"}
    env.update(FACEMIRROR_DATA_DIR=str(tmp_path / "user-data"), FACEMIRROR_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONPATH="")
    run = subprocess.run([sys.executable, "main.py", "process", str(video), "--out", str(tmp_path / "out")],
                         cwd=clone, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "no STAR model installed" in run.stderr and "5 points" in run.stderr
    for suffix in ("left_mirrored.mp4", "right_mirrored.mp4", "annotated.mp4", "landmarks.csv", "report.json"):
        assert (tmp_path / "out" / f"clip_{suffix}").is_file(), suffix
    report = json.loads((tmp_path / "out" / "clip_report.json").read_text())
    assert str(clone / "weights" / DETECTOR.name) in json.dumps(report)
    doctor = subprocess.run([sys.executable, "main.py", "doctor"], cwd=clone, env=env, capture_output=True,
                            text=True, timeout=120)
    assert f"found: {clone / 'weights' / DETECTOR.name}" in doctor.stdout
    assert doctor.stdout.count("MISSING") == 1
