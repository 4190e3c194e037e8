"""Shared test fixtures.

Real data lives in ../shared (beside the repository); tests that need it skip cleanly when it is
absent. Development models (random weights) are exported once per test session.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import app  # noqa: F401  first: sets ORT_DISABLE_TELEMETRY before any test imports onnxruntime

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The app's log file goes to a throw-away folder, never the tester's own log folder.
os.environ.setdefault("FACEMIRROR_LOG_DIR", os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                                         f"facemirror-test-logs-{os.getpid()}"))
# The window's session journal (app.session_journal) likewise, never the tester's own state folder.
os.environ.setdefault("FACEMIRROR_STATE_DIR", os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                                           f"facemirror-test-state-{os.getpid()}"))

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
MEDIA = SHARED / "media"
SHARED_WEIGHTS = SHARED / "weights"
RETINAFACE_PTH = SHARED_WEIGHTS / "retinaface_mobilenet0.25.pth"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} not present (../shared is only beside the repository in CI and dev machines)")
    return path


@pytest.fixture
def media():
    """Return a function giving a path under ../shared/media, skipping when it is absent."""
    return lambda name: _need(MEDIA / name)


@pytest.fixture(scope="session")
def retinaface_pth() -> Path:
    return _need(RETINAFACE_PTH)


def _torch_or_skip():
    return pytest.importorskip("torch", reason="converter extras (torch) not installed")


@pytest.fixture(scope="session")
def star_dev_model(tmp_path_factory) -> Path:
    """A STAR-architecture ONNX model with random weights (seed 0), exported once per session."""
    _torch_or_skip()
    from app.convert.star import convert_star

    out = tmp_path_factory.mktemp("star_dev") / "star_landmark_98.onnx"
    convert_star(None, out, random_weights=True, seed=0, overwrite=False, coreml_check=False,
                 verify_inputs=1)
    return out


@pytest.fixture(scope="session")
def retinaface_model(tmp_path_factory, retinaface_pth) -> Path:
    """The real RetinaFace weights converted to ONNX, once per session."""
    _torch_or_skip()
    from app.convert.retinaface import convert_retinaface

    out = tmp_path_factory.mktemp("retinaface") / "retinaface_mobilenet025.onnx"
    convert_retinaface(retinaface_pth, out, random_weights=False, seed=0, overwrite=False,
                       coreml_check=False)
    return out


@pytest.fixture
def isolated_qsettings(tmp_path):
    """QSettings go to a temporary folder: window tests never touch the user's settings."""
    from PySide6.QtCore import QSettings

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))


# ---- the real face detector in 5-point mode, and the portrait used to make test videos ----------

@pytest.fixture(scope="module")
def face_detector(retinaface_model):
    from app.engine.faces import FaceDetector
    return FaceDetector(retinaface_model)


@pytest.fixture(scope="module")
def models_5pt(face_detector, retinaface_model):
    from app.model_set import Models
    return Models(faces=face_detector, landmarks=None, files={"retinaface": retinaface_model})


@pytest.fixture(scope="module")
def portrait():
    from tests import videos
    return videos.portrait_base(_need(MEDIA / "portrait_frontal.jpg"))


@pytest.fixture
def detector_only_weights(tmp_path, retinaface_model, monkeypatch):
    """A weights folder with only the real face detector, and the app pointed at it (5-point mode)."""
    import shutil

    folder = tmp_path / "weights"
    folder.mkdir()
    shutil.copy(retinaface_model, folder / retinaface_model.name)
    monkeypatch.setenv("FACEMIRROR_WEIGHTS_DIR", str(folder))
    return folder


def open_window(qtbot, *, show: bool = True, timeout: int = 20000):
    """The main window, registered with qtbot, once it knows which models are installed."""
    from app.gui.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    if show:
        w.show()
    qtbot.waitUntil(lambda: w.models_known, timeout=timeout)
    return w


@pytest.fixture
def slow_landmarks(monkeypatch):
    """Live landmarks 0.25 s slower per frame than the real analysis: a model far slower than the
    camera (app.live.landmarks.LatestLandmarks), for the never-queued-behind-inference tests."""
    import time

    from app.live import landmarks

    real = landmarks.LatestLandmarks.__init__

    def slow_init(self, *a, **kw):
        real(self, *a, **kw)
        analyze = self.analyzer.analyze

        def slow(frame):
            time.sleep(0.25)
            return analyze(frame)
        self.analyzer.analyze = slow
    monkeypatch.setattr(landmarks.LatestLandmarks, "__init__", slow_init)
