"""The Linux onedir build from FaceMirror.spec, run as a user would: self-test and a batch run.

Built with development models (random-weights STAR, real RetinaFace). About a minute here.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests import videos
from tests.conftest import MEDIA, REPO, _need

SIZE_BUDGET_MB = 500  # measured about 441 MB with both models (OpenCV 152, Qt 93, NumPy 42, ORT 35)


@pytest.fixture(scope="module")
def frozen_app(tmp_path_factory, retinaface_model, star_dev_model):
    pytest.importorskip("PyInstaller", reason="dev extras (pyinstaller) not installed")
    root = tmp_path_factory.mktemp("frozen")
    weights = root / "weights"
    weights.mkdir()
    shutil.copy(retinaface_model, weights / retinaface_model.name)
    shutil.copy(star_dev_model, weights / star_dev_model.name)
    env = dict(os.environ, FACEMIRROR_SPEC_WEIGHTS_DIR=str(weights), FACEMIRROR_SPEC_REQUIRE_MODELS="1",
               FACEMIRROR_SPEC_ALLOW_UNTRAINED="1")
    env.pop("FACEMIRROR_WEIGHTS_DIR", None)
    proc = subprocess.run([sys.executable, "-m", "PyInstaller", "--clean", "--noconfirm", "--log-level", "WARN",
                           "--distpath", str(root / "dist"), "--workpath", str(root / "build"), "FaceMirror.spec"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    app_dir = root / "dist" / "FaceMirror"
    exe = app_dir / "FaceMirror"
    assert exe.exists()
    return app_dir, exe


def _run(exe, *args, timeout=300):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env.pop("FACEMIRROR_WEIGHTS_DIR", None)
    return subprocess.run([str(exe), *map(str, args)], env=env, capture_output=True, text=True, timeout=timeout)


def test_frozen_self_test(frozen_app):
    _, exe = frozen_app
    proc = _run(exe, "--self-test")
    print(proc.stdout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "frozen bundle" in proc.stdout
    assert "STAR inference: 98 points" in proc.stdout
    assert "UNTRAINED" in proc.stdout  # development model is named as such
    assert "self-test passed" in proc.stdout


def test_frozen_batch_run(frozen_app, tmp_path):
    _, exe = frozen_app
    base = videos.portrait_base(_need(MEDIA / "portrait_frontal.jpg"), width=240)
    _, frames = videos.transformed_frames(base, [(0, 1, 0, 0)] * 3, (120, 150))
    video = videos.write_video(tmp_path / "clip.mp4", frames)
    proc = _run(exe, "process", video, "--out", tmp_path / "out")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "clip_annotated.mp4", "clip_landmarks.csv", "clip_left_mirrored.mp4", "clip_report.json",
        "clip_right_mirrored.mp4"]


def test_frozen_bundle_contents_and_size(frozen_app):
    app_dir, _ = frozen_app
    files = [p for p in app_dir.rglob("*") if p.is_file() and not p.is_symlink()]  # links cost nothing
    rel = [str(p.relative_to(app_dir)) for p in files]
    assert not [r for r in rel if "/torch/" in f"/{r}" or r.startswith("torch")], "torch is in the bundle"
    assert not [r for r in rel if "cv2/qt" in r], "OpenCV's Qt plugins are in the bundle"
    assert any(r.endswith("weights/star_landmark_98.onnx") for r in rel)
    assert any(r.endswith("weights/retinaface_mobilenet025.onnx") for r in rel)
    size_mb = sum(p.stat().st_size for p in files) / 1e6
    print(f"\nfrozen bundle: {len(files)} files, {size_mb:.0f} MB (budget {SIZE_BUDGET_MB} MB)")
    assert size_mb < SIZE_BUDGET_MB
