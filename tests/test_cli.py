"""The command line as a user runs it: --version and doctor."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def run(*args, env_extra=None):
    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "main.py", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env=env)


def test_version():
    proc = run("--version")
    assert proc.returncode == 0
    from app import __version__
    assert f"FaceMirror {__version__}" in proc.stdout
    assert "onnxruntime" in proc.stdout


def test_doctor_lists_missing_models_with_the_commands_that_create_them(tmp_path):
    proc = run("doctor", env_extra={"FACEMIRROR_WEIGHTS_DIR": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "CPUExecutionProvider" in out
    assert "star_landmark_98.onnx" in out and "retinaface_mobilenet025.onnx" in out
    assert out.count("MISSING") == 2        # the optional live model is not a missing model
    assert "python main.py convert star weights/Landmark_98.pkl --out weights/star_landmark_98.onnx" in out
    assert "not installed (optional: the live exam's panes use full STAR" in out
    assert "python main.py models fetch" in out


def test_doctor_reports_present_untrained_model(tmp_path):
    pytest.importorskip("onnx")
    import numpy as np
    from tests.onnx_stubs import constant_landmarks_model

    constant_landmarks_model(tmp_path / "star_landmark_98.onnx", np.zeros((98, 2)), untrained=True)
    proc = run("doctor", env_extra={"FACEMIRROR_WEIGHTS_DIR": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    assert "found: " + str(tmp_path / "star_landmark_98.onnx") in proc.stdout
    assert "untrained" in proc.stdout
    assert proc.stdout.count("MISSING") == 1


def test_convert_without_checkpoint_or_random_is_refused():
    proc = run("convert", "star")
    assert proc.returncode == 2
    assert "checkpoint" in proc.stderr
