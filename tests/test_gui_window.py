"""The window as it opens (offscreen): models-missing state and backend in the status bar."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")


def test_models_missing_state(qtbot, monkeypatch, tmp_path):
    monkeypatch.setenv("FACEMIRROR_WEIGHTS_DIR", str(tmp_path))
    from app.gui.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    text = w.models_label.text()
    assert "Models missing" in text
    assert "main.py convert star" in text and "models fetch" in text
    assert "5-point fallback" in w.backend_label.text()


def test_status_bar_names_backend_and_warns_for_untrained_model(qtbot, monkeypatch, tmp_path):
    pytest.importorskip("onnx")
    from tests.onnx_stubs import constant_landmarks_model

    constant_landmarks_model(tmp_path / "star_landmark_98.onnx", np.zeros((98, 2)), untrained=True)
    monkeypatch.setenv("FACEMIRROR_WEIGHTS_DIR", str(tmp_path))
    from app.gui.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    assert "CPU" in w.backend_label.text() and "STAR 98-point" in w.backend_label.text()
    assert "UNTRAINED" in w.backend_label.text()
    assert "UNTRAINED" in w.models_label.text()
    w.grab().save(str(tmp_path / "window.png"))
    assert (tmp_path / "window.png").stat().st_size > 0
