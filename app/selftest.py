"""`main.py --self-test`: prove an installation (source or frozen bundle) works, then exit.

Loads the installed models, runs one face detection and one STAR inference on a generated
frame, creates the main window offscreen, prints the backend and exits 0; any failure prints the
reason and exits 1. Used by CI on the frozen Linux build and by the macOS workflow.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np


def _frame() -> np.ndarray:
    """A 480x640 frame with a face-like pattern (the content does not matter for a self-test)."""
    import cv2

    img = np.full((480, 640, 3), 90, np.uint8)
    cv2.ellipse(img, (320, 240), (110, 150), 0, 0, 360, (150, 170, 210), -1)
    for x in (280, 360):
        cv2.circle(img, (x, 200), 12, (40, 40, 40), -1)
    cv2.ellipse(img, (320, 310), (45, 15), 0, 0, 180, (60, 60, 140), 4)
    return img


def run_self_test(require_coreml: bool = False) -> int:
    from app import __version__, APP_NAME, paths
    from app.engine import runtime

    print(f"{APP_NAME} {__version__} self-test ({'frozen bundle' if paths.bundle_dir() else 'source'})")
    try:
        import onnxruntime as ort

        providers = ort.get_available_providers()
        print(f"onnxruntime {ort.__version__}: {', '.join(providers)}")
        if require_coreml and runtime.COREML not in providers:
            print("FAIL: CoreMLExecutionProvider is not available in this build")
            return 1
        from app.pipeline import Models

        t = time.perf_counter()
        models = Models.load()
        print(f"models loaded in {time.perf_counter() - t:.2f} s: "
              + ", ".join(f"{k}={v}" for k, v in models.files.items()))
        frame = _frame()
        t = time.perf_counter()
        faces = models.faces.detect(frame)
        print(f"face detection: {len(faces)} face(s) in {1000 * (time.perf_counter() - t):.0f} ms "
              f"({models.faces.backend.describe()})")
        if models.landmarks is None:
            print("STAR model: not installed (5-point fallback)")
        else:
            t = time.perf_counter()
            pts = models.landmarks.landmarks_for_box(frame, (210, 90, 430, 390))
            if pts.shape != (98, 2) or not np.all(np.isfinite(pts)):
                print(f"FAIL: STAR returned {pts.shape} / non-finite landmarks")
                return 1
            print(f"STAR inference: 98 points in {1000 * (time.perf_counter() - t):.0f} ms "
                  f"({models.landmarks.backend.describe()})")
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        import tempfile

        from PySide6.QtCore import QSettings
        from PySide6.QtWidgets import QApplication
        from app.gui.main_window import MainWindow

        app = QApplication.instance() or QApplication([sys.argv[0]])
        with tempfile.TemporaryDirectory(prefix="facemirror-selftest-") as tmp:
            # A throwaway settings file: the self-test must not change the user's preferences.
            settings = QSettings(str(Path(tmp) / "selftest.ini"), QSettings.IniFormat)
            window = MainWindow(settings=settings)
            window.show()
            app.processEvents()
            print(f"window: '{window.windowTitle()}' created ({window.width()}x{window.height()})")
            window.close()
            app.processEvents()
        print(f"backend: {models.describe()}")
        print("self-test passed")
        return 0
    except Exception as exc:  # noqa: BLE001 - the point is to report, not to crash
        print(f"FAIL: {type(exc).__name__}: {exc}")
        return 1
