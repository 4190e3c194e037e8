"""Privacy: no entry point lets ONNX Runtime keep its telemetry store (device ID, queued events).

Each run gets a fresh HOME, so ~/.cache/Microsoft/DeveloperTools/.onnxruntime would appear there.
The control proves the check can fail: a bare `import onnxruntime` + session without the app's
setting writes the store in the same kind of fresh HOME.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests import videos
from tests.conftest import MEDIA, REPO, _need

STORE = (".cache", "Microsoft", "DeveloperTools", ".onnxruntime")


def _fresh_env(home, **extra):
    """A user's bare environment. Nothing else is passed on: ONNX Runtime writes no telemetry when it
    sees a CI variable (CI=true in .ci/run), which would make these tests pass without the app's
    setting."""
    env = {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
           "QT_QPA_PLATFORM": "offscreen", **extra}
    if os.environ.get("TMPDIR"):
        env["TMPDIR"] = os.environ["TMPDIR"]
    return env


def _store(home):
    return home.joinpath(*STORE)


def test_control_bare_onnxruntime_writes_the_store(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    code = ("import onnxruntime as ort; "
            f"ort.InferenceSession({str(REPO / 'weights' / 'retinaface_mobilenet025.onnx')!r}, "
            "providers=['CPUExecutionProvider'])")
    subprocess.run([sys.executable, "-c", code], env=_fresh_env(home), check=True, timeout=120)
    assert _store(home).exists(), "control: onnxruntime no longer writes its store; this test proves nothing"


def test_process_run_leaves_no_telemetry(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    base = videos.portrait_base(_need(MEDIA / "portrait_frontal.jpg"))
    # 2 frames: nothing to measure (the summary's charts and PDF, and a fresh font cache, cost 3-4 CPU s;
    # the telemetry store would come from ONNX Runtime, which the run starts the same way)
    clip = videos.write_video(tmp_path / "clip.mp4", [base] * 2)
    proc = subprocess.run([sys.executable, "main.py", "process", str(clip), "--out", str(tmp_path / "out")],
                          cwd=REPO, env=_fresh_env(home), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert (tmp_path / "out" / "clip_report.json").exists()
    assert not _store(home).exists()


def test_self_test_with_window_leaves_no_telemetry(tmp_path):
    pytest.importorskip("PySide6")
    home = tmp_path / "home"
    home.mkdir()
    proc = subprocess.run([sys.executable, "main.py", "--self-test"], cwd=REPO, env=_fresh_env(home),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "window" in proc.stdout.lower()
    assert not _store(home).exists()
